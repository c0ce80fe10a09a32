// One read-only session to a database. Heroku hands out URLs; this module
// turns a URL and the postgres settings into a pg.Client that:
// - speaks TLS per the `ssl` setting (any sslmode in the URL is removed, as
//   node-postgres would let it override the ssl object);
// - is read-only (default_transaction_read_only), named tap-heroku, bounded
//   by statement_timeout and the connect timeout;
// - renders values in a fixed, exact text form (UTC, ISO dates, ISO 8601
//   intervals, shortest-exact floats, hex bytea) and hands them over as
//   that text: no value is parsed into a JS number or Date.
import type { Readable } from "node:stream";
import pg from "pg";
import type { Settings } from "../config.ts";
import { addSecret } from "../log.ts";
import { type PgSocket, runtime } from "../runtime.ts";

/** The postgres.* settings, with the one top-level setting that shapes table schemas (the SDK keeps it top-level). */
export type PostgresSettings = Settings["postgres"] & { readonly use_singer_decimal?: boolean };

/** Every value stays the server's text. */
const identity = (s: string) => s;
export const RAW_TYPES = { getTypeParser: () => identity } as unknown as pg.CustomTypesConfig;

const SESSION: Record<string, string> = {
  default_transaction_read_only: "on",
  DateStyle: "ISO,YMD",
  TimeZone: "UTC",
  IntervalStyle: "iso_8601",
  extra_float_digits: "1",
  bytea_output: "hex",
  client_encoding: "UTF8",
};

/** Registers the URL and its credentials as secrets, and returns them parsed. */
export function registerUrl(url: string): URL {
  addSecret(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error("the database URL is not a valid URL");
  }
  for (const [part, kind] of [[u.username, "name"], [u.password, "secret"]] as const) {
    addSecret(part, kind);
    try {
      addSecret(decodeURIComponent(part), kind);
    } catch {
      // an undecodable part is registered as it is
    }
  }
  return u;
}

/** The client configuration for a URL; the URL keeps no ssl parameters. */
export function clientConfig(url: string, settings: PostgresSettings): pg.ClientConfig {
  const u = registerUrl(url);
  for (const key of [...u.searchParams.keys()]) {
    if (key.startsWith("ssl") || key === "uselibpqcompat") u.searchParams.delete(key);
  }
  const stripped = u.toString();
  addSecret(stripped);
  const ssl: pg.ClientConfig["ssl"] = settings.ssl === "disable"
    ? false
    : settings.ssl === "verify-full"
    ? { rejectUnauthorized: true, ...(settings.ssl_ca ? { ca: settings.ssl_ca } : {}) }
    : { rejectUnauthorized: false };
  const options = [...Object.entries(SESSION), ["statement_timeout", String(Math.round(settings.statement_timeout_s * 1000))]]
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(" ");
  return {
    connectionString: stripped,
    ssl,
    application_name: "tap-heroku",
    options,
    connectionTimeoutMillis: Math.round(settings.connect_timeout_s * 1000),
    keepAlive: true,
    types: RAW_TYPES,
  };
}

/** The run-time parameters each server reported (ParameterStatus), by session, kept current as the server re-reports them. */
const reported = new WeakMap<pg.Client, Map<string, string>>();

/**
 * Whether the server is a hot standby, as it reports itself (`in_hot_standby`,
 * PostgreSQL 14+, re-reported on promotion): known without a round trip.
 * Undefined before 14; ask pg_is_in_recovery() there.
 */
export function reportedStandby(client: pg.Client): boolean | undefined {
  const v = reported.get(client)?.get("in_hot_standby");
  return v === undefined ? undefined : v === "on";
}

/**
 * The server's version as server_version_num has it (140011 for 14.11), from
 * the server_version it reports at connect, read the way libpq's
 * PQserverVersion reads it; undefined if it reported none.
 */
export function reportedVersion(client: pg.Client): number | undefined {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(reported.get(client)?.get("server_version") ?? "");
  if (!m) return undefined;
  const [major, minor, patch] = [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
  return major >= 10 ? major * 10000 + minor : major * 10000 + minor * 100 + patch;
}

interface ParameterStatus {
  readonly parameterName: string;
  readonly parameterValue: string;
}

/** Connects; the caller ends the client. */
export async function connect(url: string, settings: PostgresSettings): Promise<pg.Client> {
  let socket: PgSocket | undefined;
  const config = clientConfig(url, settings);
  // Deno: a socket that stops reading while the reader is paused (runtime.ts); Node: pg's own net.Socket.
  const make = runtime.pgSocket;
  if (make) config.stream = (() => (socket = make())) as unknown as pg.ClientConfig["stream"];
  const client = new pg.Client(config);
  const params = new Map<string, string>();
  reported.set(client, params);
  // pg's Connection emits every backend message by name; the Client keeps none of these.
  (client as unknown as { connection: { on(event: "parameterStatus", f: (m: ParameterStatus) => void): void } }).connection.on(
    "parameterStatus",
    (m) => params.set(m.parameterName, m.parameterValue),
  );
  // An error on an idle client (server restart) must not crash the process;
  // the next query fails and the caller decides.
  client.on("error", () => undefined);
  try {
    await client.connect();
    // pg reads from the TLS socket it layered over ours (or from ours): pausing that must stop the network reads.
    socket?.follow((client as unknown as { connection: { stream: Readable } }).connection.stream);
  } catch (e) {
    await client.end().catch(() => undefined);
    throw e;
  }
  return client;
}

/** SQLSTATE of a pg error, if any. */
export function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Authentication failed: the credential was rotated or revoked. */
export function isAuthFailure(e: unknown): boolean {
  const s = sqlState(e);
  return s === "28P01" || s === "28000";
}

/** The session died under us (terminated backend, dropped connection, failover). */
export function isConnectionLost(e: unknown): boolean {
  const s = sqlState(e);
  if (s === "57P01" || s === "57P02" || s === "57P03" || s?.startsWith("08")) return true;
  const code = (e as { code?: unknown }).code;
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ETIMEDOUT" || code === "ECONNREFUSED") return true;
  const m = e instanceof Error ? e.message : "";
  return /Connection terminated|terminating connection|Client has encountered a connection error|not queryable/i.test(m);
}

/** A short, credential-free description of a connection failure. */
export function describeConnectError(e: unknown, timeoutS: number): string {
  const code = (e as { code?: unknown }).code;
  const m = e instanceof Error ? e.message : String(e);
  if (/timeout/i.test(m)) return `no answer within ${timeoutS} s (connect_timeout_s)`;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found";
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return "host unreachable";
  if (isAuthFailure(e)) return "authentication failed (the credential was rotated or revoked)";
  if (/self[- ]signed|certificate|altnames|CERT_/i.test(m)) {
    return `TLS certificate rejected (${m}); postgres.ssl=no-verify accepts Heroku's self-signed certificates`;
  }
  if (/does not support SSL/i.test(m)) return "the server does not support SSL";
  if (/error establishing an SSL connection/i.test(m)) return "the TLS handshake failed (the host did not answer as PostgreSQL)";
  return m;
}

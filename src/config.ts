// The tap's settings: one zod schema, which validates config files, reads
// TAP_HEROKU_* variables and is published as JSON Schema by --about.
import { z } from "zod";
import type { JSONSchema7 } from "json-schema";
import { readFile } from "node:fs/promises";
import { fail, ok, UsageError } from "./errors.ts";
import type { Result } from "./errors.ts";
import { addSecret, LEVELS, log } from "./log.ts";
import { formatIssue } from "./zod-issues.ts";
import { BatchConfig } from "./singer/batch.ts";
import { getOwn, setOwn } from "./own.ts";
import { MapSettingsShape } from "./map-settings.ts";

const RFC3339 = /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

/** A date or date-time, normalised to RFC 3339 in UTC. */
const startDate = z
  .string()
  .meta({ examples: ["2024-01-01"] }) // on the input side: zod publishes no examples of a transform
  .refine((v) => RFC3339.test(v) && !Number.isNaN(Date.parse(v)), {
    error: "expected an RFC 3339 date or date-time, e.g. 2024-01-01 or 2024-01-01T00:00:00Z",
  })
  .transform((v) => new Date(/[Tt ]/.test(v) && !/([Zz]|[+-]\d{2}:?\d{2})$/.test(v) ? v + "Z" : v).toISOString());

/** localhost, 127.0.0.0/8 and ::1: the only hosts a token may be sent to without TLS. */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

const positive = (what: string) => z.number({ error: `expected a number of ${what}` }).positive();

export const PostgresSettings = z.object({
  enabled: z.boolean().default(true).describe("Discover and sync the Heroku Postgres databases attached to the apps."),
  ssl: z
    .enum(["no-verify", "verify-full", "disable"])
    .default("no-verify")
    .describe("TLS to the databases: no-verify (Heroku's certificates are self-signed), verify-full (with ssl_ca), or disable (local tests only)."),
  ssl_ca: z.string().meta({ examples: ["-----BEGIN CERTIFICATE-----\nMIIC…\n-----END CERTIFICATE-----\n"] }).optional().describe(
    "PEM CA certificate used with ssl=verify-full.",
  ),
  prefer_follower: z.boolean().default(true).describe("Read a leader's tables from its follower when one exists."),
  schemas: z.array(z.string()).meta({ examples: [["public"]] }).optional().describe("Only these PostgreSQL schemas."),
  exclude_schemas: z.array(z.string()).meta({ examples: [["audit"]] }).default([]).describe("Leave out these PostgreSQL schemas."),
  statement_timeout_s: positive("seconds").default(600).describe("Statement timeout of the tap's read-only sessions."),
  max_statement_s: positive("seconds")
    .meta({ examples: [5] })
    .default(15)
    .describe(
      "No chunk of a table read runs longer: one the target reads too slowly is cut there and the next goes on after the last row written. Keep it under a follower's max_standby_streaming_delay (30 s by default).",
    ),
  connect_timeout_s: positive("seconds").default(15).describe(
    "Give up on an unreachable database after this long; after a lost connection, reconnecting is retried for 4 times this long.",
  ),
  batch_size: z.number().int().positive().default(5000).describe("Rows between bookmarks (STATE), and the first COPY chunk's size."),
  max_connections: z
    .number()
    .int()
    .min(1)
    .meta({ examples: [3] })
    .optional()
    .describe(
      "Sessions the tap opens to one database, so tables read at once. Unset: 1 on Essential and hobby plans, 2 on others. Never more than the server's free connections less a reserve.",
    ),
  detect_deletes: z.boolean().default(false).describe(
    "INCREMENTAL tables with a primary key also send, for every row deleted since the last run, a record of its key with _sdc_deleted_at (a key-only read compared with the keys kept in the state).",
  ),
  detect_deletes_max_kb: z.number().int().positive().default(1024).describe(
    "Delete detection: the most state one table's keys may take, in KB; a table whose keys do not fit gets a FULL_TABLE pass with ACTIVATE_VERSION every detect_deletes_full_table_every_h instead.",
  ),
  detect_deletes_full_table_every_h: positive("hours").default(24).describe(
    "Delete detection: hours between the FULL_TABLE passes of a table whose keys do not fit in detect_deletes_max_kb.",
  ),
});

export const RateLimitSettings = z.object({
  reserve: z
    .number()
    .int()
    .min(0)
    .default(200)
    .describe(
      "Request tokens of the account's rate-limit bucket (4,500) left to your other tools: below this RateLimit-Remaining the tap paces itself to the refill rate.",
    ),
  refill_per_minute: positive("requests a minute").default(75).describe(
    "Tokens Heroku adds to the bucket per minute (75); the pace the tap keeps once at the reserve.",
  ),
  max_wait_s: positive("seconds").default(900).describe("How long one request may wait out 429 (rate limited) answers before its stream fails."),
  run_interval_min: positive("minutes").default(60).describe("How often the tap is scheduled to run; sets the default max_requests_per_run."),
  max_requests_per_run: z
    .number()
    .int()
    .min(0)
    .meta({ examples: [2000] })
    .optional()
    .describe(
      "Requests one run may make. The parent lists and the children of new or changed parents are always read; re-reading by refresh interval gets what they leave. Unset: what refills in run_interval_min, at most the bucket (4,500) less the reserve.",
    ),
});

const hours = (family: string, dflt: number, what: string) =>
  z.number({ error: "expected a number of hours" }).min(0).default(dflt).describe(`${family}: ${what} (0: every run).`);

export const RefreshSettings = z.object({
  volatile: hours("volatile", 1, "dynos"),
  activity: hours("activity", 6, "builds, formations, webhook deliveries and events, pipeline and CI lists"),
  daily: hours("daily", 24, "collaborators, features, domains, buildpack installations, drains, releases and the team, space and add-on lists"),
});

/** A base URL a token is sent to: https, or http on loopback only (the tests' simulator). */
const baseUrl = (dflt: string, what: string) =>
  z
    .url({ error: "expected an http(s) URL" })
    .refine((u) => !URL.canParse(u) || new URL(u).protocol !== "http:" || isLoopback(new URL(u).hostname), {
      error: "plain http:// would send the token in clear text; use https:// (http:// is allowed only for loopback hosts: localhost, 127.x.x.x, [::1])",
    })
    .refine((u) => !URL.canParse(u) || ["https:", "http:"].includes(new URL(u).protocol), { error: "expected an https:// URL" })
    .default(dflt)
    .describe(`Base URL of ${what} (https; http only on loopback, for tests).`);

/** The router and dyno metrics streams (src/heroku/metrics-api.ts). */
export const MetricsSettings = z.object({
  start_date: startDate.optional().describe("Earliest metrics time to read on the first run (RFC 3339); never earlier than lookback_hours ago."),
  lookback_hours: z
    .number({ error: "expected a number of hours" })
    .positive()
    .max(168, { error: "Heroku keeps metrics for 7 days (168 hours) at most" })
    .default(24)
    .describe("How far back a run reads metrics: the first run, and any run after a long pause (Heroku keeps 7 days, 168 hours)."),
  step: z.enum(["1m", "10m", "1h", "2h"]).default("1h").describe(
    "Width of one metrics bucket (Heroku's resolutions: 1m for 2 h, 10m for 72 h, 1h for 72 h, 2h for 7 days).",
  ),
});

export const Settings = z.object({
  token: z
    .string({ error: "expected the Heroku API token (heroku authorizations:create), or set HEROKU_API_KEY" })
    .trim()
    .min(1, { error: "must not be empty" })
    .meta({ examples: ["${HEROKU_API_KEY}"] }) // Meltano expands variables: the token stays out of meltano.yml
    .describe("Heroku API token. HEROKU_API_KEY is used when unset."),
  api_url: z
    .url({ error: "expected an http(s) URL" })
    .refine((u) => !URL.canParse(u) || new URL(u).protocol !== "http:" || isLoopback(new URL(u).hostname), {
      error: "plain http:// would send the token in clear text; use https:// (http:// is allowed only for loopback hosts: localhost, 127.x.x.x, [::1])",
    })
    .refine((u) => !URL.canParse(u) || ["https:", "http:"].includes(new URL(u).protocol), { error: "expected an https:// URL" })
    .default("https://api.heroku.com")
    .describe("Base URL of the Heroku Platform API (https; http only on loopback, for tests)."),
  data_api_url: baseUrl("https://api.data.heroku.com", "the Heroku Data API (Postgres backups, schedules, maintenance, database info)"),
  metrics_api_url: baseUrl("https://api.metrics.heroku.com", "the Heroku metrics API (router and dyno metrics, as the Dashboard)"),
  start_date: startDate.optional().describe("Earliest updated_at to extract on the first incremental run (RFC 3339)."),
  apps: z.array(z.string().min(1)).meta({ examples: [["my-app", "my-other-app"]] }).optional().describe(
    "App names or ids that limit the app-scoped streams and database discovery.",
  ),
  user_agent: z.string().meta({ examples: ["acme-etl/1.0 (data@acme.example)"] }).optional().describe(
    "User-Agent sent to Heroku; defaults to tap-heroku/<version>.",
  ),
  request_timeout_s: positive("seconds").default(30).describe("Timeout of one HTTP request."),
  max_retries: z.number().int().min(0).default(5).describe("Retries of a failed request (429, 5xx, network) before the stream fails."),
  max_concurrency: z.number().int().min(1).max(32).default(4).describe("Heroku API requests in flight at once."),
  retry_backoff_s: positive("seconds").default(1).describe("First wait before retrying a failed request; it doubles (with jitter) on each retry, up to 60 s."),
  use_singer_decimal: z
    .boolean()
    .default(false)
    .describe(
      "Decimal columns (numeric, float, money) as exact strings with format x-singer.decimal, with precision and scale (the Meltano SDK's setting); NaN and ±Infinity keep their names instead of becoming null.",
    ),
  batch_config: BatchConfig.optional().describe(
    "BATCH mode (the Meltano SDK's setting): records in JSON Lines files under storage.root (file://), gzip or none, batch_size records a file, announced by BATCH messages; every file is finished before a STATE.",
  ),
  metrics_log_level: z
    .string({ error: `expected one of ${LEVELS.join(", ")}` })
    .toLowerCase()
    .pipe(z.enum(LEVELS, { error: `expected one of ${LEVELS.join(", ")}` }))
    .meta({ enum: [...LEVELS] })
    .optional()
    .describe(
      "Level of the METRIC lines (the Meltano SDK's setting): warning or error leaves them out, debug adds a timer per HTTP request. Unset: the log level.",
    ),
  shard: z
    .object({
      count: z.number().int().min(1).default(1).describe(
        "Shards the account is split into: each app, with its children and databases, is read by one of them.",
      ),
      index: z.number().int().min(1).default(1).describe("Which shard this run reads (1 to count); shard 1 also reads what belongs to no app."),
    })
    .refine((s) => s.index <= s.count, { error: "shard.index must be between 1 and shard.count", path: ["index"] })
    .prefault({})
    .describe("Splits one account across several runs (see Running at scale)."),
  rate_limit: RateLimitSettings.prefault({}).describe("How the tap shares the account's API rate limit."),
  refresh_hours: RefreshSettings.prefault({}).describe(
    "Longest time a parent's children go unread when the parent shows no change, per stream family (README, Heroku API streams).",
  ),
  postgres: PostgresSettings.prefault({}).describe("Heroku Postgres discovery and sync."),
  metrics: MetricsSettings.prefault({}).describe("Router and dyno metrics (beta)."),
  ...MapSettingsShape,
}).superRefine((s, ctx) => {
  // The SDK's rule: flattening needs a depth.
  if (s.flattening_enabled && s.flattening_max_depth === undefined) {
    ctx.addIssue({ code: "custom", path: ["flattening_max_depth"], message: "is required when flattening_enabled is true (1 flattens one level)" });
  }
});

export type Settings = z.infer<typeof Settings>;

/** The settings as JSON Schema, for --about and the Meltano plugin definition. */
export function settingsJsonSchema(): JSONSchema7 {
  return z.toJSONSchema(Settings, { io: "input", target: "draft-7" }) as JSONSchema7;
}

export interface SettingLeaf {
  /** e.g. ["postgres", "ssl"]; dotted for Meltano, joined by _ for TAP_HEROKU_* variables. */
  readonly path: readonly string[];
  readonly schema: JSONSchema7;
  readonly required: boolean;
}

/** Every setting that holds a value (nested groups flattened), in schema order. */
export function settingLeaves(): SettingLeaf[] {
  const out: SettingLeaf[] = [];
  // A leaf is required only when every group above it is (batch_config.storage.root is not).
  const walk = (schema: JSONSchema7, path: string[], needed: boolean) => {
    const required = new Set(schema.required ?? []);
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      if (typeof sub === "boolean") continue;
      // A group of named settings is walked; an object of free names (stream_maps: additionalProperties) is one setting.
      if (sub.type === "object" && sub.properties && sub.additionalProperties === undefined) walk(sub, [...path, key], needed && required.has(key));
      else out.push({ path: [...path, key], schema: sub, required: needed && required.has(key) });
    }
  };
  walk(settingsJsonSchema(), [], true);
  return out;
}

interface Source {
  name: string;
  values: Record<string, unknown>;
}

/**
 * Loads and merges the config sources in order (later ones win). A source is
 * a JSON file or the word ENV, which reads TAP_HEROKU_<SETTING> variables.
 * HEROKU_API_KEY stands in for a missing token, as it does for the Heroku CLI.
 */
export async function loadSettings(
  sources: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<Result<Settings>> {
  const loaded: Source[] = [];
  for (const src of sources) {
    const r = src === "ENV" ? ok(envSource(env)) : await fileSource(src);
    if (!r.ok) return r;
    loaded.push(r.value);
  }
  const merged: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  for (const s of loaded) {
    for (const [k, v] of Object.entries(s.values)) {
      const prior = getOwn(merged, k);
      setOwn(merged, k, isPlainObject(v) && isPlainObject(prior) ? { ...prior, ...v } : v);
      origin.set(k, s.name);
    }
  }
  shareRateLimit(merged);
  if (merged.token === undefined && env.HEROKU_API_KEY) {
    merged.token = env.HEROKU_API_KEY;
    origin.set("token", "HEROKU_API_KEY");
  }

  warnUnknown(merged, origin);
  const parsed = Settings.safeParse(merged);
  if (!parsed.success) {
    const top = String(parsed.error.issues[0]?.path[0] ?? "");
    const where = origin.get(top) ?? (sources.length ? sources.join(", ") : "config (no --config given)");
    return fail(new UsageError(`config error in ${where}: ${formatIssue(parsed.error, undefined, merged)}`));
  }
  addSecret(parsed.data.token);
  return ok(parsed.data);
}

async function fileSource(path: string): Promise<Result<Source>> {
  const r = await readJsonFile(path, "config");
  if (!r.ok) return r;
  if (!isPlainObject(r.value)) return fail(new UsageError(`config error in ${path}: expected a JSON object of settings`));
  return ok({ name: path, values: r.value });
}

/**
 * Shards share one account's rate-limit bucket: unless refill_per_minute is
 * set, each of N shards paces itself at 1/N of Heroku's 75 a minute (and the
 * default request budget per run, derived from it, is divided the same way).
 */
function shareRateLimit(merged: Record<string, unknown>): void {
  const shard = getOwn(merged, "shard");
  const count = isPlainObject(shard) ? shard.count : undefined;
  if (typeof count !== "number" || !Number.isInteger(count) || count <= 1) return;
  const limits = getOwn(merged, "rate_limit");
  const rate = isPlainObject(limits) ? limits : {};
  if (rate.refill_per_minute !== undefined) return;
  setOwn(merged, "rate_limit", { ...rate, refill_per_minute: RateLimitSettings.shape.refill_per_minute.parse(undefined) / count });
}

/** Reads and parses a JSON file, with one clear line when either fails. */
export async function readJsonFile(path: string, what: string): Promise<Result<unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : "cannot be read";
    return fail(new UsageError(`${what} file ${path}: ${why}`));
  }
  try {
    return ok(JSON.parse(text));
  } catch (e) {
    return fail(new UsageError(`${what} file ${path}: not valid JSON${jsonErrorPlace(text, (e as Error).message)}`));
  }
}

/**
 * Where a JSON parse failed, as "(line L, column C)", never with the text
 * around it: the runtime's own message quotes the file, and a config file
 * holding just a token would print the token.
 */
function jsonErrorPlace(text: string, message: string): string {
  if (text.trim() === "") return " (the file is empty)";
  const at = /position (\d+)/.exec(message);
  if (!at) {
    if (/end of (JSON )?input/i.test(message)) return " (it ends early)";
    return /^[\s]*[{["\-0-9tfn]/.test(text) ? "" : " (it does not start with { or [)";
  }
  const before = text.slice(0, Number(at[1]));
  const line = before.split("\n").length;
  return ` (line ${line}, column ${before.length - before.lastIndexOf("\n")})`;
}

/** TAP_HEROKU_<PATH> variables, typed by the settings' JSON Schema. */
function envSource(env: Readonly<Record<string, string | undefined>>): Source {
  const values: Record<string, unknown> = {};
  for (const leaf of settingLeaves()) {
    const raw = env[["TAP_HEROKU", ...leaf.path].join("_").toUpperCase()];
    if (raw === undefined) continue;
    let into = values;
    for (const group of leaf.path.slice(0, -1)) into = (into[group] ??= {}) as Record<string, unknown>;
    into[leaf.path.at(-1)!] = fromEnv(raw, leaf.schema);
  }
  return { name: "environment (TAP_HEROKU_*)", values };
}

/** Converts an environment string by the setting's type; leaves it alone if it does not fit, so validation names it. */
function fromEnv(raw: string, schema: JSONSchema7): unknown {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  const v = raw.trim();
  switch (type) {
    case "integer":
    case "number":
      return v !== "" && !Number.isNaN(Number(v)) ? Number(v) : raw;
    case "boolean":
      return /^(true|1|yes|on)$/i.test(v) ? true : /^(false|0|no|off)$/i.test(v) ? false : raw;
    case "array":
      if (v.startsWith("[")) {
        try {
          return JSON.parse(v);
        } catch {
          return raw;
        }
      }
      return v === "" ? [] : v.split(",").map((s) => s.trim()).filter(Boolean);
    case "object": // stream_maps, stream_map_config: a JSON object
      try {
        return v.startsWith("{") ? JSON.parse(v) : raw;
      } catch {
        return raw;
      }
    default:
      return raw;
  }
}

function warnUnknown(merged: Record<string, unknown>, origin: Map<string, string>): void {
  const known = Settings.shape;
  for (const key of Object.keys(merged)) {
    if (!Object.hasOwn(known, key)) log.warn(`config: unknown setting "${key}" in ${origin.get(key)} is ignored`);
  }
  const nested = {
    postgres: PostgresSettings.shape,
    rate_limit: RateLimitSettings.shape,
    refresh_hours: RefreshSettings.shape,
    shard: { count: 1, index: 1 },
    metrics: MetricsSettings.shape,
  } as const;
  for (const [name, shape] of Object.entries(nested)) {
    const value = merged[name];
    if (!isPlainObject(value)) continue;
    for (const key of Object.keys(value)) {
      if (!Object.hasOwn(shape, key)) log.warn(`config: unknown setting "${name}.${key}" in ${origin.get(name)} is ignored`);
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

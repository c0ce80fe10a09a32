// Shared by the test/postgres tests: fixture databases on the embedded
// server, an in-process run of the tap's streams, and an exact JSON reader
// that keeps numbers as their text.
import { readFileSync } from "node:fs";
import pg from "pg";
import { inject } from "vitest";
import { PostgresSettings } from "../../src/config.ts";
import type { Catalog } from "../../src/singer/catalog.ts";
import { discoverEntry, planSync, runSync } from "../../src/singer/runner.ts";
import type { State } from "../../src/singer/state.ts";
import type { Stream } from "../../src/singer/stream.ts";
import { MessageWriter } from "../../src/singer/writer.ts";
import { parseMessages } from "../helpers/tap.ts";
import type { Message } from "../../src/singer/messages.ts";
import { databaseStreams } from "../../src/postgres/database.ts";
import type { OpenDatabase } from "../../src/postgres/database.ts";

export const FIXTURE_SQL = readFileSync(new URL("../fixtures/postgres/fixture.sql", import.meta.url), "utf8");

export function superuserUrl(database = "postgres"): string {
  const u = new URL(inject("databaseUrl"));
  u.pathname = `/${database}`;
  return u.toString();
}

export async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, ssl: { rejectUnauthorized: false } });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

/** Creates a fresh database (dropped first if a previous run left it) and loads `script`. */
export async function createDatabase(name: string, script = FIXTURE_SQL): Promise<string> {
  await sql(superuserUrl(), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await sql(superuserUrl(), `CREATE DATABASE "${name}"`);
  const url = superuserUrl(name);
  if (script) await sql(url, script);
  return url;
}

/** A login role that can read the fixture except secret_stuff and partly_visible.hidden; returns its URL. */
export async function readerRole(database: string, role: string): Promise<string> {
  const password = `pw-${role}-secret`;
  const url = superuserUrl(database);
  await sql(
    url,
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
         CREATE ROLE "${role}" LOGIN PASSWORD '${password}';
       END IF;
     END $$;
     GRANT CONNECT ON DATABASE "${database}" TO "${role}";
     GRANT USAGE ON SCHEMA public, "Sales-EU" TO "${role}";
     GRANT SELECT ON ALL TABLES IN SCHEMA public, "Sales-EU" TO "${role}";
     REVOKE SELECT ON secret_stuff, partly_visible FROM "${role}";
     GRANT SELECT (id, visible) ON partly_visible TO "${role}";`,
  );
  const u = new URL(url);
  u.username = role;
  u.password = password;
  return u.toString();
}

export const pgSettings = (over: Record<string, unknown> = {}) => PostgresSettings.parse({ batch_size: 1000, ...over });

/** Streams of one database, without the Heroku API. */
export async function openDb(url: string, alias = "fixture", over: Record<string, unknown> = {}): Promise<OpenDatabase> {
  // use_singer_decimal is a top-level setting that the postgres settings carry along (see openPostgres).
  const settings = { ...pgSettings(over), use_singer_decimal: over.use_singer_decimal === true };
  return databaseStreams({ alias, app: "test-app", addon: "postgresql-test-1" }, async () => url, settings, new Set());
}

/** A catalog selecting the given streams (all columns), with a replication method per stream. */
export function catalogFor(streams: Stream[], select: Record<string, { method?: "FULL_TABLE" | "INCREMENTAL"; key?: string; columns?: string[] }>): Catalog {
  return {
    streams: streams.map((s) => {
      const e = discoverEntry(s);
      const want = select[s.id];
      e.metadata = e.metadata.map((m) => {
        if (m.breadcrumb.length === 0) {
          return {
            breadcrumb: [],
            metadata: {
              ...m.metadata,
              selected: want !== undefined,
              ...(want?.method ? { "replication-method": want.method } : {}),
              ...(want?.key ? { "replication-key": want.key } : {}),
            },
          };
        }
        const col = m.breadcrumb[1]!;
        return want?.columns ? { ...m, metadata: { ...m.metadata, selected: want.columns.includes(col) } } : m;
      });
      return e;
    }),
  };
}

export interface InProcessRun {
  stdout: string;
  messages: Message[];
  /** The last STATE value written. */
  lastState: State | undefined;
  killed: boolean;
}

/**
 * Runs the streams in process, as the CLI would. With `killAfterRecords`,
 * output stops dead after that many RECORD lines, as if the process had been
 * killed: nothing after that point reaches "stdout".
 */
export async function runInProcess(
  streams: Stream[],
  catalog: Catalog | undefined,
  state: State = { bookmarks: {}, currently_syncing: null },
  opts: { killAfterRecords?: number; signal?: AbortSignal; onFlush?: (records: number) => Promise<void>; stateEvery?: number } = {},
): Promise<InProcessRun> {
  let stdout = "";
  let records = 0;
  let killed = false;
  const decoder = new TextDecoder();
  const sink = async (bytes: Uint8Array) => {
    if (killed) throw new Error("killed");
    const text = decoder.decode(bytes);
    for (const line of text.split(/(?<=\n)/)) {
      if (line.startsWith('{"type":"RECORD"')) {
        if (opts.killAfterRecords !== undefined && records >= opts.killAfterRecords) {
          killed = true;
          throw new Error("killed");
        }
        records++;
      }
      stdout += line;
    }
    await opts.onFlush?.(records);
  };
  const writer = new MessageWriter(sink, 16 * 1024);
  const plan = planSync(streams, catalog ? { file: "catalog.json", value: catalog } : undefined, { file: "state.json", value: state });
  if (!plan.ok) throw plan.error;
  try {
    await runSync(plan.value, {
      writer,
      state: structuredClone(state),
      startDate: undefined,
      signal: opts.signal ?? new AbortController().signal,
      stateEvery: { records: opts.stateEvery ?? 500, seconds: 1000 },
    });
  } catch (e) {
    if (!killed) throw e;
  }
  const messages = parseMessages(stdout);
  const states = messages.filter((m) => m.type === "STATE");
  return { stdout, messages, lastState: states.at(-1)?.value as State | undefined, killed };
}

/** Records of one stream in order. */
export const recordsOf = (messages: Message[], stream: string) =>
  messages.filter((m): m is Extract<Message, { type: "RECORD" }> => m.type === "RECORD" && m.stream === stream);

/** A number kept as its exact text. */
export class Num {
  constructor(readonly text: string) {}
}

/** JSON.parse that keeps every number as its text (Num), so nothing is rounded. */
export function parseExact(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const o: Record<string, unknown> = {};
      ws();
      if (text[i] === "}") return i++, o;
      for (;;) {
        ws();
        const k = value() as string;
        ws();
        i++; // :
        o[k] = value();
        ws();
        if (text[i++] === "}") return o;
      }
    }
    if (c === "[") {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === "]") return i++, a;
      for (;;) {
        a.push(value());
        ws();
        if (text[i++] === "]") return a;
      }
    }
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const s = JSON.parse(text.slice(i, j + 1));
      i = j + 1;
      return s;
    }
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 2000))!;
    if (!m) throw new Error(`bad JSON at ${i}: ${text.slice(i, i + 20)}`);
    i += m[0].length;
    if (m[0] === "true") return true;
    if (m[0] === "false") return false;
    if (m[0] === "null") return null;
    return new Num(m[0]);
  };
  const v = value();
  ws();
  if (i !== text.length) throw new Error(`trailing text at ${i}`);
  return v;
}

/** The raw JSON text of each field of a RECORD line's record object. */
export function rawFields(line: string): Map<string, string> {
  const start = line.indexOf('"record":') + '"record":'.length;
  const out = new Map<string, string>();
  let i = start + 1; // after {
  const skipString = (j: number) => {
    j++;
    while (line[j] !== '"') j += line[j] === "\\" ? 2 : 1;
    return j + 1;
  };
  while (line[i] !== "}") {
    if (line[i] === ",") i++;
    const kEnd = skipString(i);
    const key = JSON.parse(line.slice(i, kEnd)) as string;
    i = kEnd + 1; // :
    const vStart = i;
    let depth = 0;
    for (;;) {
      const c = line[i]!;
      if (c === '"') {
        i = skipString(i);
        continue;
      }
      if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        if (depth === 0) break;
        depth--;
      } else if (c === "," && depth === 0) break;
      i++;
    }
    out.set(key, line.slice(vStart, i));
  }
  return out;
}

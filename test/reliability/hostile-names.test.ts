// Catalogs are user input, and so are the names in a database. Schemas,
// tables and columns named with quotes, semicolons, `"; DROP TABLE`, spaces,
// capitals, reserved words and unicode are read correctly; a catalog that
// tries SQL through stream ids, replication keys, property names or table
// metadata is refused or ignored. The tap connects as a superuser (an injected
// statement would succeed) through a loopback proxy that records every
// statement it sends (several may share a message): only the intended SELECT/COPY (SELECT …) TO STDOUT
// (in a savepoint)/SET/BEGIN/COMMIT/CLOSE/ROLLBACK/RESET ran, the hostile names only ever inside double quotes, and
// every table is still there with its rows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogFor, createDatabase, openDb, recordsOf, runInProcess, sql } from "../postgres/helpers.ts";
import type { OpenDatabase } from "../../src/postgres/database.ts";
import type { Catalog } from "../../src/singer/catalog.ts";
import { startPgProxy } from "./pg-proxy.ts";
import type { PgProxy } from "./pg-proxy.ts";

const DB = "tap_rel_hostile";
const EVIL = `"; DROP TABLE victim; --`;
const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
const SCHEMA = `Evil${EVIL}`;
const TABLE = `Ta;ble "Select" ünï ☃`;
const PK = `id${EVIL}`;
const COLS = [PK, "select", "Mixed Case", "naïve ☃ 名前", "a'b; DELETE FROM victim", "from"];
const ROWS = 250;

let url: string;
let proxy: PgProxy;
let db: OpenDatabase;

const SCRIPT = `
CREATE TABLE victim (id int PRIMARY KEY);
INSERT INTO victim SELECT generate_series(1, 10);
CREATE SCHEMA ${q(SCHEMA)};
CREATE TABLE ${q(SCHEMA)}.${q(TABLE)} (${q(PK)} int PRIMARY KEY, "select" text, "Mixed Case" text, "naïve ☃ 名前" text, ${
  q(COLS[4]!)
} text, "from" timestamptz);
INSERT INTO ${q(SCHEMA)}.${
  q(TABLE)
} SELECT i, 'x' || i || '''; DROP TABLE victim; --', 'M' || i, '☃' || i, 'q' || i, '2024-01-01'::timestamptz + i * interval '1 minute' FROM generate_series(1, ${ROWS}) i;
CREATE TABLE public."user" ("order" int PRIMARY KEY, "group" text);
INSERT INTO public."user" SELECT i, 'g' || i FROM generate_series(1, 20) i;`;

/** Every table with its row count. */
async function inventory(): Promise<Record<string, number>> {
  const tables = await sql<{ s: string; t: string }>(
    url,
    "SELECT schemaname AS s, tablename AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
  );
  const out: Record<string, number> = {};
  for (const { s, t } of tables) out[`${s}.${t}`] = Number((await sql<{ n: string }>(url, `SELECT count(*)::text AS n FROM ${q(s)}.${q(t)}`))[0]!.n);
  return out;
}

beforeAll(async () => {
  url = await createDatabase(DB, SCRIPT);
  const u = new URL(url);
  proxy = await startPgProxy({ host: u.hostname, port: Number(u.port) });
  // ssl disable: the proxy reads the statements in clear.
  db = await openDb(proxy.via(url), "hostile", { ssl: "disable", batch_size: 40 });
});
afterAll(async () => {
  await db?.session.close();
  await proxy?.close();
});

const hostileId = () => db.streams.find((s) => discoverTable(s.id)?.schema === SCHEMA)!.id;
function discoverTable(id: string): { schema: string; table: string } | undefined {
  const entry = catalogFor(db.streams, {}).streams.find((e) => e.tap_stream_id === id)!;
  const md = entry.metadata.find((m) => m.breadcrumb.length === 0)!.metadata as Record<string, unknown>;
  return { schema: String(md["schema-name"]), table: String(entry.table_name ?? entry.stream) };
}

/** A statement with its quoted identifiers and string literals taken out. */
const skeleton = (s: string) => s.replace(/"(?:[^"]|"")*"/g, "ident").replace(/'(?:[^']|'')*'/g, "lit");

function expectOnlyIntended(statements: string[]): void {
  expect(statements.length).toBeGreaterThan(0);
  for (const s of statements) {
    // One message may carry several statements (one round trip: a snapshot's BEGIN with its settings, a
    // chunk's savepoint with its COPY). With names and literals taken out, `;` only separates them: each
    // must be an intended one.
    for (const part of skeleton(s).split(";").map((p) => p.trim()).filter(Boolean)) {
      if (/^(RELEASE )?SAVEPOINT chunk$/.test(part)) continue; // a bounded chunk's savepoint (statement-bound.ts), exactly
      // Tables stream as COPY (SELECT …) TO STDOUT; no other COPY may run.
      const body = part.replace(/^COPY \((SELECT\b[^]*)\) TO STDOUT$/, "$1");
      expect(body, s).toMatch(/^(SELECT|WITH|DECLARE|FETCH|SET|RESET|SHOW|BEGIN|COMMIT|ROLLBACK|CLOSE)\b/i);
      expect(body, s).not.toMatch(/--|\/\*|\b(DROP|INSERT|UPDATE|DELETE|ALTER|CREATE|GRANT|REVOKE|TRUNCATE|COPY|EXECUTE|CALL|DO|LOCK|VACUUM)\b/i);
    }
  }
}

describe("hostile names in the database and in the catalog", () => {
  it("discovers them and lists them verbatim", () => {
    expect(discoverTable(hostileId())).toEqual({ schema: SCHEMA, table: TABLE });
    const entry = catalogFor(db.streams, {}).streams.find((e) => e.tap_stream_id === hostileId())!;
    // Every column, and the tap's computed _sdc_xmin.
    expect(Object.keys((entry.schema as { properties: object }).properties).sort()).toEqual([...COLS, "_sdc_xmin"].sort());
  });

  it("syncs every table, FULL_TABLE resumed by the hostile key and INCREMENTAL on a reserved word: only the intended statements ran", async () => {
    const before = await inventory();
    proxy.statements.length = 0;
    const id = hostileId();
    const all = Object.fromEntries(db.streams.map((s) => [s.id, {}]));
    const catalog = catalogFor(db.streams, { ...all, [id]: { method: "FULL_TABLE" } });
    const cut = await runInProcess(db.streams, catalog, undefined, { killAfterRecords: 130, stateEvery: 40 });
    expect(cut.killed).toBe(true);
    const rest = await runInProcess(db.streams, catalog, cut.lastState);
    const keys = new Set([...recordsOf(cut.messages, id), ...recordsOf(rest.messages, id)].map((r) => r.record[PK]));
    expect(keys.size).toBe(ROWS);
    const one = recordsOf(rest.messages, id).at(-1)!.record;
    expect(one).toMatchObject({ [PK]: ROWS, select: `x${ROWS}'; DROP TABLE victim; --`, "naïve ☃ 名前": `☃${ROWS}` });

    const inc = await runInProcess(db.streams, catalogFor(db.streams, { [id]: { method: "INCREMENTAL", key: "from" } }), {
      bookmarks: { [id]: { replication_key: "from", replication_key_value: "2024-01-01 02:00:00+00" } },
      currently_syncing: null,
    });
    expect(recordsOf(inc.messages, id)).toHaveLength(ROWS - 119);

    expectOnlyIntended(proxy.statements);
    // The hostile names reached the server only as quoted identifiers.
    // COPY takes no parameters: key values are inlined as string literals, cast to the key's type.
    const copies = proxy.statements.filter((s) => /(^|; )COPY \(/.test(s));
    expect(copies.some((s) => s.includes(`${q(SCHEMA)}.${q(TABLE)}`) && s.includes(`(${q(PK)}) > ('`))).toBe(true);
    expect(copies.some((s) => s.includes(`WHERE "from" >= '2024-01-01 02:00:00+00'::`))).toBe(true);
    expect(await inventory()).toEqual(before);
  });

  it("a catalog that tries SQL through names the database does not have is refused or ignored; nothing else runs", async () => {
    const before = await inventory();
    proxy.statements.length = 0;
    const id = hostileId();
    const base = () => catalogFor(db.streams, { [id]: {} });
    const withTop = (c: Catalog, f: (md: Record<string, unknown>) => void) => {
      const e = c.streams.find((s) => s.tap_stream_id === id)!;
      f(e.metadata.find((m) => m.breadcrumb.length === 0)!.metadata as Record<string, unknown>);
      return c;
    };

    // A selected stream id that is SQL.
    const bogus = base();
    const extra = { ...structuredClone(bogus.streams[0]!), tap_stream_id: `x'; DROP TABLE victim; --`, stream: `x"; DROP TABLE victim; --` };
    (extra.metadata.find((m) => m.breadcrumb.length === 0)!.metadata as Record<string, unknown>).selected = true;
    bogus.streams.push(extra);
    await expect(runInProcess(db.streams, bogus)).rejects.toThrow(/no such stream/);

    // A replication key that is SQL, not a column.
    const key = withTop(base(), (md) => Object.assign(md, { "replication-method": "INCREMENTAL", "replication-key": `from" >= now(); DROP TABLE victim; --` }));
    await expect(runInProcess(db.streams, key)).rejects.toThrow(/replication-key/);

    // Property names that are SQL, and table metadata pointing elsewhere: ignored, the stream's own table is read.
    const props = withTop(base(), (md) => Object.assign(md, { "schema-name": "public", "table-name": "victim", "database-name": `x"; DROP TABLE victim; --` }));
    const entry = props.streams.find((s) => s.tap_stream_id === id)!;
    Object.assign(entry, { table_name: `victim"; DROP TABLE victim; --` });
    entry.metadata.push({ breadcrumb: ["properties", `nope"; DROP TABLE victim; --`], metadata: { selected: true } });
    (entry.schema as { properties: Record<string, unknown> }).properties[`nope"; DROP TABLE victim; --`] = { type: ["null", "string"] };
    const run = await runInProcess(db.streams, props);
    const recs = recordsOf(run.messages, id);
    expect(recs).toHaveLength(ROWS);
    expect(Object.keys(recs[0]!.record).sort()).toEqual([...COLS].sort());

    expectOnlyIntended(proxy.statements);
    // The table metadata that pointed at victim was not used.
    expect(proxy.statements.filter((s) => s.includes('"victim"') || /\bvictim\b/.test(skeleton(s)))).toEqual([]);
    expect(await inventory()).toEqual(before);
  });
});

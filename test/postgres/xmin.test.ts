// INCREMENTAL on _sdc_xmin: the rows inserted or updated since the last run,
// by the id of the transaction that wrote them, on tables with or without a
// key; a first run (or a bookmark that cannot be trusted) reads every row
// under a new version. A mirror built from the output alone must equal the
// source after every run.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import pg from "pg";
import { catalogFor, createDatabase, openDb, recordsOf, runInProcess, sql } from "./helpers.ts";
import type { OpenDatabase } from "../../src/postgres/database.ts";
import type { State } from "../../src/singer/state.ts";
import { windowStart, xid8Of, xminWindow } from "../../src/postgres/xmin.ts";
import { runtime } from "../../src/runtime.ts";

const SCRIPT = `
CREATE TABLE int_key (id int8 PRIMARY KEY, v text, n numeric);
CREATE TABLE pair_key (a int, b text, v text, PRIMARY KEY (a, b));
CREATE TABLE uuid_key (id uuid PRIMARY KEY, v text);
CREATE TABLE no_key (n int, v text);
CREATE VIEW a_view AS SELECT id FROM int_key;
INSERT INTO int_key SELECT i, 'v' || i, i * 1.5 FROM generate_series(1, 3000) i;
INSERT INTO pair_key SELECT i % 50, 'k' || i, 'v' || i FROM generate_series(1, 1000) i;
INSERT INTO uuid_key SELECT md5(i::text)::uuid, 'v' || i FROM generate_series(1, 500) i;
INSERT INTO no_key SELECT i, 'v' || i FROM generate_series(1, 2000) i;`;

let url: string;
let db: OpenDatabase;
beforeAll(async () => {
  url = await createDatabase("tap_xmin", SCRIPT);
  db = await openDb(url, "fixture", { batch_size: 200 });
});
afterAll(() => db?.session.close());

const KEYS: Record<string, string[]> = { int_key: ["id"], pair_key: ["a", "b"], uuid_key: ["id"], no_key: [] };
const idOf = (table: string) => `fixture-public-${table}`;
const xminCatalog = (tables: string[], columns?: string[]) =>
  catalogFor(
    db.streams,
    Object.fromEntries(tables.map((t) => [idOf(t), { method: "INCREMENTAL" as const, key: "_sdc_xmin", ...(columns ? { columns } : {}) }])),
  );

/** A target's copy: upsert by key (append without one), a version swap on ACTIVATE_VERSION. */
class Mirror {
  rows = new Map<string, Map<string, Record<string, unknown>>>();
  private pending = new Map<string, Map<string, Record<string, unknown>>>();
  apply(run: { messages: { type: string }[] }): void {
    let appended = 0;
    for (const m of run.messages as { type: string; stream: string; record: Record<string, unknown>; version?: number }[]) {
      const table = m.stream?.replace("fixture-public-", "");
      if (m.type === "RECORD") {
        const keys = KEYS[table]!;
        const k = keys.length ? JSON.stringify(keys.map((c) => m.record[c])) : `#${table}#${this.rows.get(table)?.size ?? 0}#${appended++}`;
        const into = m.version !== undefined ? this.pendingOf(table) : this.of(table);
        into.set(k, m.record);
      }
      if (m.type === "ACTIVATE_VERSION") {
        this.rows.set(table, this.pendingOf(table));
        this.pending.delete(table);
      }
    }
  }
  private of(t: string) {
    if (!this.rows.has(t)) this.rows.set(t, new Map());
    return this.rows.get(t)!;
  }
  private pendingOf(t: string) {
    if (!this.pending.has(t)) this.pending.set(t, new Map());
    return this.pending.get(t)!;
  }
  sorted(table: string): string[] {
    return [...(this.rows.get(table)?.values() ?? [])].map((r) => JSON.stringify(r)).sort();
  }
}

/** The source as the tap renders it: the same JSON for every row. */
async function source(table: string): Promise<string[]> {
  const cols = table === "int_key" ? "id::text::int8 AS id, v, n" : "*"; // small numbers: JSON.parse keeps them
  const rows = await sql<{ j: string }>(url, `SELECT row_to_json(t)::text AS j FROM (SELECT ${cols} FROM ${table}) t`);
  return rows.map((r) => JSON.stringify(JSON.parse(r.j))).sort();
}

const mirrored = (m: Mirror, table: string) => m.sorted(table).map((s) => JSON.stringify(normalise(table, JSON.parse(s))));
const normalise = (table: string, r: Record<string, unknown>) => (table === "int_key" ? { ...r, n: Number(r.n) } : r);
const sourceNorm = async (table: string) => (await source(table)).map((s) => JSON.stringify(normalise(table, JSON.parse(s)))).sort();

describe("_sdc_xmin in the catalog", () => {
  it("is a valid replication key of every table and of no view, not selected by default", () => {
    for (const t of Object.keys(KEYS)) {
      const s = db.streams.find((x) => x.id === idOf(t))!;
      expect(s.validReplicationKeys).toContain("_sdc_xmin");
      expect(s.schema.properties?._sdc_xmin).toMatchObject({ type: "integer" });
    }
    expect(db.streams.find((x) => x.id === idOf("a_view"))!.validReplicationKeys).not.toContain("_sdc_xmin");
  });
});

describe("INCREMENTAL on _sdc_xmin", () => {
  it("reads every row first under a version, then only what changed; an unchanged table sends nothing", async () => {
    const tables = Object.keys(KEYS);
    const mirror = new Mirror();
    let state: State = { bookmarks: {}, currently_syncing: null };
    const first = await runInProcess(db.streams, xminCatalog(tables), state);
    mirror.apply(first);
    for (const t of tables) expect(mirrored(mirror, t)).toEqual(await sourceNorm(t));
    expect(first.messages.filter((m) => m.type === "ACTIVATE_VERSION")).toHaveLength(tables.length);
    expect(recordsOf(first.messages, idOf("int_key"))[0]!.record).not.toHaveProperty("_sdc_xmin");
    state = first.lastState!;

    const again = await runInProcess(db.streams, xminCatalog(tables), state);
    expect(again.messages.filter((m) => m.type === "RECORD")).toHaveLength(0);
    state = again.lastState!;

    // Random rounds of inserts, updates and re-inserts; the keyless table only grows.
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let round = 0; round < 4; round++) {
      const ids = Array.from({ length: 20 }, () => 1 + rand(3000));
      await sql(url, `UPDATE int_key SET v = v || '+', n = n + 0.25 WHERE id = ANY($1::int8[])`, [ids]);
      await sql(url, `INSERT INTO int_key SELECT 3000 + ${round} * 10 + i, 'new', 0.5 FROM generate_series(1, 5) i`);
      await sql(url, `UPDATE pair_key SET v = v || '*' WHERE a = ${rand(50)}`);
      await sql(url, `DELETE FROM uuid_key WHERE id = md5('${1 + rand(500)}')::uuid`);
      await sql(url, `INSERT INTO uuid_key SELECT md5(i::text)::uuid, 'back ${round}' FROM generate_series(1, 500) i ON CONFLICT (id) DO NOTHING`);
      await sql(url, `INSERT INTO no_key SELECT i, 'round ${round}' FROM generate_series(1, 7) i`);
      const run = await runInProcess(db.streams, xminCatalog(tables), state);
      mirror.apply(run);
      for (const t of tables) expect(mirrored(mirror, t), `${t} after round ${round}`).toEqual(await sourceNorm(t));
      // Only the changed rows (and, at most, rows of transactions that were open at the last bookmark) come out.
      expect(recordsOf(run.messages, idOf("int_key")).length).toBeLessThanOrEqual(30);
      expect(run.messages.some((m) => m.type === "ACTIVATE_VERSION")).toBe(false);
      state = run.lastState!;
    }
  });

  it("reads with a credential that may not call pg_control_system(): the bookmark then names no server", async () => {
    // Function rights live in each database's catalog: revoked here, they stay as they are elsewhere.
    const locked = await createDatabase(
      "tap_xmin_locked",
      `CREATE TABLE t (id int8 PRIMARY KEY, v text);
       INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 300) i;
       REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_system() FROM PUBLIC;
       DROP ROLE IF EXISTS tap_xmin_plain;
       CREATE ROLE tap_xmin_plain LOGIN PASSWORD 'plain-secret';
       GRANT SELECT ON t TO tap_xmin_plain;`,
    );
    const u = new URL(locked);
    u.username = "tap_xmin_plain";
    u.password = "plain-secret";
    const plain = await openDb(u.toString(), "fixture");
    try {
      const stream = "fixture-public-t";
      const catalog = catalogFor(plain.streams, { [stream]: { method: "INCREMENTAL", key: "_sdc_xmin" } });
      const first = await runInProcess(plain.streams, catalog);
      expect(recordsOf(first.messages, stream)).toHaveLength(300);
      const bookmark = first.lastState!.bookmarks[stream] as Record<string, unknown>;
      expect(bookmark.replication_key_value).toMatch(/^\d+$/);
      expect(bookmark).not.toHaveProperty("server");
      await sql(locked, "UPDATE t SET v = 'changed' WHERE id = 7");
      const again = await runInProcess(plain.streams, catalog, first.lastState!);
      expect(recordsOf(again.messages, stream).map((r) => r.record)).toEqual([{ id: 7, v: "changed" }]);
    } finally {
      await plain.session.close();
    }
  });

  it("carries _sdc_xmin when selected: the 64-bit id of the writing transaction", async () => {
    const [{ xid }] = (await sql<{ xid: string }>(url, "UPDATE int_key SET v = 'marked' WHERE id = 42 RETURNING pg_current_xact_id()::text AS xid")) as [
      { xid: string },
    ];
    const run = await runInProcess(db.streams, xminCatalog(["int_key"], ["id", "v", "_sdc_xmin"]));
    const rec = recordsOf(run.messages, idOf("int_key")).find((r) => r.record.id === 42)!;
    expect(rec.record).toEqual({ id: 42, v: "marked", _sdc_xmin: Number(xid) });
    const schema = run.messages.find((m) => m.type === "SCHEMA" && m.stream === idOf("int_key")) as { schema: { properties: object } };
    expect(Object.keys(schema.schema.properties)).toContain("_sdc_xmin");
  });

  it("bookmarks the snapshot's xmin, so a transaction open during the run comes out in the next one", async () => {
    const first = await runInProcess(db.streams, xminCatalog(["int_key"]));
    const open = new pg.Client({ connectionString: url, ssl: { rejectUnauthorized: false } });
    await open.connect();
    try {
      await open.query("BEGIN");
      await open.query("INSERT INTO int_key VALUES (900001, 'slow', 1)");
      await sql(url, "INSERT INTO int_key VALUES (900002, 'quick', 1)");
      const during = await runInProcess(db.streams, xminCatalog(["int_key"]), first.lastState!);
      const seen = recordsOf(during.messages, idOf("int_key")).map((r) => r.record.id);
      expect(seen).toContain(900002);
      expect(seen).not.toContain(900001);
      await open.query("COMMIT");
      const after = await runInProcess(db.streams, xminCatalog(["int_key"]), during.lastState!);
      expect(recordsOf(after.messages, idOf("int_key")).map((r) => r.record.id)).toContain(900001);
    } finally {
      await open.end();
    }
  });

  it("resumes a pass killed part way without losing a row", async () => {
    await sql(url, "UPDATE no_key SET v = v || '!' WHERE n % 3 = 0");
    const before = await runInProcess(db.streams, xminCatalog(["no_key"]));
    const base = before.lastState!;
    await sql(url, "UPDATE int_key SET v = v || '~' WHERE id % 2 = 0");
    const changed = (await sql<{ id: string }>(url, "SELECT id::text FROM int_key WHERE v LIKE '%~'")).map((r) => Number(r.id));
    const killed = await runInProcess(db.streams, xminCatalog(["int_key"]), base, { killAfterRecords: 700, stateEvery: 100 });
    expect(killed.killed).toBe(true);
    const mid = killed.lastState!.bookmarks[idOf("int_key")] as { pass?: { last_ctid?: string } };
    expect(mid.pass?.last_ctid).toBeDefined();
    const resumed = await runInProcess(db.streams, xminCatalog(["int_key"]), killed.lastState!);
    const got = new Set([...recordsOf(killed.messages, idOf("int_key")), ...recordsOf(resumed.messages, idOf("int_key"))].map((r) => r.record.id));
    for (const id of changed) expect(got.has(id), `row ${id}`).toBe(true);
    expect((resumed.lastState!.bookmarks[idOf("int_key")] as { pass?: unknown }).pass).toBeUndefined();
  });
});

describe("a bookmark that cannot be trusted", () => {
  async function current(): Promise<State> {
    const run = await runInProcess(db.streams, xminCatalog(["pair_key"]));
    return run.lastState!;
  }
  const bump = (state: State, f: (b: Record<string, unknown>) => Record<string, unknown>): State => ({
    ...state,
    bookmarks: { ...state.bookmarks, [idOf("pair_key")]: f(state.bookmarks[idOf("pair_key")] as Record<string, unknown>) },
  });

  for (
    const [name, change, says] of [
      ["from another server", (b: Record<string, unknown>) => ({ ...b, server: { system_identifier: "1", timeline: 1 } }), /not the server the bookmark/],
      ["on another timeline", (b: Record<string, unknown>) => ({ ...b, server: { ...(b.server as object), timeline: 99 } }), /timeline moved/],
      ["ahead of the server (a restore)", (b: Record<string, unknown>) => ({ ...b, replication_key_value: String(2n ** 40n) }), /went backwards/],
      ["past wraparound", (b: Record<string, unknown>) => ({ ...b, replication_key_value: "3" }), /2\^31/],
    ] as const
  ) {
    it(`${name}: re-reads the table under a new version, with one warning`, async () => {
      const state = bump(await current(), change);
      if (name === "past wraparound") {
        // A bookmark 2^31 behind needs an epoch the test server does not have: move the bookmark's epoch back instead.
        const b = state.bookmarks[idOf("pair_key")] as { replication_key_value: string };
        const server = (await sql<{ x: string }>(url, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x"))[0]!.x;
        if (BigInt(server) < 2n ** 31n) {
          // Epoch 0: check the rule itself on the server's own horizon.
          expect(windowStart({ replication_key: "_sdc_xmin", replication_key_value: "3" }, horizonAt(BigInt(server) + 2n ** 31n)).distrust).toMatch(says);
          return;
        }
        b.replication_key_value = String(BigInt(server) - 2n ** 31n - 1n);
      }
      const lines: string[] = [];
      const stderr = vi.spyOn(runtime, "writeStderr").mockImplementation((t: string) => void lines.push(t));
      try {
        const run = await runInProcess(db.streams, xminCatalog(["pair_key"]), state);
        const warnings = lines.filter((l) => /cannot be trusted/.test(l));
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(says);
        const [{ n }] = (await sql<{ n: string }>(url, "SELECT count(*)::text AS n FROM pair_key")) as [{ n: string }];
        expect(recordsOf(run.messages, idOf("pair_key"))).toHaveLength(Number(n));
        expect(run.messages.some((m) => m.type === "ACTIVATE_VERSION")).toBe(true);
      } finally {
        stderr.mockRestore();
      }
    });
  }

  it("a follower not yet at the bookmark reads nothing and keeps the bookmark, without a warning", () => {
    const at = { replication_key: "_sdc_xmin" as const, replication_key_value: "1000" };
    expect(windowStart(at, { ...horizonAt(900n), standby: true })).toEqual({ from: 1000n });
    expect(windowStart(at, horizonAt(900n)).distrust).toMatch(/went backwards/);
  });
});

const horizonAt = (xmax: bigint) => ({ xmin: xmax, xmax, standby: false, server: undefined, filenode: undefined, version: 180000 });

describe("the 32-bit window", () => {
  /** Which of `xs` (raw 32-bit xmin values) the window selects, evaluated by PostgreSQL itself. */
  async function selects(from: bigint, xmax: bigint, xs: number[]): Promise<number[]> {
    const cond = xminWindow(from, xmax).replaceAll("xmin::text::int8", "x");
    const rows = await sql<{ v: string }>(url, `SELECT x::text AS v FROM unnest($1::int8[]) x WHERE ${cond} ORDER BY x::int8`, [xs]);
    return rows.map((r) => Number(r.v));
  }
  const E = 2n ** 32n;
  it("selects [from, xmax) within one epoch", async () => {
    expect(await selects(5n * E + 100n, 5n * E + 200n, [3, 99, 100, 150, 199, 200, 4_000_000_000])).toEqual([100, 150, 199]);
  });
  it("selects across the 32-bit wrap, skipping the special ids 0-2", async () => {
    expect(await selects(5n * E - 100n, 5n * E + 50n, [0, 1, 2, 3, 49, 50, 1000, 4294967195, 4294967196, 4294967295])).toEqual([3, 49, 4294967196, 4294967295]);
  });
  it("selects nothing when the bookmark is at or past xmax", async () => {
    expect(xminWindow(10n, 10n)).toBe("false");
  });
  it("places a 32-bit id in the right epoch", async () => {
    const expr = xid8Of(5n * E + 50n).replaceAll("xmin::text::int8", "x");
    const rows = await sql<{ v: string }>(url, `SELECT ${expr} AS v FROM unnest($1::int8[]) x ORDER BY x`, [[10, 4294967000]]);
    expect(rows.map((r) => r.v)).toEqual([String(5n * E + 10n), String(4n * E + 4294967000n)]);
  });
});

describe("_sdc_xmin with delete detection", () => {
  // Change capture in full: inserts, updates, deletes and re-inserts reach a
  // mirror built from the output alone (upsert by key, delete on
  // _sdc_deleted_at, append without a key), which must equal the source.
  let durl: string;
  let ddb: OpenDatabase;
  beforeAll(async () => {
    durl = await createDatabase("tap_xmin_deletes", SCRIPT);
    ddb = await openDb(durl, "fixture", { batch_size: 200, detect_deletes: true });
  });
  afterAll(() => ddb?.session.close());

  const tables = Object.keys(KEYS);
  const catalog = () => catalogFor(ddb.streams, Object.fromEntries(tables.map((t) => [idOf(t), { method: "INCREMENTAL" as const, key: "_sdc_xmin" }])));

  /** A target's copy; a record with _sdc_deleted_at deletes its key. */
  class DeletingMirror extends Mirror {
    override apply(run: { messages: { type: string }[] }): void {
      const plain: { type: string }[] = [];
      for (const m of run.messages as { type: string; stream: string; record: Record<string, unknown> }[]) {
        if (m.type === "RECORD" && m.record._sdc_deleted_at) {
          const table = m.stream.replace("fixture-public-", "");
          super.apply({ messages: plain.splice(0) });
          this.rows.get(table)?.delete(JSON.stringify(KEYS[table]!.map((c) => m.record[c])));
        } else plain.push(m);
      }
      super.apply({ messages: plain });
    }
  }
  const view = (m: Mirror, t: string) => mirrored(m, t).map((r) => JSON.stringify(omit(JSON.parse(r), "_sdc_deleted_at"))).sort();
  const omit = (r: Record<string, unknown>, k: string) => Object.fromEntries(Object.entries(r).filter(([x]) => x !== k));
  const sourceOf = async (t: string) => {
    const rows = await sql<{ j: string }>(
      durl,
      `SELECT row_to_json(x)::text AS j FROM (SELECT ${t === "int_key" ? "id::text::int8 AS id, v, n" : "*"} FROM ${t}) x`,
    );
    return rows.map((r) => JSON.stringify(normalise(t, JSON.parse(r.j)))).sort();
  };

  it("keeps a mirror equal to the source through random rounds of inserts, updates, deletes and re-inserts", async () => {
    const mirror = new DeletingMirror();
    let state: State = { bookmarks: {}, currently_syncing: null };
    const first = await runInProcess(ddb.streams, catalog(), state);
    mirror.apply(first);
    state = first.lastState!;
    let seed = 11;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let round = 0; round < 5; round++) {
      const ids = Array.from({ length: 30 }, () => 1 + rand(3000));
      await sql(durl, `DELETE FROM int_key WHERE id = ANY($1::int8[])`, [ids.slice(0, 10)]);
      await sql(durl, `UPDATE int_key SET v = v || '+' WHERE id = ANY($1::int8[])`, [ids.slice(10)]);
      await sql(durl, `INSERT INTO int_key VALUES (${ids[0]}, 'back', 2) ON CONFLICT (id) DO UPDATE SET v = 'back'`); // a re-insert
      await sql(durl, `DELETE FROM pair_key WHERE a = ${rand(50)} AND b LIKE '%1'`);
      await sql(durl, `UPDATE pair_key SET v = v || '*' WHERE a = ${rand(50)}`);
      await sql(durl, `DELETE FROM uuid_key WHERE id IN (SELECT id FROM uuid_key ORDER BY md5(id::text || ${round}) LIMIT 7)`);
      await sql(
        durl,
        `INSERT INTO uuid_key SELECT md5(i::text)::uuid, 'again ${round}' FROM generate_series(1, 500) i WHERE i % 3 = ${round % 3} ON CONFLICT DO NOTHING`,
      );
      await sql(durl, `INSERT INTO no_key SELECT i, 'round ${round}' FROM generate_series(1, 3) i`);
      const run = await runInProcess(ddb.streams, catalog(), state);
      mirror.apply(run);
      for (const t of tables) expect(view(mirror, t), `${t} after round ${round}`).toEqual(await sourceOf(t));
      state = run.lastState!;
    }
    const idle = await runInProcess(ddb.streams, catalog(), state);
    expect(idle.messages.filter((m) => m.type === "RECORD")).toHaveLength(0);
  });
});

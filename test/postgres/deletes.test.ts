// Delete detection (issue 13) on a real PostgreSQL: seeded random rounds of
// inserts, updates, deletes and re-inserts on tables keyed by an int8, a
// composite (int4, text) and a uuid, each run INCREMENTAL on updated_at; after
// every run a mirror built from the output alone (upsert by key, delete on
// _sdc_deleted_at, ACTIVATE_VERSION as the Meltano SDK's soft delete applies
// it) equals the source. Also: a run with no change sends no tombstone, a run
// killed mid-detection or mid-rows and resumed loses nothing, and a table
// whose keys do not fit falls back to FULL_TABLE passes with a warning.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { catalogFor, createDatabase, openDb, runInProcess, sql } from "./helpers.ts";
import type { InProcessRun } from "./helpers.ts";
import type { OpenDatabase } from "../../src/postgres/database.ts";
import type { Message } from "../../src/singer/messages.ts";
import type { State } from "../../src/singer/state.ts";
import { runtime } from "../../src/runtime.ts";
import { random } from "../helpers/random.ts";
import { configureLogging } from "../../src/log.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const DB = "tap_pg_deletes";
const SCRIPT = `
CREATE TABLE ints (id int8 PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON ints (updated_at);
CREATE TABLE pairs (a int4, b text, v text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (a, b));
CREATE INDEX ON pairs (updated_at);
CREATE TABLE uuids (id uuid PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON uuids (updated_at);
CREATE TABLE wide (id uuid PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE killme (id int8 PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON killme (updated_at);
INSERT INTO killme (id, v) SELECT i, 'v' || i FROM generate_series(1, 20000) i;
CREATE TABLE keyless (v text, updated_at timestamptz DEFAULT clock_timestamp());
CREATE TABLE recon (id int4 PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON recon (updated_at);
INSERT INTO recon (id, v) SELECT i, 'r' || i FROM generate_series(1, 30000) i;
CREATE TABLE slowkeys (id int4 PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON slowkeys (updated_at);
INSERT INTO slowkeys (id, v) SELECT i, 's' || i FROM generate_series(1, 30000) i;
CREATE TABLE parted (id int8 PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp()) PARTITION BY RANGE (id);
CREATE TABLE parted_a PARTITION OF parted FOR VALUES FROM (MINVALUE) TO (5000);
CREATE TABLE parted_b PARTITION OF parted FOR VALUES FROM (5000) TO (MAXVALUE);
CREATE INDEX ON parted (updated_at);
INSERT INTO parted (id, v) SELECT i, 'p' || i FROM generate_series(1, 10000) i;
`;

let url: string;
let db: OpenDatabase;
beforeAll(async () => {
  url = await createDatabase(DB, SCRIPT);
  db = await openDb(url, "dd", { detect_deletes: true, batch_size: 100 });
});
afterAll(async () => {
  await db?.session.close();
});

interface Shape {
  readonly table: string;
  readonly stream: string;
  /** The key of a record, as a string. */
  readonly keyOf: (r: Record<string, unknown>) => string;
  /** SQL giving each row's key as that same string, and v. */
  readonly rows: string;
  /** A new key, as SQL values for the key columns, and its string. */
  readonly fresh: (n: number, next: () => number) => { sql: string; key: string };
  /** The WHERE condition for one key string. */
  readonly where: (key: string) => string;
  readonly keyCols: string;
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
const SHAPES: Shape[] = [
  {
    table: "ints",
    stream: "dd-public-ints",
    keyOf: (r) => String(r.id),
    rows: "SELECT id::text AS k, v FROM ints",
    fresh: (n) => ({ sql: String(n), key: String(n) }),
    where: (k) => `id = ${k}`,
    keyCols: "id",
  },
  {
    table: "pairs",
    stream: "dd-public-pairs",
    keyOf: (r) => `${r.a}|${r.b}`,
    rows: "SELECT a::text || '|' || b AS k, v FROM pairs",
    // b sorts differently by collation and bytes (capitals, a space, a tab): the merge must not care.
    fresh: (n, next) => {
      const a = Math.floor(next() * 7);
      const b = ["k", "K", "k ", "é", "k\t", "Z"][n % 6] + String(n);
      return { sql: `${a}, ${quote(b)}`, key: `${a}|${b}` };
    },
    where: (k) => {
      const i = k.indexOf("|");
      return `a = ${k.slice(0, i)} AND b = ${quote(k.slice(i + 1))}`;
    },
    keyCols: "a, b",
  },
  {
    table: "uuids",
    stream: "dd-public-uuids",
    keyOf: (r) => String(r.id),
    rows: "SELECT id::text AS k, v FROM uuids",
    fresh: () => {
      const u = randomUUID();
      return { sql: quote(u), key: u };
    },
    where: (k) => `id = ${quote(k)}`,
    keyCols: "id",
  },
];

/** What a target holds after applying the output: key -> v (and the table version each row came with). */
class Mirror {
  readonly rows = new Map<string, { v: unknown; version: number | undefined }>();
  tombstones = 0;
  constructor(private readonly keyOf: (r: Record<string, unknown>) => string, private readonly stream: string) {}

  apply(messages: Message[]): void {
    for (const m of messages) {
      if (m.type === "RECORD" && m.stream === this.stream) {
        const key = this.keyOf(m.record);
        if (m.record._sdc_deleted_at != null) {
          expect(typeof m.record._sdc_deleted_at === "string" && !Number.isNaN(Date.parse(m.record._sdc_deleted_at))).toBe(true);
          this.tombstones++;
          this.rows.delete(key);
        } else this.rows.set(key, { v: m.record.v, version: m.version });
      }
      // The SDK's soft delete: rows of an older version go; rows written without one stay.
      if (m.type === "ACTIVATE_VERSION" && m.stream === this.stream) {
        for (const [k, r] of this.rows) if (r.version !== undefined && r.version < m.version) this.rows.delete(k);
      }
    }
  }
}

async function source(shape: Shape): Promise<Map<string, unknown>> {
  const rows = await sql<{ k: string; v: string }>(url, shape.rows);
  return new Map(rows.map((r) => [r.k, r.v]));
}

const incremental = (d: OpenDatabase, streams: string[]) =>
  catalogFor(d.streams, Object.fromEntries(streams.map((s) => [s, { method: "INCREMENTAL" as const, key: "updated_at" }])));

const tombstonesOf = (run: InProcessRun, stream: string) =>
  run.messages.filter((m) => m.type === "RECORD" && m.stream === stream && m.record._sdc_deleted_at != null);

describe("delete detection", () => {
  it("keeps a mirror built from the output equal to the source through random rounds, for int8, composite and uuid keys", async () => {
    const next = random(20261130);
    const live = new Map(SHAPES.map((s) => [s.table, [] as string[]]));
    let counter = 1;
    const insert = async (shape: Shape, n: number) => {
      const values: string[] = [];
      for (let i = 0; i < n; i++) {
        const f = shape.fresh(counter++, next);
        values.push(`(${f.sql}, 'v${counter}')`);
        live.get(shape.table)!.push(f.key);
      }
      await sql(url, `INSERT INTO ${shape.table} (${shape.keyCols}, v) VALUES ${values.join(", ")}`);
    };
    const pick = (shape: Shape, n: number) => {
      const keys = live.get(shape.table)!;
      const out = new Set<string>();
      while (out.size < Math.min(n, keys.length)) out.add(keys[Math.floor(next() * keys.length)]!);
      return [...out];
    };
    for (const shape of SHAPES) await insert(shape, 1500);

    const mirrors = new Map(SHAPES.map((s) => [s.table, new Mirror(s.keyOf, s.stream)]));
    const catalog = incremental(db, SHAPES.map((s) => s.stream));
    let state: State | undefined;
    let gone = new Map(SHAPES.map((s) => [s.table, [] as string[]]));
    for (let round = 0; round < 6; round++) {
      const run = await runInProcess(db.streams, catalog, state);
      state = run.lastState!;
      for (const shape of SHAPES) {
        const schema = run.messages.find((m) => m.type === "SCHEMA" && m.stream === shape.stream);
        expect(schema && schema.type === "SCHEMA" && schema.schema.properties?._sdc_deleted_at).toEqual({ type: ["null", "string"], format: "date-time" });
        const mirror = mirrors.get(shape.table)!;
        mirror.apply(run.messages);
        // Exactly the keys deleted since the last run come as tombstones (none on the first run).
        const stones = tombstonesOf(run, shape.stream).map((m) => m.type === "RECORD" && shape.keyOf(m.record)).sort();
        expect(stones, `${shape.table}, round ${round}`).toEqual([...gone.get(shape.table)!].sort());
        expect(Object.fromEntries([...mirror.rows].map(([k, r]) => [k, r.v])), `${shape.table}, round ${round}`).toEqual(
          Object.fromEntries(await source(shape)),
        );
      }

      // The changes before the next run.
      gone = new Map(SHAPES.map((s) => [s.table, [] as string[]]));
      for (const shape of SHAPES) {
        const keys = live.get(shape.table)!;
        const updated = pick(shape, 40);
        await sql(
          url,
          updated.map((k) => `UPDATE ${shape.table} SET v = 'u${round}-${counter++}', updated_at = clock_timestamp() WHERE ${shape.where(k)};`).join("\n"),
        );
        const deleted = pick(shape, 30);
        await sql(url, `DELETE FROM ${shape.table} WHERE ${deleted.map((k) => `(${shape.where(k)})`).join(" OR ")}`);
        // Deleted and inserted again between runs: the new row, not a tombstone.
        const again = deleted.slice(0, 5);
        await sql(url, again.map((k) => `INSERT INTO ${shape.table} (${shape.keyCols}, v) VALUES (${keyValues(shape, k)}, 'again-${round}');`).join("\n"));
        gone.set(shape.table, deleted.slice(5));
        live.set(shape.table, keys.filter((k) => !deleted.slice(5).includes(k)));
        await insert(shape, 25);
      }
    }

    // Nothing changed since: no tombstone, and only the rows tied with the bookmarks again.
    const quiet = await runInProcess(db.streams, catalog, state);
    for (const shape of SHAPES) {
      expect(tombstonesOf(quiet, shape.stream)).toHaveLength(gone.get(shape.table)!.length);
    }
    const still = await runInProcess(db.streams, catalog, quiet.lastState);
    for (const shape of SHAPES) {
      expect(tombstonesOf(still, shape.stream)).toHaveLength(0);
      expect(still.messages.filter((m) => m.type === "RECORD" && m.stream === shape.stream).length).toBeLessThanOrEqual(1);
    }
  });

  it("records the keys without tombstones on the first run after an incremental bookmark, and names the table's key in the state", async () => {
    const plain = await openDb(url, "dd");
    try {
      await sql(url, "INSERT INTO ints (id, v) VALUES (900001, 'a'), (900002, 'b')");
      const catalog = catalogFor(plain.streams, { "dd-public-ints": { method: "INCREMENTAL", key: "updated_at" } });
      const before = await runInProcess(plain.streams, catalog);
      expect((before.lastState!.bookmarks["dd-public-ints"] as Record<string, unknown>).deletes).toBeUndefined();
      await sql(url, "DELETE FROM ints WHERE id = 900001");
      const on = await runInProcess(db.streams, incremental(db, ["dd-public-ints"]), before.lastState);
      // Deleted before detection was on: missed (documented), no tombstone.
      expect(tombstonesOf(on, "dd-public-ints")).toHaveLength(0);
      const bm = on.lastState!.bookmarks["dd-public-ints"] as { deletes: { key: string[]; ranges: string } };
      expect(bm.deletes.key).toEqual(["id"]);
      expect(typeof bm.deletes.ranges).toBe("string");
      await sql(url, "DELETE FROM ints WHERE id = 900002");
      const after = await runInProcess(db.streams, incremental(db, ["dd-public-ints"]), on.lastState);
      expect(tombstonesOf(after, "dd-public-ints").map((m) => m.type === "RECORD" && m.record)).toEqual([
        { id: 900002, _sdc_deleted_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) },
      ]);
    } finally {
      await plain.session.close();
    }
  });

  it("loses nothing when killed mid-detection or mid-rows: the state holds the keys before any row of their snapshot", async () => {
    const stream = "dd-public-killme";
    const catalog = incremental(db, [stream]);
    const mirror = new Mirror((r) => String(r.id), stream);
    // No STATE but the ones a stream must write: a kill leaves the last forced one.
    const opts = { stateEvery: 1e9 };
    const first = await runInProcess(db.streams, catalog, undefined, opts);
    mirror.apply(first.messages);
    let state = first.lastState!;

    await sql(url, "DELETE FROM killme WHERE id % 50 = 7"); // 400 rows
    await sql(url, "INSERT INTO killme (id, v) SELECT i, 'new' || i FROM generate_series(20001, 22000) i");
    // Killed among the tombstones: nothing is saved; the next run sends them again.
    const cutEarly = await runInProcess(db.streams, catalog, state, { ...opts, killAfterRecords: 150 });
    expect(cutEarly.killed).toBe(true);
    mirror.apply(cutEarly.messages);
    expect(cutEarly.lastState).toBeUndefined();

    // Killed among the rows: the new keys are in the state already.
    const cut = await runInProcess(db.streams, catalog, state, { ...opts, killAfterRecords: 400 + 1200 });
    expect(cut.killed).toBe(true);
    mirror.apply(cut.messages);
    expect(mirror.rows.has("21000")).toBe(true);
    state = cut.lastState!;
    expect(state.bookmarks[stream]).toMatchObject({ deletes: { key: ["id"] } });

    // Rows the target got from the killed run go before the next one.
    await sql(url, "DELETE FROM killme WHERE id BETWEEN 20001 AND 20600");
    const rest = await runInProcess(db.streams, catalog, state, opts);
    mirror.apply(rest.messages);
    expect(tombstonesOf(rest, stream)).toHaveLength(600);
    const src = await sql<{ k: string; v: string }>(url, "SELECT id::text AS k, v FROM killme");
    expect(Object.fromEntries([...mirror.rows].map(([k, r]) => [k, r.v]))).toEqual(Object.fromEntries(src.map((r) => [r.k, r.v])));
  });

  it("reads the keys again in a new snapshot when the session is lost mid-detection: the tombstones come again, none is lost", async () => {
    const stream = "dd-public-recon";
    const catalog = incremental(db, [stream]);
    const mirror = new Mirror((r) => String(r.id), stream);
    const first = await runInProcess(db.streams, catalog);
    mirror.apply(first.messages);
    await sql(url, "DELETE FROM recon WHERE id % 15 = 4"); // 2000 rows
    const warnings: string[] = [];
    const stderr = vi.spyOn(runtime, "writeStderr").mockImplementation((t: string) => void warnings.push(t));
    let terminated = false;
    try {
      const run = await runInProcess(db.streams, catalog, first.lastState, {
        onFlush: async (n) => {
          if (terminated || n < 300) return;
          terminated = true;
          await sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tap-heroku' AND datname = current_database()");
        },
      });
      mirror.apply(run.messages);
      expect(terminated).toBe(true);
      expect(warnings.join("")).toMatch(/dd-public-recon: the connection was lost/);
      const stones = tombstonesOf(run, stream).map((m) => m.type === "RECORD" && Number(m.record.id));
      expect(stones.length).toBeGreaterThan(2000); // some twice: the first snapshot's, then all of them
      expect(new Set(stones)).toEqual(new Set(Array.from({ length: 2000 }, (_, i) => i * 15 + 4)));
      const src = await sql<{ k: string; v: string }>(url, "SELECT id::text AS k, v FROM recon");
      expect(Object.fromEntries([...mirror.rows].map(([k, r]) => [k, r.v]))).toEqual(Object.fromEntries(src.map((r) => [r.k, r.v])));
      const again = await runInProcess(db.streams, catalog, run.lastState);
      expect(tombstonesOf(again, stream)).toHaveLength(0);
    } finally {
      stderr.mockRestore();
    }
  });

  it("goes on after the last key when a slow target gets the key read cut at max_statement_s: each tombstone once, none lost", async () => {
    const bounded = await openDb(url, "dd", { detect_deletes: true, batch_size: 100, max_statement_s: 1 });
    const stream = "dd-public-slowkeys";
    const catalog = incremental(bounded, [stream]);
    const lines: string[] = [];
    const stderr = vi.spyOn(runtime, "writeStderr").mockImplementation((t: string) => void lines.push(t));
    configureLogging({ level: "info", format: "text" });
    try {
      const first = await runInProcess(bounded.streams, catalog);
      await sql(url, "DELETE FROM slowkeys WHERE id % 10 = 3"); // 3,000 keys, in every chunk of the key read
      let slow = 3;
      // Each flush (about 600 tombstones) takes 1.5 s while a chunk of keys is being read: past the bound.
      const run = await runInProcess(bounded.streams, catalog, first.lastState, { onFlush: () => (slow-- > 0 ? sleep(1500) : Promise.resolve()) });
      expect(lines.join("")).toMatch(/[1-9]\d* statement\(s\) reached/);
      const stones = tombstonesOf(run, stream).map((m) => m.type === "RECORD" && Number(m.record.id));
      expect(stones).toHaveLength(3000);
      expect(new Set(stones)).toEqual(new Set(Array.from({ length: 3000 }, (_, i) => i * 10 + 3)));
      const again = await runInProcess(bounded.streams, catalog, run.lastState);
      expect(tombstonesOf(again, stream)).toHaveLength(0);
    } finally {
      configureLogging({ level: "warning", format: "text" });
      stderr.mockRestore();
      await bounded.session.close();
    }
  });

  it("reads a partitioned table's keys across its partitions in key order, which their indexes give without a sort", async () => {
    const stream = "dd-public-parted";
    const catalog = incremental(db, [stream]);
    const first = await runInProcess(db.streams, catalog);
    await sql(url, "DELETE FROM parted WHERE id IN (3, 4999, 5000, 9999)");
    const second = await runInProcess(db.streams, catalog, first.lastState);
    expect(tombstonesOf(second, stream).map((m) => m.type === "RECORD" && m.record.id)).toEqual([3, 4999, 5000, 9999]);
    // The key read's shape, planned as the tap's sessions plan it: the partitions' indexes in order, no Sort node.
    const client = new pg.Client({ connectionString: url, ssl: { rejectUnauthorized: false } });
    await client.connect();
    let text: string;
    try {
      await client.query("SET enable_sort = off");
      const plan = await client.query(`EXPLAIN SELECT "id" FROM "public"."parted" WHERE ("id") > ('10'::bigint) ORDER BY "id" LIMIT 50000`);
      text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
    } finally {
      await client.end();
    }
    expect(text).toMatch(/Append/);
    expect(text).toMatch(/Index Only Scan using parted_a_pkey/);
    expect(text).not.toMatch(/\bSort\b/);
  });

  it("falls back to FULL_TABLE passes with a warning when the keys do not fit, the mirror still following the source, and comes back when they fit", async () => {
    const stream = "dd-public-wide";
    await sql(url, `INSERT INTO wide (id, v) SELECT gen_random_uuid(), 'w' || i FROM generate_series(1, 400) i`);
    const daily = await openDb(url, "dd", { detect_deletes: true, batch_size: 100, detect_deletes_max_kb: 1 });
    const always = await openDb(url, "dd", { detect_deletes: true, batch_size: 100, detect_deletes_max_kb: 1, detect_deletes_full_table_every_h: 1e-9 });
    const warnings: string[] = [];
    const stderr = vi.spyOn(runtime, "writeStderr").mockImplementation((t: string) => void warnings.push(t));
    try {
      const mirror = new Mirror((r) => String(r.id), stream);
      const check = async () => {
        const src = await sql<{ k: string; v: string }>(url, "SELECT id::text AS k, v FROM wide");
        expect(Object.fromEntries([...mirror.rows].map(([k, r]) => [k, r.v]))).toEqual(Object.fromEntries(src.map((r) => [r.k, r.v])));
      };
      const first = await runInProcess(daily.streams, incremental(daily, [stream]));
      mirror.apply(first.messages);
      expect(warnings.filter((w) => w.includes("FULL_TABLE pass"))).toHaveLength(1);
      expect(warnings.join("")).toMatch(/more than 1 KB of state \(the setting detect_deletes_max_kb\)/);
      // The incremental read (no version), then the pass: a version and ACTIVATE_VERSION.
      const activate = first.messages.filter((m) => m.type === "ACTIVATE_VERSION");
      expect(activate).toHaveLength(1);
      const v1 = activate[0]!.type === "ACTIVATE_VERSION" ? activate[0]!.version : 0;
      expect(first.lastState!.bookmarks[stream]).toMatchObject({ deletes: { key: ["id"], full_table: { version: v1 } } });
      expect(JSON.stringify(first.lastState).length).toBeLessThan(2000);
      await check();

      await sql(url, "DELETE FROM wide WHERE id IN (SELECT id FROM wide ORDER BY v LIMIT 10)");
      await sql(url, "UPDATE wide SET v = v || '-u', updated_at = clock_timestamp() WHERE id IN (SELECT id FROM wide ORDER BY v DESC LIMIT 5)");
      // Not due: the changed rows come with the last pass's version, the deleted ones stay until the next pass.
      const second = await runInProcess(daily.streams, incremental(daily, [stream]), first.lastState);
      mirror.apply(second.messages);
      const recs = second.messages.filter((m) => m.type === "RECORD");
      expect(recs.length).toBeGreaterThanOrEqual(5);
      expect(recs.every((m) => m.type === "RECORD" && m.version === v1)).toBe(true);
      expect(second.messages.some((m) => m.type === "ACTIVATE_VERSION")).toBe(false);
      expect(mirror.rows.size).toBe(400);

      const third = await runInProcess(always.streams, incremental(always, [stream]), second.lastState);
      mirror.apply(third.messages);
      expect(third.messages.filter((m) => m.type === "ACTIVATE_VERSION")).toHaveLength(1);
      await check();
      expect(mirror.rows.size).toBe(390);
      // Its keys still do not fit: still the fallback, under the new pass's version.
      const v2 = (third.lastState!.bookmarks[stream] as { deletes: { full_table: { version: number } } }).deletes.full_table.version;
      expect(v2).toBeGreaterThan(v1);

      // With room for them, the next pass keeps the keys it writes, and the table is back to tombstones.
      const back = await openDb(url, "dd", { detect_deletes: true, batch_size: 100, detect_deletes_full_table_every_h: 1e-9 });
      try {
        const fourth = await runInProcess(back.streams, incremental(back, [stream]), third.lastState);
        mirror.apply(fourth.messages);
        expect(fourth.messages.filter((m) => m.type === "ACTIVATE_VERSION")).toHaveLength(1);
        const kept = (fourth.lastState!.bookmarks[stream] as { deletes: { keys?: string[]; full_table?: unknown } }).deletes;
        expect(kept.full_table).toBeUndefined();
        expect(new Set(kept.keys)).toEqual(new Set([...mirror.rows.keys()]));
        await sql(url, "DELETE FROM wide WHERE id IN (SELECT id FROM wide ORDER BY v LIMIT 3)");
        const fifth = await runInProcess(back.streams, incremental(back, [stream]), fourth.lastState);
        mirror.apply(fifth.messages);
        expect(tombstonesOf(fifth, stream)).toHaveLength(3);
        expect(fifth.messages.some((m) => m.type === "ACTIVATE_VERSION")).toBe(false);
        expect(fifth.messages.filter((m) => m.type === "RECORD" && m.version !== undefined)).toHaveLength(0);
        await check();
      } finally {
        await back.session.close();
      }
    } finally {
      stderr.mockRestore();
      await daily.session.close();
      await always.session.close();
    }
  });

  it("refuses a state whose kept keys are not key ranges, in one line naming the field", async () => {
    const bad: State = { bookmarks: { "dd-public-ints": { deletes: { key: ["id"], ranges: "1.2;x" } } }, currently_syncing: null };
    await expect(runInProcess(db.streams, incremental(db, ["dd-public-ints"]), bad)).rejects.toThrow(/deletes.*ranges.*expected integer key ranges/);
  });

  it("offers _sdc_deleted_at only on tables with a primary key, and only with detect_deletes", async () => {
    const keyless = db.streams.find((s) => s.id === "dd-public-keyless")!;
    expect(keyless.schema.properties).not.toHaveProperty("_sdc_deleted_at");
    const plain = await openDb(url, "dd");
    try {
      expect(plain.streams.find((s) => s.id === "dd-public-ints")!.schema.properties).not.toHaveProperty("_sdc_deleted_at");
    } finally {
      await plain.session.close();
    }
  });
});

/** The key columns' SQL values for a key string. */
function keyValues(shape: Shape, k: string): string {
  if (shape.table === "ints") return k;
  if (shape.table === "uuids") return quote(k);
  const i = k.indexOf("|");
  return `${k.slice(0, i)}, ${quote(k.slice(i + 1))}`;
}

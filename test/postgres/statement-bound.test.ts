// The bound on one statement (src/postgres/statement-bound.ts) on the real
// server: a consumer too slow for the bound gets the chunk cut there, the
// backend is no longer running it a moment later (the rest was read and
// dropped, the cancel took effect), the rows handed over are exactly a prefix
// of the chunk, and the session goes on: in one snapshot (a REPEATABLE READ
// transaction) the savepoint keeps the transaction and its snapshot, outside
// one nothing is left to roll back. A chunk that ends in time is not cut.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { connect } from "../../src/postgres/connect.ts";
import { Statements } from "../../src/postgres/statement-bound.ts";
import { cancelStatement } from "../../src/postgres/cancel.ts";
import { catalogFor, createDatabase, openDb, pgSettings, recordsOf, runInProcess, sql, superuserUrl } from "./helpers.ts";
import { vi } from "vitest";
import { runtime } from "../../src/runtime.ts";
import { configureLogging } from "../../src/log.ts";

const DB = "tap_pg_statement_bound";
// 2 KB rows: 20 MB, far more than the socket buffers hold, so a slow consumer blocks the backend.
const ROWS = 10_000;
const HEAP_ROWS = 1000;
let url: string;
let client: pg.Client;

beforeAll(async () => {
  url = await createDatabase(
    DB,
    `CREATE TABLE wide (id int PRIMARY KEY, v text, pad text);
     INSERT INTO wide SELECT i, 'old', repeat('x', 2000) FROM generate_series(1, ${ROWS}) i;
     -- Replication key values tied 2,500 times each, in an order other than the key's.
     CREATE TABLE tied (id int PRIMARY KEY, k int NOT NULL, pad text);
     INSERT INTO tied SELECT i, (i * 7919) % 4, repeat('x', 2000) FROM generate_series(1, ${ROWS}) i;
     CREATE INDEX ON tied (k);
     -- 20 KB values compressed inline to a few hundred bytes: one block range brings far more than the socket buffers hold.
     CREATE TABLE heap (n int, pad text);
     INSERT INTO heap SELECT i, repeat('x', 20000) FROM generate_series(1, ${HEAP_ROWS}) i;`,
  );
  client = await connect(url, pgSettings({ ssl: "no-verify" }));
});
afterAll(async () => {
  await client?.end();
});

const COPY = "COPY (SELECT id, v FROM wide ORDER BY id) TO STDOUT";
const WIDE = "COPY (SELECT id, v, pad FROM wide ORDER BY id) TO STDOUT";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What the server says about the session now: its state and how long its statement has run. */
async function backend(pid: number): Promise<{ state: string; age: number }> {
  const [row] = await sql<{ state: string; age: number }>(
    url,
    "SELECT state, extract(epoch FROM clock_timestamp() - query_start)::float8 AS age FROM pg_stat_activity WHERE pid = $1",
    [pid],
  );
  return row!;
}

/** Reads `text` with a consumer that takes `msPerRow` for each row; the ids it was handed, whether it was cut, and how long it took. */
async function slowRead(statements: Statements, text: string, msPerRow: number) {
  const ids: number[] = [];
  const started = performance.now();
  const got = await statements.copy(new AbortController().signal, text, 3, (row) => {
    ids.push(Number(row[0]));
    return msPerRow > 0 ? sleep(msPerRow) : undefined;
  });
  return { ids, got, ms: performance.now() - started };
}

describe("a statement cut at max_statement_s", () => {
  it("in one snapshot: cut at the bound, a prefix of the rows handed over, the transaction and its snapshot kept", async () => {
    const pid = (client as unknown as { processID: number }).processID;
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      await client.query("SELECT count(*) FROM wide"); // the snapshot is taken here
      await sql(url, "UPDATE wide SET v = 'new' WHERE id = 9000"); // committed after it: this transaction must not see it
      const statements = new Statements(client, "table", 800);
      const { ids, got, ms } = await slowRead(statements, WIDE, 5);
      expect(got.cut).toBe(true);
      expect(statements.cuts).toBe(1);
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.length).toBeLessThan(ROWS);
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
      expect(ms).toBeLessThan(800 + 1500);
      expect((await backend(pid)).state).toBe("idle in transaction");
      // The transaction goes on, savepoint released and taken again, in the same snapshot.
      const again = await slowRead(statements, `COPY (SELECT id, v, '' FROM wide WHERE id > ${ids.at(-1)} ORDER BY id) TO STDOUT`, 0);
      expect(again.got.cut).toBe(false);
      expect(again.ids).toEqual(Array.from({ length: ROWS - ids.length }, (_, i) => ids.length + i + 1));
      const { rows } = await client.query<{ v: string }>("SELECT v FROM wide WHERE id = 9000");
      expect(rows[0]!.v).toBe("old");
      await client.query("COMMIT");
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
      await sql(url, "UPDATE wide SET v = 'old' WHERE id = 9000");
    }
  });

  it("each chunk its own snapshot: cut at the bound, and the session is idle right after", async () => {
    const pid = (client as unknown as { processID: number }).processID;
    const statements = new Statements(client, "chunk", 800);
    const { ids, got, ms } = await slowRead(statements, WIDE, 5);
    expect(got.cut).toBe(true);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
    expect(ms).toBeLessThan(800 + 1500);
    expect((await backend(pid)).state).toBe("idle");
    expect((await client.query<{ n: string }>("SELECT count(*)::text AS n FROM wide")).rows[0]!.n).toBe(String(ROWS));
  });

  it("a chunk that ends before the bound is not cut, and a slow consumer of a finished chunk gets every row", async () => {
    const statements = new Statements(client, "table", 800);
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      // Narrow rows: the whole result fits in the socket buffers, so the statement ends at once however slow the consumer.
      const few = await slowRead(statements, "COPY (SELECT id, v, '' FROM wide WHERE id <= 50 ORDER BY id) TO STDOUT", 25);
      expect(few.ms).toBeGreaterThan(800);
      expect(few.got.cut).toBe(false);
      expect(few.ids).toHaveLength(50);
      const all = await slowRead(statements, COPY.replace("id, v", "id, v, ''"), 0);
      expect(all.got.cut).toBe(false);
      expect(all.ids).toHaveLength(ROWS);
      await client.query("COMMIT");
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
    }
  });

  it("a statement the server keeps busy is cut too (nothing handed over yet): the cancel ends it", async () => {
    const pid = (client as unknown as { processID: number }).processID;
    const statements = new Statements(client, "chunk", 500);
    const started = performance.now();
    const got = await statements.copy(new AbortController().signal, "COPY (SELECT pg_sleep(5)) TO STDOUT", 1, () => undefined);
    expect(got.cut).toBe(true);
    expect(got.rows).toBe(0);
    expect(performance.now() - started).toBeLessThan(2000);
    expect((await backend(pid)).state).toBe("idle");
  });
});

describe("a cancel that arrives late (a pooler such as PgBouncer forwards it after the cut chunk ended)", () => {
  it("cuts the chunk it lands on, and in one snapshot the transaction goes on", async () => {
    const statements = new Statements(client, "table", 800);
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      expect((await slowRead(statements, WIDE, 5)).got.cut).toBe(true);
      // The next chunk: the stray cancel lands while it runs, before its own bound.
      const running = statements.copy(new AbortController().signal, "COPY (SELECT pg_sleep(0.5)) TO STDOUT", 1, () => undefined);
      await sleep(100);
      await cancelStatement(client, 5000);
      const got = await running;
      expect(got.cut).toBe(true);
      expect(statements.cuts).toBe(2);
      expect((await client.query<{ one: string }>("SELECT 1 AS one")).rows[0]!.one).toBe("1");
      await client.query("COMMIT");
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
    }
  });
});

describe("every kind of chunked read goes on after the last row written when cut", () => {
  /** Reads one stream with a target too slow for max_statement_s 1 for its first records; the records and the cuts logged. */
  async function cutRead(stream: string, select: { method?: "FULL_TABLE" | "INCREMENTAL"; key?: string }, slowRecords = 3000) {
    const db = await openDb(url, "bound", { batch_size: ROWS, max_statement_s: 1 });
    const lines: string[] = [];
    const stderr = vi.spyOn(runtime, "writeStderr").mockImplementation((t: string) => void lines.push(t));
    configureLogging({ level: "info", format: "text" });
    try {
      const run = await runInProcess(db.streams, catalogFor(db.streams, { [stream]: select }), undefined, {
        onFlush: (records) => (records < slowRecords ? sleep(10) : Promise.resolve()),
      });
      const cuts = lines.map((l) => /(\d+) statement\(s\) reached/.exec(l)?.[1]).filter(Boolean).map(Number);
      return { records: recordsOf(run.messages, stream).map((r) => r.record), cuts, lines };
    } finally {
      configureLogging({ level: "warning", format: "text" });
      stderr.mockRestore();
      await db.session.close();
    }
  }

  it("INCREMENTAL on a key tied 2,500 times: a cut among tied rows skips the ones written, none twice, none lost", async () => {
    const { records, cuts, lines } = await cutRead("bound-public-tied", { method: "INCREMENTAL", key: "k" });
    expect(cuts[0], lines.join("")).toBeGreaterThan(0);
    const ids = records.map((r) => r.id as number);
    expect(new Set(ids).size).toBe(ROWS);
    expect(ids).toHaveLength(ROWS);
    const ks = records.map((r) => r.k as number);
    expect(ks).toEqual([...ks].sort((a, b) => a - b)); // key order
  });

  it("INCREMENTAL: a reconnect among tied rows, then a cut among the same ties in the new snapshot: the count starts again, none lost", async () => {
    const db = await openDb(url, "bound", { batch_size: ROWS, max_statement_s: 1 });
    const lines: string[] = [];
    const stderr = vi.spyOn(runtime, "writeStderr").mockImplementation((t: string) => void lines.push(t));
    configureLogging({ level: "info", format: "text" });
    let terminatedAt: number | undefined;
    try {
      const run = await runInProcess(db.streams, catalogFor(db.streams, { "bound-public-tied": { method: "INCREMENTAL", key: "k" } }), undefined, {
        onFlush: async (records) => {
          if (terminatedAt === undefined && records >= 1000) {
            // 1,000 of the 2,500 rows tied at k = 0 written: the session goes.
            terminatedAt = records;
            const killed = await sql(
              superuserUrl(DB),
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tap-heroku' AND datname = current_database()",
            );
            expect(killed.length).toBeGreaterThan(0);
          } else if (terminatedAt !== undefined && records < terminatedAt + 2000) {
            // The new snapshot sends the k = 0 rows again, slowly: cut about 1,000 rows in, still at k = 0.
            await sleep(30);
          }
        },
      });
      const records = recordsOf(run.messages, "bound-public-tied").map((r) => r.record);
      expect(lines.join(""), "reconnected").toMatch(/reconnecting and continuing from the bookmark/);
      expect(lines.join("")).toMatch(/[1-9]\d* statement\(s\) reached/);
      const ids = records.map((r) => r.id as number);
      expect(new Set(ids).size).toBe(ROWS); // none lost
      // Sent twice: only rows tied at k = 0 that the lost session had written.
      const seen = new Map<number, number>();
      for (const r of records) seen.set(r.id as number, (seen.get(r.id as number) ?? 0) + 1);
      const twice = records.filter((r) => seen.get(r.id as number)! > 1);
      expect(twice.every((r) => r.k === 0 && seen.get(r.id as number) === 2)).toBe(true);
      expect(ids.length - ROWS).toBeGreaterThanOrEqual(terminatedAt! - 100);
    } finally {
      configureLogging({ level: "warning", format: "text" });
      stderr.mockRestore();
      await db.session.close();
    }
  });

  it("a keyless table in ctid ranges, and its _sdc_xmin pass: each row once", async () => {
    for (const select of [{}, { method: "INCREMENTAL" as const, key: "_sdc_xmin" }]) {
      const { records, cuts, lines } = await cutRead("bound-public-heap", select, 300);
      expect(cuts[0], lines.join("")).toBeGreaterThan(0);
      const ns = records.map((r) => r.n as number);
      expect(ns).toEqual(Array.from({ length: HEAP_ROWS }, (_, i) => i + 1)); // physical order is insert order here
    }
  });
});

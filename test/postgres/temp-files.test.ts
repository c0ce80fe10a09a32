// No server temp files: Heroku's temporary disk is small, and an extract that
// sorts a big table on the server can fill it. The tap reads in index order
// (keyset chunks on the primary key, INCREMENTAL on an indexed key), so
// pg_stat_database.temp_bytes does not move, even with work_mem at its
// minimum for the tap's role. A sort in the same database under the same
// setting does move it: the control shows the counter would catch a spill.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { catalogFor, createDatabase, openDb, recordsOf, runInProcess, sql } from "./helpers.ts";
import type { OpenDatabase } from "../../src/postgres/database.ts";

const DB = "tap_pg_temp_files";
const ROWS = 60000;
const STREAM = "fixture-public-shuffled";
let url: string;
let db: OpenDatabase;

beforeAll(async () => {
  // Rows stored in random order against the key (correlation ≈ 0), which is what tempts a
  // planner into a sequential scan and a sort.
  url = await createDatabase(
    DB,
    `CREATE TABLE shuffled (id int PRIMARY KEY, updated_at timestamptz NOT NULL, body text);
     INSERT INTO shuffled SELECT i, '2024-01-01'::timestamptz + (i * 7919 % ${ROWS}) * interval '1 second', repeat(md5(i::text), 4)
       FROM generate_series(1, ${ROWS}) i ORDER BY random();
     CREATE INDEX ON shuffled (updated_at);
     ANALYZE shuffled;`,
  );
  // The tap's own sessions get the setting (a SET in this test's session would not reach them).
  await sql(url, `ALTER DATABASE "${DB}" SET work_mem = '64kB'`);
  db = await openDb(url, "fixture", { batch_size: 500 });
});
afterAll(async () => {
  await db?.session.close();
});

/** temp_bytes of the database once every session's pending statistics are flushed. */
async function tempBytes(): Promise<bigint> {
  // Backends flush their statistics when idle, at most once a second.
  await new Promise((r) => setTimeout(r, 1500));
  const [row] = await sql<{ b: string }>(
    url,
    "SELECT pg_stat_force_next_flush(), temp_bytes::text AS b FROM pg_stat_database WHERE datname = current_database()",
  );
  return BigInt(row!.b);
}

describe("server temp files", () => {
  it("a sort under the same work_mem spills (the control)", async () => {
    const before = await tempBytes();
    const c = new pg.Client({ connectionString: url, ssl: { rejectUnauthorized: false } });
    await c.connect();
    try {
      expect((await c.query("SHOW work_mem")).rows[0].work_mem).toBe("64kB");
      await c.query("SELECT * FROM shuffled ORDER BY body");
      await c.query("SELECT pg_stat_force_next_flush()");
    } finally {
      await c.end();
    }
    expect(await tempBytes()).toBeGreaterThan(before);
  });

  it("FULL_TABLE and INCREMENTAL syncs leave temp_bytes where it was", async () => {
    const before = await tempBytes();
    const full = await runInProcess(db.streams, catalogFor(db.streams, { [STREAM]: { method: "FULL_TABLE" } }));
    expect(recordsOf(full.messages, STREAM)).toHaveLength(ROWS);
    const inc = await runInProcess(db.streams, catalogFor(db.streams, { [STREAM]: { method: "INCREMENTAL", key: "updated_at" } }));
    expect(recordsOf(inc.messages, STREAM)).toHaveLength(ROWS);
    // The tap's session stays open: close it so its statistics are flushed too.
    await db.session.close();
    expect(await tempBytes()).toBe(before);
  });
});

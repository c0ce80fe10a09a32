// Keyset chunks: a table is read as a series of COPY statements, each bounded
// by the key. With a tiny batch_size the chunks are tiny too, so the chunk
// boundaries fall everywhere: inside runs of tied replication-key values, in
// a run longer than a chunk, across a composite primary key. Every row must
// come exactly once, in key order, with and without an index on the key.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogFor, createDatabase, openDb, recordsOf, runInProcess } from "./helpers.ts";
import type { OpenDatabase } from "../../src/postgres/database.ts";

const DB = "tap_pg_keyset_chunks";
let db: OpenDatabase;

beforeAll(async () => {
  const url = await createDatabase(
    DB,
    // k: runs of 7 equal values, and rows 500-599 join the run at 100 (107 rows, longer than
    // any early chunk); g has no index.
    `CREATE TABLE ties (id int PRIMARY KEY, k int, g int);
     INSERT INTO ties SELECT i, CASE WHEN i BETWEEN 500 AND 599 THEN 100 ELSE i / 7 END, i / 7 FROM generate_series(1, 2000) i;
     INSERT INTO ties VALUES (2001, NULL, NULL);
     CREATE INDEX ON ties (k);
     CREATE TABLE pairs (a int, b text, PRIMARY KEY (a, b));
     INSERT INTO pairs SELECT i / 10, 'b' || (i % 10) FROM generate_series(0, 1499) i;`,
  );
  db = await openDb(url, "fixture", { batch_size: 10 });
});
afterAll(async () => {
  await db?.session.close();
});

const TIES = "fixture-public-ties";

describe("INCREMENTAL in chunks of the replication key", () => {
  for (const key of ["k", "g"]) {
    it(`on ${key === "k" ? "an indexed" : "an unindexed"} key: every non-NULL row exactly once, in key order, ties kept together`, async () => {
      const run = await runInProcess(db.streams, catalogFor(db.streams, { [TIES]: { method: "INCREMENTAL", key } }));
      const recs = recordsOf(run.messages, TIES).map((r) => r.record as { id: number; k: number | null; g: number | null });
      expect(recs).toHaveLength(2000);
      expect(new Set(recs.map((r) => r.id)).size).toBe(2000);
      const keys = recs.map((r) => Number(r[key as "k" | "g"]));
      expect(keys).toEqual([...keys].sort((x, y) => x - y));
      expect(run.lastState!.bookmarks[TIES]).toEqual({ replication_key: key, replication_key_value: "285" });
    });
  }

  it("resumes from a bookmark inside a run of ties: the tied rows again (>=), then the rest", async () => {
    const state = { bookmarks: { [TIES]: { replication_key: "k", replication_key_value: "100" } }, currently_syncing: null };
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [TIES]: { method: "INCREMENTAL", key: "k" } }), state);
    const recs = recordsOf(run.messages, TIES).map((r) => r.record as { id: number; k: number });
    // k >= 100: rows 500-599 and 700-2000.
    expect(recs.map((r) => r.id).sort((x, y) => x - y)).toEqual([
      ...Array.from({ length: 100 }, (_, i) => 500 + i),
      ...Array.from({ length: 1301 }, (_, i) => 700 + i),
    ]);
  });
});

describe("FULL_TABLE in chunks of a composite primary key", () => {
  it("every row exactly once, in key order", async () => {
    const id = "fixture-public-pairs";
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [id]: {} }));
    const recs = recordsOf(run.messages, id).map((r) => r.record as { a: number; b: string });
    expect(recs).toHaveLength(1500);
    const keys = recs.map((r) => `${String(r.a).padStart(4, "0")}/${r.b}`);
    expect(new Set(keys).size).toBe(1500);
    expect(keys).toEqual([...keys].sort());
  });
});

// A table without a primary key (PostgreSQL 14+) is read in block ranges of
// its heap (ctid >= (a,0) AND ctid < (b,0), a TID range scan), in physical
// order, with the ctid of the last row written as its bookmark: a pass killed
// part way resumes right after that row, under the same version, and ends with
// ACTIVATE_VERSION. Views and partitioned tables keep one COPY.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogFor, createDatabase, openDb, runInProcess, sql } from "./helpers.ts";
import type { OpenDatabase } from "../../src/postgres/database.ts";

const ROWS = 30_000;
const SCRIPT = `
CREATE TABLE no_key (n int, label text);
INSERT INTO no_key SELECT i, 'row ' || i || repeat('x', i % 50) FROM generate_series(1, ${ROWS}) i;
CREATE VIEW no_key_view AS SELECT n FROM no_key WHERE n <= 100;`;

let url: string;
let db: OpenDatabase;
beforeAll(async () => {
  url = await createDatabase("tap_ctid_chunks", SCRIPT);
  db = await openDb(url, "fixture", { batch_size: 1000 });
});
afterAll(() => db?.session.close());

const id = "fixture-public-no_key";
const ns = (stdout: string, stream = id) =>
  stdout.split("\n").filter((l) => l.startsWith(`{"type":"RECORD","stream":"${stream}"`)).map((l) => JSON.parse(l).record.n as number);
const states = (stdout: string) =>
  stdout.split("\n").filter((l) => l.startsWith('{"type":"STATE"')).map((l) =>
    JSON.parse(l).value.bookmarks[id] as { version: number; last_ctid?: string; max_block?: number } | undefined
  );

describe("a table without a key", () => {
  it("is read whole in ctid ranges, bookmarked by ctid along the way, and activated", async () => {
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [id]: {} }), undefined, { stateEvery: 1000 });
    expect(ns(run.stdout).sort((a, b) => a - b)).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1));
    const mid = states(run.stdout).filter((b) => b?.last_ctid !== undefined);
    expect(mid.length).toBeGreaterThan(5); // bookmarks inside the pass, every batch_size rows
    const [{ blocks }] = (await sql<{ blocks: string }>(url, "SELECT (pg_relation_size('no_key') / current_setting('block_size')::int)::text AS blocks")) as [
      { blocks: string },
    ];
    expect(mid.every((b) => b!.max_block === Number(blocks))).toBe(true);
    expect(run.lastState!.bookmarks[id]).toEqual({ version: mid[0]!.version });
    expect(run.messages.some((m) => m.type === "ACTIVATE_VERSION" && m.stream === id)).toBe(true);
  });

  it("resumes after the last ctid written: exactly the rows after it, under the same version", async () => {
    const [{ last, after }] = (await sql<{ last: string; after: string }>(
      url,
      "SELECT ctid::text AS last, (SELECT count(*) FROM no_key WHERE ctid > x.ctid)::text AS after FROM (SELECT ctid FROM no_key ORDER BY ctid OFFSET 11999 LIMIT 1) x",
    )) as [{ last: string; after: string }];
    const [{ blocks }] = (await sql<{ blocks: string }>(url, "SELECT (pg_relation_size('no_key') / current_setting('block_size')::int)::text AS blocks")) as [
      { blocks: string },
    ];
    const state = { bookmarks: { [id]: { version: 1700000000000, last_ctid: last, max_block: Number(blocks) } }, currently_syncing: id };
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [id]: {} }), state);
    const got = ns(run.stdout);
    expect(got).toHaveLength(Number(after));
    expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: ROWS - 12_000 }, (_, i) => i + 12_001));
    expect(run.stdout).toContain(`"stream":"${id}","version":1700000000000`);
    expect(run.lastState!.bookmarks[id]).toEqual({ version: 1700000000000 });
  });

  it("as a view, is read in one COPY as before (a view has no ctid)", async () => {
    const view = "fixture-public-no_key_view";
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [view]: {} }));
    expect(ns(run.stdout, view)).toHaveLength(100);
    expect(JSON.stringify(run.lastState!.bookmarks[view])).not.toContain("last_ctid");
  });
});

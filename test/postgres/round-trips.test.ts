// Round trips: across a network every statement the tap waits for costs a
// round trip (60 ms at 60 ms RTT) on top of the data, so a table read sends
// few: the catalog in one query of five statements, the snapshot's BEGIN and
// its settings in one, and keyset chunks that grow toward their target time
// at the rate seen. A proxy that sees every statement counts them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogFor, createDatabase, openDb, recordsOf, runInProcess } from "./helpers.ts";
import { startPgProxy } from "../reliability/pg-proxy.ts";
import type { PgProxy } from "../reliability/pg-proxy.ts";

/** A chunk: its COPY, after the savepoint that goes in the same message. */
const isChunk = (statement: string) => /(^|; )COPY \(/.test(statement);

const ROWS = 50_000;
let proxy: PgProxy;
let url: string;

beforeAll(async () => {
  url = await createDatabase(
    "tap_round_trips",
    `CREATE TABLE wide (id bigint PRIMARY KEY, name text, at timestamptz);
     INSERT INTO wide SELECT i, 'n' || i, '2026-01-01'::timestamptz + (i / 3) * interval '1 second' FROM generate_series(1, ${ROWS}) i;
     CREATE INDEX ON wide (at);
     CREATE TABLE small (id int PRIMARY KEY, name text);
     INSERT INTO small SELECT i, 'n' || i FROM generate_series(1, 500) i;`,
  );
  const u = new URL(url);
  proxy = await startPgProxy({ host: u.hostname, port: Number(u.port) });
}, 120_000);
afterAll(() => proxy?.close());

/** Opens the database through the proxy and syncs `select`: the statements each step sent, and the run. */
async function read(select: Parameters<typeof catalogFor>[1]) {
  proxy.statements.length = 0;
  const db = await openDb(proxy.via(url), "fixture", { ssl: "disable", batch_size: 1000 });
  const opened = proxy.statements.splice(0);
  try {
    const run = await runInProcess(db.streams, catalogFor(db.streams, select));
    return { streams: db.streams.map((s) => s.id), opened, run, sent: proxy.statements.splice(0) };
  } finally {
    await db.session.close();
  }
}

describe("round trips of a table read", () => {
  it("introspects in one statement, opens the snapshot in one, and reads 50,000 rows in at most 3 chunks from batch_size 1,000", async () => {
    const { streams, opened, run, sent } = await read({ "fixture-public-wide": { method: "FULL_TABLE" } });
    expect(opened).toHaveLength(1); // columns, keys, types and the rest of the catalog at once
    expect(opened[0]).toContain("pg_attribute");
    expect(streams).toEqual(["fixture-public-small", "fixture-public-wide"]);
    expect(recordsOf(run.messages, "fixture-public-wide")).toHaveLength(ROWS);
    const [snapshot, ...rest] = sent;
    expect(snapshot).toMatch(
      /^BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL enable_sort = off; SET LOCAL max_parallel_workers_per_gather = 0; /,
    );
    const copies = rest.filter(isChunk);
    // 1,000 rows, then up to 16,000, then the rest: growing fourfold, as before, took four.
    expect(copies.length).toBeGreaterThanOrEqual(2);
    expect(copies.length).toBeLessThanOrEqual(3);
    // The snapshot with the table's last key, the chunks, COMMIT: nothing else waits for the server.
    expect(snapshot).toMatch(/; SELECT .* ORDER BY .* DESC LIMIT 1$/);
    expect(rest.filter((s) => !isChunk(s))).toEqual(["COMMIT"]);
  });

  it("reads INCREMENTAL chunks of an indexed key in one statement each: the server finds each chunk's last key", async () => {
    const { run, sent } = await read({ "fixture-public-wide": { method: "INCREMENTAL", key: "at" } });
    const ids = recordsOf(run.messages, "fixture-public-wide").map((r) => (r.record as { id: number }).id);
    expect(ids).toHaveLength(ROWS); // ties (three rows a second) never split across chunks
    expect(new Set(ids).size).toBe(ROWS);
    const [snapshot, ...rest] = sent;
    expect(snapshot).toMatch(/^BEGIN /);
    const copies = rest.filter(isChunk);
    expect(copies.length).toBeGreaterThanOrEqual(2);
    expect(copies.length).toBeLessThanOrEqual(3);
    expect(rest.filter((s) => !isChunk(s))).toEqual(["COMMIT"]);
  });

  it("reads a table that fits in one chunk with three statements: the snapshot, one COPY, COMMIT", async () => {
    const { run, sent } = await read({ "fixture-public-small": { method: "FULL_TABLE" } });
    expect(recordsOf(run.messages, "fixture-public-small")).toHaveLength(500);
    expect(sent.map((s) => (isChunk(s) ? "chunk" : s.split(" ")[0]))).toEqual(["BEGIN", "chunk", "COMMIT"]);
  });
});

// A stop (SIGTERM/SIGINT) during a table ends its COPY at once: the session is
// closed instead of reading the rest of a chunk or of a keyless table, the
// bookmark is the last row written, no ACTIVATE_VERSION is sent for the
// partial pass, and the next run completes it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogFor, createDatabase, openDb, recordsOf, runInProcess } from "./helpers.ts";
import type { OpenDatabase } from "../../src/postgres/database.ts";

const DB = "tap_pg_copy_stop";
const ROWS = 200000;
let db: OpenDatabase;

beforeAll(async () => {
  const url = await createDatabase(
    DB,
    `CREATE TABLE keyed (id int PRIMARY KEY, body text);
     INSERT INTO keyed SELECT i, md5(i::text) FROM generate_series(1, ${ROWS}) i;
     CREATE TABLE keyless (n int, body text);
     INSERT INTO keyless SELECT i, md5(i::text) FROM generate_series(1, ${ROWS}) i;`,
  );
  // Large batches: the first chunk is the whole table, so only a stop inside the COPY ends it early.
  db = await openDb(url, "fixture", { batch_size: ROWS });
});
afterAll(async () => {
  await db?.session.close();
});

/** Runs one stream and stops the run once `after` records have reached stdout. */
async function stopAfter(stream: string, after: number, state?: Parameters<typeof runInProcess>[2]) {
  const stop = new AbortController();
  const run = await runInProcess(db.streams, catalogFor(db.streams, { [stream]: {} }), state, {
    signal: stop.signal,
    onFlush: async (n) => {
      if (n >= after) stop.abort();
    },
  });
  return { run };
}

describe("a stop during a COPY", () => {
  it("a keyed table: stops part way, bookmarks the last row written, and the next run completes the pass", async () => {
    const id = "fixture-public-keyed";
    const { run } = await stopAfter(id, 1000);
    const recs = recordsOf(run.messages, id);
    expect(recs.length).toBeGreaterThanOrEqual(1000);
    expect(recs.length).toBeLessThan(ROWS / 2);
    expect(run.messages.some((m) => m.type === "ACTIVATE_VERSION")).toBe(false);
    const bm = run.lastState!.bookmarks[id] as { version: number; last_pk_fetched: { id: string } };
    expect(Number(bm.last_pk_fetched.id)).toBe(Number(recs.at(-1)!.record.id));

    const rest = await runInProcess(db.streams, catalogFor(db.streams, { [id]: {} }), run.lastState);
    const ids = new Set([...recs, ...recordsOf(rest.messages, id)].map((r) => Number(r.record.id)));
    expect(ids.size).toBe(ROWS);
    expect(rest.messages.filter((m) => m.type === "ACTIVATE_VERSION")).toEqual([{ type: "ACTIVATE_VERSION", stream: id, version: bm.version }]);
  });

  it("a keyless table (one COPY of the whole table): stops part way and is not activated; the next run reads it in full", async () => {
    const id = "fixture-public-keyless";
    const { run } = await stopAfter(id, 1000);
    expect(recordsOf(run.messages, id).length).toBeLessThan(ROWS / 2);
    expect(run.messages.some((m) => m.type === "ACTIVATE_VERSION")).toBe(false);
    // The session was closed with the COPY; the next run opens a new one and reads the table in full.
    const again = await runInProcess(db.streams, catalogFor(db.streams, { [id]: {} }), run.lastState);
    expect(recordsOf(again.messages, id)).toHaveLength(ROWS);
  });
});

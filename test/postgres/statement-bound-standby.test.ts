// postgres.max_statement_s on a real hot standby and its primary, with a
// target slower than the bound: a sampler of pg_stat_activity on the server
// read never sees the tap's statement older than the bound plus a margin, and
// the records are exactly the table's rows, each once. On the follower each
// keyset chunk is its own snapshot, so no transaction outlives a statement
// either, and a read several times max_standby_streaming_delay long, under a
// writer and VACUUM on the primary, completes exactly (any conflict resumed
// with one warning). On the leader the cut chunks keep the table's one
// snapshot: a row updated during the read comes as it was at the start.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startEmbeddedPostgres } from "../helpers/embedded-postgres.ts";
import type { RunningPostgres, RunningStandby } from "../helpers/embedded-postgres.ts";
import { sampleActivity } from "../helpers/activity.ts";
import { catalogFor, openDb, recordsOf, runInProcess, sql } from "./helpers.ts";
import { runtime } from "../../src/runtime.ts";
import { configureLogging } from "../../src/log.ts";

const DB = "tap_bound";
// 2 KB rows, 40 MB: far more than the socket buffers hold, so a slow target blocks the backend mid-chunk.
const ROWS = 20_000;
const BOUND_S = 1;
/** How far past the bound a statement may be seen: the cancel's round trip and the sampler's own lag on 2 shared cores. */
const MARGIN_S = 1;
const DELAY_S = 2;
const STREAM = "bound-public-items";

let primary: RunningPostgres | undefined;
let standby: RunningStandby | undefined;

const inDb = (url: string) => {
  const u = new URL(url);
  u.pathname = `/${DB}`;
  return u.toString();
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

beforeAll(async () => {
  primary = await startEmbeddedPostgres({
    password: "bound-test-superuser",
    flags: ["-c", `max_standby_streaming_delay=${DELAY_S}s`, "-c", "hot_standby_feedback=off"],
  });
  await sql(primary.url, `CREATE DATABASE ${DB}`);
  await sql(
    inDb(primary.url),
    `CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, pad text);
     INSERT INTO items SELECT i, 0, repeat('x', 2000) FROM generate_series(1, ${ROWS}) i;`,
  );
  standby = await primary.startStandby();
  await standby.waitForReplay();
}, 180_000);
afterAll(async () => {
  await standby?.stop();
  await primary?.stop();
});

/**
 * Reads the table from `url` with a target that takes `slowMs` per 16 KB of
 * output for its first `slowRecords` records; `during` runs once `at` records
 * are out. Returns the records, the sampler's figures, and the tap's log lines.
 */
async function slowRead(url: string, opts: { slowMs: number; slowRecords: number; at?: number; during?: () => Promise<void> }) {
  const db = await openDb(inDb(url), "bound", { batch_size: ROWS, max_statement_s: BOUND_S });
  const lines: string[] = [];
  const stderr = vi.spyOn(runtime, "writeStderr").mockImplementation((t: string) => void lines.push(t));
  configureLogging({ level: "info", format: "text" });
  const sampler = await sampleActivity(url, DB);
  let fired = false;
  try {
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [STREAM]: {} }), undefined, {
      onFlush: async (records) => {
        if (!fired && opts.during && records >= (opts.at ?? 0)) {
          fired = true;
          await opts.during();
        }
        if (records < opts.slowRecords) await sleep(opts.slowMs);
      },
    });
    return { records: recordsOf(run.messages, STREAM), run, sampled: await sampler.stop(), lines, fired };
  } finally {
    configureLogging({ level: "warning", format: "text" });
    stderr.mockRestore();
    await db.session.close();
  }
}

/** The number of statements the tap's log says were cut at the bound. */
const cutsIn = (lines: string[]) => lines.map((l) => /(\d+) statement\(s\) reached \S+\.max_statement_s/.exec(l)?.[1]).filter(Boolean).map(Number);

function expectEveryRowOnce(records: { record: Record<string, unknown> }[]): void {
  const ids = records.map((r) => r.record.id as number);
  expect(ids).toHaveLength(ROWS);
  expect(new Set(ids).size).toBe(ROWS);
  expect(ids).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1)); // key order, no gap, no repeat
}

describe("postgres.max_statement_s with a target slower than the bound", () => {
  it("on the follower: no statement or snapshot outlives the bound, and the records are the table exactly", async () => {
    const { records, sampled, lines } = await slowRead(standby!.url, { slowMs: 10, slowRecords: 6000 });
    expectEveryRowOnce(records);
    const cuts = cutsIn(lines);
    expect(cuts, lines.join("")).toHaveLength(1);
    expect(cuts[0]).toBeGreaterThan(0);
    expect(sampled.samples).toBeGreaterThan(100);
    expect(sampled.oldestStatement).toBeGreaterThan(0.5 * BOUND_S);
    expect(sampled.oldestStatement, JSON.stringify(sampled)).toBeLessThan(BOUND_S + MARGIN_S);
    // Each chunk its own snapshot: no transaction outlives its statement.
    expect(sampled.oldestTransaction, JSON.stringify(sampled)).toBeLessThan(BOUND_S + MARGIN_S);
    console.log(
      `follower, slow target: ${cuts[0]} cut(s), oldest statement ${sampled.oldestStatement.toFixed(3)} s, oldest transaction ${
        sampled.oldestTransaction.toFixed(3)
      } s, ${sampled.samples} samples`,
    );
  });

  it(`on the follower under a writer and VACUUM on the primary (max_standby_streaming_delay ${DELAY_S} s): a read several times longer completes exactly`, async () => {
    const conflicts = async () =>
      Number(
        (await sql<{ n: string }>(
          inDb(standby!.url),
          "SELECT (confl_snapshot + confl_lock + confl_bufferpin + confl_deadlock + confl_tablespace)::text AS n FROM pg_stat_database_conflicts WHERE datname = $1",
          [DB],
        ))[0]!.n,
      );
    const before = await conflicts();
    let writing = true;
    let rounds = 0;
    const writer = (async () => {
      while (writing) {
        await sql(inDb(primary!.url), `UPDATE items SET n = n + 1 WHERE id % 50 = ${rounds % 50}`);
        await sql(inDb(primary!.url), "VACUUM items");
        rounds++;
        await sleep(100);
      }
    })();
    const started = performance.now();
    let result;
    try {
      result = await slowRead(standby!.url, { slowMs: 3, slowRecords: ROWS });
    } finally {
      writing = false;
      await writer;
    }
    const seconds = (performance.now() - started) / 1000;
    expect(seconds).toBeGreaterThan(3 * DELAY_S);
    expect(rounds).toBeGreaterThan(10);
    expectEveryRowOnce(result.records);
    await standby!.waitForReplay(20_000);
    const conflicted = (await conflicts()) - before;
    const kinds = await sql(inDb(standby!.url), "SELECT * FROM pg_stat_database_conflicts WHERE datname = $1", [DB]);
    // Every conflict the standby counted was resumed with one warning, and none went unreported.
    expect(result.lines.filter((l) => /conflict with recovery/.test(l)), result.lines.join("")).toHaveLength(conflicted);
    expect(result.sampled.oldestTransaction, JSON.stringify(result.sampled)).toBeLessThan(BOUND_S + MARGIN_S);
    console.log(
      `follower under writer + VACUUM: ${seconds.toFixed(1)} s read, ${rounds} write rounds, ${conflicted} conflict(s), cuts ${
        cutsIn(result.lines)
      }, oldest statement ${result.sampled.oldestStatement.toFixed(3)} s, oldest transaction ${
        result.sampled.oldestTransaction.toFixed(3)
      } s; the standby's conflict counters ${JSON.stringify(kinds)}`,
    );
  });

  it("on the leader: statements cut at the bound, the table's one snapshot kept (a row updated during the read comes as it was)", async () => {
    const id = ROWS - 10;
    const [{ n }] = (await sql<{ n: number }>(inDb(primary!.url), "SELECT n FROM items WHERE id = $1", [id])) as [{ n: number }];
    const { records, sampled, lines, fired } = await slowRead(primary!.url, {
      slowMs: 10,
      slowRecords: 6000,
      // After at least one cut (2,000 records at 10 ms per ~8 take 2.5 s): the row is read later, after more cuts.
      at: 2000,
      during: () => sql(inDb(primary!.url), `UPDATE items SET n = -1, pad = 'changed' WHERE id = ${id}`).then(() => undefined),
    });
    try {
      expect(fired).toBe(true);
      expectEveryRowOnce(records);
      const row = records.find((r) => r.record.id === id)!.record;
      expect(row.n).toBe(n);
      expect(row.pad).toBe("x".repeat(2000));
      const cuts = cutsIn(lines);
      expect(cuts, lines.join("")).toHaveLength(1);
      expect(cuts[0]).toBeGreaterThan(1);
      expect(sampled.oldestStatement, JSON.stringify(sampled)).toBeLessThan(BOUND_S + MARGIN_S);
      // One transaction for the table: it is as long as the read.
      expect(sampled.oldestTransaction).toBeGreaterThan(BOUND_S + MARGIN_S);
      console.log(
        `leader, slow target: ${cuts[0]} cut(s), oldest statement ${sampled.oldestStatement.toFixed(3)} s, transaction ${
          sampled.oldestTransaction.toFixed(3)
        } s`,
      );
    } finally {
      await sql(inDb(primary!.url), `UPDATE items SET n = ${n}, pad = repeat('x', 2000) WHERE id = ${id}`);
    }
  });
});

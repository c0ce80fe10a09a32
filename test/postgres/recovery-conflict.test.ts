// On a follower, a long read can be cancelled by the server: once the leader
// removes rows the read's snapshot still sees (UPDATE + VACUUM) and the
// standby's max_standby_streaming_delay (0 here) runs out, PostgreSQL cancels
// the statement with SQLSTATE 40001 "conflict with recovery". The tap must
// carry on from its bookmark in a new snapshot, with one warning, and emit
// every row. A real hot standby streaming from its own embedded primary; rows
// of 2 KB, so the standby is still sending when the conflict comes (a smaller
// table fits in the socket buffers and the read is over before it). The read
// is INCREMENTAL, which keeps one snapshot for the whole table on a follower
// too, and that is what conflicts (a keyed FULL_TABLE read there takes a
// snapshot per chunk and holds none between them: statement-bound-standby.test.ts).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startEmbeddedPostgres } from "../helpers/embedded-postgres.ts";
import type { RunningPostgres, RunningStandby } from "../helpers/embedded-postgres.ts";
import { catalogFor, openDb, runInProcess, sql } from "./helpers.ts";
import { runtime } from "../../src/runtime.ts";

const ROWS = 20_000;
let primary: RunningPostgres | undefined;
let standby: RunningStandby | undefined;

const inDb = (url: string) => {
  const u = new URL(url);
  u.pathname = "/tap_conflict";
  return u.toString();
};

beforeAll(async () => {
  primary = await startEmbeddedPostgres({
    password: "conflict-test-superuser",
    flags: ["-c", "max_standby_streaming_delay=0", "-c", "hot_standby_feedback=off"],
  });
  await sql(primary.url, "CREATE DATABASE tap_conflict");
  await sql(
    inDb(primary.url),
    `CREATE TABLE items (id int PRIMARY KEY, pad text); INSERT INTO items SELECT i, repeat('x', 2000) FROM generate_series(1, ${ROWS}) i;`,
  );
  standby = await primary.startStandby();
  await standby.waitForReplay();
}, 120_000);
afterAll(async () => {
  await standby?.stop();
  await primary?.stop();
});

describe("a read on a follower cancelled by a conflict with recovery", () => {
  it("resumes from the bookmark in a new snapshot, with one warning, and every row comes out", async () => {
    const db = await openDb(inDb(standby!.url), "follower", { batch_size: 500 });
    const warnings: string[] = [];
    const stderr = vi.spyOn(runtime, "writeStderr").mockImplementation((t: string) => void warnings.push(t));
    let conflicted = false;
    try {
      const run = await runInProcess(db.streams, catalogFor(db.streams, { "follower-public-items": { method: "INCREMENTAL", key: "id" } }), undefined, {
        // Mid-table, with the standby's COPY held open by this slow reader: the leader
        // rewrites every row and vacuums the old versions the standby's snapshot still needs.
        onFlush: async (records) => {
          if (conflicted || records < 2000) return;
          conflicted = true;
          await sql(inDb(primary!.url), "UPDATE items SET pad = 'y'");
          await sql(inDb(primary!.url), "VACUUM items");
          await standby!.waitForReplay(20_000);
        },
      });
      const ids = new Set(run.stdout.split("\n").filter((l) => l.startsWith('{"type":"RECORD"')).map((l) => JSON.parse(l).record.id as number));
      expect(ids.size).toBe(ROWS);
    } finally {
      stderr.mockRestore();
      await db.session.close();
    }
    expect(conflicted).toBe(true);
    const lines = warnings.filter((w) => /conflict with recovery/.test(w));
    expect(lines, warnings.join("")).toHaveLength(1);
    expect(lines[0]).toMatch(
      /follower-public-items: the follower cancelled the read \(a conflict with recovery.*\); reconnecting and continuing from the bookmark/,
    );
  });
});

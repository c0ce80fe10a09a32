// _sdc_xmin across servers, on a throw-away cluster of its own. A follower
// shares the leader's transaction ids: a bookmark taken on one holds on the
// other. A database put back on an earlier copy of itself (a restore from
// backup onto the same server) has its ids go back below the bookmark, so
// rows written after the restore could hide below it: the tap must notice,
// warn once and re-read the table under a new version, and the target's copy
// must equal the restored database.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startEmbeddedPostgres } from "../helpers/embedded-postgres.ts";
import type { RunningPostgres } from "../helpers/embedded-postgres.ts";
import { catalogFor, openDb, recordsOf, runInProcess, sql } from "./helpers.ts";
import { runtime } from "../../src/runtime.ts";
import type { Message } from "../../src/singer/messages.ts";

let server: RunningPostgres;
beforeAll(async () => {
  server = await startEmbeddedPostgres();
}, 60_000);
afterAll(() => server?.stop());

const ID = "restored-public-items";

async function run(state?: Parameters<typeof runInProcess>[2], url = server.url) {
  const db = await openDb(url, "restored");
  try {
    const catalog = catalogFor(db.streams, { [ID]: { method: "INCREMENTAL", key: "_sdc_xmin" } });
    return await runInProcess(db.streams, catalog, state);
  } finally {
    await db.session.close();
  }
}

/** The target's copy: upsert by id; ACTIVATE_VERSION keeps only that version's rows. */
function mirror(runs: { messages: Message[] }[]): string[] {
  let rows = new Map<number, string>();
  let next = new Map<number, string>();
  for (const r of runs) {
    for (const m of r.messages) {
      if (m.type === "RECORD" && m.stream === ID) (m.version !== undefined ? next : rows).set(m.record.id as number, m.record.v as string);
      if (m.type === "ACTIVATE_VERSION" && m.stream === ID) [rows, next] = [next, new Map()];
    }
  }
  return [...rows].map(([id, v]) => `${id}:${v}`).sort();
}

describe("a follower", () => {
  it("continues from a bookmark taken on the leader and back: only the changed rows, no warning", async () => {
    await sql(server.url, "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT i, 'original' FROM generate_series(1, 200) i");
    const standby = await server.startStandby();
    try {
      const onLeader = await run();
      await sql(server.url, "UPDATE items SET v = 'on the leader' WHERE id <= 5; INSERT INTO items VALUES (201, 'new')");
      await standby.waitForReplay();
      const lines: string[] = [];
      const stderr = vi.spyOn(runtime, "writeStderr").mockImplementation((t: string) => void lines.push(t));
      let onFollower;
      try {
        onFollower = await run(onLeader.lastState!, standby.url);
      } finally {
        stderr.mockRestore();
      }
      expect(lines.filter((l) => /WARN/.test(l)), lines.join("")).toEqual([]);
      expect(recordsOf(onFollower.messages, ID).map((r) => r.record.id).sort((a, b) => Number(a) - Number(b))).toEqual([1, 2, 3, 4, 5, 201]);
      await sql(server.url, "UPDATE items SET v = 'back on the leader' WHERE id = 9");
      const back = await run(onFollower.lastState!);
      expect(recordsOf(back.messages, ID).map((r) => r.record.id)).toContain(9);
      const source = (await sql<{ id: number; v: string }>(server.url, "SELECT id, v FROM items")).map((r) => `${r.id}:${r.v}`).sort();
      expect(mirror([onLeader, onFollower, back])).toEqual(source);
    } finally {
      await standby.stop();
      await sql(server.url, "DROP TABLE items");
    }
  }, 120_000);
});

describe("a database restored from an earlier copy", () => {
  it("is detected by its transaction ids going back: one warning, the table re-read, the mirror exact", async () => {
    await sql(server.url, "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT i, 'original' FROM generate_series(1, 200) i");
    await server.saveCopy();
    // Transactions the copy never saw: the bookmark ends up above every id the restored server will use next.
    for (let i = 0; i < 40; i++) await sql(server.url, `UPDATE items SET v = 'later ${i}' WHERE id = ${i + 1}`);
    const first = await run();
    expect(recordsOf(first.messages, ID)).toHaveLength(200);

    await server.restoreCopy();
    // New writes on the restored server reuse ids the bookmark already counts.
    await sql(server.url, "INSERT INTO items VALUES (201, 'after restore')");
    await sql(server.url, "UPDATE items SET v = 'changed after restore' WHERE id = 7");

    const lines: string[] = [];
    const stderr = vi.spyOn(runtime, "writeStderr").mockImplementation((t: string) => void lines.push(t));
    let second;
    try {
      second = await run(first.lastState!);
    } finally {
      stderr.mockRestore();
    }
    const warnings = lines.filter((l) => /cannot be trusted/.test(l));
    expect(warnings, lines.join("")).toHaveLength(1);
    expect(warnings[0]).toMatch(/went backwards/);
    expect(second.messages.some((m) => m.type === "ACTIVATE_VERSION")).toBe(true);

    const source = (await sql<{ id: number; v: string }>(server.url, "SELECT id, v FROM items")).map((r) => `${r.id}:${r.v}`).sort();
    expect(mirror([first, second])).toEqual(source);
    expect(source).toContain("201:after restore");
    expect(source).toContain("7:changed after restore");
  }, 120_000);
});

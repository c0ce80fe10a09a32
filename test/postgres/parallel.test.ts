// Tables of one database read side by side within its connection budget
// (postgres.max_connections), in process on the real server: every table's
// records exactly, each stream's messages in order (SCHEMA, its records in key
// order, ACTIVATE_VERSION), no STATE claiming a row not yet written, a stopped
// or killed run resumed from its last STATE, one failing table failing alone,
// and a sampler of pg_stat_activity that never sees more sessions than the budget.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogFor, createDatabase, openDb, runInProcess } from "./helpers.ts";
import type { OpenDatabase } from "../../src/postgres/database.ts";
import { byKey, checkOrder, expected, records, SCRIPT, TABLES } from "./parallel-fixture.ts";
import type { Rec } from "./parallel-fixture.ts";
import { sampleActivity } from "../helpers/activity.ts";

const DB = "tap_pg_parallel";
let url: string;
const open: OpenDatabase[] = [];
beforeAll(async () => {
  url = await createDatabase(DB, SCRIPT);
});
afterAll(async () => {
  for (const db of open) await db.pool.close();
});

async function streamsWith(budget: number) {
  // The sampler counts every session of the tap's name: none may be left from an earlier test.
  for (const db of open.splice(0)) await db.pool.close();
  const db = await openDb(url, "par", { batch_size: 500, max_connections: budget });
  open.push(db);
  return db;
}

const id = (table: string) => `par-public-${table}`;
const selectAll = (names = TABLES.map((t) => t.name)) => Object.fromEntries(names.map((n) => [id(n), {}]));

describe("tables read side by side within the budget", () => {
  for (const budget of [1, 3]) {
    it(`budget ${budget}: every table exactly, each stream in order, STATE never ahead, at most ${budget} session(s) seen`, async () => {
      const db = await streamsWith(budget);
      expect(db.streams.find((s) => s.id === id("t1"))!.parallel).toBe(budget);
      const watch = await sampleActivity(url, DB);
      const run = await runInProcess(db.streams, catalogFor(db.streams, selectAll()), undefined, { stateEvery: 700 });
      const seen = await watch.stop();
      for (const { name, n } of TABLES) expect(byKey(records(run.messages, id(name))), name).toEqual(expected(name, n));
      const most = checkOrder(run.messages, TABLES.map((t) => id(t.name)));
      // The streams really ran side by side (or really did not), and the sampler saw it.
      expect(most).toBe(budget);
      expect(seen.samples).toBeGreaterThan(10);
      expect(seen.max).toBeLessThanOrEqual(budget);
      expect(seen.max).toBeGreaterThanOrEqual(Math.min(budget, 2));
      // Every table complete: the last STATE keeps only each pass's version, and no stream is in progress.
      for (const { name } of TABLES) expect(Object.keys(run.lastState!.bookmarks[id(name)]!)).toEqual(["version"]);
      expect(run.lastState!.currently_syncing).toBeNull();
    });
  }

  it("two databases of budget 1 are read beside each other, one table of each at a time", async () => {
    const db = await streamsWith(1);
    const other = await openDb(await createDatabase(`${DB}_two`, SCRIPT), "two", { batch_size: 500, max_connections: 1 });
    open.push(other);
    const both = [...db.streams, ...other.streams];
    const ids = [...TABLES.map((t) => id(t.name)), ...TABLES.map((t) => `two-public-${t.name}`)];
    const run = await runInProcess(both, catalogFor(both, Object.fromEntries(ids.map((s) => [s, {}]))));
    for (const { name, n } of TABLES) {
      expect(byKey(records(run.messages, id(name))), name).toEqual(expected(name, n));
      expect(byKey(records(run.messages, `two-public-${name}`)), name).toEqual(expected(name, n));
    }
    expect(checkOrder(run.messages, ids)).toBe(2);
    expect(checkOrder(run.messages, ids.slice(0, TABLES.length))).toBe(1);
    expect(checkOrder(run.messages, ids.slice(TABLES.length))).toBe(1);
  });

  it("INCREMENTAL tables side by side: every row exactly, and each bookmark at its table's last key", async () => {
    const db = await streamsWith(3);
    const keyed = TABLES.filter((t) => t.name !== "nokey");
    const run = await runInProcess(
      db.streams,
      catalogFor(db.streams, Object.fromEntries(keyed.map((t) => [id(t.name), { method: "INCREMENTAL" as const, key: "id" }]))),
    );
    for (const { name, n } of keyed) {
      expect(byKey(records(run.messages, id(name))), name).toEqual(expected(name, n));
      expect(run.lastState!.bookmarks[id(name)], name).toEqual({ replication_key: "id", replication_key_value: String(n) });
    }
    checkOrder(run.messages, keyed.map((t) => id(t.name)));
  });

  it("one table failing fails alone: the others are read whole, and it has no ACTIVATE_VERSION", async () => {
    const db = await streamsWith(3);
    const run = await runInProcess(db.streams, catalogFor(db.streams, selectAll([...TABLES.map((t) => t.name), "bad"])));
    for (const { name, n } of TABLES) expect(byKey(records(run.messages, id(name))), name).toEqual(expected(name, n));
    expect(run.messages.some((m) => m.type === "ACTIVATE_VERSION" && m.stream === id("bad"))).toBe(false);
    expect(run.messages.filter((m) => m.type === "ACTIVATE_VERSION").map((m) => (m as { stream: string }).stream).sort()).toEqual(
      TABLES.map((t) => id(t.name)).sort(),
    );
  });

  for (const how of ["killed", "stopped"] as const) {
    it(`${how} part way with 3 at once, resumed from the last STATE: each table's final version holds every row once`, async () => {
      const db = await streamsWith(3);
      const catalog = catalogFor(db.streams, selectAll());
      const stop = new AbortController();
      const first = await runInProcess(db.streams, catalog, undefined, {
        stateEvery: 700,
        ...(how === "killed" ? { killAfterRecords: 30_000 } : {
          signal: stop.signal,
          onFlush: async (n) => {
            if (n >= 30_000) stop.abort();
          },
        }),
      });
      if (how === "killed") expect(first.killed).toBe(true);
      checkOrder(first.messages, TABLES.map((t) => id(t.name)));
      const state = first.lastState!;
      // Several tables were under way, each with its own place.
      const underway = TABLES.filter((t) => {
        const b = state.bookmarks[id(t.name)] as Record<string, unknown> | undefined;
        return b?.last_pk_fetched !== undefined || b?.last_ctid !== undefined;
      });
      expect(underway.length).toBeGreaterThanOrEqual(2);
      expect(underway.map((t) => id(t.name))).toContain(state.currently_syncing);

      const second = await runInProcess(db.streams, catalog, state, { stateEvery: 700 });
      checkOrder(second.messages, TABLES.map((t) => id(t.name)), state);
      for (const { name, n } of TABLES) {
        const s = id(name);
        const activated = second.messages.find((m) => m.type === "ACTIVATE_VERSION" && m.stream === s) as { version: number } | undefined;
        expect(activated, name).toBeDefined();
        // At least once: rows written after the last STATE of the first run come again; a target upserts them.
        const final = new Map<unknown, Rec>();
        for (const r of [...records(first.messages, s), ...records(second.messages, s)]) {
          if (r.version === activated!.version) final.set(r.record.id ?? r.record.n, r);
        }
        expect(byKey([...final.values()]), name).toEqual(expected(name, n));
        const b = state.bookmarks[s] as { last_pk_fetched?: { id: string } } | undefined;
        if (b?.last_pk_fetched) {
          // Resumed right after the last key written, under the same version.
          expect(records(second.messages, s)[0]!.record.id).toBe(Number(b.last_pk_fetched.id) + 1);
          expect(records(second.messages, s)[0]!.version).toBe((b as { version: number }).version);
        }
      }
    });
  }
});

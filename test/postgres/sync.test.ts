// FULL_TABLE and INCREMENTAL syncs of real tables: versions, resume after a
// crash, reconnect after the backend is terminated, changed rows only.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogFor, createDatabase, openDb, recordsOf, runInProcess, sql, superuserUrl } from "./helpers.ts";
import type { OpenDatabase } from "../../src/postgres/database.ts";
import type { State } from "../../src/singer/state.ts";

const DB = "tap_pg_sync";
let url: string;
let db: OpenDatabase;
const ITEMS = "fixture-public-items";

beforeAll(async () => {
  url = await createDatabase(DB);
  db = await openDb(url);
});
afterAll(async () => {
  await db?.session.close();
});

const ids = (recs: ReturnType<typeof recordsOf>) => recs.map((r) => Number(r.record.id));

describe("FULL_TABLE", () => {
  it("streams the whole table under one version, then ACTIVATE_VERSION and a bookmark with only the version", async () => {
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [ITEMS]: { method: "FULL_TABLE" } }));
    const recs = recordsOf(run.messages, ITEMS);
    expect(recs).toHaveLength(20000);
    expect(ids(recs)).toEqual(Array.from({ length: 20000 }, (_, i) => i + 1));
    const version = recs[0]!.version!;
    expect(recs.every((r) => r.version === version)).toBe(true);
    const last = run.messages.filter((m) => m.type !== "STATE").at(-1);
    expect(last).toEqual({ type: "ACTIVATE_VERSION", stream: ITEMS, version });
    expect(run.lastState?.bookmarks[ITEMS]).toEqual({ version });
    expect(run.lastState?.currently_syncing).toBeNull();
    // STATE came every few hundred records, each behind the records it covers.
    const states = run.messages.filter((m) => m.type === "STATE").length;
    expect(states).toBeGreaterThan(10);
  });

  it("resumes a killed pass after the last key written, under the same version: nothing missing", async () => {
    const catalog = catalogFor(db.streams, { [ITEMS]: { method: "FULL_TABLE" } });
    const first = await runInProcess(db.streams, catalog, undefined, { killAfterRecords: 7300 });
    expect(first.killed).toBe(true);
    const state = first.lastState!;
    const bm = state.bookmarks[ITEMS] as { version: number; last_pk_fetched: { id: string }; max_pk_values: { id: string } };
    expect(bm.max_pk_values).toEqual({ id: "20000" });
    expect(Number(bm.last_pk_fetched.id)).toBeLessThanOrEqual(7300);
    expect(state.currently_syncing).toBe(ITEMS);
    expect(first.messages.some((m) => m.type === "ACTIVATE_VERSION")).toBe(false);

    const second = await runInProcess(db.streams, catalog, state);
    const r2 = recordsOf(second.messages, ITEMS);
    expect(r2[0]!.record.id).toBe(Number(bm.last_pk_fetched.id) + 1);
    expect(r2.every((r) => r.version === bm.version)).toBe(true);
    expect(second.messages.find((m) => m.type === "ACTIVATE_VERSION")).toEqual({ type: "ACTIVATE_VERSION", stream: ITEMS, version: bm.version });
    const union = new Set([...ids(recordsOf(first.messages, ITEMS)), ...ids(r2)]);
    expect(union.size).toBe(20000);

    // The pass after a completed one starts over under a new version.
    const third = await runInProcess(db.streams, catalog, second.lastState);
    const r3 = recordsOf(third.messages, ITEMS);
    expect(r3).toHaveLength(20000);
    expect(r3[0]!.version).toBeGreaterThan(bm.version);
  });

  it("resumes by a composite key with quoted identifiers", async () => {
    const id = "fixture-Sales_EU-Order Items";
    const catalog = catalogFor(db.streams, { [id]: {} });
    const small = await openDb(url, "fixture", { batch_size: 7 });
    try {
      const cut = await runInProcess(small.streams, catalog, undefined, { killAfterRecords: 40, stateEvery: 10 });
      const bm = cut.lastState!.bookmarks[id] as { last_pk_fetched: Record<string, string> };
      expect(Object.keys(bm.last_pk_fetched)).toEqual(["Order", "Line No"]);
      const rest = await runInProcess(small.streams, catalog, cut.lastState);
      const key = (r: { record: Record<string, unknown> }) => `${r.record.Order}/${r.record["Line No"]}`;
      const union = new Set([...recordsOf(cut.messages, id).map(key), ...recordsOf(rest.messages, id).map(key)]);
      expect(union.size).toBe(90);
    } finally {
      await small.session.close();
    }
  });

  it("syncs tables without a primary key, views, materialized views and partitioned tables in full", async () => {
    const want = { "fixture-public-no_key": 250, "fixture-public-v_items": 30, "fixture-public-mv_totals": 30, "fixture-public-measurements": 400 };
    const run = await runInProcess(db.streams, catalogFor(db.streams, Object.fromEntries(Object.keys(want).map((k) => [k, {}]))));
    for (const [id, n] of Object.entries(want)) {
      expect(recordsOf(run.messages, id)).toHaveLength(n);
      expect(run.messages.filter((m) => m.type === "ACTIVATE_VERSION" && m.stream === id)).toHaveLength(1);
    }
  });

  it("reconnects when the backend is terminated mid-table and continues from the last key", async () => {
    let terminated = false;
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [ITEMS]: {} }), undefined, {
      onFlush: async (n) => {
        if (terminated || n < 5000) return;
        terminated = true;
        const killed = await sql<{ ok: boolean }>(
          superuserUrl(DB),
          "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'tap-heroku' AND datname = current_database()",
        );
        expect(killed.length).toBeGreaterThan(0);
      },
    });
    expect(terminated).toBe(true);
    const recs = recordsOf(run.messages, ITEMS);
    expect(new Set(ids(recs)).size).toBe(20000);
    expect(recs.length).toBeLessThan(20000 + 2000); // at-least-once, not from the start again
    expect(run.messages.filter((m) => m.type === "ACTIVATE_VERSION")).toHaveLength(1);
  });
});

describe("INCREMENTAL", () => {
  const DBI = "tap_pg_incremental";
  let dbi: OpenDatabase;
  let urlI: string;
  beforeAll(async () => {
    urlI = await createDatabase(DBI);
    dbi = await openDb(urlI);
  });
  afterAll(async () => {
    await dbi?.session.close();
  });

  it("emits rows with key >= bookmark ordered by the key; the second run gets the changed rows and the ties only", async () => {
    const catalog = catalogFor(dbi.streams, { [ITEMS]: { method: "INCREMENTAL", key: "updated_at", columns: ["name"] } });
    const first = await runInProcess(dbi.streams, catalog);
    const r1 = recordsOf(first.messages, ITEMS);
    // Rows whose replication key is NULL are not emitted (20 of them).
    expect(r1).toHaveLength(19980);
    expect(r1.every((r) => r.version === undefined)).toBe(true);
    const keys = r1.map((r) => String(r.record.updated_at));
    expect([...keys].sort()).toEqual(keys);
    expect(Object.keys(r1[0]!.record)).toEqual(["id", "updated_at", "name"]);
    const bm = first.lastState!.bookmarks[ITEMS] as { replication_key: string; replication_key_value: string };
    expect(bm).toEqual({ replication_key: "updated_at", replication_key_value: "2024-01-01 00:33:19+00" });

    await sql(urlI, "UPDATE items SET updated_at = '2024-06-01 00:00:00.000001+00', name = 'changed' WHERE id IN (5, 77, 15000)");
    await sql(urlI, "INSERT INTO items VALUES (20001, '2024-06-02', 'new', 1)");
    const second = await runInProcess(dbi.streams, catalog, first.lastState as State);
    const r2 = recordsOf(second.messages, ITEMS);
    // The ties at the old bookmark (ids 19990..19999; 20000's key is NULL), then the changes.
    const ties = r1.filter((r) => r.record.updated_at === "2024-01-01T00:33:19.000000Z").map((r) => r.record.id);
    expect(ties).toHaveLength(10);
    expect(ids(r2)).toEqual([...(ties as number[]), 5, 77, 15000, 20001]);
    expect(r2.at(-4)!.record).toEqual({ id: 5, updated_at: "2024-06-01T00:00:00.000001Z", name: "changed" });
    expect(second.lastState!.bookmarks[ITEMS]).toEqual({ replication_key: "updated_at", replication_key_value: "2024-06-02 00:00:00+00" });

    const third = await runInProcess(dbi.streams, catalog, second.lastState as State);
    expect(ids(recordsOf(third.messages, ITEMS))).toEqual([20001]);
  });

  it("bookmarks an integer key exactly", async () => {
    const catalog = catalogFor(dbi.streams, { [ITEMS]: { method: "INCREMENTAL", key: "id", columns: [] } });
    const run = await runInProcess(dbi.streams, catalog, {
      bookmarks: { [ITEMS]: { replication_key: "id", replication_key_value: "19999" } },
      currently_syncing: null,
    });
    expect(ids(recordsOf(run.messages, ITEMS))).toEqual([19999, 20000, 20001]);
    expect(run.lastState!.bookmarks[ITEMS]).toEqual({ replication_key: "id", replication_key_value: "20001" });
  });
});

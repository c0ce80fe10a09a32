// Sharding (src/shard.ts): two runs with shard 1/2 and 2/2, side by side on
// the simulator, read together exactly what one unsharded run reads: every
// record once, the same newest bookmarks, the databases split between them;
// and each shard paces itself at half the account's refill rate.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../simulator/index.ts";
import type { Simulator } from "../simulator/index.ts";
import { runTap, tempFiles } from "./helpers/tap.ts";
import { loadSettings } from "../src/config.ts";
import { inShard, shardOf } from "../src/shard.ts";

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ apps: 40, postgresApps: 6 });
});
afterAll(() => sim?.close());

interface Run {
  records: Map<string, string[]>;
  bookmarks: Record<string, { replication_key_value?: string }>;
}

/** Records per stream (without what differs between runs), and the final bookmarks. */
function read(stdout: string): Run {
  const records = new Map<string, string[]>();
  let bookmarks = {};
  for (const line of stdout.trimEnd().split("\n")) {
    const m = JSON.parse(line) as { type: string; stream?: string; record?: unknown; value?: { bookmarks: Run["bookmarks"] } };
    if (m.type === "RECORD") records.set(m.stream!, [...(records.get(m.stream!) ?? []), JSON.stringify(m.record)]);
    if (m.type === "STATE") bookmarks = m.value!.bookmarks;
  }
  return { records, bookmarks };
}

const config = (shard?: { index: number; count: number }) =>
  tempFiles({ "c.json": { token: "test-token", api_url: sim.url, postgres: { enabled: false }, ...(shard ? { shard } : {}) } })["c.json"]!;

describe("two shards", () => {
  it("read together every record of one unsharded run exactly once, with the same newest bookmarks", async () => {
    const [whole, one, two] = await Promise.all([
      runTap(["--config", config()]),
      runTap(["--config", config({ index: 1, count: 2 })]),
      runTap(["--config", config({ index: 2, count: 2 })]),
    ]);
    for (const r of [whole, one, two]) expect(r.code, r.stderr).toBe(0);
    const [w, a, b] = [read(whole.stdout), read(one.stdout), read(two.stdout)];

    expect(w.records.get("apps")).toHaveLength(40);
    // Both shards hold apps: the split is real, not everything in one.
    expect(a.records.get("apps")!.length).toBeGreaterThan(5);
    expect(b.records.get("apps")!.length).toBeGreaterThan(5);
    for (const [stream, records] of w.records) {
      const together = [...(a.records.get(stream) ?? []), ...(b.records.get(stream) ?? [])].sort();
      expect(together, stream).toEqual([...records].sort());
    }
    // What belongs to no app (the account, regions, stacks) is read by shard 1 only.
    expect(b.records.get("account")).toBeUndefined();
    expect(two.stderr).toMatch(/account: read by shard 1 \(it belongs to no app\); this is shard 2 of 2/);
    for (const [stream, bm] of Object.entries(w.bookmarks)) {
      if (!bm.replication_key_value) continue;
      const newest = [a.bookmarks[stream]?.replication_key_value, b.bookmarks[stream]?.replication_key_value].filter((v): v is string => v !== undefined).sort()
        .at(-1);
      expect(newest, stream).toBe(bm.replication_key_value);
    }
  });

  it("split the databases found through the API between them", async () => {
    const discover = async (shard?: { index: number; count: number }) => {
      const c = tempFiles({ "c.json": { token: "test-token", api_url: sim.url, postgres: { connect_timeout_s: 1 }, ...(shard ? { shard } : {}) } })["c.json"]!;
      const run = await runTap(["--config", c, "--discover"]);
      expect(run.code, run.stderr).toBe(0);
      // No database answers in this test: each one found is named in a warning (found, then unreachable).
      return new Set([...run.stderr.matchAll(/WARNING (postgresql-[\w-]+):/g)].map((m) => m[1]!));
    };
    const [whole, one, two] = await Promise.all([discover(), discover({ index: 1, count: 2 }), discover({ index: 2, count: 2 })]);
    expect(whole.size).toBeGreaterThan(1);
    expect([...one, ...two].sort()).toEqual([...whole].sort());
    expect([...one].filter((d) => two.has(d))).toEqual([]);
  });

  it("each pace at 1/N of the refill rate unless it is set, and refuse an index beyond the count", async () => {
    const paced = await loadSettings([config({ index: 2, count: 3 })], {});
    expect(paced.ok && paced.value.rate_limit.refill_per_minute).toBe(25);
    const own = tempFiles({ "c.json": { token: "t0ken", shard: { index: 1, count: 3 }, rate_limit: { refill_per_minute: 40 } } })["c.json"]!;
    const set = await loadSettings([own], {});
    expect(set.ok && set.value.rate_limit.refill_per_minute).toBe(40);
    const bad = await loadSettings([config({ index: 3, count: 2 })], {});
    expect(bad.ok ? "" : bad.error.message).toMatch(/field "shard\.index": shard\.index must be between 1 and shard\.count/);
  });

  it("place an id by a stable hash, and what has no app in shard 1", () => {
    expect(shardOf("01234567-89ab-cdef-0123-456789abcdef", 4)).toBe(shardOf("01234567-89ab-cdef-0123-456789abcdef", 4));
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[shardOf(`app-${i}`, 4) - 1]!++;
    for (const n of counts) expect(n).toBeGreaterThan(800); // about 1,000 each
    expect(inShard(undefined, { index: 1, count: 3 })).toBe(true);
    expect(inShard(null, { index: 2, count: 3 })).toBe(false);
  });
});

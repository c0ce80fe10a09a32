// The refresh rules (src/heroku/refresh.ts, schedule.ts) against the
// simulator, whose model changes an app's released_at with every release and
// nothing on the parent for other children (simulator/stores.ts):
// requests counted exactly for a full run, a run with no change and a run
// where 1 % of the apps changed; a child change with no parent signal reaches
// the output within its family's interval over a sequence of runs held to a
// request budget; an old state (one bookmark per parent) still loads.
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { afterPass, allocate, migrate, planStream, SLOTS } from "../../src/heroku/refresh.ts";
import { ApiBookmark } from "../../src/heroku/streams.ts";
import { knownParents } from "../../src/heroku/arrivals.ts";
import { versioned } from "../../src/heroku/deletes.ts";
import type { HerokuStreamSpec } from "../../src/heroku/definitions.ts";
import { BY_NAME, configFile, DEFINITIONS, discover, lastState, matchPath, pagesOf, recordsOf, servedCount, sync } from "./util.ts";
import type { Rec } from "./util.ts";

/** Every stream that needs no start_date. */
const ALL = DEFINITIONS.filter((d) => d.query === null).map((d) => d.stream);
const APP_CHILDREN = ALL.filter((s) => BY_NAME.get(s)!.parent === "apps");
/** App children an app's released_at signals (catalog data). */
const RELEASE_SIGNALLED = APP_CHILDREN.filter((s) => BY_NAME.get(s)!.refresh!.signals.includes("released_at"));

/** Requests of the run by stream, and the child requests by stream and app. */
function requestsOf(sim: Simulator) {
  const byStream = new Map<string, number>();
  const apps = new Map<string, Set<string>>();
  for (const r of sim.requests) {
    const m = matchPath(r.path);
    if (!m) throw new Error(`unexpected request ${r.path}`);
    byStream.set(m.d.stream, (byStream.get(m.d.stream) ?? 0) + 1);
    if (m.params.app) apps.set(m.d.stream, (apps.get(m.d.stream) ?? new Set()).add(m.params.app));
  }
  return { byStream, apps, total: sim.requests.length };
}

/** One walk per top-level list (the parents are listed every run), in the fewest pages. */
function topLevelRequests(sim: Simulator): number {
  let n = 0;
  for (const s of ALL) {
    const d = BY_NAME.get(s)!;
    if (d.parent) continue;
    n += d.single ? 1 : pagesOf(s, sim.count(d.path));
  }
  return n;
}

describe("requests in proportion to what changed", () => {
  it("a full run makes the minimum; a run with no change lists the parents only; a 1 % change adds one request per signalled child list", async () => {
    // A bucket that never runs low (pacing is not under test), and refresh intervals far off,
    // so that only signals decide what is read (the intervals: the next test).
    const sim = await startSimulator({ apps: 200, perParent: 2, rateLimit: { bucket: 1e9, refillPerMinute: 1e9 } });
    try {
      const config = configFile({ api_url: sim.url, refresh_hours: { volatile: 1000, activity: 1000, daily: 1000 } });
      const catalog = await discover(config);

      // Full: no state, every child list of every parent, each in the fewest pages.
      sim.resetLog();
      const full = await sync(config, catalog, ALL);
      expect(full.code, full.stderr).toBe(0);
      let minimum = 0;
      const byPath = new Map<string, number>();
      for (const r of sim.requests) byPath.set(r.path, (byPath.get(r.path) ?? 0) + 1);
      for (const [path, n] of byPath) {
        const m = matchPath(path)!;
        const pages = m.d.single ? 1 : pagesOf(m.d.stream, servedCount(sim, path, {}));
        expect(n, path).toBe(pages);
        minimum += pages;
      }
      expect(requestsOf(sim).total).toBe(minimum);
      const fullRequests = minimum;
      const state = lastState(full.messages());

      // No change: every top-level list, plus the members of each team and the test runs of each
      // pipeline (team_member_apps and test_cases need their signals; their own streams read none).
      sim.resetLog();
      const quiet = await sync(config, catalog, ALL, { state });
      expect(quiet.code, quiet.stderr).toBe(0);
      const noChange = topLevelRequests(sim) + sim.total("/teams") + sim.total("/pipelines");
      expect(requestsOf(sim).total).toBe(noChange);
      expect([...requestsOf(sim).apps.keys()]).toEqual([]);
      expect(noChange / fullRequests).toBeLessThanOrEqual(0.05);

      // 1 %: one app edited (updated_at), one released (released_at; its dynos restart).
      const apps = sim.items("/apps") as Rec[];
      const edited = String(apps[17]!.id);
      const released = String(apps[42]!.id);
      sim.touch("/apps", edited);
      const release = sim.add("/apps/{app}/releases", { app: released }) as Rec;
      sim.resetLog();
      const changed = await sync(config, catalog, ALL, { state: lastState(quiet.messages()) });
      expect(changed.code, changed.stderr).toBe(0);
      const seen = requestsOf(sim);
      for (const s of APP_CHILDREN) {
        const expected = [edited, ...(RELEASE_SIGNALLED.includes(s) ? [released] : [])].sort();
        expect([...(seen.apps.get(s) ?? [])].sort(), s).toEqual(expected);
      }
      expect(seen.total).toBe(noChange + APP_CHILDREN.length + RELEASE_SIGNALLED.length);
      expect(seen.total / fullRequests).toBeLessThanOrEqual(0.1);
      // Every change is emitted: the edited app, the release, the restarted dynos.
      const records = recordsOf(changed.messages());
      expect(records.get("apps")!.map((a) => a.id)).toContain(edited);
      expect(records.get("releases")!.map((r) => r.id)).toEqual([release.id]);
      const dynos = records.get("dynos")!.filter((d) => d.app_id === released);
      expect(dynos.length).toBe(sim.count("/apps/{app}/dynos", { app: released }));
      for (const d of dynos) expect((d.release as Rec).id).toBe(release.id);
      // The estimate printed once the apps are listed is the plan: one request per signalled child list.
      expect(changed.stderr).toMatch(new RegExp(`INFO the child streams: about ${APP_CHILDREN.length + RELEASE_SIGNALLED.length} Heroku API requests`));
    } finally {
      await sim.close();
    }
  });
});

describe("a child change with no parent signal", () => {
  it("reaches the output within its family's interval over a sequence of budgeted runs, every app refreshed in that time", async () => {
    const sim = await startSimulator({ apps: 96, perParent: 2 });
    const intervalS = 20;
    const budget = 24;
    try {
      const config = configFile({ api_url: sim.url, refresh_hours: { daily: intervalS / 3600 }, rate_limit: { max_requests_per_run: budget } });
      const catalog = await discover(config);
      const first = await sync(config, catalog, ["domains"]);
      expect(first.code, first.stderr).toBe(0);
      let state: unknown = lastState(first.messages());
      const apps = (sim.items("/apps") as Rec[]).map((a) => String(a.id));

      const victim = apps[57]!;
      const domain = (sim.items("/apps/{app}/domains", { app: victim }) as Rec[])[1]!;
      sim.touch("/apps/{app}/domains", String(domain.id));
      const touchedAt = Date.now();
      const lastRead = new Map<string, number>();
      let emittedAt: number | undefined;
      while (Date.now() - touchedAt < (intervalS + 4) * 1000) {
        const startedAt = Date.now();
        sim.resetLog();
        const run = await sync(config, catalog, ["domains"], { state });
        expect(run.code, run.stderr).toBe(0);
        state = lastState(run.messages());
        const read = sim.requests.filter((r) => r.path.endsWith("/domains")).map((r) => matchPath(r.path)!.params.app!);
        expect(read.length).toBeLessThanOrEqual(budget); // no app signalled: every read is a refresh, within the budget
        for (const app of read) lastRead.set(app, startedAt);
        if (emittedAt === undefined && (recordsOf(run.messages()).get("domains") ?? []).some((d) => d.id === domain.id)) emittedAt = startedAt;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(emittedAt).toBeDefined();
      expect(emittedAt! - touchedAt).toBeLessThanOrEqual(intervalS * 1000);
      for (const app of apps) expect(lastRead.get(app), app).toBeGreaterThanOrEqual(touchedAt); // each app read within the window
    } finally {
      await sim.close();
    }
  });
});

describe("an old state", () => {
  it("one bookmark per app (partitions) loads: only what changed since is read and emitted", async () => {
    const sim = await startSimulator({ apps: 30, perParent: 2 });
    try {
      const config = configFile({ api_url: sim.url });
      const catalog = await discover(config);
      const streams = ["apps", "releases", "domains"];
      const full = await sync(config, catalog, streams);
      expect(full.code, full.stderr).toBe(0);
      const records = recordsOf(full.messages());
      // The shape earlier versions wrote: the newest updated_at of each app's children.
      const partitions = (stream: string) => {
        const out: Record<string, string> = {};
        for (const r of records.get(stream)!) {
          if (!out[String(r.app_id)] || String(r.updated_at) > out[String(r.app_id)]!) out[String(r.app_id)] = String(r.updated_at);
        }
        return { replication_key: "updated_at", partitions: out };
      };
      const old = { bookmarks: { apps: lastState(full.messages()).bookmarks.apps, releases: partitions("releases"), domains: partitions("domains") } };

      const app = String((sim.items("/apps") as Rec[])[4]!.id);
      const release = sim.add("/apps/{app}/releases", { app }) as Rec;
      sim.resetLog();
      const run = await sync(config, catalog, streams, { state: old });
      expect(run.code, run.stderr).toBe(0);
      expect(recordsOf(run.messages()).get("releases")!.map((r) => r.id)).toContain(release.id);
      const releaseApps = new Set(sim.requests.filter((r) => r.path.endsWith("/releases")).map((r) => matchPath(r.path)!.params.app));
      expect(releaseApps.has(app)).toBe(true);
      expect(releaseApps.size).toBeLessThan(30);
      const end = lastState(run.messages()).bookmarks.releases as Rec;
      expect(end.partitions).toBeUndefined();
      expect(end.slots).toHaveLength(48);
    } finally {
      await sim.close();
    }
  });
});

describe("the state", () => {
  it("stays under 256 KB for 5,000 apps with every stream selected: a cutoff, 48 slots, the known parents and the pending ones per stream", () => {
    const nowS = Math.floor(Date.parse("2026-11-30T12:00:00Z") / 1000);
    const parentsOf = (stream: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        key: stream === "team_member_apps" ? `team-${i % 3}/user${i}@example.com` : `0190a1b2-c3d4-4e5f-8a9b-${String(i).padStart(12, "0")}`,
        row: {
          created_at: "2025-03-01T00:00:00Z",
          updated_at: `2025-${String(1 + (i % 11)).padStart(2, "0")}-15T08:30:00Z`,
          released_at: "2025-11-02T10:00:00Z",
        },
      }));
    const bookmarks: Record<string, unknown> = {};
    let oldShape = 0;
    for (const d of DEFINITIONS) {
      if (!d.parent) {
        // A list's ids, tallied to see one go (5,000 of them: every list as large as the apps).
        const ids = d.replication_key ? { known: knownParents(parentsOf(d.stream, 5000).map((p) => p.key)), signal: "2026-11-30T11:00:00.000Z" } : {};
        bookmarks[d.stream] = { replication_key: "updated_at", replication_key_value: "2026-11-30T11:59:59Z", ...ids };
        continue;
      }
      const parents = parentsOf(d.stream, 5000); // every child as if its parent had 5,000 rows: an upper bound
      const plan = planStream(d.stream, d.refresh!, parents, {}, 24, nowS);
      // 1 % of the parents still have a pending child (a build or release in progress).
      const pending = parents.filter((_, i) => i % 100 === 0).map((p) => p.key);
      const after = afterPass({}, d.refresh!, parents, new Set(parents.map((p) => p.key)), pending, plan.credit, nowS, Date.parse("2026-11-30T11:55:00Z"));
      const fields = {
        ...after.fields,
        known: knownParents(parents.map((p) => p.key)),
        ...(versioned(d as HerokuStreamSpec, d.replication_key ? "INCREMENTAL" : "FULL_TABLE") ? { versioned_from: nowS } : {}),
      };
      bookmarks[d.stream] = d.replication_key ? { replication_key: "updated_at", replication_key_value: after.emitFrom, ...fields } : fields;
      expect(ApiBookmark.safeParse(bookmarks[d.stream]).success, d.stream).toBe(true);
      oldShape += JSON.stringify(Object.fromEntries(parents.map((p) => [p.key, "2025-11-02T10:00:00Z"]))).length;
    }
    const size = JSON.stringify({ currently_syncing: null, bookmarks }).length;
    expect(size).toBeLessThanOrEqual(256 * 1024);
    if (process.env.STATE_SIZE) {
      const without = (drop: string[]) =>
        JSON.stringify({
          bookmarks: Object.fromEntries(
            Object.entries(bookmarks).map(([k, v]) => [k, { ...(v as Rec), ...Object.fromEntries(drop.map((f) => [f, undefined])) }]),
          ),
        })
          .length;
      console.log(
        `state of 5,000 apps, every stream: ${size} bytes; none pending ${without(["pending"])}; without known ${
          without(["known"])
        }; one value per parent ${oldShape}`,
      );
    }
    expect(oldShape).toBeGreaterThan(10 * size); // what one value per parent would have taken
  });

  it("reads the old per-parent bookmark as a complete pass: emit from its oldest value, signals after its newest", () => {
    const old = ApiBookmark.parse({ replication_key: "updated_at", partitions: { a: "2025-05-01T00:00:00Z", b: "2025-09-01T00:00:00Z" } });
    const b = migrate(old, 1_800_000_000);
    expect(b.partitions).toBeUndefined();
    expect(b.replication_key_value).toBe("2025-05-01T00:00:00.000Z");
    expect(b.signal).toBe("2025-09-01T00:00:00.000Z");
    expect(b.slots).toHaveLength(48);
    expect(b.parents).toBe(2);
  });
});

describe("the schedule", () => {
  const refresh = { family: "daily" as const, signals: ["created_at", "updated_at"], source: "" };
  const parents = Array.from({ length: 480 }, (_, i) => ({ key: `app-${i}`, row: { created_at: "2025-01-01T00:00:00Z", updated_at: "2025-01-01T00:00:00Z" } }));
  const nowS = 1_800_000_000;
  /** A state whose slot i was read i hours ago, a run 1 h ago. */
  const aged = () => ({
    signal: "2025-06-01T00:00:00Z",
    slots: Array.from({ length: SLOTS }, (_, i) => [nowS - i * 3600, 0] as [number, number]),
    ran_at: nowS - 3600,
  });

  it("reads every overdue slot and a share proportional to the time since the last run, stalest first", () => {
    const plan = planStream("domains", refresh, parents, aged(), 24, nowS);
    expect(plan.signalled.size).toBe(0); // nothing changed
    const overdue = plan.candidates.filter((c) => c.overdue).map((c) => c.slot);
    expect(overdue.sort((a, b) => a - b)).toEqual(Array.from({ length: SLOTS - 24 }, (_, i) => 24 + i)); // read 24 h ago or more
    // The share of one hour of a 24-hour interval: 2 of 48 slots, the two stalest.
    expect(plan.candidates.filter((c) => c.share).map((c) => c.slot)).toEqual([47, 46]);
    expect(plan.credit).toBe(0);
  });

  it("spends the budget on the stalest slots of all streams first; a slot whose parents all changed costs nothing", () => {
    const a = planStream("domains", refresh, parents, aged(), 24, nowS);
    const b = planStream("collaborators", refresh, parents, { ...aged(), slots: aged().slots.map(([t]) => [t + 1800, 0] as [number, number]) }, 24, nowS);
    const { chosen, left, spent } = allocate([...a.candidates, ...b.candidates], 50);
    expect(spent).toBeLessThanOrEqual(50);
    const staleness = (c: (typeof chosen)[number]) => c.staleness;
    expect(Math.min(...chosen.map(staleness))).toBeGreaterThanOrEqual(Math.max(...left.filter((c) => c.cost > 0).map(staleness)));
  });

  it("reads a parent whose signal moved past the cutoff, or that is pending, whatever its slot", () => {
    const changed = parents.map((p, i) => (i === 7 ? { ...p, row: { ...p.row, updated_at: "2025-07-01T00:00:00Z" } } : p));
    const plan = planStream("domains", refresh, changed, { ...aged(), pending: ["app-9"] }, 24, nowS);
    expect([...plan.signalled].sort()).toEqual(["app-7", "app-9"]);
  });
});

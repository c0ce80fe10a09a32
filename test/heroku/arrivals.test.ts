// Parents that appear without being created (src/heroku/arrivals.ts): an app
// transferred into the account (the simulator adds one whose created_at and
// updated_at are months old, with 1,500 old releases), or added to the `apps`
// setting, is read at once with its children's whole history (every page),
// whatever its refresh slot, and then joins the stream's cutoff; its own record
// reaches `apps` though its updated_at is older than the bookmark. Requests are
// counted exactly. The per-slot record itself is tested in process.
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { arrivals, knownParents } from "../../src/heroku/arrivals.ts";
import { slotOf } from "../../src/heroku/refresh.ts";
import { configFile, discover, lastState, matchPath, recordsOf, sync } from "./util.ts";
import type { Rec } from "./util.ts";

/** History read from the cutoff (releases newest first, builds and deliveries filtered in the tap) and a snapshot. */
const STREAMS = ["releases", "builds", "app_webhook_deliveries", "domains"];
const FAR = { refresh_hours: { volatile: 1000, activity: 1000, daily: 1000 } };

/** Child requests by app id: path -> count. */
function childRequests(sim: Simulator): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const r of sim.requests) {
    const app = matchPath(r.path)?.params.app;
    if (app === undefined) continue;
    const m = out.get(app) ?? new Map<string, number>();
    m.set(r.path, (m.get(r.path) ?? 0) + 1);
    out.set(app, m);
  }
  return out;
}

describe("the record of known parents", () => {
  const keys = Array.from({ length: 300 }, (_, i) => `app-${i}`);
  const known = knownParents(keys);
  const sameSlot = (k: string, n: number) => Array.from({ length: 5000 }, (_, i) => `${k}-${i}`).filter((x) => slotOf(x) === slotOf(k)).slice(0, n);

  it("is 320 characters whatever the number of parents, and finds nothing when nothing appeared", () => {
    expect(known).toHaveLength(320);
    expect(knownParents(Array.from({ length: 20_000 }, (_, i) => `x${i}`))).toHaveLength(320);
    expect(arrivals(known, keys)).toEqual({ keys: new Set(), unclear: 0 });
    expect(arrivals(undefined, keys).keys.size).toBe(0); // an older state: nothing to compare with
  });

  it("names the one parent that appeared in a slot, takes departures as none, and a change it cannot tell apart as the whole slot", () => {
    expect(arrivals(known, [...keys, "transferred"])).toEqual({ keys: new Set(["transferred"]), unclear: 0 });
    expect(arrivals(known, keys.filter((k) => k !== "app-7")).keys.size).toBe(0);
    const [a, b] = sameSlot("app-1", 2) as [string, string];
    const slot = keys.filter((k) => slotOf(k) === slotOf("app-1"));
    // Two in the same slot: both, with every parent of that slot.
    const two = arrivals(known, [...keys, a, b]);
    expect(two.unclear).toBe(1);
    expect([...two.keys].sort()).toEqual([...slot, a, b].sort());
    // One went and one came in the same slot.
    const swap = arrivals(known, [...keys.filter((k) => k !== slot[0]), a]);
    expect(swap.unclear).toBe(1);
    expect(swap.keys.has(a)).toBe(true);
  });
});

describe("a parent that appears without being created", () => {
  it("an app transferred in: read at once, every page of its history, then from the cutoff like the others", async () => {
    const sim = await startSimulator({ apps: 12, perParent: 2, sizes: { "/apps/{app}/releases": 1500 }, rateLimit: { bucket: 1e9, refillPerMinute: 1e9 } });
    try {
      const config = configFile({ api_url: sim.url, ...FAR });
      const catalog = await discover(config);
      const first = await sync(config, catalog, ["apps", ...STREAMS]);
      expect(first.code, first.stderr).toBe(0);

      // Created and last updated months before the first run: no field of it is newer than the streams' cutoffs.
      const old = new Date("2025-02-01T00:00:00Z");
      const moved = String((sim.add("/apps", {}, old) as Rec).id);
      const app = (sim.items("/apps") as Rec[]).find((a) => a.id === moved)!;
      expect(Date.parse(String(app.updated_at))).toBe(old.getTime());

      sim.resetLog();
      const second = await sync(config, catalog, ["apps", ...STREAMS], { state: lastState(first.messages()) });
      expect(second.code, second.stderr).toBe(0);
      for (const s of STREAMS) expect(second.stderr, s).toMatch(new RegExp(`INFO ${s}: 1 apps new to the state`));
      // Requests: the listings, then only the new app's lists, each walked to its end (releases: two pages).
      const byApp = childRequests(sim);
      expect([...byApp.keys()]).toEqual([moved]);
      expect(Object.fromEntries(byApp.get(moved)!)).toEqual({
        [`/apps/${moved}/releases`]: 2,
        [`/apps/${moved}/builds`]: 1,
        [`/apps/${moved}/webhook-deliveries`]: 1,
        [`/apps/${moved}/domains`]: 1,
      });
      // /apps twice: its ids show one came without being created, so the list is sent whole (deletes).
      expect(sim.requests.filter((r) => !matchPath(r.path)?.params.app).map((r) => r.path).sort()).toEqual(["/account", "/apps", "/apps"]);
      expect(second.stderr).toMatch(/INFO apps: some records went since the last run \(or came without being created\)/);
      // Records: its whole history.
      const records = recordsOf(second.messages());
      const paths: Record<string, string> = {
        releases: "/apps/{app}/releases",
        builds: "/apps/{app}/builds",
        app_webhook_deliveries: "/apps/{app}/webhook-deliveries",
        domains: "/apps/{app}/domains",
      };
      for (const s of STREAMS) {
        const want = (sim.items(paths[s]!, { app: moved }) as Rec[]).map((r) => String(r.id)).sort();
        expect(want.length, s).toBeGreaterThan(0);
        expect((records.get(s) ?? []).map((r) => String(r.id)).sort(), s).toEqual(want);
      }
      expect(records.get("releases")).toHaveLength(1500);
      expect(records.get("apps")!.map((a) => a.id)).toContain(moved); // its updated_at is older than the bookmark

      // Next: it is known; a new release of it is read from the cutoff, one page, nothing else of it again.
      const release = sim.add("/apps/{app}/releases", { app: moved }) as Rec;
      sim.resetLog();
      const third = await sync(config, catalog, ["apps", ...STREAMS], { state: lastState(second.messages()) });
      expect(third.code, third.stderr).toBe(0);
      expect(third.stderr).not.toMatch(/new to the state|some records went/);
      expect(childRequests(sim).get(moved)?.get(`/apps/${moved}/releases`)).toBe(1);
      expect(recordsOf(third.messages()).get("releases")!.map((r) => r.id)).toEqual([release.id]);
    } finally {
      await sim.close();
    }
  });

  it("an app added to the apps setting: read at once with its whole history", async () => {
    const sim = await startSimulator({ apps: 8, perParent: 2, sizes: { "/apps/{app}/releases": 1500 } });
    try {
      const names = (sim.items("/apps") as Rec[]).map((a) => String(a.name));
      const before = configFile({ api_url: sim.url, ...FAR, apps: names.slice(0, 4) });
      const catalog = await discover(before);
      const first = await sync(before, catalog, ["releases"]);
      expect(first.code, first.stderr).toBe(0);

      const after = configFile({ api_url: sim.url, ...FAR, apps: names.slice(0, 5) });
      sim.resetLog();
      const second = await sync(after, catalog, ["releases"], { state: lastState(first.messages()) });
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toMatch(/INFO releases: 1 apps new to the state/);
      const added = String((sim.items("/apps") as Rec[])[4]!.id);
      expect([...childRequests(sim).keys()]).toEqual([added]);
      expect(recordsOf(second.messages()).get("releases")).toHaveLength(1500);
    } finally {
      await sim.close();
    }
  });
});

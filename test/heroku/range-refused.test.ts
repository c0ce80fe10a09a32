// Heroku refusing a server-side Range (416 requested_range_not_satisfiable) on
// the fields the tap sorts by to save requests (apps by updated_at, releases by
// version, builds by started_at): the walk falls back to paging by id and
// filtering in the tap, says so with a warning, and an incremental run from
// the same state yields the records and bookmarks of a run whose Ranges were
// accepted. Both runs read the same simulator, refusal switched on and off.
// A refusal is remembered for the run: one warning per stream, and a 416 only
// for the parents already in flight (max_concurrency, 4 by default), not one
// per parent.
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { configFile, discover, EVERY_RUN, lastState, recordsOf, serverSide, sync } from "./util.ts";
import type { Catalog, Rec } from "./util.ts";

const REFUSED: Record<string, string[]> = {
  "/apps": ["updated_at"],
  "/apps/{app}/releases": ["version"],
  "/apps/{app}/builds": ["started_at"],
};

/** Each stream's records as sorted `id updated_at` lines (duplicates kept: a repeat is a difference). */
function idsAndTimes(records: Map<string, Rec[]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [stream, rows] of records) out[stream] = rows.map((r) => `${String(r.id)} ${String(r.updated_at)}`).sort();
  return out;
}

/**
 * Discovery and a first sync of `streams`: the config, the catalog, the state to go on from, the apps.
 * Every run reads every app's children (refresh intervals of 0), so each one meets the refusal.
 */
async function firstRun(sim: Simulator, streams: string[]) {
  const config = configFile({ api_url: sim.url, ...EVERY_RUN });
  const catalog = await discover(config);
  const first = await sync(config, catalog, streams);
  expect(first.code, first.stderr).toBe(0);
  return { config, catalog, state: lastState(first.messages()), apps: sim.items("/apps") as Rec[] };
}

/** Runs `streams` from `state` with Ranges accepted, then refused; both must exit 0. */
async function acceptedThenRefused(sim: Simulator, config: string, catalog: Catalog, streams: string[], state: unknown) {
  sim.setRefusedRanges({});
  sim.resetLog();
  const accepted = await sync(config, catalog, streams, { state });
  expect(accepted.code, accepted.stderr).toBe(0);
  const acceptedRequests = [...sim.requests];

  sim.setRefusedRanges(REFUSED);
  sim.resetLog();
  const refused = await sync(config, catalog, streams, { state });
  expect(refused.code, refused.stderr).toBe(0);
  expect(refused.stderr).not.toMatch(/^ERROR /m);
  return { accepted, refused, acceptedRequests, refusedRequests: [...sim.requests] };
}

describe("a Range Heroku refuses (416)", () => {
  it("the simulator refuses it with Heroku's error body and stops advertising the field", async () => {
    const sim = await startSimulator({ apps: 2, refuseRanges: { "/apps": ["updated_at"] } });
    try {
      const get = (range?: string) =>
        fetch(`${sim.url}/apps`, {
          headers: { accept: "application/vnd.heroku+json; version=3", authorization: "Bearer test-token", ...(range ? { range } : {}) },
        });
      const res = await get("updated_at ..; max=1000");
      expect(res.status).toBe(416);
      const body = (await res.json()) as Rec;
      expect(body.id).toBe("requested_range_not_satisfiable");
      expect(body.message).toMatch(/updated_at/);
      expect(res.headers.get("accept-ranges")).toBe("id, name");
      expect((await get("id ..; max=1000")).status).toBe(200);
      expect((await get()).status).toBe(200);
    } finally {
      await sim.close();
    }
  });

  it("apps, from a bookmark: read by id and filtered in the tap, the same records and bookmark, exit 0", async () => {
    const sim = await startSimulator({ apps: 30, perParent: 2 });
    try {
      const { config, catalog, state, apps } = await firstRun(sim, ["apps"]);
      sim.touch("/apps", String(apps[7]!.id));
      const added = sim.add("/apps") as Rec;

      const { accepted, refused, acceptedRequests, refusedRequests } = await acceptedThenRefused(sim, config, catalog, ["apps"], state);
      // Accepted: one request, starting at the bookmark; refused: the 416, then every app by id.
      const bookmark = String((state.bookmarks.apps as Rec).replication_key_value);
      const list = (requests: typeof refusedRequests) => requests.filter((r) => r.path === "/apps").map((r) => [r.range, r.status]);
      expect(list(acceptedRequests)).toEqual([[`updated_at ${bookmark}..; max=1000`, 200]]);
      expect(list(refusedRequests)).toEqual([
        [`updated_at ${bookmark}..; max=1000`, 416],
        ["id ..; max=1000", 200],
      ]);
      expect(refused.stderr).toContain("WARNING apps: Heroku refused a Range on updated_at (416); reading by id for the rest of this run");
      expect(accepted.stderr).not.toContain("Heroku refused");

      const got = idsAndTimes(recordsOf(refused.messages()));
      expect(got).toEqual(idsAndTimes(recordsOf(accepted.messages())));
      // Not vacuous: the changed and the new app, not all 31.
      expect(got.apps!.some((l) => l.startsWith(`${String(apps[7]!.id)} `))).toBe(true);
      expect(got.apps!.some((l) => l.startsWith(`${String(added.id)} `))).toBe(true);
      expect(got.apps!.length).toBeLessThan(10);

      const newest = (sim.items("/apps") as Rec[]).map((a) => String(a.updated_at)).sort().at(-1);
      // The record of the list's ids (deletes) moves only with a walk of the whole list, which the refused run made.
      const replication = (b: Record<string, Rec>) => {
        const { known: _k, signal: _s, ...rest } = serverSide(b).apps!;
        return rest;
      };
      expect(replication(lastState(refused.messages()).bookmarks)).toEqual(replication(lastState(accepted.messages()).bookmarks));
      expect(replication(lastState(refused.messages()).bookmarks)).toEqual({ replication_key: "updated_at", replication_key_value: newest });
    } finally {
      await sim.close();
    }
  });

  it("builds, from per-app bookmarks: read by id instead of newest first, the same records and bookmarks, exit 0", async () => {
    const sim = await startSimulator({ apps: 5, perParent: 2, sizes: { "/apps/{app}/builds": 1100 } });
    try {
      const streams = ["apps", "builds"];
      const { config, catalog, state, apps } = await firstRun(sim, streams);
      const build = sim.add("/apps/{app}/builds", { app: String(apps[2]!.id) }) as Rec;

      const { accepted, refused, acceptedRequests, refusedRequests } = await acceptedThenRefused(sim, config, catalog, streams, state);
      const builds = (requests: typeof refusedRequests) => requests.filter((r) => r.path.endsWith("/builds"));
      // Accepted: newest first, one page per app (the walk stops at the bookmark).
      expect(builds(acceptedRequests).map((r) => [r.range, r.status])).toEqual(apps.map(() => ["started_at ..; max=1000, order=desc", 206]));
      // Refused: the apps in flight pay a 416; every app is then read by id, both pages (1,100 builds).
      const byId = [
        ["id ..; max=1000", 206],
        ["id ]…..; max=1000", 200],
      ];
      const perApp = apps.map((app) =>
        builds(refusedRequests)
          .filter((r) => r.path === `/apps/${String(app.id)}/builds`)
          .map((r) => [r.range?.replace(/\].*\.\./, "]…..") ?? null, r.status])
      );
      const refusals = perApp.flat().filter(([, status]) => status === 416);
      expect(refusals.length).toBeGreaterThanOrEqual(1);
      expect(refusals.length).toBeLessThanOrEqual(4);
      for (const r of refusals) expect(r).toEqual(["started_at ..; max=1000, order=desc", 416]);
      for (const requests of perApp) expect(requests.filter(([, status]) => status !== 416)).toEqual(byId);
      expect(refused.stderr.match(/WARNING builds: .*/g)).toEqual([
        "WARNING builds: Heroku refused a Range on started_at (416); reading by id for the rest of this run",
      ]);

      // The apps listing the builds need was refused too, and read by id in full.
      expect(refused.stderr).toContain("WARNING apps: Heroku refused a Range on updated_at (416); reading by id for the rest of this run");

      const got = idsAndTimes(recordsOf(refused.messages()));
      expect(got).toEqual(idsAndTimes(recordsOf(accepted.messages())));
      expect(got.builds!.some((l) => l.startsWith(`${String(build.id)} `))).toBe(true);
      expect(got.builds!.length).toBeLessThan(20); // the new build and the ties at each bookmark, not 5,500
      expect(serverSide(lastState(refused.messages()).bookmarks)).toEqual(serverSide(lastState(accepted.messages()).bookmarks));
      // Every app was read: the pass is complete and its cutoff covers the release the new build made.
      const bookmark = lastState(refused.messages()).bookmarks.builds as { signal: string; parents: number; done?: string[] };
      expect(bookmark.done).toBeUndefined();
      expect(bookmark.parents).toBe(apps.length);
      expect(Date.parse(bookmark.signal)).toBeGreaterThanOrEqual(Date.parse(String(build.created_at)));
    } finally {
      await sim.close();
    }
  });

  it("releases, from per-app bookmarks: read by id instead of newest first, the same records and bookmarks, exit 0", async () => {
    const sim = await startSimulator({ apps: 5, perParent: 2, sizes: { "/apps/{app}/releases": 1100 } });
    try {
      const streams = ["apps", "releases"];
      const { config, catalog, state, apps } = await firstRun(sim, streams);
      const release = sim.add("/apps/{app}/releases", { app: String(apps[1]!.id) }) as Rec;

      const { accepted, refused, refusedRequests } = await acceptedThenRefused(sim, config, catalog, streams, state);
      expect(refused.stderr.match(/WARNING releases: .*/g)).toEqual([
        "WARNING releases: Heroku refused a Range on version (416); reading by id for the rest of this run",
      ]);
      // Once refused, nothing asks for the field again: a 416 only for the apps in flight, the rest by id.
      const releases = refusedRequests.filter((r) => r.path.endsWith("/releases"));
      expect(releases.filter((r) => r.status === 416).length).toBeGreaterThanOrEqual(1);
      expect(releases.filter((r) => r.status === 416).length).toBeLessThanOrEqual(4);
      expect(releases.filter((r) => r.status !== 416).every((r) => r.range?.startsWith("id "))).toBe(true);
      for (const app of apps) expect(releases.some((r) => r.path === `/apps/${String(app.id)}/releases` && r.status !== 416), String(app.id)).toBe(true);
      const got = idsAndTimes(recordsOf(refused.messages()));
      expect(got).toEqual(idsAndTimes(recordsOf(accepted.messages())));
      expect(got.releases!.some((l) => l.startsWith(`${String(release.id)} `))).toBe(true);
      expect(serverSide(lastState(refused.messages()).bookmarks)).toEqual(serverSide(lastState(accepted.messages()).bookmarks));
    } finally {
      await sim.close();
    }
  });
});

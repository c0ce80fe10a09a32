// An app deleted between the run's listing of apps and the requests for its
// children: Heroku answers 404 for /apps/{app}/releases (and every other child
// list), the tap logs that the app is gone and skips it, the other apps'
// children are complete, the exit is 0, and the state stays usable: the gone
// app leaves nothing in the bookmarks and the next run neither asks for it nor
// fails. The simulator deletes the app from inside the request flow, at the
// first child request, so the listing the tap already holds still names it.
// Refresh intervals are 0 here, so every run reads every app's children.
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { byType, configFile, discover, EVERY_RUN, lastState, recordsOf, serverSide, sync } from "./util.ts";
import type { Rec } from "./util.ts";

const CHILDREN: Record<string, string> = {
  releases: "releases",
  builds: "builds",
  domains: "domains",
  buildpack_installations: "buildpack-installations", // FULL_TABLE
};
const STREAMS = ["apps", ...Object.keys(CHILDREN)];
const INCREMENTAL = ["releases", "builds", "domains"];

/** Deletes `victim` when the first request for any app's children arrives (before it is answered). */
function deleteAtFirstChildRequest(sim: Simulator, victim: string): void {
  sim.onRequest((entry) => {
    if (!/^\/apps\/[^/]+\/./.test(entry.path)) return;
    sim.remove("/apps", victim);
    sim.onRequest(undefined);
  });
}

/** Child requests for one app, by path. */
const requestsFor = (sim: Simulator, app: string) => sim.requests.filter((r) => r.path.startsWith(`/apps/${app}/`));

/** The lines saying `stream` skipped `app` because it is gone. */
function goneLines(stderr: string, stream: string, app: string): string[] {
  const path = `/apps/${app}/${CHILDREN[stream]}`;
  return stderr.split("\n").filter((l) => l.includes(`${stream}: ${path} is gone`));
}

describe("a parent that vanishes during the run", () => {
  it("is skipped by every child stream with an INFO line; the other apps' children are complete; exit 0; the next runs succeed", async () => {
    const sim = await startSimulator({ apps: 8, perParent: 3 });
    try {
      const config = configFile({ api_url: sim.url, ...EVERY_RUN });
      const catalog = await discover(config);
      const apps = (sim.items("/apps") as Rec[]).map((a) => String(a.id));
      const [first, second] = [apps[3]!, apps[6]!];

      // Run 1, no state: `first` is listed, then deleted before any child request is answered.
      deleteAtFirstChildRequest(sim, first);
      sim.resetLog();
      const one = await sync(config, catalog, STREAMS);
      expect(one.code, one.stderr).toBe(0);
      expect(one.stderr).not.toMatch(/^(WARNING|ERROR) /m);
      expect(sim.items("/apps")).toHaveLength(7); // the hook did delete it
      const records = recordsOf(one.messages());
      expect(records.get("apps")!.map((a) => a.id)).toContain(first); // listed before it went
      for (const [stream, path] of Object.entries(CHILDREN)) {
        // One 404 per child list, not retried, and one line saying so, at INFO.
        expect(requestsFor(sim, first).filter((r) => r.path.endsWith(`/${path}`)).map((r) => r.status), stream).toEqual([404]);
        expect(goneLines(one.stderr, stream, first), stream).toEqual([
          expect.stringMatching(new RegExp(`^INFO ${stream}: /apps/${first}/${path} is gone \\(404 not_found\\), deleted since apps were listed; skipped$`)),
        ]);
        // Nothing of the gone app; everything of every other app.
        const rows = records.get(stream) ?? [];
        expect(rows.filter((r) => r.app_id === first), stream).toEqual([]);
        for (const app of apps.filter((a) => a !== first)) {
          const n = sim.count(`/apps/{app}/${path}`, { app });
          expect(n, stream).toBeGreaterThan(0);
          expect(rows.filter((r) => r.app_id === app), `${stream} of ${app}`).toHaveLength(n);
        }
      }
      const stateOne = lastState(one.messages());
      expect(stateOne.currently_syncing).toBeNull();
      for (const stream of [...INCREMENTAL, "buildpack_installations"]) {
        const bm = stateOne.bookmarks[stream] as { parents: number; done?: string[]; pending?: string[]; version?: number };
        expect(bm.parents, stream).toBe(apps.length - 1);
        expect(bm.done, stream).toBeUndefined();
        expect(bm.pending, stream).toBeUndefined();
      }
      expect(stateOne.bookmarks.buildpack_installations!.version).toBeUndefined(); // its lap ended and was activated
      expect(byType(one.messages(), "ACTIVATE_VERSION").filter((m) => m.stream === "buildpack_installations")).toHaveLength(1);

      // Run 2, from run 1's state, which holds bookmarks for `second`: it vanishes too.
      deleteAtFirstChildRequest(sim, second);
      sim.resetLog();
      const two = await sync(config, catalog, STREAMS, { state: stateOne });
      expect(two.code, two.stderr).toBe(0);
      expect(two.stderr).not.toMatch(/^(WARNING|ERROR) /m);
      expect(requestsFor(sim, first)).toEqual([]); // no longer listed, never asked for
      for (const stream of Object.keys(CHILDREN)) expect(goneLines(two.stderr, stream, second), stream).toHaveLength(1);
      const stateTwo = lastState(two.messages());
      const remaining = apps.filter((a) => a !== first && a !== second).sort();
      for (const stream of INCREMENTAL) {
        const bm = stateTwo.bookmarks[stream] as { parents: number; done?: string[]; signal: string };
        expect(bm.parents, stream).toBe(remaining.length);
        expect(bm.done, stream).toBeUndefined();
        // The signal cutoff never goes back.
        const before = stateOne.bookmarks[stream] as { signal: string };
        expect(Date.parse(bm.signal), stream).toBeGreaterThanOrEqual(Date.parse(before.signal));
      }

      // Run 3, from run 2's state: both apps are gone from the listing; nothing is asked for them, nothing fails.
      sim.resetLog();
      const three = await sync(config, catalog, STREAMS, { state: stateTwo });
      expect(three.code, three.stderr).toBe(0);
      expect(three.stderr).not.toMatch(/ is gone \(404/);
      expect(sim.requests.filter((r) => r.status === 404)).toEqual([]);
      // Only the record of the apps' ids moves: run 2 listed the second app before it went, run 3 does not, and
      // sends the apps again whole so that the target drops it.
      expect(three.stderr).toMatch(/INFO apps: some records went since the last run/);
      const ids = (b: Record<string, Rec>) => ({ ...serverSide(b), apps: { ...serverSide(b).apps, known: undefined } });
      expect(ids(lastState(three.messages()).bookmarks)).toEqual(ids(stateTwo.bookmarks));
    } finally {
      await sim.close();
    }
  });

  it("a team deleted while its members are listed for team_member_apps: its members skipped, the other teams' complete, exit 0", async () => {
    const sim = await startSimulator({ apps: 6, perParent: 2 });
    try {
      const config = configFile({ api_url: sim.url });
      const catalog = await discover(config);
      const clean = await sync(config, catalog, ["team_member_apps"]);
      expect(clean.code, clean.stderr).toBe(0);
      const all = recordsOf(clean.messages()).get("team_member_apps") ?? [];
      const teams = [...new Set(all.map((r) => String(r.team_id)))];
      expect(teams.length).toBeGreaterThan(1); // else there is no "other team" to check

      // The registry lists the teams, then each team's members; the victim goes at the first members request.
      const victim = teams[0]!;
      sim.onRequest((entry) => {
        if (!/^\/teams\/[^/]+\/members$/.test(entry.path)) return;
        sim.remove("/teams", victim);
        sim.onRequest(undefined);
      });
      sim.resetLog();
      const run = await sync(config, catalog, ["team_member_apps"]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toMatch(/^(WARNING|ERROR) /m);
      expect(sim.requests.filter((r) => r.path === `/teams/${victim}/members`).map((r) => r.status)).toEqual([404]);
      expect(run.stderr.split("\n").filter((l) => l.includes(" is gone "))).toEqual([
        `INFO team_members: /teams/${victim}/members is gone (404 not_found), deleted since teams were listed; its children are skipped`,
      ]);
      const got = recordsOf(run.messages()).get("team_member_apps") ?? [];
      const key = (r: Rec) => `${String(r.team_id)} ${String(r.team_member_id)} ${String(r.id)}`;
      expect(got.map(key).sort()).toEqual(all.filter((r) => r.team_id !== victim).map(key).sort());
    } finally {
      await sim.close();
    }
  });
});

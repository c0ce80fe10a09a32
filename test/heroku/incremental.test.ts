// Incremental runs, resumption and the `apps` setting, end to end against the
// simulator: a second run emits only what changed or was added (plus the ties
// at each bookmark); a stopped run resumes without repeating finished parents.
import { describe, expect, it } from "vitest";
import { startSimulator } from "../simulator/index.ts";
import { RUNTIMES } from "../helpers/tap.ts";
import { byType, configFile, discover, keyOf, lastState, matchPath, recordsOf, sync } from "./util.ts";
import type { Rec } from "./util.ts";

const INCREMENTAL = ["apps", "releases", "builds", "domains", "collaborators", "team_members", "team_member_apps", "add_ons"];
const FULL = ["buildpack_installations"];

/** Keys of the records of run 1 that tie with their parent's newest updated_at (re-emitted by design). */
function ties(stream: string, rows: Rec[], parentKey: string | undefined): Set<string> {
  const newest = new Map<string, string>();
  const group = (r: Rec) => (parentKey ? String(r[parentKey]) : "");
  for (const r of rows) {
    const g = group(r);
    const v = String(r.updated_at);
    if (!newest.has(g) || v > newest.get(g)!) newest.set(g, v);
  }
  return new Set(rows.filter((r) => String(r.updated_at) === newest.get(group(r))).map((r) => keyOf(stream, r)));
}

const PARENT_KEY: Record<string, string | undefined> = {
  apps: undefined,
  add_ons: undefined,
  team_members: "team_id",
  team_member_apps: "team_member_id",
  releases: "app_id",
  builds: "app_id",
  domains: "app_id",
  collaborators: "app_id",
};

describe.each(RUNTIMES)("on %s", (runtime) => {
  it("a second run from the first run's state emits only what changed or was added, plus the ties at the bookmarks", async () => {
    const sim = await startSimulator({ apps: 8, perParent: 3, sizes: { "/apps/{app}/releases": 1200 } });
    try {
      const config = configFile({ api_url: sim.url });
      const catalog = await discover(config);
      const first = await sync(config, catalog, [...INCREMENTAL, ...FULL], { runtime });
      expect(first.code, first.stderr).toBe(0);
      const one = recordsOf(first.messages());
      const state = lastState(first.messages());
      expect(state.currently_syncing).toBeNull();
      expect(Object.keys((state.bookmarks.releases as { partitions: object }).partitions)).toHaveLength(8);
      expect(state.bookmarks.releases!.done).toBeUndefined();

      // Changes: a touched app, a new app (a new parent), a new release, a touched domain and member.
      const apps = one.get("apps")!;
      const touchedApp = String(apps[3]!.id);
      sim.touch("/apps", touchedApp);
      const newApp = sim.add("/apps") as Rec;
      const someApp = String(apps[1]!.id);
      const release = sim.add("/apps/{app}/releases", { app: someApp }) as Rec;
      const domain = one.get("domains")!.find((d) => d.app_id === someApp)!;
      sim.touch("/apps/{app}/domains", String(domain.id));
      const member = one.get("team_members")![0]!;
      sim.touch("/teams/{team}/members", String(member.id));

      sim.resetLog();
      const second = await sync(config, catalog, [...INCREMENTAL, ...FULL], { runtime, state });
      expect(second.code, second.stderr).toBe(0);
      const two = recordsOf(second.messages());

      const changed: Record<string, string[]> = {
        apps: [touchedApp, String(newApp.id)],
        releases: [String(release.id)],
        domains: [String(domain.id)],
        team_members: [String(member.id)],
      };
      for (const stream of INCREMENTAL) {
        const got = new Set((two.get(stream) ?? []).map((r) => keyOf(stream, r)));
        const expected = ties(stream, one.get(stream) ?? [], PARENT_KEY[stream]);
        for (const id of changed[stream] ?? []) expected.add(keyOf(stream, { id }));
        // team member apps are app records: a touched or new team app is new for every member
        if (stream === "team_member_apps") {
          for (const r of two.get(stream) ?? []) if (changed.apps!.includes(String(r.id))) expected.add(keyOf(stream, r));
        }
        // every child of the new app is new: its parent starts at start_date (none: everything)
        if (PARENT_KEY[stream] === "app_id") {
          for (const r of two.get(stream) ?? []) if (r.app_id === newApp.id) expected.add(keyOf(stream, r));
          expect((two.get(stream) ?? []).filter((r) => r.app_id === newApp.id).length, stream).toBe(
            sim.count(`/apps/{app}/${stream === "releases" ? "releases" : stream}`, { app: String(newApp.id) }),
          );
        }
        expect([...got].sort(), stream).toEqual([...expected].sort());
      }
      // FULL_TABLE: everything again, under a new version, activated at the end.
      expect(two.get("buildpack_installations")!.length).toBe(sim.total("/apps/{app}/buildpack-installations"));
      const versions = byType(second.messages(), "ACTIVATE_VERSION").filter((m) => m.stream === "buildpack_installations");
      expect(versions).toHaveLength(1);

      // Releases are read newest first and stop at the bookmark: one request per known app
      // instead of two pages; the new app (1,200 releases, no bookmark) is read in full.
      const releaseRequests = sim.requests.filter((r) => matchPath(r.path)?.d.stream === "releases");
      const perPath = new Map<string, number>();
      for (const r of releaseRequests) perPath.set(r.path, (perPath.get(r.path) ?? 0) + 1);
      expect(perPath.size).toBe(9);
      for (const [path, n] of perPath) expect(n, path).toBe(path.includes(String(newApp.id)) ? 2 : 1);
      const firsts = releaseRequests.filter((r) => !r.range?.includes("]"));
      expect(firsts).toHaveLength(9);
      expect(firsts.every((r) => r.range === "version ..; max=1000, order=desc")).toBe(true);
    } finally {
      await sim.close();
    }
  });
});

describe("a stopped run", () => {
  it("resumes a child stream without repeating the parents it finished, and completes its pass", async () => {
    const sim = await startSimulator({ apps: 24, perParent: 3, latencyMs: 25 });
    try {
      const config = configFile({ api_url: sim.url, max_concurrency: 2 });
      const catalog = await discover(config);
      const streams = ["domains", "buildpack_installations"];
      const domainRequests = () => sim.requests.filter((r) => matchPath(r.path)?.d.stream === "domains").length;
      sim.resetLog();
      const first = await sync(config, catalog, streams, {
        onSpawn: (child) => {
          const timer = setInterval(() => {
            if (domainRequests() >= 8) {
              clearInterval(timer);
              child.kill("SIGTERM");
            }
          }, 5);
          child.on("close", () => clearInterval(timer));
        },
      });
      expect(first.code, first.stderr).toBe(143);
      const state = lastState(first.messages());
      expect(state.currently_syncing).toBe("domains");
      const bm = state.bookmarks.domains as { done: string[]; partitions: Record<string, string> };
      expect(bm.done.length).toBeGreaterThanOrEqual(6);
      expect(bm.done.length).toBeLessThan(24);
      expect(Object.keys(bm.partitions).sort()).toEqual([...bm.done].sort());
      const one = recordsOf(first.messages()).get("domains") ?? [];

      sim.resetLog();
      const second = await sync(config, catalog, streams, { state });
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toMatch(/domains: resuming an unfinished pass: \d+ apps done/);
      const requested = new Set(sim.requests.filter((r) => matchPath(r.path)?.d.stream === "domains").map((r) => matchPath(r.path)!.params.app));
      for (const app of bm.done) expect(requested.has(app), `finished app ${app} requested again`).toBe(false);
      expect(requested.size).toBe(24 - bm.done.length);
      const two = recordsOf(second.messages()).get("domains") ?? [];
      // Nothing of a finished parent again; together, every domain.
      expect(two.filter((r) => bm.done.includes(String(r.app_id)))).toEqual([]);
      const union = new Set([...one, ...two].map((r) => String(r.id)));
      expect(union.size).toBe(sim.total("/apps/{app}/domains"));

      const end = lastState(second.messages());
      const done = end.bookmarks.domains as { done?: string[]; partitions: Record<string, string> };
      expect(done.done).toBeUndefined();
      expect(Object.keys(done.partitions)).toHaveLength(24);
      expect(end.currently_syncing).toBeNull();
    } finally {
      await sim.close();
    }
  });
});

describe("the apps setting", () => {
  it("limits every app-scoped stream to the named apps (names or ids)", async () => {
    const sim = await startSimulator({ apps: 9, perParent: 2 });
    try {
      const all = sim.items("/apps") as Rec[];
      const [a, b] = [all[2]!, all[5]!];
      const config = configFile({ api_url: sim.url, apps: [String(a.name), String(b.id)] });
      const catalog = await discover(config);
      const streams = ["apps", "domains", "add_ons", "add_on_configs", "add_on_attachments", "team_apps", "pipeline_couplings", "teams"];
      sim.resetLog();
      const run = await sync(config, catalog, streams);
      expect(run.code, run.stderr).toBe(0);
      const records = recordsOf(run.messages());
      const wanted = new Set([a.id, b.id]);
      expect(new Set(records.get("apps")!.map((r) => r.id))).toEqual(wanted);
      for (const r of records.get("domains")!) expect(wanted.has(r.app_id)).toBe(true);
      expect(records.get("domains")!.length).toBe(sim.count("/apps/{app}/domains", { app: String(a.id) }) + sim.count("/apps/{app}/domains", { app: String(b.id) }));
      for (const s of ["add_ons", "add_on_attachments", "pipeline_couplings"]) {
        for (const r of records.get(s) ?? []) expect(wanted.has((r.app as Rec).id), s).toBe(true);
      }
      for (const r of records.get("team_apps") ?? []) expect(wanted.has(r.id)).toBe(true);
      const addonIds = new Set(records.get("add_ons")!.map((r) => r.id));
      for (const r of records.get("add_on_configs") ?? []) expect(addonIds.has(r.add_on_id)).toBe(true);
      // no request reaches another app's children
      for (const r of sim.requests) {
        const app = matchPath(r.path)?.params.app;
        if (app !== undefined) expect(wanted.has(app)).toBe(true);
      }
      expect(records.get("teams")!.length).toBe(sim.total("/teams"));
    } finally {
      await sim.close();
    }
  });
});

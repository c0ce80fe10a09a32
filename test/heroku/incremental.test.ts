// Incremental runs, resumption and the `apps` setting, end to end against the
// simulator: a second run re-reads only the parents whose signals moved (a
// touched or new app, an app with a new release) and emits their changes; a
// child changed with no parent signal waits for its refresh interval
// (test/heroku/refresh.test.ts); a stopped run resumes without repeating
// finished parents.
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import { RUNTIMES } from "../helpers/tap.ts";
import { BY_NAME, byType, configFile, discover, keyOf, lastState, matchPath, recordsOf, sync } from "./util.ts";
import { HISTORY } from "../../src/heroku/deletes.ts";
import type { Rec } from "./util.ts";

const APP_CHILDREN = ["releases", "builds", "domains", "collaborators", "dynos"];
const FULL = ["buildpack_installations"];
/** Children an app's released_at also signals (catalog data: refresh.signals). */
const RELEASE_SIGNALLED = new Set(["releases", "builds", "dynos"]);

/** Keys of the records of run 1 at or after the top-level bookmark (re-emitted by design: `>=`). */
function ties(stream: string, rows: Rec[]): Set<string> {
  const newest = rows.map((r) => String(r.updated_at)).sort().at(-1);
  return new Set(rows.filter((r) => String(r.updated_at) === newest).map((r) => keyOf(stream, r)));
}

describe.each(RUNTIMES)("on %s", (runtime) => {
  it("a second run re-reads only the apps whose signals moved and emits their changes; a change with no signal waits", async () => {
    const sim = await startSimulator({ apps: 8, perParent: 3, sizes: { "/apps/{app}/releases": 1200 } });
    try {
      const config = configFile({ api_url: sim.url });
      const catalog = await discover(config);
      const streams = ["apps", "team_members", ...APP_CHILDREN, ...FULL];
      const first = await sync(config, catalog, streams, { runtime });
      expect(first.code, first.stderr).toBe(0);
      const one = recordsOf(first.messages());
      const state = lastState(first.messages());
      expect(state.currently_syncing).toBeNull();
      expect(state.bookmarks.releases!.done).toBeUndefined();
      expect(state.bookmarks.releases!.parents).toBe(8);

      // Changes: a touched app, a new app, a new release (released_at moves, dynos restart),
      // and, with no parent signal, a touched domain and team member.
      const apps = one.get("apps")!;
      const touchedApp = String(apps[3]!.id);
      sim.touch("/apps", touchedApp);
      const newApp = sim.add("/apps") as Rec;
      const releasedApp = String(apps[1]!.id);
      const release = sim.add("/apps/{app}/releases", { app: releasedApp }) as Rec;
      const domain = one.get("domains")!.find((d) => d.app_id === String(apps[5]!.id))!;
      sim.touch("/apps/{app}/domains", String(domain.id));
      const member = one.get("team_members")![0]!;
      sim.touch("/teams/{team}/members", String(member.id));

      sim.resetLog();
      const second = await sync(config, catalog, streams, { runtime, state });
      expect(second.code, second.stderr).toBe(0);
      const two = recordsOf(second.messages());

      // apps: the top-level bookmark, as before.
      const gotApps = new Set((two.get("apps") ?? []).map((r) => keyOf("apps", r)));
      expect([...gotApps].sort()).toEqual([...new Set([...ties("apps", apps), touchedApp, String(newApp.id)])].sort());

      for (const stream of [...APP_CHILDREN, ...FULL]) {
        const d = BY_NAME.get(stream)!;
        const read = [touchedApp, String(newApp.id), ...(RELEASE_SIGNALLED.has(stream) ? [releasedApp] : [])];
        // Requests: only the signalled apps, never the others.
        const requested = new Set(sim.requests.filter((r) => matchPath(r.path)?.d.stream === stream).map((r) => matchPath(r.path)!.params.app));
        expect([...requested].sort(), stream).toEqual([...read].sort());
        // Records: of a known app, history at or after the stream's cutoff and every child of a snapshot (its
        // version swap needs them all); of the new app, all.
        const cutoff = (state.bookmarks[stream] as { replication_key_value?: string }).replication_key_value;
        const expected = new Set<string>();
        for (const app of read) {
          for (const r of sim.items(d.path, { app }) as Rec[]) {
            const since = app === String(newApp.id) || !(stream in HISTORY) ? undefined : cutoff;
            if (since === undefined || String(r.updated_at) >= since) expected.add(keyOf(stream, { ...r, app_id: app }));
          }
        }
        const got = new Set((two.get(stream) ?? []).map((r) => keyOf(stream, r)));
        expect([...got].sort(), stream).toEqual([...expected].sort());
      }
      // The changes with a signal are in; those without one are not (yet).
      expect((two.get("releases") ?? []).map((r) => r.id)).toContain(release.id);
      const restarted = (two.get("dynos") ?? []).filter((r) => r.app_id === releasedApp);
      expect(restarted.length).toBe(sim.count("/apps/{app}/dynos", { app: releasedApp }));
      for (const dyno of restarted) expect((dyno.release as Rec).id).toBe(release.id);
      expect((two.get("domains") ?? []).map((r) => r.id)).not.toContain(domain.id);
      expect(two.get("team_members") ?? []).toEqual([]);

      // Snapshots: the apps not read keep the first run's version in their slots, so the oldest slot did not
      // move and nothing is activated; the pass is complete, so no version is kept.
      for (const stream of ["domains", "collaborators", "dynos", ...FULL]) {
        expect(byType(second.messages(), "ACTIVATE_VERSION").filter((m) => m.stream === stream), stream).toHaveLength(0);
        expect(lastState(second.messages()).bookmarks[stream]!.version, stream).toBeUndefined();
      }

      // Releases are read newest first and stop at the cutoff: one request per known app;
      // the new app (1,200 releases, no cutoff) is read in full.
      const releaseRequests = sim.requests.filter((r) => matchPath(r.path)?.d.stream === "releases");
      const perPath = new Map<string, number>();
      for (const r of releaseRequests) perPath.set(r.path, (perPath.get(r.path) ?? 0) + 1);
      for (const [path, n] of perPath) expect(n, path).toBe(path.includes(String(newApp.id)) ? 2 : 1);
      expect(releaseRequests.filter((r) => !r.range?.includes("]")).every((r) => r.range === "version ..; max=1000, order=desc")).toBe(true);
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
      const bm = state.bookmarks.domains as { done: string[]; slots?: unknown };
      expect(bm.done.length).toBeGreaterThanOrEqual(6);
      expect(bm.done.length).toBeLessThan(24);
      expect(bm.slots).toBeUndefined(); // the first pass is unfinished: no cutoff yet
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
      // One pass, one version, before and after the stop: the ACTIVATE_VERSION that ends it keeps every row of it.
      const versions = new Set(byType([...first.messages(), ...second.messages()], "RECORD").filter((m) => m.stream === "domains").map((m) => m.version));
      expect(versions.size).toBe(1);
      expect(byType(second.messages(), "ACTIVATE_VERSION").filter((m) => m.stream === "domains").map((m) => m.version)).toEqual([...versions]);

      const end = lastState(second.messages());
      const done = end.bookmarks.domains as { done?: string[]; parents: number; slots: unknown[] };
      expect(done.done).toBeUndefined();
      expect(done.parents).toBe(24);
      expect(done.slots).toHaveLength(48);
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
      expect(records.get("domains")!.length).toBe(
        sim.count("/apps/{app}/domains", { app: String(a.id) }) + sim.count("/apps/{app}/domains", { app: String(b.id) }),
      );
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

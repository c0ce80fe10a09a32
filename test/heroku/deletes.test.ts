// Deletes reach the target (src/heroku/deletes.ts): children removed on the
// simulator between runs (a domain, a collaborator, a Labs feature, a
// buildpack installation, a team member) and a whole app leave a target-side
// mirror within their refresh interval, through the ACTIVATE_VERSION each
// snapshot stream sends after a pass; history (releases) stays. The mirror
// does what a Meltano SDK target does: upsert by key with the record's
// version, drop rows with an older version on ACTIVATE_VERSION (a row without
// a version is never dropped), and drop a row on `_sdc_deleted_at`. Requests
// are counted for every run: the listings and one request per planned child
// list, none for the deleted app once it is gone. The deleted app itself, and
// its add-ons, leave the top-level lists in the next run. Shards send no
// ACTIVATE_VERSION for app streams.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import type { Message } from "../../src/singer/messages.ts";
import { HISTORY, versionToActivate } from "../../src/heroku/deletes.ts";
import { BY_NAME, byType, configFile, DEFINITIONS, discover, keyOf, lastState, matchPath, sync } from "./util.ts";
import type { Rec } from "./util.ts";

/** What a target holds: per stream, rows by key with the version they were written under. */
class Mirror {
  readonly tables = new Map<string, Map<string, { row: Rec; version: number | undefined }>>();

  apply(messages: Message[]): void {
    for (const m of messages) {
      const table = this.tables.get(m.type === "RECORD" || m.type === "ACTIVATE_VERSION" ? m.stream : "") ?? new Map();
      if (m.type === "RECORD") {
        const row = m.record as Rec;
        if (row._sdc_deleted_at) table.delete(keyOf(m.stream, row));
        else table.set(keyOf(m.stream, row), { row, version: m.version });
        this.tables.set(m.stream, table);
      } else if (m.type === "ACTIVATE_VERSION") {
        for (const [k, v] of table) if (v.version !== undefined && v.version < m.version) table.delete(k);
        this.tables.set(m.stream, table);
      }
    }
  }

  keys(stream: string): string[] {
    return [...(this.tables.get(stream)?.keys() ?? [])].sort();
  }
}

/** The keys the simulator serves for a child stream, over every parent it lists now. */
function served(sim: Simulator, stream: string): string[] {
  const d = BY_NAME.get(stream)!;
  const parentPath = BY_NAME.get(d.parent!)!.path;
  const out: string[] = [];
  for (const parent of sim.items(parentPath) as Rec[]) {
    const [param, field] = Object.entries(d.params)[0]!;
    for (const r of sim.items(d.path, { [param]: String(parent[field]) }) as Rec[]) {
      const enriched: Rec = { ...r };
      for (const [field, from] of Object.entries(d.parent_keys)) enriched[field] ??= parent[from];
      out.push(keyOf(stream, enriched));
    }
  }
  return out.sort();
}

const SNAPSHOTS = ["domains", "collaborators", "app_features", "buildpack_installations", "team_members"];

describe("the deletes mechanism of each stream", () => {
  it("is a version for every snapshot child stream and none for history", () => {
    for (const s of SNAPSHOTS) expect(s in HISTORY, s).toBe(false);
    expect("releases" in HISTORY).toBe(true);
    // Every name in the history list is a child stream with a replication key (FULL_TABLE children always take versions).
    for (const s of Object.keys(HISTORY)) {
      const d = DEFINITIONS.find((x) => x.stream === s);
      expect(d?.parent, s).toBeTruthy();
      expect(d?.replication_key, s).toBeTruthy();
    }
  });

  it("activates the stalest slot's read time once every slot was read under versions, and only when it moved", () => {
    const at = (...times: number[]) => Array.from({ length: 48 }, (_, i) => [times[i % times.length]!, 0] as [number, number]);
    expect(versionToActivate(undefined, at(100), 100)).toBe(100_000); // a first pass
    expect(versionToActivate(at(100), at(100, 160), 100)).toBeUndefined(); // the stalest slot did not move
    expect(versionToActivate(at(100, 160), at(130, 160), 100)).toBe(130_000);
    // An older state (a lap's version, or INCREMENTAL records without one): slots read before versions began
    // hold rows of an older version that are still live, so nothing is activated until each was read again.
    expect(versionToActivate(at(50), at(50, 120), 100)).toBeUndefined();
    expect(versionToActivate(at(50, 120), at(120, 140), 100)).toBe(120_000);
  });

  it("is what the README says, stream by stream", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const listed = (title: string) => {
      const at = readme.indexOf(title);
      expect(at, title).toBeGreaterThan(0);
      const item = readme.slice(at, Math.min(...["\n  - ", "\n\n"].map((end) => readme.indexOf(end, at)).filter((i) => i > 0)));
      return [...new Set([...item.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!).filter((s) => BY_NAME.has(s)))].sort();
    };
    const snapshots = DEFINITIONS.filter((d) => d.parent && !(d.stream in HISTORY)).map((d) => d.stream).sort();
    expect(listed("**Snapshots: ACTIVATE_VERSION per refresh.**")).toEqual(snapshots);
    expect(listed("**History: kept.**")).toEqual(Object.keys(HISTORY).sort());
    const lists = DEFINITIONS.filter((d) => !d.parent && !d.single).map((d) => d.stream).sort();
    expect(listed("**Top-level lists.**")).toEqual(lists);
  });
});

describe("a child removed on Heroku", () => {
  it("leaves the target within its refresh interval, and every child of a deleted app with it; history stays", async () => {
    const sim = await startSimulator({ apps: 24, perParent: 3, rateLimit: { bucket: 1e9, refillPerMinute: 1e9 } });
    const intervalS = 8;
    try {
      const config = configFile({ api_url: sim.url, refresh_hours: { volatile: intervalS / 3600, activity: intervalS / 3600, daily: intervalS / 3600 } });
      const catalog = await discover(config);
      const streams = ["apps", "add_ons", ...SNAPSHOTS, "releases"];
      const top: Record<string, string> = { apps: "/apps", add_ons: "/addons" };
      const servedTop = (s: string) => (sim.items(top[s]!) as Rec[]).map((r) => String(r.id)).sort();
      const mirror = new Mirror();
      const first = await sync(config, catalog, streams);
      expect(first.code, first.stderr).toBe(0);
      mirror.apply(first.messages());
      for (const s of SNAPSHOTS) expect(mirror.keys(s), s).toEqual(served(sim, s));
      for (const s of Object.keys(top)) expect(mirror.keys(s), s).toEqual(servedTop(s));
      let state: unknown = lastState(first.messages());

      // Removed between runs: one child of each snapshot stream, on different apps, and a whole app.
      const apps = (sim.items("/apps") as Rec[]).map((a) => String(a.id));
      const team = String((sim.items("/teams") as Rec[])[0]!.id);
      const removed: Record<string, string> = {};
      const take = (stream: string, path: string, params: Record<string, string>) => {
        const item = (sim.items(path, params) as Rec[])[1]!;
        const before = served(sim, stream);
        // Buildpack installations have no id: the simulator finds one by its ordinal, on whichever app it meets first.
        sim.remove(path, String(stream === "buildpack_installations" ? item.ordinal : item.id));
        const after = new Set(served(sim, stream));
        const gone = before.filter((k) => !after.has(k));
        expect(gone, stream).toHaveLength(1);
        removed[stream] = gone[0]!;
      };
      take("domains", "/apps/{app}/domains", { app: apps[2]! });
      take("collaborators", "/apps/{app}/collaborators", { app: apps[5]! });
      take("app_features", "/apps/{app}/features", { app: apps[9]! });
      take("buildpack_installations", "/apps/{app}/buildpack-installations", { app: apps[13]! });
      take("team_members", "/teams/{team}/members", { team });
      const deletedApp = apps[17]!;
      const releasesOfDeleted = mirror.keys("releases").filter((k) =>
        (sim.items("/apps/{app}/releases", { app: deletedApp }) as Rec[]).some((r) => r.id === k)
      );
      expect(releasesOfDeleted.length).toBeGreaterThan(0);
      sim.remove("/apps", deletedApp);
      for (const s of SNAPSHOTS) expect(mirror.keys(s), s).not.toEqual(served(sim, s)); // the mirror is behind
      const removedAt = Date.now();

      const converged = new Map<string, number>();
      let longestGap = 0;
      let lastStart = removedAt;
      let runs = 0;
      // Runs until the bound below has passed, however long a run takes on a loaded machine.
      while (Date.now() - removedAt < intervalS * 1000 + 2 * Math.max(longestGap, 3000)) {
        const startedAt = Date.now();
        longestGap = Math.max(longestGap, startedAt - lastStart);
        lastStart = startedAt;
        sim.resetLog();
        const run = await sync(config, catalog, streams, { state });
        expect(run.code, run.stderr).toBe(0);
        state = lastState(run.messages());
        mirror.apply(run.messages());

        // Requests: the token check (/account), /addons, /apps and /teams listed once each (the first run
        // after the app went reads /apps and /addons again, to send them whole), and one request per child
        // list the run planned.
        const listings = sim.requests.filter((r) => !matchPath(r.path)?.d.parent).map((r) => r.path).sort();
        if (runs++ === 0) {
          expect(listings).toEqual(["/account", "/addons", "/addons", "/apps", "/apps", "/teams"]);
          for (const s of Object.keys(top)) {
            expect(run.stderr, s).toMatch(new RegExp(`INFO ${s}: some records went since the last run`));
            expect(mirror.keys(s), s).toEqual(servedTop(s)); // the deleted app and its add-ons left at once
          }
        } else {
          expect(listings).toEqual(["/account", "/addons", "/apps", "/teams"]);
          expect(run.stderr).not.toMatch(/some records went/);
        }
        const childLists = sim.requests.filter((r) => matchPath(r.path)?.d.parent).map((r) => r.path);
        expect(new Set(childLists).size).toBe(childLists.length);
        for (const s of [...SNAPSHOTS, "releases"]) {
          // Each stream says how many parents it reads when it does not read them all.
          const told = new RegExp(`INFO ${s}: (\\d+) of \\d+ \\w+ to read`).exec(run.stderr)?.[1];
          const planned = told === undefined ? sim.count(BY_NAME.get(BY_NAME.get(s)!.parent!)!.path) : Number(told);
          expect(childLists.filter((p) => matchPath(p)!.d.stream === s).length, s).toBe(planned);
        }
        expect(childLists.filter((p) => p.includes(deletedApp))).toEqual([]);

        for (const s of SNAPSHOTS) if (!converged.has(s) && mirror.keys(s).join() === served(sim, s).join()) converged.set(s, Date.now());
        await new Promise((r) => setTimeout(r, 500));
      }
      for (const s of SNAPSHOTS) {
        expect(mirror.keys(s), s).toEqual(served(sim, s));
        expect(mirror.keys(s), s).not.toContain(removed[s]);
        // Within the interval, plus the time between two runs (a slot due just after a run waits for the next).
        expect(converged.get(s)! - removedAt, s).toBeLessThanOrEqual(intervalS * 1000 + 2 * longestGap);
      }
      // The deleted app's children went with it; its releases are history and stay.
      for (const s of ["domains", "collaborators", "app_features", "buildpack_installations"]) {
        expect([...mirror.tables.get(s)!.values()].filter((v) => v.row.app_id === deletedApp), s).toEqual([]);
      }
      for (const k of releasesOfDeleted) expect(mirror.keys("releases")).toContain(k);
      for (const s of Object.keys(top)) expect(mirror.keys(s), s).toEqual(servedTop(s));
      expect(mirror.keys("apps")).not.toContain(deletedApp);
    } finally {
      await sim.close();
    }
  }, 120_000);
});

describe("shards", () => {
  it("send no ACTIVATE_VERSION for app streams, whose table other shards write too; shard 1 still does for the account's", async () => {
    const sim = await startSimulator({ apps: 12, perParent: 2 });
    try {
      const config = configFile({ api_url: sim.url, shard: { index: 1, count: 2 } });
      const catalog = await discover(config);
      const run = await sync(config, catalog, ["add_ons", "domains", "team_members"]);
      expect(run.code, run.stderr).toBe(0);
      const activated = new Set(byType(run.messages(), "ACTIVATE_VERSION").map((m) => m.stream));
      expect(activated.has("domains")).toBe(false);
      expect(activated.has("team_members")).toBe(true);
      expect((lastState(run.messages()).bookmarks.add_ons as Rec).known).toBeUndefined(); // no tally of a shared list
    } finally {
      await sim.close();
    }
  });
});

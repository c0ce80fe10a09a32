// State written by the Meltano SDK (singer_sdk/helpers/_state.py), read by the
// real CLI against the simulator: the shapes an SDK-based tap leaves in a
// Meltano job (per-parent `partitions` lists, the markers of an interrupted
// sync, the `singer_state` wrapper) resume where they map; what does not map
// is left out with one warning and the run goes on; a malformed one is refused
// in one line (file, field, what is expected), exit 2.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { configFile, discover, lastState, matchPath, recordsOf, sync } from "./util.ts";
import type { Catalog, Rec } from "./util.ts";

const STREAMS = ["apps", "releases", "domains"];
const NOTE = "Progress is not resumable if interrupted.";

let sim: Simulator;
let config: string;
let catalog: Catalog;
let full: Map<string, Rec[]>;
let ownState: { bookmarks: Record<string, Rec> };

beforeAll(async () => {
  sim = await startSimulator({ apps: 30, perParent: 2 });
  config = configFile({ api_url: sim.url, start_date: "2000-01-01T00:00:00Z" });
  catalog = await discover(config);
  const run = await sync(config, catalog, STREAMS);
  expect(run.code, run.stderr).toBe(0);
  full = recordsOf(run.messages());
  ownState = lastState(run.messages());
}, 120_000);
afterAll(async () => {
  await sim?.close();
});

/** The SDK's per-partition state of a child stream: one partition per parent context, its newest updated_at. */
function sdkPartitions(stream: string, key = "updated_at") {
  const newest = new Map<string, string>();
  for (const r of full.get(stream)!) {
    const app = String(r.app_id);
    if (!newest.has(app) || String(r.updated_at) > newest.get(app)!) newest.set(app, String(r.updated_at));
  }
  return [...newest].map(([app_id, value]) => ({ context: { app_id }, replication_key: key, replication_key_value: value }));
}

const newestOf = (stream: string) => full.get(stream)!.map((r) => String(r.updated_at)).sort().at(-1)!;
const warnings = (stderr: string) => stderr.split("\n").filter((l) => /^WARNING /.test(l));
const requestedApps = (suffix: string) => new Set(sim.requests.filter((r) => r.path.endsWith(suffix)).map((r) => matchPath(r.path)!.params.app));

describe("state written by the Meltano SDK", () => {
  it.each(["node", "deno"] as const)(
    "resumes where it maps, on %s: an interrupted run's markers dropped as the SDK drops them, per-parent partitions read as a completed pass",
    async (runtime) => {
      const domains = sdkPartitions("domains");
      const state = {
        singer_state: {
          bookmarks: {
            // An SDK sync stopped part way through an unsorted stream: the markers it leaves.
            apps: {
              replication_key: "updated_at",
              replication_key_value: newestOf("apps"),
              starting_replication_value: "2000-01-01T00:00:00+00:00",
              replication_key_signpost: "2099-01-01T00:00:00+00:00",
              progress_markers: { Note: NOTE, replication_key: "updated_at", replication_key_value: "2099-01-01T00:00:00Z" },
            },
            releases: { partitions: sdkPartitions("releases") },
            // A parent with nothing recorded yet: a partition with its context only.
            domains: { partitions: [...domains, { context: { app_id: "00000000-0000-4000-8000-000000000000" } }] },
          },
        },
      };
      const app = String((sim.items("/apps") as Rec[])[4]!.id);
      const release = sim.add("/apps/{app}/releases", { app }) as Rec;
      sim.resetLog();
      const run = await sync(config, catalog, STREAMS, { state, runtime });
      expect(run.code, run.stderr).toBe(0);
      expect(warnings(run.stderr)).toEqual([]);
      // What was read, one info line per stream, in the tap's order.
      const read = run.stderr.split("\n").filter((l) => /state\.json: bookmarks\./.test(l));
      expect(read).toEqual([
        expect.stringMatching(
          /bookmarks\.apps: the markers of an interrupted Meltano SDK sync \(starting_replication_value, replication_key_signpost, progress_markers\) dropped/,
        ),
        expect.stringMatching(/bookmarks\.domains: the Meltano SDK's bookmarks of 30 partition\(s\) read as one completed pass$/),
        expect.stringMatching(/bookmarks\.releases: the Meltano SDK's bookmarks of 30 partition\(s\) read as one completed pass$/),
      ]);

      const out = recordsOf(run.messages());
      expect(out.get("releases")!.map((r) => r.id)).toContain(release.id);
      // Only the apps with a signal since the SDK's run are read again, not all 30.
      expect(requestedApps("/releases").has(app)).toBe(true);
      expect(requestedApps("/releases").size).toBeLessThan(30);
      expect(requestedApps("/domains").size).toBeLessThan(30);
      // apps went on from the SDK's replication_key_value, not from its progress markers (which would skip everything).
      expect((out.get("apps") ?? []).length).toBeGreaterThan(0);
      expect((out.get("apps") ?? []).length).toBeLessThan(30);

      const end = lastState(run.messages()).bookmarks;
      for (const s of STREAMS) {
        for (const marker of ["partitions", "progress_markers", "starting_replication_value", "replication_key_signpost"]) {
          expect(end[s], `${s}.${marker}`).not.toHaveProperty(marker);
        }
      }
      expect(end.releases!.slots).toHaveLength(48);
      expect(end.releases!.replication_key).toBe("updated_at");
    },
  );

  it("leaves out what does not map, with one warning each, and the run goes on", async () => {
    const state = {
      bookmarks: {
        // apps is one list, not read per partition: its partitions say nothing about it (and a value left out is not checked).
        apps: { partitions: [{ context: { region: "eu" }, replication_key: "updated_at", replication_key_value: "yesterday" }] },
        // Written for another replication key.
        releases: { partitions: sdkPartitions("releases", "created_at") },
        // This tap's own per-parent bookmark with an SDK list merged into it.
        domains: { ...ownState.bookmarks.domains, partitions: sdkPartitions("domains") },
      },
    };
    sim.resetLog();
    const run = await sync(config, catalog, STREAMS, { state });
    expect(run.code, run.stderr).toBe(0);
    const lines = warnings(run.stderr);
    expect(lines).toHaveLength(3);
    expect(lines.filter((l) => l.includes("bookmarks.apps:"))).toEqual([
      expect.stringMatching(
        /state\.json: bookmarks\.apps: the Meltano SDK's bookmarks of 1 partition\(s\) do not map onto this stream.*starts from start_date$/,
      ),
    ]);
    expect(lines.filter((l) => l.includes("bookmarks.releases:"))).toEqual([
      expect.stringMatching(/bookmarks\.releases: .* were written for replication key created_at, and this run the stream is read by updated_at; ignored$/),
    ]);
    expect(lines.filter((l) => l.includes("bookmarks.domains:"))).toEqual([expect.stringMatching(/the stream's own per-parent bookmark is used$/)]);
    const out = recordsOf(run.messages());
    expect(out.get("apps")).toHaveLength(30); // from start_date: every app
    expect(requestedApps("/releases").size).toBe(30); // no usable bookmark: every app's releases
  });

  const refused: [string, unknown, RegExp][] = [
    [
      "a partition without its context",
      { releases: { partitions: [{ replication_key: "updated_at", replication_key_value: "2024-01-01T00:00:00Z" }] } },
      /field "bookmarks\.releases\.partitions\[0\]\.context": expected an object \(the Meltano SDK's partition context\), found nothing$/,
    ],
    [
      "a partition value that is no date-time",
      { releases: { partitions: [{ context: { app_id: "a" }, replication_key: "updated_at", replication_key_value: "yesterday" }] } },
      /field "bookmarks\.releases\.partitions\[0\]\.replication_key_value": expected an RFC 3339 date-time$/,
    ],
    [
      "partitions that are not a list of objects",
      { apps: { progress_markers: {}, partitions: ["a"] } },
      /field "bookmarks\.apps\.partitions\[0\]": expected an object, found a string$/,
    ],
  ];
  it.each(refused)("refuses %s: one line naming the file and the field, exit 2", async (_name, bookmarks, message) => {
    const run = await sync(config, catalog, STREAMS, { state: { bookmarks } });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ERROR .*state\.json: /);
    expect(lines[0]).toMatch(message);
  });
});

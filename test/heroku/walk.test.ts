// Page walking (src/heroku/walk.ts), in process against the simulator on
// loopback: a tie on the Range key across a page boundary is read once and
// whole, a page that is all one tie and a refused Range (416) fall back to
// `id`, a refusal is remembered per client, and a descending walk stops at the
// bookmark or when the run stops. The end-to-end runs of the same rules are in
// range-refused.test.ts and incremental.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Settings } from "../../src/config.ts";
import type { HerokuClient } from "../../src/heroku/client.ts";
import { loadDefinitions } from "../../src/heroku/definitions.ts";
import type { HerokuStreamSpec } from "../../src/heroku/definitions.ts";
import { PAGE_MAX, walk } from "../../src/heroku/walk.ts";
import type { Item, WalkOptions, WalkPage, WalkResult } from "../../src/heroku/walk.ts";
import { runtime } from "../../src/runtime.ts";
import { herokuClient } from "../../src/tap.ts";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";

let specs: Map<string, HerokuStreamSpec>;
const sims: Simulator[] = [];
const clients: HerokuClient[] = [];

beforeAll(async () => {
  specs = new Map((await loadDefinitions()).map((d) => [d.stream, d]));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(sims.map((s) => s.close()));
});
afterEach(() => void vi.restoreAllMocks());

async function simulator(options: Parameters<typeof startSimulator>[0]): Promise<Simulator> {
  const sim = await startSimulator(options);
  sims.push(sim);
  return sim;
}

function clientOf(sim: Simulator): HerokuClient {
  const client = herokuClient(Settings.parse({ token: "test-token", api_url: sim.url }));
  clients.push(client);
  return client;
}

/** Every page of one walk, and what it said of itself. */
async function walked(client: HerokuClient, stream: string, path: string, opts: WalkOptions, afterPage?: (page: WalkPage) => void) {
  const result: WalkResult = { complete: false };
  const pages: WalkPage[] = [];
  for await (const page of walk(client, specs.get(stream)!, path, opts, result)) {
    pages.push(page);
    afterPage?.(page);
  }
  return { pages, items: pages.flatMap((p) => p.items), complete: result.complete };
}

const ids = (items: Item[]) => items.map((i) => String(i.id));
/** The Range headers the simulator received for `path`, in order. */
const ranges = (sim: Simulator, path: string) => sim.requests.filter((r) => r.path === path).map((r) => r.range);
/** The tap's warning lines while `body` runs (written through the runtime, as on stderr). */
async function warningsOf<T>(body: () => Promise<T>): Promise<{ value: T; warnings: string[] }> {
  const warnings: string[] = [];
  vi.spyOn(runtime, "writeStderr").mockImplementation((line: string) => void (line.startsWith("WARNING ") && warnings.push(line)));
  return { value: await body(), warnings };
}

describe("walk, ascending from the bookmark (apps by updated_at, not unique)", () => {
  it("reads every item of a tie that straddles a page boundary once, asking again from the tie inclusively", async () => {
    const sim = await simulator({ apps: PAGE_MAX + 10, perParent: 0 });
    const newest = Math.max(...(sim.items("/apps") as Item[]).map((a) => Date.parse(String(a.updated_at))));
    const tie = new Date(newest + 60_000);
    // The 20 newest apps share one updated_at: 10 end the first page, 10 do not fit on it.
    const tied = ids((sim.items("/apps") as Item[]).slice(0, 20));
    for (const id of tied) sim.touch("/apps", id, tie);
    const field = `updated_at ${tie.toISOString().replace(".000Z", "Z")}`;

    sim.resetLog();
    const { pages, items, complete } = await walked(clientOf(sim), "apps", "/apps", { key: "updated_at" });
    expect(items).toHaveLength(PAGE_MAX + 10);
    expect(new Set(ids(items)).size).toBe(PAGE_MAX + 10);
    expect(ids(pages[1]!.items).sort()).toEqual(tied.filter((id) => !ids(pages[0]!.items).includes(id)).sort());
    expect(pages.every((p) => p.ordered)).toBe(true);
    expect(complete).toBe(true);
    // Heroku's own Next-Range would be `]<tie>..`, which skips the 10 that did not fit.
    expect(ranges(sim, "/apps")).toEqual([`updated_at ..; max=${PAGE_MAX}`, `${field}..; max=${PAGE_MAX}`]);
  });

  it("starts at the bookmark, and says the walk is not the whole list", async () => {
    const sim = await simulator({ apps: 30, perParent: 0 });
    const apps = (sim.items("/apps") as Item[]).map((a) => String(a.updated_at)).sort();
    const since = apps[20]!;
    sim.resetLog();
    const { items, complete } = await walked(clientOf(sim), "apps", "/apps", { key: "updated_at", since });
    expect(items.map((i) => String(i.updated_at)).sort()).toEqual(apps.filter((t) => t >= since));
    expect(complete).toBe(false);
    expect(ranges(sim, "/apps")).toEqual([`updated_at ${since}..; max=${PAGE_MAX}`]);
  });

  it("falls back to id when a whole page is one tie (the Range would repeat), and still reads everything", async () => {
    const sim = await simulator({ apps: PAGE_MAX + 5, perParent: 0 });
    const tie = new Date(Date.parse("2026-01-01T00:00:00Z"));
    for (const a of sim.items("/apps") as Item[]) sim.touch("/apps", String(a.id), tie);
    sim.resetLog();
    const { value, warnings } = await warningsOf(() => walked(clientOf(sim), "apps", "/apps", { key: "updated_at" }));
    expect(new Set(ids(value.items)).size).toBe(PAGE_MAX + 5);
    expect(value.complete).toBe(true);
    expect(value.pages.at(-1)!.ordered).toBe(false);
    expect(ranges(sim, "/apps").filter((r) => r!.startsWith("id "))).toEqual([`id ..; max=${PAGE_MAX}`, expect.stringMatching(/^id \]/)]);
    expect(warnings).toEqual([expect.stringMatching(/^WARNING apps: too many items share one updated_at .* reading \/apps by id instead\n$/)]);
  });
});

describe("walk, when Heroku refuses the Range field (416)", () => {
  it("reads by id instead, once per client: the next walk goes straight to id, a new client tries again", async () => {
    const sim = await simulator({ apps: 12, perParent: 0, refuseRanges: { "/apps": ["updated_at"] } });
    const client = clientOf(sim);
    sim.resetLog();
    const first = await warningsOf(() => walked(client, "apps", "/apps", { key: "updated_at" }));
    expect(new Set(ids(first.value.items)).size).toBe(12);
    expect(first.value.complete).toBe(true);
    expect(sim.requests.map((r) => [r.range, r.status])).toEqual([[`updated_at ..; max=${PAGE_MAX}`, 416], [`id ..; max=${PAGE_MAX}`, 200]]);
    expect(first.warnings).toEqual([expect.stringMatching(/^WARNING apps: Heroku refused a Range on updated_at \(416\); reading by id/)]);

    sim.resetLog();
    const again = await warningsOf(() => walked(client, "apps", "/apps", { key: "updated_at", since: "2025-01-01T00:00:00Z" }));
    expect(new Set(ids(again.value.items)).size).toBe(12); // by id there is no bookmark to start from
    expect(again.value.complete).toBe(true);
    expect(ranges(sim, "/apps")).toEqual([`id ..; max=${PAGE_MAX}`]);
    expect(again.warnings).toEqual([]);

    sim.resetLog();
    await warningsOf(() => walked(clientOf(sim), "apps", "/apps", { key: "updated_at" }));
    expect(sim.requests.map((r) => r.status)).toEqual([416, 200]);
  });
});

describe("walk, descending to the bookmark (releases by version)", () => {
  const releases = 2 * PAGE_MAX + 500;
  let sim: Simulator;
  let app: string;
  let byVersion: Item[];
  const path = () => `/apps/${app}/releases`;
  beforeAll(async () => {
    sim = await simulator({ apps: 1, perParent: 0, sizes: { "/apps/{app}/releases": releases } });
    app = String((sim.items("/apps") as Item[])[0]!.id);
    byVersion = (sim.items("/apps/{app}/releases", { app }) as Item[]).sort((a, b) => Number(b.version) - Number(a.version));
  });

  it("stops after the first page that reaches a settled release older than the bookmark", async () => {
    const since = String(byVersion[PAGE_MAX + 100]!.updated_at); // on the second page
    sim.resetLog();
    const { pages, complete } = await walked(clientOf(sim), "releases", path(), { key: "updated_at", since });
    expect(pages).toHaveLength(2);
    expect(complete).toBe(false);
    expect(pages.every((p) => !p.ordered)).toBe(true);
    expect(ranges(sim, path())).toEqual([`version ..; max=${PAGE_MAX}, order=desc`, expect.stringMatching(/^version \]\d+\.\.; max=1000, order=desc$/)]);
  });

  it("reads every page when the bookmark is older than every release, or when there is none", async () => {
    for (const since of ["2000-01-01T00:00:00Z", undefined]) {
      sim.resetLog();
      const { items, complete } = await walked(clientOf(sim), "releases", path(), { key: "updated_at", since });
      expect(items.map((r) => r.version)).toEqual(byVersion.map((r) => r.version));
      expect(complete).toBe(true);
      expect(ranges(sim, path())).toHaveLength(3);
    }
  });

  it("stops after the page in hand when the run stops", async () => {
    const stop = new AbortController();
    sim.resetLog();
    const { pages } = await walked(clientOf(sim), "releases", path(), { key: "updated_at", signal: stop.signal }, () => stop.abort());
    expect(pages).toHaveLength(1);
    expect(ranges(sim, path())).toHaveLength(1);
  });
});

// The parent registry (src/heroku/registry.ts), in process against the
// simulator on loopback: parents are listed once and shared, only the fields
// children need are kept, a parent's own walk spares the listing, and only
// parents of planned children count as needed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Settings } from "../../src/config.ts";
import { loadDefinitions } from "../../src/heroku/definitions.ts";
import type { HerokuClient } from "../../src/heroku/client.ts";
import { ParentRegistry } from "../../src/heroku/registry.ts";
import { herokuClient } from "../../src/tap.ts";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";

let sim: Simulator;
let registry: () => Promise<ParentRegistry>;
const clients: HerokuClient[] = [];

beforeAll(async () => {
  sim = await startSimulator({ apps: 5, perParent: 3 });
  const specs = new Map((await loadDefinitions()).map((d) => [d.stream, d]));
  const settings = Settings.parse({ token: "test-token", api_url: sim.url });
  registry = async () => {
    const client = herokuClient(settings);
    clients.push(client);
    return new ParentRegistry(specs, client, settings);
  };
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim.close();
});

const listed = (path: string) => sim.requests.filter((r) => r.path === path).length;

describe("ParentRegistry", () => {
  it("lists a parent once, however many child streams ask at once, and gives each the same rows", async () => {
    sim.resetLog();
    const r = await registry();
    const [a, b, c] = await Promise.all([r.get("apps"), r.get("apps"), r.get("apps")]);
    expect(listed("/apps")).toBe(1);
    expect(a).toHaveLength(5);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(await r.count("apps")).toBe(5);
  });

  it("keeps only the scalar fields the children name (params, parent keys, refresh signals)", async () => {
    const r = await registry();
    const row = r.project("apps", { id: "a1", name: "web", updated_at: "2026-01-01T00:00:00Z", owner: { id: "u" }, stack: "heroku-24", size: 3 });
    expect(row).toEqual(expect.objectContaining({ id: "a1", name: "web" }));
    expect(row).not.toHaveProperty("owner");
    expect(row).not.toHaveProperty("stack");
    expect(row).not.toHaveProperty("size");
    for (const row of await r.get("apps")) expect(Object.values(row).every((v) => typeof v === "string" || typeof v === "number")).toBe(true);
  });

  it("takes the rows of the parent's own walk instead of listing again", async () => {
    sim.resetLog();
    const r = await registry();
    r.offer("apps", [{ id: "offered", name: "offered" }]);
    expect(r.has("apps")).toBe(true);
    expect(await r.get("apps")).toEqual([{ id: "offered", name: "offered" }]);
    expect(listed("/apps")).toBe(0);
  });

  it("lists a parent that has a parent of its own through it: team members of every team", async () => {
    sim.resetLog();
    const r = await registry();
    const teams = await r.get("teams");
    const members = await r.get("team_members");
    expect(teams.length).toBeGreaterThan(0);
    expect(members).toHaveLength(sim.total("/teams/{team}/members"));
    expect(listed("/teams")).toBe(1);
    expect(sim.requests.filter((q) => /^\/teams\/[^/]+\/members$/.test(q.path))).toHaveLength(teams.length);
  });

  it("counts as needed only the parents of the planned streams, and all of them when not told", async () => {
    const r = await registry();
    expect(r.needs("apps")).toBe(true);
    expect(r.needs("teams")).toBe(true);
    expect(r.needs("collaborators")).toBe(false); // no child stream
    r.plan(["team_member_apps"]);
    expect(r.needs("team_members")).toBe(true);
    expect(r.needs("teams")).toBe(true); // the grandparent
    expect(r.needs("apps")).toBe(false);
    expect(r.has("teams")).toBe(false); // planning lists nothing
  });
});

// Discovery runs before every `meltano select --list` and every sync, so on a
// large account it must cost a few requests, not one per app.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { runTap, tempFiles } from "../helpers/tap.ts";

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ apps: 2000, postgresApps: 2 });
});
afterAll(() => sim.close());

describe("database discovery on a 2,000-app account", () => {
  it("walks /addons once and reads attachments and config vars only of the apps with Postgres", async () => {
    const c = tempFiles({ "c.json": { token: "test-token", api_url: sim.url, postgres: { connect_timeout_s: 1 } } })["c.json"]!;
    sim.resetLog();
    const run = await runTap(["--config", c, "--discover"]);
    expect(run.code, run.stderr).toBe(0);
    const paths = sim.requests.map((r) => r.path);
    const addonPages = Math.ceil(sim.total("/addons") / 1000);
    expect(paths.filter((p) => p === "/addons")).toHaveLength(addonPages);
    expect(paths.filter((p) => /^\/apps\/[^/]+\/addons$/.test(p))).toHaveLength(0);
    expect(paths.filter((p) => p.endsWith("/config-vars"))).toHaveLength(2);
    expect(paths.filter((p) => p.endsWith("/addon-attachments"))).toHaveLength(2);
    expect(paths).toHaveLength(addonPages + 4);
  });
});

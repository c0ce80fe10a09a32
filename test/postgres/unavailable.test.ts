// A database that cannot be reached at sync time (a private space, a network
// fault) costs a warning, not the run: its selected tables are skipped and the
// other streams are synced, exit 0.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { runTap, tempFiles } from "../helpers/tap.ts";
import { createDatabase } from "./helpers.ts";

let sim: Simulator;
let app: string;
let attachments: string[];
let config: string;

beforeAll(async () => {
  sim = await startSimulator({ apps: 2, postgresApps: 1 });
  const url = await createDatabase("tap_pg_away", "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);");
  app = (sim.items("/apps") as { name: string }[]).map((a) => a.name).find((name) =>
    (sim.items("/apps/{app}/addons", { app: name }) as { addon_service: { name: string } }[]).some((a) => a.addon_service.name === "heroku-postgresql")
  )!;
  attachments = (sim.items("/apps/{app}/addon-attachments", { app }) as { name: string }[]).map((a) => `${a.name}_URL`);
  sim.setConfigVars(app, Object.fromEntries(attachments.map((v) => [v, url])));
  config = tempFiles({ "c.json": { token: "test-token", api_url: sim.url, apps: [app], postgres: { connect_timeout_s: 2 } } })["c.json"]!;
});
afterAll(() => sim.close());

describe("a selected table whose database is unreachable this run", () => {
  it("is skipped with a warning naming why; the other streams are synced; exit 0", async () => {
    const catalog = JSON.parse((await runTap(["--config", config, "--discover"])).stdout);
    const table = catalog.streams.find((s: { tap_stream_id: string }) => s.tap_stream_id.endsWith("-public-t")).tap_stream_id as string;
    for (const s of catalog.streams) s.metadata[0].metadata.selected = s.tap_stream_id === table || s.tap_stream_id === "apps";
    const cat = tempFiles({ "cat.json": catalog })["cat.json"]!;

    // The database goes away (here: its URL now points at a closed port).
    sim.setConfigVars(app, Object.fromEntries(attachments.map((v) => [v, "postgres://someone:pw-away-secret@127.0.0.1:9/gone"])));
    const run = await runTap(["--config", config, "--catalog", cat]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`WARNING ${table}: skipped: .*cannot connect`));
    const streams = run.messages().filter((m) => m.type === "RECORD").map((m) => (m as { stream: string }).stream);
    expect(new Set(streams)).toEqual(new Set(["apps"]));
    expect(run.stdout + run.stderr).not.toContain("pw-away-secret");
  });
});

// --test tells a person what works and what to fix, one line per check; it
// exits 0 only when what the run needs is usable.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../simulator/index.ts";
import type { Simulator } from "../simulator/index.ts";
import { runTap, tempFiles } from "./helpers/tap.ts";
import { createDatabase } from "./postgres/helpers.ts";

let sim: Simulator;
let app: string;
let vars: string[];
let url: string;

beforeAll(async () => {
  sim = await startSimulator({
    apps: 2,
    postgresApps: 1,
    tokens: {
      "full-token": { scopes: ["global"] },
      "narrow-token": { scopes: ["read-protected", "identity"] },
      "read-token": { scopes: ["read", "identity"] },
    },
  });
  url = await createDatabase("tap_check", "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int);");
  app = (sim.items("/apps") as { name: string }[]).map((a) => a.name).find((name) =>
    (sim.items("/apps/{app}/addons", { app: name }) as { addon_service: { name: string } }[]).some((a) => a.addon_service.name === "heroku-postgresql")
  )!;
  vars = (sim.items("/apps/{app}/addon-attachments", { app }) as { name: string }[]).map((a) => `${a.name}_URL`);
});
afterAll(() => sim.close());

const check = (token: string, catalog?: object) => {
  const f = tempFiles({
    "c.json": { token, api_url: sim.url, data_api_url: sim.dataUrl, metrics_api_url: sim.metricsUrl, apps: [app], postgres: { connect_timeout_s: 2 } },
    ...(catalog ? { "cat.json": catalog } : {}),
  });
  return runTap(["--config", f["c.json"]!, ...(catalog ? ["--catalog", f["cat.json"]!] : []), "--test"]);
};

/** A catalog that selects exactly these stream ids (what Meltano passes to `invoke --test`). */
const selecting = (ids: string[]) => ({
  streams: ids.map((id) => ({
    tap_stream_id: id,
    stream: id,
    schema: { type: "object", properties: {} },
    metadata: [{ breadcrumb: [], metadata: { selected: true } }],
  })),
});

describe("--test", () => {
  it("passes when the token, its scopes and the databases are all usable", async () => {
    sim.setConfigVars(app, Object.fromEntries(vars.map((v) => [v, url])));
    const run = await check("full-token");
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ok {4}token: accepted by http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines[1]).toMatch(/^ok {4}scope global: granted/);
    expect(lines[2]).toMatch(/^ok {4}database \w+: reachable, 2 tables and views readable$/);
  });

  it("warns, and still passes, when the token lacks the global scope, naming the streams it costs", async () => {
    sim.setConfigVars(app, Object.fromEntries(vars.map((v) => [v, url])));
    const run = await check("narrow-token");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^warn {2}scope global: not granted \(403\): 16 streams will be skipped \(.*app_webhooks.*\); add it with heroku authorizations:create --scope global$/m,
    );
  });

  it("fails when a database cannot be reached, saying why, without its credentials", async () => {
    sim.setConfigVars(app, Object.fromEntries(vars.map((v) => [v, "postgres://someone:pw-check-secret@127.0.0.1:9/gone"])));
    const run = await check("full-token");
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^fail {2}database \w+: .*cannot connect/m);
    expect(run.stdout + run.stderr).not.toMatch(/pw-check-secret|someone/);
  });

  it("with a catalog, checks what it selects: an unreachable database no selected stream reads is a warning, a missing scope no selected stream needs is ok", async () => {
    sim.setConfigVars(app, Object.fromEntries(vars.map((v) => [v, "postgres://someone:pw-check-secret@127.0.0.1:9/gone"])));
    const apiOnly = await check("narrow-token", selecting(["apps", "releases"]));
    expect(apiOnly.code, apiOnly.stdout + apiOnly.stderr).toBe(0);
    expect(apiOnly.stdout).toMatch(/^ok {4}scope global: not granted \(403\), and no selected stream needs it$/m);
    expect(apiOnly.stdout).toMatch(/^warn {2}database (\w+): .*cannot connect.* \(no selected stream reads it\)$/m);

    const alias = /^warn {2}database (\w+):/m.exec(apiOnly.stdout)![1]!;
    const withTable = await check("narrow-token", selecting(["apps", `${alias}-public-a`, "app_webhooks"]));
    expect(withTable.code).toBe(1);
    expect(withTable.stdout).toMatch(/^fail {2}database \w+: .*cannot connect/m);
    expect(withTable.stdout).toMatch(/^warn {2}scope global: not granted \(403\): 1 streams will be skipped \(app_webhooks\)/m);
  });

  it("refuses a catalog whose stream metadata is wrong, naming the file and stream (exit 2)", async () => {
    const bad = selecting(["apps"]);
    (bad.streams[0]!.metadata[0]!.metadata as Record<string, unknown>).selected = "yes";
    const run = await check("full-token", bad);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^ERROR .*cat\.json: streams\[0\] \(apps\): field "metadata\.selected": selected must be true or false, found a string$/m);
  });

  it("warns when the token cannot read config vars (read-protected), naming what is skipped", async () => {
    const run = await check("read-token");
    expect(run.stdout).toMatch(
      /^warn {2}scope read-protected: not granted \(403\): config_vars, pipeline_review_config_vars, pipeline_test_config_vars, Heroku Postgres discovery will be skipped; add it with heroku authorizations:create --scope read-protected,identity$/m,
    );
    const narrow = await check("narrow-token");
    expect(narrow.stdout).toMatch(/^ok {4}scope read-protected: granted/m);
  });

  it("fails on a revoked token with one line that says what to do", async () => {
    const run = await check("revoked-token");
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("fail  token: rejected by Heroku (401): invalid, expired or revoked; create one with heroku authorizations:create\n");
  });
});

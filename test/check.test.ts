// --test tells a person what works and what to fix, one line per check; it
// exits 0 only when what the run needs is usable.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "./simulator/index.ts";
import type { Simulator } from "./simulator/index.ts";
import { runTap, tempFiles } from "./helpers/tap.ts";
import { createDatabase } from "./postgres/helpers.ts";

let sim: Simulator;
let app: string;
let vars: string[];
let url: string;

beforeAll(async () => {
  sim = await startSimulator({ apps: 2, postgresApps: 1, tokens: { "full-token": { scopes: ["global"] }, "narrow-token": { scopes: ["read-protected", "identity"] } } });
  url = await createDatabase("tap_check", "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int);");
  app = (sim.items("/apps") as { name: string }[]).map((a) => a.name).find((name) => (sim.items("/apps/{app}/addons", { app: name }) as { addon_service: { name: string } }[]).some((a) => a.addon_service.name === "heroku-postgresql"))!;
  vars = (sim.items("/apps/{app}/addon-attachments", { app }) as { name: string }[]).map((a) => `${a.name}_URL`);
});
afterAll(() => sim.close());

const check = (token: string) => {
  const c = tempFiles({ "c.json": { token, api_url: sim.url, apps: [app], postgres: { connect_timeout_s: 2 } } })["c.json"]!;
  return runTap(["--config", c, "--test"]);
};

describe("--test", () => {
  it("passes when the token, its scopes and the databases are all usable", async () => {
    sim.setConfigVars(app, Object.fromEntries(vars.map((v) => [v, url])));
    const run = await check("full-token");
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ok    token: accepted by http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines[1]).toMatch(/^ok    scope global: granted/);
    expect(lines[2]).toMatch(/^ok    database \w+: reachable, 2 tables and views readable$/);
  });

  it("warns, and still passes, when the token lacks the global scope, naming the streams it costs", async () => {
    sim.setConfigVars(app, Object.fromEntries(vars.map((v) => [v, url])));
    const run = await check("narrow-token");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^warn  scope global: not granted \(403\): 15 streams will be skipped \(.*app_webhooks.*\); add it with heroku authorizations:create --scope global$/m);
  });

  it("fails when a database cannot be reached, saying why, without its credentials", async () => {
    sim.setConfigVars(app, Object.fromEntries(vars.map((v) => [v, "postgres://someone:pw-check-secret@127.0.0.1:9/gone"])));
    const run = await check("full-token");
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^fail  database \w+: .*cannot connect/m);
    expect(run.stdout + run.stderr).not.toMatch(/pw-check-secret|someone/);
  });

  it("fails on a revoked token with one line that says what to do", async () => {
    const run = await check("revoked-token");
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("fail  token: rejected by Heroku (401): invalid, expired or revoked; create one with heroku authorizations:create\n");
  });
});

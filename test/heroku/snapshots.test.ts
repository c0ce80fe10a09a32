// The snapshot streams (one object per parent: a space's NAT, a team's
// preferences, an app's config var names, ...) end to end on the simulator:
// complete counts, one request per parent, config var values never in the
// output, discovery's config var answer reused, a missing scope skipped with
// a warning naming it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JSONSchema7 } from "json-schema";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { validate } from "../helpers/json-schema.ts";
import { minimumDefaultRequests } from "../helpers/minimum.ts";
import { runTap, tempFiles } from "../helpers/tap.ts";
import { BY_NAME, byType, configFile, DEFINITIONS, discover, keyOf, matchPath, recordsOf, selecting, sync } from "./util.ts";
import type { Catalog } from "./util.ts";

/** Streams of GET links outside the list endpoints (issue 16): the snapshots and the per-parent lists. */
const NEW = DEFINITIONS.filter((d) => d.single && d.parent !== null).map((d) => d.stream);
const LISTS = ["app_available_dyno_sizes", "app_available_stacks", "team_available_generations", "enterprise_account_teams"];

/** Values that look like secrets, planted in every app's config vars. */
const SECRETS = {
  DATABASE_URL: "postgres://u4f9a8c1:pS3cr3tPassw0rdXYZ123@ec2-1-2-3-4.compute-1.amazonaws.invalid:5432/d7q",
  STRIPE_API_KEY: "sk_live_51HxYzAbCdEfGhIjKlMnOpQrStUv",
  SECRET_KEY_BASE: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};

let sim: Simulator;
let catalog: Catalog;
let apps: { id: string; name: string }[];

beforeAll(async () => {
  sim = await startSimulator({
    apps: 5,
    perParent: 2,
    postgresApps: 2,
    tokens: { "test-token": { scopes: ["global"] }, "read-token": { scopes: ["read", "identity"] } },
  });
  apps = sim.items("/apps") as { id: string; name: string }[];
  for (const [i, app] of apps.entries()) sim.setConfigVars(app.id, { ...SECRETS, [`APP_${i}_TOKEN`]: `tok-${i}-Zq8Lw2Vb6Nn4` });
  catalog = await discover(configFile({ api_url: sim.url }));
});
afterAll(() => sim.close());

describe("snapshot streams", () => {
  it("read one object per parent, complete, keyed by the parent, in one request per parent", async () => {
    expect(NEW.length).toBe(15);
    sim.resetLog();
    const run = await sync(configFile({ api_url: sim.url }), catalog, [...NEW, ...LISTS]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/^WARNING/m);
    const messages = run.messages();
    const records = recordsOf(messages);
    const schemas = new Map(byType(messages, "SCHEMA").map((m) => [m.stream, m.schema as JSONSchema7]));
    for (const stream of [...NEW, ...LISTS]) {
      const d = BY_NAME.get(stream)!;
      const rows = records.get(stream) ?? [];
      expect(rows.length, stream).toBe(sim.total(d.path));
      expect(rows.length, `${stream} has rows`).toBeGreaterThan(0);
      expect(new Set(rows.map((r) => keyOf(stream, r))).size, `${stream} keys`).toBe(rows.length);
      for (const r of rows) expect(validate(schemas.get(stream)!, r), stream).toEqual([]);
      // FULL_TABLE snapshots: a version is activated, so a target drops what is gone
      if (d.single) expect(byType(messages, "ACTIVATE_VERSION").some((m) => m.stream === stream), stream).toBe(true);
    }
    // A pipeline without review apps has no config (404): no row, no error.
    const pipelines = sim.items("/pipelines") as { id: string }[];
    const withReviewApps = pipelines.filter((p) => sim.count("/pipelines/{pipeline}/review-apps", { pipeline: p.id }) > 0);
    expect(records.get("review_app_configs")!.length).toBe(withReviewApps.length);
    // Config vars: one row per name, nothing else.
    for (const r of records.get("config_vars")!) expect(Object.keys(r).sort()).toEqual(["app_id", "app_name", "name"]);
    expect(records.get("config_vars")!.filter((r) => r.name === "STRIPE_API_KEY").length).toBe(apps.length);

    // One request per parent and stream: the parent lists, then exactly one GET each.
    const perStream = new Map<string, number>();
    for (const r of sim.requests) {
      const m = matchPath(r.path);
      expect(m, r.path).toBeDefined();
      perStream.set(m!.d.stream, (perStream.get(m!.d.stream) ?? 0) + 1);
    }
    for (const stream of NEW) {
      const parent = BY_NAME.get(BY_NAME.get(stream)!.parent!)!;
      expect(perStream.get(stream), stream).toBe(parent.single ? 1 : sim.total(parent.path));
    }
  });

  it("never write, log or echo a config var value: 0 occurrences over the whole stdout and stderr", async () => {
    const planted = [...Object.values(SECRETS), ...apps.map((_, i) => `tok-${i}-Zq8Lw2Vb6Nn4`), "pS3cr3tPassw0rdXYZ123"];
    // every value the simulator serves, the add-ons' URLs (with their passwords) included
    const served = new Set<string>(planted);
    const res = await Promise.all(
      apps.map((a) =>
        fetch(`${sim.url}/apps/${a.id}/config-vars`, { headers: { authorization: "Bearer test-token", accept: "application/vnd.heroku+json; version=3" } })
      ),
    );
    const pipelines = sim.items("/pipelines") as { id: string }[];
    const stages = await Promise.all(
      pipelines.flatMap((p) =>
        ["test", "review"].map((stage) =>
          fetch(`${sim.url}/pipelines/${p.id}/stage/${stage}/config-vars`, {
            headers: { authorization: "Bearer test-token", accept: "application/vnd.heroku+json; version=3" },
          })
        )
      ),
    );
    for (const r of [...res, ...stages]) for (const v of Object.values((await r.json()) as Record<string, string>)) served.add(v);
    expect(served.size).toBeGreaterThan(planted.length + 2); // add-on URLs and stage config vars too
    // with Heroku Postgres discovery on (it reads config vars too) and off
    for (const postgres of [{ enabled: false }, { enabled: true, connect_timeout_s: 1 }]) {
      const run = await sync(configFile({ api_url: sim.url, postgres }), catalog, [
        "apps",
        "config_vars",
        "add_on_attachments",
        "pipeline_test_config_vars",
        "pipeline_review_config_vars",
      ]);
      expect(run.code, run.stderr).toBe(0);
      for (const stream of ["config_vars", "pipeline_test_config_vars", "pipeline_review_config_vars"]) {
        expect(recordsOf(run.messages()).get(stream)!.length, stream).toBe(sim.total(BY_NAME.get(stream)!.path));
      }
      const output = run.stdout + run.stderr;
      const found = [...served].filter((v) => output.includes(v));
      expect(found, `config var values in the output (postgres ${postgres.enabled ? "on" : "off"})`).toEqual([]);
    }
    // at debug level too (every request and retry is logged)
    const f = tempFiles({ "catalog.json": selecting(catalog, ["config_vars", "pipeline_test_config_vars", "pipeline_review_config_vars"]) });
    const debug = await runTap(["--config", configFile({ api_url: sim.url }), "--catalog", f["catalog.json"]!, "--log-level", "debug"]);
    expect(debug.code, debug.stderr).toBe(0);
    expect(debug.stderr).toMatch(/DEBUG/);
    expect([...served].filter((v) => (debug.stdout + debug.stderr).includes(v))).toEqual([]);
  });

  it("reuse the config vars Heroku Postgres discovery read: no request of their own for those apps", async () => {
    sim.resetLog();
    const run = await sync(configFile({ api_url: sim.url, postgres: { enabled: true, connect_timeout_s: 1 } }), catalog, ["config_vars"]);
    expect(run.code, run.stderr).toBe(0);
    const reads = sim.requests.filter((r) => /^\/apps\/[^/]+\/config-vars$/.test(r.path)).map((r) => decodeURIComponent(r.path.split("/")[2]!));
    const pgApps = new Set(
      (sim.items("/addons") as { app: { name: string }; addon_service: { name: string } }[]).filter((a) => a.addon_service.name === "heroku-postgresql").map((
        a,
      ) => a.app.name),
    );
    expect(pgApps.size).toBe(2);
    // Discovery asks by name (and may ask again for a fresh URL when a connection fails); the
    // stream asks by id, once per app discovery did not read.
    expect(new Set(reads.filter((k) => !apps.some((a) => a.id === k)))).toEqual(pgApps);
    const byStream = reads.filter((k) => apps.some((a) => a.id === k));
    expect(byStream.sort()).toEqual(apps.filter((a) => !pgApps.has(a.name)).map((a) => a.id).sort());
    // the oracle agrees: the apps discovery read cost nothing more
    expect(minimumDefaultRequests(sim, pgApps)).toBe(minimumDefaultRequests(sim) - pgApps.size);
  });

  it("a token without read-protected skips config_vars with a warning naming the scope; exit 0", async () => {
    const run = await sync(configFile({ api_url: sim.url, token: "read-token" }), catalog, ["apps", "config_vars", "space_nats"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/WARNING config_vars: skipped: Heroku refused \S+ \(403 forbidden\); stream config_vars needs the "read-protected" OAuth scope/);
    const records = recordsOf(run.messages());
    expect(records.get("config_vars")).toBeUndefined();
    expect(records.get("space_nats")!.length).toBe(sim.total("/spaces/{space}/nat"));
  });
});

// Every Heroku stream end to end against the simulator (real HTTP on
// loopback, the real CLI as a subprocess): valid records with their parent
// ids, counts equal to the simulator's, and exactly the minimum requests.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JSONSchema7 } from "json-schema";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { validate } from "../helpers/json-schema.ts";
import { BY_NAME, byType, configFile, DEFINITIONS, discover, keyOf, matchPath, pagesOf, recordsOf, servedCount, sync, USAGE } from "./util.ts";
import type { Catalog } from "./util.ts";

let sim: Simulator;
let config: string;
let catalog: Catalog;

const SIZES = {
  "/account/features": 2300, // a top-level list of three pages
  "/apps/{app}/releases": 1500, // two pages per app, read newest first by version
  "/apps/{app}/builds": 1200, // two pages per app, by started_at with a tie-safe continuation
  "/enterprise-accounts/{enterprise-account}/events": 1001,
};

beforeAll(async () => {
  sim = await startSimulator({ apps: 6, perParent: 2, sizes: SIZES });
  config = configFile({ api_url: sim.url });
  catalog = await discover(config);
});
afterAll(() => sim.close());

describe("a full sync of every stream", () => {
  const all = DEFINITIONS.filter((d) => d.query === null).map((d) => d.stream);

  it("emits valid records with parent ids, as many as the simulator serves, in the minimum of requests", async () => {
    sim.resetLog();
    const run = await sync(config, catalog, all);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/^WARNING/m);
    const messages = run.messages();
    const records = recordsOf(messages);
    const schemas = new Map(byType(messages, "SCHEMA").map((m) => [m.stream, m.schema as JSONSchema7]));

    for (const stream of all) {
      const d = BY_NAME.get(stream)!;
      const rows = records.get(stream) ?? [];
      // a snapshot stream: one object per parent (none where Heroku has none); config vars: one row per name
      const expected = d.single && !d.parent ? 1 : sim.total(d.path);
      expect(rows.length, stream).toBe(expected);
      expect(rows.length, `${stream} has records`).toBeGreaterThan(0);
      // unique by the declared key
      expect(new Set(rows.map((r) => keyOf(stream, r))).size, `${stream} keys`).toBe(rows.length);
      const schema = schemas.get(stream)!;
      for (const r of rows) {
        expect(validate(schema, r), `${stream} ${JSON.stringify(r).slice(0, 200)}`).toEqual([]);
        for (const k of Object.keys(d.parent_keys)) expect(r[k], `${stream}.${k}`).toEqual(expect.anything());
      }
    }

    // Children carry their parent's id: every app_id of releases is an app.
    const appIds = new Set((records.get("apps") ?? []).map((a) => a.id));
    for (const stream of DEFINITIONS.filter((d) => d.parent === "apps").map((d) => d.stream)) {
      for (const r of records.get(stream) ?? []) expect(appIds.has(r.app_id), stream).toBe(true);
    }
    const pairs = new Set((records.get("team_members") ?? []).map((m) => `${String(m.team_id)}|${String(m.id)}`));
    for (const r of records.get("team_member_apps") ?? []) expect(pairs.has(`${String(r.team_id)}|${String(r.team_member_id)}`)).toBe(true);

    // Requests: only GET; one walk per list endpoint and parent, each the fewest pages.
    expect(sim.requests.every((r) => r.method === "GET")).toBe(true);
    const byPath = new Map<string, number>();
    for (const r of sim.requests) byPath.set(r.path, (byPath.get(r.path) ?? 0) + 1);
    let minimum = 0;
    for (const [path, n] of byPath) {
      const m = matchPath(path);
      expect(m, path).toBeDefined();
      const pages = m!.d.single ? 1 : pagesOf(m!.d.stream, servedCount(sim, path, {}));
      expect(n, `requests of ${path}`).toBe(pages);
      minimum += pages;
    }
    // every parent was walked: as many distinct paths per child stream as parents
    for (const d of DEFINITIONS.filter((x) => x.parent && x.query === null)) {
      const parent = BY_NAME.get(d.parent!)!;
      const paths = [...byPath.keys()].filter((p) => matchPath(p)?.d.stream === d.stream);
      expect(paths.length, d.stream).toBe(sim.total(parent.path));
    }
    expect(sim.requests.length).toBe(minimum);
  });
});

describe("usage streams", () => {
  it("send start and end from start_date and today, and key rows by owner and date", async () => {
    const start = new Date(Date.now() - 40 * 86_400_000).toISOString().slice(0, 10);
    const cfg = configFile({ api_url: sim.url, start_date: start });
    sim.resetLog();
    const run = await sync(cfg, catalog, USAGE);
    expect(run.code, run.stderr).toBe(0);
    const records = recordsOf(run.messages());
    const today = new Date().toISOString().slice(0, 10);
    for (const stream of USAGE) {
      const d = BY_NAME.get(stream)!;
      const monthly = stream.includes("monthly");
      const requests = sim.requests.filter((r) => matchPath(r.path)?.d.stream === stream);
      expect(requests.length).toBeGreaterThan(0);
      let expected = 0;
      for (const r of requests) {
        expect(r.query).toEqual({ start: monthly ? start.slice(0, 7) : start, end: monthly ? today.slice(0, 7) : today });
        expected += servedCount(sim, r.path, r.query);
      }
      const rows = records.get(stream) ?? [];
      expect(rows.length, stream).toBe(expected);
      expect(rows.length).toBeGreaterThan(0);
      const schema = byType(run.messages(), "SCHEMA").find((m) => m.stream === stream)!.schema as JSONSchema7;
      for (const r of rows) expect(validate(schema, r)).toEqual([]);
      expect(new Set(rows.map((r) => keyOf(stream, r))).size).toBe(rows.length);
      expect(d.key_properties.length).toBe(2);
    }
  });

  it("are skipped with a warning naming start_date when it is not set", async () => {
    const run = await sync(config, catalog, [USAGE[0]!]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`WARNING ${USAGE[0]}: skipped: .*start_date`));
  });
});

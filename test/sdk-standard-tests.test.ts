// The Meltano SDK's standard tap tests (singer_sdk/testing/tap_tests.py), run
// on the CLI over every API stream of the simulator and every table of the
// fixture database, on Node and Deno: cli_prints, discovery,
// stream_connections, valid_final_state, schema_is_valid, returns_record,
// record_matches_stream_schema, primary_keys and the attribute checks
// (is_datetime, is_boolean, is_integer, is_numeric, is_object, not_null).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JSONSchema7 } from "json-schema";
import { attachDatabase, startSimulator } from "../simulator/index.ts";
import type { Simulator } from "../simulator/index.ts";
import { runTap, tempFiles } from "./helpers/tap.ts";
import type { TapRun } from "./helpers/tap.ts";
import { checkSchema, validate } from "./helpers/json-schema.ts";
import { createDatabase, readerRole } from "./postgres/helpers.ts";
import { Catalog } from "../src/singer/catalog.ts";
import { State } from "../src/singer/state.ts";

/** Streams the seeded simulator leaves empty, and why (the SDK lets a tap name the streams that may return none). */
const MAY_BE_EMPTY: Record<string, string> = {};

let sim: Simulator;
let config: string;
let catalog: Catalog;
let catalogFile: string;

beforeAll(async () => {
  sim = await startSimulator({ apps: 3, postgresApps: 1 });
  await createDatabase("tap_sdk_standard");
  const url = await readerRole("tap_sdk_standard", "tap_sdk_standard_reader");
  attachDatabase(sim, url);
  // start_date fills the usage streams' required date range (they return nothing without one).
  config = tempFiles({
    "c.json": { token: "test-token", api_url: sim.url, data_api_url: sim.dataUrl, metrics_api_url: sim.metricsUrl, start_date: "2020-01-01" },
  })["c.json"]!;
  const discover = await runTap(["--config", config, "--discover"]);
  expect(discover.code, discover.stderr).toBe(0);
  catalog = Catalog.parse(JSON.parse(discover.stdout));
  for (const s of catalog.streams) s.metadata.find((m) => m.breadcrumb.length === 0)!.metadata.selected = true; // every stream
  catalogFile = tempFiles({ "cat.json": catalog })["cat.json"]!;
});
afterAll(() => sim?.close());

interface Synced {
  run: TapRun;
  schemas: Map<string, { schema: JSONSchema7; key_properties: string[] }>;
  records: Map<string, Record<string, unknown>[]>;
  state: unknown;
}

describe.each(["node", "deno"] as const)("the SDK's standard tap tests on %s", (runtime) => {
  let synced: Synced;
  beforeAll(async () => {
    const run = await runTap(["--config", config, "--catalog", catalogFile], { runtime, timeoutMs: 120_000 });
    const schemas: Synced["schemas"] = new Map();
    const records: Synced["records"] = new Map();
    let state: unknown;
    for (const line of run.stdout.trimEnd().split("\n")) {
      const m = JSON.parse(line) as {
        type: string;
        stream: string;
        schema: JSONSchema7;
        key_properties: string[];
        record: Record<string, unknown>;
        value: unknown;
      };
      if (m.type === "SCHEMA") schemas.set(m.stream, m);
      if (m.type === "RECORD") records.set(m.stream, [...(records.get(m.stream) ?? []), m.record]);
      if (m.type === "STATE") state = m.value;
    }
    synced = { run, schemas, records, state };
  }, 180_000);

  it("cli_prints: --about, --help and --version", async () => {
    const about = await runTap(["--about"], { runtime });
    expect(JSON.parse(about.stdout)).toMatchObject({ name: "tap-heroku", capabilities: expect.arrayContaining(["discover", "state", "catalog"]) });
    expect((await runTap(["--help"], { runtime })).stdout).toMatch(/Usage:/);
    expect((await runTap(["--version"], { runtime })).stdout).toMatch(/^tap-heroku\//);
  });

  it("discovery: a catalog of every API stream and every fixture table", () => {
    expect(catalog.streams.filter((s) => !s.tap_stream_id.includes("-public-")).length).toBeGreaterThanOrEqual(71);
    expect(catalog.streams.some((s) => s.tap_stream_id.endsWith("-public-all_types"))).toBe(true);
  });

  it("stream_connections: every selected stream syncs", () => {
    expect(synced.run.code, synced.run.stderr).toBe(0);
    expect([...synced.schemas.keys()].sort()).toEqual(catalog.streams.map((s) => s.tap_stream_id).sort());
  });

  it("valid_final_state: the last STATE is a valid Singer state for the streams synced", () => {
    const state = State.parse(synced.state);
    for (const id of Object.keys(state.bookmarks)) expect(synced.schemas.has(id), id).toBe(true);
    expect(state.currently_syncing ?? null).toBeNull();
  });

  it("schema_is_valid: every SCHEMA is a well-formed JSON Schema", () => {
    const problems = [...synced.schemas].flatMap(([id, s]) => checkSchema(s.schema).map((p) => `${id}: ${p}`));
    expect(problems).toEqual([]);
  });

  it("returns_record: every stream returns records (the empty ones are named, with the reason)", () => {
    const empty = [...synced.schemas.keys()].filter((id) => !synced.records.has(id)).sort();
    expect(empty).toEqual(Object.keys(MAY_BE_EMPTY).sort());
  });

  it("record_matches_stream_schema: every record fits its stream's SCHEMA", () => {
    const problems = [...synced.records].flatMap(([id, rows]) => rows.flatMap((r) => validate(synced.schemas.get(id)!.schema, r).map((p) => `${id}: ${p}`)));
    expect(problems.slice(0, 20)).toEqual([]);
  });

  it("primary_keys: key properties are present, not null, and unique in each stream", () => {
    const problems: string[] = [];
    for (const [id, rows] of synced.records) {
      const keys = synced.schemas.get(id)!.key_properties;
      if (keys.length === 0) continue;
      const seen = new Set<string>();
      for (const r of rows) {
        const k = JSON.stringify(keys.map((p) => r[p]));
        if (keys.some((p) => r[p] === null || r[p] === undefined)) problems.push(`${id}: a record without its key ${k}`);
        else if (seen.has(k)) problems.push(`${id}: the key ${k} twice`);
        seen.add(k);
      }
    }
    expect(problems).toEqual([]);
  });

  it("attribute checks: date-times parse, booleans, integers, numbers and objects are what their schema says", () => {
    const problems: string[] = [];
    for (const [id, rows] of synced.records) {
      const props = (synced.schemas.get(id)!.schema.properties ?? {}) as Record<string, JSONSchema7>;
      for (const [name, p] of Object.entries(props)) {
        const types = new Set(Array.isArray(p.type) ? p.type : p.type ? [p.type] : []);
        for (const r of rows) {
          const v = r[name];
          if (v === null || v === undefined) {
            if (types.size > 0 && !types.has("null")) problems.push(`${id}.${name}: null where the schema says not_null`);
            continue;
          }
          if (p.format === "date-time" && !Number.isFinite(Date.parse(v as string))) problems.push(`${id}.${name}: is_datetime fails on ${JSON.stringify(v)}`);
          if (types.size === 2 && types.has("boolean") && typeof v !== "boolean") problems.push(`${id}.${name}: is_boolean fails`);
          if (types.size === 2 && types.has("integer") && !Number.isInteger(v)) problems.push(`${id}.${name}: is_integer fails`);
          if (types.size === 2 && types.has("number") && typeof v !== "number") problems.push(`${id}.${name}: is_numeric fails`);
          if (types.size === 2 && types.has("object") && (typeof v !== "object" || Array.isArray(v))) problems.push(`${id}.${name}: is_object fails`);
        }
      }
    }
    expect(problems.slice(0, 20)).toEqual([]);
  });
});

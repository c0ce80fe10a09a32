// Names that mean something to JavaScript objects: __proto__, constructor,
// toString, hasOwnProperty. As column names (one of them the primary key), as
// jsonb keys, as keys of an API record (whose deselected properties are cut
// out by the runner) and as config keys they must come out like any other
// name: in SCHEMA, in every RECORD, in the bookmark a pass resumes from. A
// plain `o[name] = v` makes __proto__ the prototype instead (the column
// vanished) and is how prototype pollution starts. stdout is read with
// JSON.parse, which keeps __proto__ as an own key, not through zod (which drops it).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { attachDatabase, startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { runTap, RUNTIMES, tempFiles } from "../helpers/tap.ts";
import { createDatabase, readerRole } from "../postgres/helpers.ts";
import { loadSettings } from "../../src/config.ts";
import { runtime } from "../../src/runtime.ts";
import { planSync, runSync } from "../../src/singer/runner.ts";
import { discoverEntry } from "../../src/singer/runner.ts";
import { emptyState } from "../../src/singer/state.ts";
import { MessageWriter } from "../../src/singer/writer.ts";
import type { Stream } from "../../src/singer/stream.ts";
import { z } from "zod";

const NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty"];
const SCRIPT = `
CREATE SCHEMA "Sales-EU";
CREATE TABLE secret_stuff (id int);
CREATE TABLE partly_visible (id int, visible text, hidden text);
CREATE TABLE special ("__proto__" int PRIMARY KEY, "constructor" text, "toString" text, "hasOwnProperty" text, doc jsonb);
INSERT INTO special SELECT i, 'c' || i, 't' || i, 'h' || i, '{"__proto__": {"polluted": true}, "constructor": 1, "toString": "x"}'
  FROM generate_series(1, 30) i;`;

interface Line {
  type: string;
  stream?: string;
  schema?: { properties: Record<string, unknown> };
  record?: Record<string, unknown>;
}
const lines = (stdout: string) => stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Line);

let sim: Simulator;
let config: string;
let tableId: string;
let catalog: { streams: { tap_stream_id: string; metadata: { breadcrumb: string[]; metadata: Record<string, unknown> }[] }[] };

beforeAll(async () => {
  sim = await startSimulator({ apps: 2, postgresApps: 1 });
  await createDatabase("tap_special_names", SCRIPT);
  const url = await readerRole("tap_special_names", "tap_special_reader");
  attachDatabase(sim, url);
  config = tempFiles({ "c.json": { token: "test-token", api_url: sim.url, postgres: { schemas: ["public"], batch_size: 10 } } })["c.json"]!;
  const run = await runTap(["--config", config, "--discover"]);
  expect(run.code, run.stderr).toBe(0);
  catalog = JSON.parse(run.stdout);
  tableId = catalog.streams.find((s) => s.tap_stream_id.endsWith("-public-special"))!.tap_stream_id;
  for (const s of catalog.streams) s.metadata[0]!.metadata.selected = s.tap_stream_id === tableId;
});
afterAll(() => sim?.close());

describe.each(RUNTIMES)("on %s", (runtime) => {
  it("keeps __proto__, constructor, toString and hasOwnProperty as columns, key, jsonb keys and API keys, and resumes from a __proto__ key", async () => {
    const cat = tempFiles({ "cat.json": catalog })["cat.json"]!;
    const run = await runTap(["--config", config, "--catalog", cat], { runtime });
    expect(run.code, run.stderr).toBe(0);
    const out = lines(run.stdout);

    const schema = out.find((m) => m.type === "SCHEMA" && m.stream === tableId)!.schema!;
    for (const n of NAMES) expect(Object.hasOwn(schema.properties, n), n).toBe(true);

    const rows = out.filter((m) => m.type === "RECORD" && m.stream === tableId).map((m) => m.record!);
    expect(rows.map((r) => r["__proto__"])).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    for (const r of rows) {
      expect(Object.keys(r)).toEqual(["__proto__", "constructor", "toString", "hasOwnProperty", "doc"]);
      expect(Object.keys(r.doc as object).sort()).toEqual(["__proto__", "constructor", "toString"]);
      expect(Object.getPrototypeOf(r.doc)).toBe(Object.prototype); // an own key, not a prototype
    }

    // A pass interrupted after key 10 of the key column __proto__ (the state as JSON text, so the key is an own key).
    const state = tempFiles({
      "s.json": `{"bookmarks": {${
        JSON.stringify(tableId)
      }: {"version": 1700000000000, "last_pk_fetched": {"__proto__": "10"}, "max_pk_values": {"__proto__": "30"}}}}`,
    })["s.json"]!;
    const resumed = await runTap(["--config", config, "--catalog", cat, "--state", state], { runtime });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming the full-table pass .* after key \{"__proto__":"10"\}/);
    const after = lines(resumed.stdout).filter((m) => m.type === "RECORD" && m.stream === tableId).map((m) => m.record!["__proto__"]);
    expect(after).toEqual(Array.from({ length: 20 }, (_, i) => i + 11));
  });
});

describe("a config file with these names as keys", () => {
  it("takes them as unknown settings, named in warnings, and pollutes no prototype", async () => {
    const file = tempFiles({ "c.json": '{"token": "t0ken-special", "__proto__": {"polluted": true}, "constructor": 1}' })["c.json"]!;
    const stderr = vi.spyOn(runtime, "writeStderr").mockImplementation(() => {});
    const r = await loadSettings([file], {});
    const warned = stderr.mock.calls.map((c) => String(c[0]));
    stderr.mockRestore();
    expect(warned).toEqual([expect.stringMatching(/unknown setting "__proto__"/), expect.stringMatching(/unknown setting "constructor"/)]);
    expect(r.ok, r.ok ? "" : r.error.message).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(r.ok && Object.getPrototypeOf(r.value)).toBe(Object.prototype);
  });
});

describe("an API record with these names as keys, some properties deselected", () => {
  it("keeps the selected ones as own keys of the RECORD", async () => {
    // What JSON.parse of Heroku's answer gives: __proto__ as an own key.
    const record = JSON.parse('{"id": "a1", "__proto__": {"p": 1}, "constructor": "c", "toString": "t", "hasOwnProperty": "h"}') as Record<string, unknown>;
    const stream: Stream = {
      id: "things",
      schema: { type: "object", properties: Object.fromEntries(["id", ...NAMES].map((n) => [n, {}])) },
      keyProperties: ["id"],
      validReplicationKeys: [],
      defaultReplicationMethod: "FULL_TABLE",
      selectedByDefault: true,
      bookmark: z.record(z.string(), z.unknown()),
      sync: async (ctx) => void (await ctx.writeRecord(record)),
    };
    const entry = discoverEntry(stream);
    for (const m of entry.metadata) if (m.breadcrumb[1] === "toString") m.metadata.selected = false;
    const plan = planSync([stream], { file: "c.json", value: { streams: [entry] } }, undefined);
    let out = "";
    const writer = new MessageWriter(async (bytes) => void (out += new TextDecoder().decode(bytes)));
    await runSync(plan.ok ? plan.value : [], { writer, state: emptyState(), startDate: undefined, signal: new AbortController().signal });
    const written = lines(out).find((m) => m.type === "RECORD")!.record!;
    expect(Object.keys(written)).toEqual(["id", "__proto__", "constructor", "hasOwnProperty"]);
    expect(written["__proto__"]).toEqual({ p: 1 });
    expect(Object.getPrototypeOf(written)).toBe(Object.prototype);
  });
});

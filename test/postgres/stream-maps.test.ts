// Stream maps on a table stream: its rows arrive as pre-encoded JSON, and a
// map that reads, filters and adds columns must keep int8 beyond 2^53, long
// numerics and jsonb numbers digit for digit; an unmapped table keeps its
// rows as they came. The real CLI against the simulator and PostgreSQL (the
// reader role helper expects the fixture's Sales-EU, secret_stuff and partly_visible).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { runTap, tempFiles } from "../helpers/tap.ts";
import { createDatabase, readerRole } from "./helpers.ts";

const SCRIPT = `
CREATE SCHEMA "Sales-EU";
CREATE TABLE secret_stuff (id int);
CREATE TABLE partly_visible (id int, visible text);
CREATE TABLE ledger (id int8 PRIMARY KEY, amount numeric, doc jsonb, label text);
INSERT INTO ledger VALUES
  (9007199254740993, 12345678901234567890.123456789, '{"n": 98765432109876543210, "tags": ["a"]}', 'keep'),
  (9007199254740995, 1.5, '{"n": 1}', 'drop'),
  (1, 0.1, null, 'keep');
CREATE TABLE plain (id int8 PRIMARY KEY, amount numeric);
INSERT INTO plain VALUES (9007199254740993, 12345678901234567890.123456789);`;

let sim: Simulator;
let config: Record<string, unknown>;

beforeAll(async () => {
  sim = await startSimulator({ apps: 1, postgresApps: 1 });
  await createDatabase("tap_pg_maps", SCRIPT);
  const url = await readerRole("tap_pg_maps", "tap_pg_maps_reader");
  const app = (sim.items("/apps") as { name: string }[])[0]!.name;
  const atts = sim.items("/apps/{app}/addon-attachments", { app }) as { name: string }[];
  sim.setConfigVars(app, Object.fromEntries(atts.map((a) => [`${a.name}_URL`, url])));
  config = { token: "test-token", api_url: sim.url, apps: [app], postgres: { schemas: ["public"] } };
});
afterAll(async () => {
  await sim?.close();
});

describe("stream maps on a table", () => {
  it("filters, adds and flattens exactly; an unmapped table is written as it came", async () => {
    const discover = await runTap(["--config", tempFiles({ "c.json": config })["c.json"]!, "--discover"]);
    expect(discover.code, discover.stderr).toBe(0);
    const catalog = JSON.parse(discover.stdout) as {
      streams: Array<{ tap_stream_id: string; metadata: Array<{ breadcrumb: string[]; metadata: Record<string, unknown> }> }>;
    };
    const ids = catalog.streams.map((s) => s.tap_stream_id);
    const ledger = ids.find((i) => i.endsWith("-public-ledger"))!;
    const plain = ids.find((i) => i.endsWith("-public-plain"))!;
    const selected = {
      streams: catalog.streams.map((s) => ({
        ...s,
        metadata: s.metadata.map((
          m,
        ) => (m.breadcrumb.length === 0 ? { ...m, metadata: { ...m.metadata, selected: s.tap_stream_id === ledger || s.tap_stream_id === plain } } : m)),
      })),
    };
    const maps = { [ledger]: { __alias__: "ledger", __filter__: "label == 'keep'", next_id: "id + 2", amount_text: "str(amount)", label: null } };
    const files = tempFiles({ "c.json": { ...config, stream_maps: maps, flattening_enabled: true, flattening_max_depth: 1 }, "catalog.json": selected });
    const run = await runTap(["--config", files["c.json"]!, "--catalog", files["catalog.json"]!]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split("\n").filter((l) => l.includes('"type":"RECORD"'));
    const ledgerLines = lines.filter((l) => l.includes('"stream":"ledger"'));
    expect(ledgerLines).toHaveLength(2);
    const big = ledgerLines.find((l) => l.includes('"id":9007199254740993'))!;
    expect(big).toContain('"amount":12345678901234567890.123456789');
    expect(big).toContain('"doc":"{\\"n\\":98765432109876543210,\\"tags\\":[\\"a\\"]}"');
    expect(big).toContain('"next_id":9007199254740995');
    expect(big).toContain('"amount_text":"12345678901234567890.123456789"');
    expect(big).not.toContain('"label"');
    // flattened: jsonb (null, object, array) is JSON text, as the SDK does with objects it does not open
    const schema = run.messages().find((m) => m.type === "SCHEMA" && m.stream === "ledger") as { schema: { properties: Record<string, { type: unknown }> } };
    expect(schema.schema.properties.doc!.type).toEqual(["string", "null"]);
    const plainLine = lines.find((l) => l.includes(`"stream":"${plain}"`))!;
    expect(plainLine).toContain('"record":{"id":9007199254740993,"amount":12345678901234567890.123456789}');
  });
});

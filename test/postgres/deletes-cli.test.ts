// Delete detection through the real CLI on Node 20, 22, 24 and Deno: a database found
// through the API simulator, detect_deletes in the config, --discover offers
// _sdc_deleted_at, and the run after some deletes sends exactly their
// tombstones, with int8 keys beyond 2^53 exact; a run SIGKILLed among its
// rows and resumed from its last STATE loses no delete.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachDatabase, startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { parseMessages, runTap, RUNTIMES, tempFiles } from "../helpers/tap.ts";
import type { Message } from "../../src/singer/messages.ts";
import { createDatabase, readerRole, sql } from "./helpers.ts";

const SCRIPT = `
CREATE SCHEMA "Sales-EU";
CREATE TABLE accounts (id int8 PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
INSERT INTO accounts (id, name) SELECT 9007199254740000 + i, 'a' || i FROM generate_series(1, 3000) i;
${
  RUNTIMES.map((r) => `
CREATE TABLE kill_${r} (id int8 PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON kill_${r} (updated_at);
INSERT INTO kill_${r} (id, name) SELECT i, 'k' || i FROM generate_series(1, 5000) i;`).join("")
}
CREATE TABLE secret_stuff (id int);
CREATE TABLE partly_visible (id int, visible text);`;

let sim: Simulator;
let config: string;
let url: string;
/** The catalog with one table selected, INCREMENTAL on updated_at. */
function selecting(catalog: { streams: { tap_stream_id: string; metadata: { breadcrumb: string[]; metadata: Record<string, unknown> }[] }[] }, table: string) {
  for (const s of catalog.streams) {
    for (const m of s.metadata) {
      if (m.breadcrumb.length === 0) {
        Object.assign(m.metadata, {
          selected: s.tap_stream_id.endsWith(`-public-${table}`),
          "replication-method": "INCREMENTAL",
          "replication-key": "updated_at",
        });
      }
    }
  }
  return catalog;
}

const records = (ms: Message[]) => ms.filter((m): m is Extract<Message, { type: "RECORD" }> => m.type === "RECORD");

beforeAll(async () => {
  sim = await startSimulator({ apps: 1, postgresApps: 1 });
  url = await createDatabase("tap_pg_deletes_cli", SCRIPT);
  const app = attachDatabase(sim, await readerRole("tap_pg_deletes_cli", "tap_pg_deletes_reader"));
  config = tempFiles({ "c.json": { token: "test-token", api_url: sim.url, apps: [app], postgres: { schemas: ["public"], detect_deletes: true } } })["c.json"]!;
});
afterAll(async () => {
  await sim?.close();
});

describe.each(RUNTIMES)("on %s", (runtime) => {
  it("sends a tombstone for each deleted row, keys exact", async () => {
    const discover = await runTap(["--config", config, "--discover"], { runtime });
    expect(discover.code, discover.stderr).toBe(0);
    const catalog = JSON.parse(discover.stdout);
    for (const s of catalog.streams) {
      for (const m of s.metadata) {
        if (m.breadcrumb.length === 0) {
          Object.assign(m.metadata, {
            selected: s.tap_stream_id.endsWith("-public-accounts"),
            "replication-method": "INCREMENTAL",
            "replication-key": "updated_at",
          });
        }
      }
    }
    const accounts = catalog.streams.find((s: { tap_stream_id: string }) => s.tap_stream_id.endsWith("-public-accounts"));
    expect(accounts.schema.properties._sdc_deleted_at).toEqual({ type: ["null", "string"], format: "date-time" });
    const files = tempFiles({ "cat.json": catalog });

    const first = await runTap(["--config", config, "--catalog", files["cat.json"]!], { runtime });
    expect(first.code, first.stderr).toBe(0);
    expect(records(first.messages()).filter((r) => r.record._sdc_deleted_at != null)).toHaveLength(0);
    const state = first.messages().filter((m) => m.type === "STATE").at(-1)!;

    // Each runtime deletes its own rows of the shared table (the first run of each records the keys left).
    const n = BigInt(RUNTIMES.indexOf(runtime));
    const gone = [9007199254740001n + n, 9007199254741234n + n, 9007199254742990n + n];
    await sql(url, `DELETE FROM accounts WHERE id IN (${gone.join(", ")})`);
    const s = tempFiles({ "state.json": state.value });
    const second = await runTap(["--config", config, "--catalog", files["cat.json"]!, "--state", s["state.json"]!], { runtime });
    expect(second.code, second.stderr).toBe(0);
    // The exact digits in the output text, not a rounded JS number.
    const lines = second.stdout.split("\n").filter((l) => l.includes('"_sdc_deleted_at":"'));
    expect(lines.map((l) => /"id":(\d+)/.exec(l)![1])).toEqual(gone.map(String));
  });

  it("loses no delete when SIGKILLed among its rows and resumed from its last STATE", async () => {
    const table = `kill_${runtime}`;
    const discover = await runTap(["--config", config, "--discover"], { runtime });
    expect(discover.code, discover.stderr).toBe(0);
    const files = tempFiles({ "cat.json": selecting(JSON.parse(discover.stdout), table) });
    const mirror = new Map<string, unknown>();
    const apply = (ms: Message[]) => {
      for (const r of records(ms)) {
        if (r.record._sdc_deleted_at != null) mirror.delete(String(r.record.id));
        else mirror.set(String(r.record.id), r.record.name);
      }
    };
    const first = await runTap(["--config", config, "--catalog", files["cat.json"]!], { runtime });
    expect(first.code, first.stderr).toBe(0);
    apply(first.messages());
    const state1 = first.messages().filter((m) => m.type === "STATE").at(-1)!;

    await sql(url, `DELETE FROM ${table} WHERE id % 100 = 7`);
    await sql(url, `INSERT INTO ${table} (id, name) SELECT i, 'new' || i FROM generate_series(5001, 25000) i`);
    let stdout = "";
    const s1 = tempFiles({ "state.json": state1.value });
    const cut = await runTap(["--config", config, "--catalog", files["cat.json"]!, "--state", s1["state.json"]!], {
      runtime,
      onSpawn: (child) =>
        child.stdout!.on("data", (d: Buffer) => {
          stdout += d.toString();
          if (!child.killed && (stdout.match(/"type":"RECORD"/g) ?? []).length > 3000) child.kill("SIGKILL");
        }),
    });
    expect(cut.signal).toBe("SIGKILL");
    const complete = parseMessages(cut.stdout.slice(0, cut.stdout.lastIndexOf("\n") + 1));
    apply(complete);
    expect(mirror.has("6000")).toBe(true); // rows of the cut run reached the target
    const state2 = complete.filter((m) => m.type === "STATE").at(-1)!;
    expect(JSON.stringify(state2.value)).toContain('"ranges"');

    // Rows the target got from the cut run are deleted before the next run.
    await sql(url, `DELETE FROM ${table} WHERE id BETWEEN 5001 AND 6500`);
    const s2 = tempFiles({ "state.json": state2.value });
    const rest = await runTap(["--config", config, "--catalog", files["cat.json"]!, "--state", s2["state.json"]!], { runtime });
    expect(rest.code, rest.stderr).toBe(0);
    apply(rest.messages());
    const src = await sql<{ k: string; name: string }>(url, `SELECT id::text AS k, name FROM ${table}`);
    expect(Object.fromEntries(mirror)).toEqual(Object.fromEntries(src.map((r) => [r.k, r.name])));
  });
});

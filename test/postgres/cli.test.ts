// The real CLI as a subprocess, on Node and Deno: databases found through the
// API simulator, a FULL_TABLE sync and an _sdc_xmin sync killed part way
// (SIGKILL) and resumed from the last STATE written, and no credential on
// stdout or stderr.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachDatabase, startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { parseMessages, runTap, RUNTIMES, tempFiles } from "../helpers/tap.ts";
import type { Message } from "../../src/singer/messages.ts";
import { createDatabase, readerRole, sql } from "./helpers.ts";
import { type Catalog, selecting } from "../heroku/util.ts";

const SCRIPT = `
CREATE SCHEMA "Sales-EU";
CREATE TABLE big (id int8 PRIMARY KEY, amount numeric, payload jsonb, at timestamptz);
INSERT INTO big SELECT i, i * 1.000000000000000000001, jsonb_build_object('n', 12345678901234567890 + i), '2024-01-01'::timestamptz + i * interval '1 microsecond'
  FROM generate_series(1, 30000) i;
CREATE TABLE secret_stuff (id int);
CREATE TABLE partly_visible (id int, visible text);`;

let sim: Simulator;
let files: Record<string, string>;
let superuser: string;
const PASSWORD = "pw-tap_pg_cli_reader-secret";

beforeAll(async () => {
  sim = await startSimulator({ apps: 2, postgresApps: 1 });
  superuser = await createDatabase("tap_pg_cli", SCRIPT);
  const url = await readerRole("tap_pg_cli", "tap_pg_cli_reader");
  const app = attachDatabase(sim, url);
  files = tempFiles({ "config.json": { token: "test-token", api_url: sim.url, apps: [app], postgres: { batch_size: 500, schemas: ["public"] } } });
});
afterAll(async () => {
  await sim?.close();
});

const records = (ms: Message[]) => ms.filter((m): m is Extract<Message, { type: "RECORD" }> => m.type === "RECORD");

describe.each(RUNTIMES)("on %s", (runtime) => {
  it("discovers the database's tables, then syncs one killed part way and resumed: nothing missing, nothing secret", async () => {
    const discover = await runTap(["--config", files["config.json"]!, "--discover"], { runtime });
    expect(discover.code, discover.stderr).toBe(0);
    const catalog = JSON.parse(discover.stdout);
    const big = catalog.streams.find((s: { tap_stream_id: string }) => s.tap_stream_id.endsWith("-public-big"));
    expect(big).toBeDefined();
    expect(big.tap_stream_id.split("-")).toHaveLength(3);
    const f = tempFiles({ "catalog.json": selecting(catalog, [big.tap_stream_id]) });

    // Kill the tap as soon as it has written a STATE inside the table.
    let stdout = "";
    const first = await runTap(["--config", files["config.json"]!, "--catalog", f["catalog.json"]!], {
      runtime,
      onSpawn: (child) =>
        child.stdout!.on("data", (d: Buffer) => {
          stdout += d.toString();
          if (/"last_pk_fetched"/.test(stdout) && !child.killed) child.kill("SIGKILL");
        }),
    });
    expect(first.signal).toBe("SIGKILL");
    // A line cut by the kill is not a message.
    const complete = first.stdout.slice(0, first.stdout.lastIndexOf("\n") + 1);
    const m1 = parseMessages(complete);
    const state = m1.filter((m) => m.type === "STATE").at(-1)!;
    const s = tempFiles({ "state.json": state.value });

    const second = await runTap(["--config", files["config.json"]!, "--catalog", f["catalog.json"]!, "--state", s["state.json"]!], { runtime });
    expect(second.code, second.stderr).toBe(0);
    const m2 = second.messages();
    const ids = new Set([...records(m1), ...records(m2)].map((r) => Number(r.record.id)));
    expect(ids.size).toBe(30000);
    expect(m2.some((m) => m.type === "ACTIVATE_VERSION")).toBe(true);
    const r = records(m2).at(-1)!;
    expect(r.record.id).toBe(30000);
    // Exact numbers survive the whole way through the CLI.
    expect(second.stdout).toContain(`"payload":{"n": ${12345678901234567890n + 30000n}}`);
    expect(second.stdout).toContain('"amount":30000.000000000000000030000');

    for (const out of [discover.stdout, discover.stderr, first.stdout, first.stderr, second.stdout, second.stderr]) {
      expect(out).not.toContain(PASSWORD);
      expect(out).not.toContain("tap_pg_cli_reader");
    }
  });

  it("syncs INCREMENTAL on _sdc_xmin killed part way and resumed, then sends only what changed", async () => {
    const discover = await runTap(["--config", files["config.json"]!, "--discover"], { runtime });
    const catalog = JSON.parse(discover.stdout);
    const big = catalog.streams.find((s: { tap_stream_id: string }) => s.tap_stream_id.endsWith("-public-big"));
    const f = tempFiles({
      "catalog.json": selecting(catalog, [big.tap_stream_id], { [big.tap_stream_id]: "INCREMENTAL" }, { [big.tap_stream_id]: "_sdc_xmin" }),
    });
    const args = ["--config", files["config.json"]!, "--catalog", f["catalog.json"]!];
    let stdout = "";
    const first = await runTap(args, {
      runtime,
      onSpawn: (child) =>
        child.stdout!.on("data", (d: Buffer) => {
          stdout += d.toString();
          if (/"last_ctid"/.test(stdout) && !child.killed) child.kill("SIGKILL");
        }),
    });
    expect(first.signal).toBe("SIGKILL");
    const m1 = parseMessages(first.stdout.slice(0, first.stdout.lastIndexOf("\n") + 1));
    const resume = tempFiles({ "state.json": m1.filter((m) => m.type === "STATE").at(-1)!.value });
    const second = await runTap([...args, "--state", resume["state.json"]!], { runtime });
    expect(second.code, second.stderr).toBe(0);
    const ids = new Set([...records(m1), ...records(second.messages())].map((r) => Number(r.record.id)));
    expect(ids.size).toBe(30000);
    expect(second.messages().some((m) => m.type === "ACTIVATE_VERSION")).toBe(true);

    const after = tempFiles({ "state.json": second.messages().filter((m) => m.type === "STATE").at(-1)!.value });
    const unchanged = await runTap([...args, "--state", after["state.json"]!], { runtime });
    expect(records(unchanged.messages())).toHaveLength(0);
    // A new row version with the same values: other tests here read these rows.
    await sql(superuser, "UPDATE big SET amount = amount WHERE id IN (7, 29999)");
    const changed = await runTap([...args, "--state", after["state.json"]!], { runtime });
    expect(records(changed.messages()).map((r) => Number(r.record.id)).sort((a, b) => a - b)).toEqual([7, 29999]);
    for (const out of [first.stderr, second.stdout, second.stderr, changed.stdout]) expect(out).not.toContain(PASSWORD);
  });
});

describe("a table's state written by the Meltano SDK (MeltanoLabs tap-postgres)", () => {
  it("resumes INCREMENTAL from its replication_key_value; the markers of its interrupted run are dropped, its partitions left out with one warning", async () => {
    const discover = await runTap(["--config", files["config.json"]!, "--discover"], {});
    expect(discover.code, discover.stderr).toBe(0);
    const discovered = JSON.parse(discover.stdout) as Catalog;
    const id = discovered.streams.find((s) => s.tap_stream_id.endsWith("-public-big"))!.tap_stream_id;
    const catalog = selecting(discovered, [id], { [id]: "INCREMENTAL" }, { [id]: "at" });
    // Row 29,990's timestamp as Python's isoformat() writes it (the SDK's to_json_compatible): 2024-01-01T00:00:00.029990+00:00.
    const from = "2024-01-01T00:00:00.029990+00:00";
    const sdk = {
      replication_key: "at",
      replication_key_value: from,
      starting_replication_value: "2024-01-01T00:00:00+00:00",
      replication_key_signpost: "2099-01-01T00:00:00+00:00",
      progress_markers: { Note: "Progress is not resumable if interrupted.", replication_key: "at", replication_key_value: "2099-01-01T00:00:00+00:00" },
      partitions: [{ context: { schema: "public" }, replication_key: "at", replication_key_value: "2099-01-01T00:00:00+00:00" }],
    };
    const f = tempFiles({ "catalog.json": catalog, "state.json": { singer_state: { bookmarks: { [id]: sdk } } } });
    const run = await runTap(["--config", files["config.json"]!, "--catalog", f["catalog.json"]!, "--state", f["state.json"]!], {
      env: { TZ: "UTC", PGTZ: "UTC" },
    });
    expect(run.code, run.stderr).toBe(0);
    const warnings = run.stderr.split("\n").filter((l) => l.startsWith("WARNING ") && l.includes("state.json"));
    expect(warnings).toEqual([
      expect.stringMatching(
        /bookmarks\..*-public-big: the Meltano SDK's bookmarks of 1 partition\(s\) do not map onto this stream.*resumes from its own replication_key_value$/,
      ),
    ]);
    const ids = records(run.messages()).map((r) => Number(r.record.id));
    expect(ids).toEqual(Array.from({ length: 11 }, (_, i) => 29_990 + i)); // from the SDK's value, ties included
    const end = run.messages().filter((m) => m.type === "STATE").at(-1)!.value as { bookmarks: Record<string, Record<string, unknown>> };
    expect(Object.keys(end.bookmarks[id]!).sort()).toEqual(["replication_key", "replication_key_value"]);
  });
});

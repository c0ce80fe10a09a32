// The contract with a real Meltano 3.x: the argv, files and environment it
// passes (../shared/meltano/INVOCATIONS.md), reproduced without Meltano, which
// cannot be installed here. `meltano run` three times with its state, every
// `meltano invoke` / `config test` / `select --list` pattern, the plugin
// definition's default selection, and the logs as Meltano 3 and 4 read them.
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachDatabase, startSimulator } from "../simulator/index.ts";
import type { Simulator } from "../simulator/index.ts";
import { command, ROOT, runTap, RUNTIMES, tempFiles } from "./helpers/tap.ts";
import { meltanoCatalog, runDir, yamlSelect } from "./helpers/meltano.ts";
import { createDatabase, readerRole, sql } from "./postgres/helpers.ts";
import { Catalog, isStreamSelected } from "../src/singer/catalog.ts";
import type { Message } from "../src/singer/messages.ts";

const SCRIPT = `
CREATE SCHEMA "Sales-EU";
CREATE TABLE secret_stuff (id int);
CREATE TABLE partly_visible (id int, visible text, hidden text);
CREATE TABLE orders (id int8 PRIMARY KEY, total numeric, updated_at timestamptz NOT NULL);
INSERT INTO orders SELECT i, i * 1.5, '2024-01-01'::timestamptz + i * interval '1 minute' FROM generate_series(1, 300) i;
CREATE TABLE customers (id int8 PRIMARY KEY, name text);
INSERT INTO customers SELECT i, 'c' || i FROM generate_series(1, 50) i;`;

const PLUGIN = readFileSync(new URL("../meltano/tap-heroku.yml", import.meta.url), "utf8");

let sim: Simulator;
let dbUrl: string;
let config: Record<string, unknown>;
let discovered: Catalog;
let ordersId: string;

beforeAll(async () => {
  sim = await startSimulator({ apps: 2, postgresApps: 1 });
  dbUrl = await createDatabase("tap_meltano", SCRIPT);
  const url = await readerRole("tap_meltano", "tap_meltano_reader");
  const app = attachDatabase(sim, url);
  config = { token: "test-token", api_url: sim.url, apps: [app], postgres: { schemas: ["public"] } };
  const run = await runTap(["--config", runDir(config).config, "--discover"]);
  expect(run.code, run.stderr).toBe(0);
  discovered = Catalog.parse(JSON.parse(run.stdout));
  ordersId = discovered.streams.find((s) => s.tap_stream_id.endsWith("-public-orders"))!.tap_stream_id;
});
afterAll(async () => {
  await sim?.close();
});

/** A catalog without its row-count estimates, which move when autovacuum analyzes a table between runs. */
const withoutEstimates = (catalog: unknown) => JSON.parse(JSON.stringify(catalog, (k, v) => (k === "row-count" ? undefined : v)));

const records = (ms: Message[], stream: string) => ms.filter((m): m is Extract<Message, { type: "RECORD" }> => m.type === "RECORD" && m.stream === stream);
const lastState = (ms: Message[]) => ms.filter((m): m is Extract<Message, { type: "STATE" }> => m.type === "STATE").at(-1)!.value;

describe("the plugin definition's default selection", () => {
  it("selects through Meltano exactly the streams the tap selects by default: the API streams, no table", () => {
    const viaMeltano = meltanoCatalog(discovered, yamlSelect(PLUGIN));
    const ids = (c: Catalog) => c.streams.filter(isStreamSelected).map((s) => s.tap_stream_id).sort();
    expect(ids(viaMeltano)).toEqual(ids(discovered));
    expect(ids(viaMeltano)).toContain("apps");
    expect(ids(viaMeltano).some((id) => id.includes("-public-"))).toBe(false);
    // Why the definition ships it: Meltano's own default, *.*, selects every table.
    expect(ids(meltanoCatalog(discovered, ["*.*"]))).toContain(ordersId);
  });
});

describe("meltano run, three times, with Meltano's state", () => {
  it("discovers with and without state, syncs a selected INCREMENTAL table, and sends only what changed", async () => {
    const dir = runDir(config);
    // meltano.yml: the definition's select plus one table, and metadata making it INCREMENTAL.
    const select = [...yamlSelect(PLUGIN), `${ordersId}.*`];
    const metadata = { [ordersId]: { "replication-method": "INCREMENTAL", "replication-key": "updated_at" } };

    const meltanoRun = async (first: boolean) => {
      dir.write("catalog", ""); // emptied before discovery, so not passed
      const discover = await runTap(first ? ["--config", dir.config, "--discover"] : ["--config", dir.config, "--state", dir.state, "--discover"]);
      expect(discover.code, discover.stderr).toBe(0);
      expect(withoutEstimates(JSON.parse(discover.stdout))).toEqual(withoutEstimates(discovered));
      dir.write("catalog", meltanoCatalog(Catalog.parse(JSON.parse(discover.stdout)), select, metadata));
      const sync = await runTap(
        first ? ["--config", dir.config, "--catalog", dir.catalog] : ["--config", dir.config, "--catalog", dir.catalog, "--state", dir.state],
      );
      expect(sync.code, sync.stderr).toBe(0);
      const messages = sync.messages();
      dir.write("state", lastState(messages)); // Meltano's backend keeps it and hands back the bare state
      return messages;
    };

    const first = await meltanoRun(true);
    expect(records(first, ordersId)).toHaveLength(300);
    expect(records(first, "apps").length).toBeGreaterThan(0);
    expect(first.some((m) => m.type === "RECORD" && m.stream.endsWith("-public-customers"))).toBe(false);

    await sql(dbUrl, `INSERT INTO orders SELECT i, i * 1.5, '2025-01-01'::timestamptz + i * interval '1 minute' FROM generate_series(301, 310) i`);
    const second = await meltanoRun(false);
    // INCREMENTAL reads key >= bookmark: the last row of the first run, then the ten new ones.
    expect(records(second, ordersId).map((r) => (r.record as { id: number }).id)).toEqual([300, ...Array.from({ length: 10 }, (_, i) => 301 + i)]);

    const third = await meltanoRun(false);
    expect(records(third, ordersId).map((r) => (r.record as { id: number }).id)).toEqual([310]);
    const state = lastState(third) as { bookmarks: Record<string, { replication_key_value: string }> };
    expect(state.bookmarks[ordersId]!.replication_key_value).toBe("2025-01-01 05:10:00+00");

    // `meltano state get` prints it wrapped; a state file in that form is accepted too.
    const wrapped = tempFiles({ "state.json": { singer_state: state } });
    const again = await runTap(["--config", dir.config, "--catalog", dir.catalog, "--state", wrapped["state.json"]!]);
    expect(again.code, again.stderr).toBe(0);
    expect(records(again.messages(), ordersId)).toHaveLength(1);
  });
});

describe.each(RUNTIMES)("every argv Meltano 3.x builds, on %s", (runtime) => {
  const setup = () => {
    const dir = runDir(config);
    dir.write("catalog", meltanoCatalog(discovered, yamlSelect(PLUGIN)));
    dir.write("state", { bookmarks: {} });
    return dir;
  };

  it("invoke --about: --config and --catalog are ignored, the output is the plain --about", async () => {
    const dir = setup();
    const plain = await runTap(["--about"], { runtime });
    const viaMeltano = await runTap(["--config", dir.config, "--catalog", dir.catalog, "--about"], { runtime, env: { LOG_LEVEL: "debug" } });
    expect(viaMeltano.code, viaMeltano.stderr).toBe(0);
    expect(viaMeltano.stdout).toBe(plain.stdout);
    expect(JSON.parse(viaMeltano.stdout).name).toBe("tap-heroku");
    expect(viaMeltano.stderr).toMatch(/^DEBUG --about ignores --config, --catalog$/m);
  });

  it("invoke --discover with a catalog and state on disk, and discovery with an emptied catalog file: both ignored", async () => {
    const dir = setup();
    const withBoth = await runTap(["--config", dir.config, "--catalog", dir.catalog, "--state", dir.state, "--discover"], {
      runtime,
      env: { LOG_LEVEL: "debug" },
    });
    expect(withBoth.code, withBoth.stderr).toBe(0);
    expect(withoutEstimates(JSON.parse(withBoth.stdout))).toEqual(withoutEstimates(discovered));
    expect(withBoth.stderr).toMatch(/^DEBUG --discover ignores --catalog, --state$/m);

    dir.write("catalog", "");
    const emptied = await runTap(["--config", dir.config, "--catalog", dir.catalog, "--discover"], { runtime });
    expect(emptied.code, emptied.stderr).toBe(0);
    expect(JSON.parse(emptied.stdout).streams).toHaveLength(discovered.streams.length);
  });

  it("invoke --test: checks what the catalog selects; state ignored", async () => {
    const dir = setup();
    const run = await runTap(["--config", dir.config, "--catalog", dir.catalog, "--state", dir.state, "--test"], { runtime });
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ok +token: accepted/);
    expect(lines.every((l) => /^(ok|warn) /.test(l)), run.stdout).toBe(true);
    expect(lines.some((l) => /database .*reachable, \d+ tables/.test(l))).toBe(true);
  });

  it("a plugin command `--config ENV --test`: settings from Meltano's TAP_HEROKU_* variables", async () => {
    const run = await runTap(["--config", "ENV", "--test=all"], {
      runtime,
      env: {
        TAP_HEROKU_TOKEN: "test-token",
        TAP_HEROKU_API_URL: sim.url,
        TAP_HEROKU_APPS: (config.apps as string[]).join(","),
        TAP_HEROKU_POSTGRES_SCHEMAS: '["public"]',
      },
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^ok +token: accepted/);
  });

  it("config test: a sync without state that Meltano stops (SIGTERM) at the first RECORD", async () => {
    const dir = setup();
    const [cmd, pre] = command(runtime);
    const child = spawn(cmd, [...pre, "--config", dir.config, "--catalog", dir.catalog], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let seen: string | undefined;
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    let buffered = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      buffered += d;
      for (const line of buffered.split("\n").slice(0, -1)) {
        if (!seen && JSON.parse(line).type === "RECORD") {
          seen = line;
          child.kill("SIGTERM"); // what Meltano's ExtractorTestService does
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(seen, stderr).toBeDefined();
    expect(code).toBe(143);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe("logs as Meltano reads them", () => {
  const warnConfig = () => ({ ...config, postgres: { enabled: false }, an_unknown_setting: 1 });
  const sync = async (env: Record<string, string>) => {
    const dir = runDir(warnConfig());
    dir.write("catalog", meltanoCatalog(discovered, ["apps.*", "releases.*", "domains.*"]));
    const { SINGER_SDK_LOG_CONFIG: meltano, SDK_LEVEL: level, ...rest } = env;
    const logConfig = meltano ? dir.logConfig(Number(meltano) as 3 | 4, level) : "";
    const run = await runTap(["--config", dir.config, "--catalog", dir.catalog], { env: { ...rest, SINGER_SDK_LOG_CONFIG: logConfig } });
    expect(run.code, run.stderr).toBe(0);
    return run.stderr.trimEnd().split("\n");
  };

  it("Meltano 3 (SDK config asks for the bare message): info lines without a level word, warnings keep theirs", async () => {
    const lines = await sync({ SINGER_SDK_LOG_CONFIG: "3" });
    expect(lines.some((l) => l.startsWith("INFO "))).toBe(false);
    expect(lines.some((l) => /^apps: \d+ records in/.test(l))).toBe(true);
    expect(lines.some((l) => /^WARNING .*an_unknown_setting/.test(l))).toBe(true);
    expect(lines.some((l) => /^METRIC: \{"type":"counter","metric":"record_count"/.test(l))).toBe(true); // the SDK's bare METRIC line
  });

  it("Meltano 4 (SDK config asks for structured logs): every line is an SDK log object at its own level, metrics in metric_info", async () => {
    const lines = await sync({ SINGER_SDK_LOG_CONFIG: "4" });
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    // The fields Meltano's SingerSDKLogParser requires before it maps the level.
    for (const p of parsed) {
      expect(Object.keys(p)).toEqual(expect.arrayContaining(["level", "pid", "logger_name", "ts", "thread_name", "app_name", "stream_name", "message"]));
    }
    expect(parsed.find((p) => p.level === "warning")?.message).toMatch(/an_unknown_setting/);
    expect(parsed.some((p) => p.level === "info" && /^apps: \d+ records/.test(p.message as string))).toBe(true);
    const metrics = parsed.filter((p) => p.message === "METRIC");
    expect(metrics.length).toBeGreaterThan(0);
    expect(metrics[0]).toMatchObject({
      logger_name: "tap-heroku.metrics",
      metric_info: { type: expect.any(String), metric: expect.any(String), tags: expect.any(Object) },
    });
  });

  it("the level in Meltano's SDK config applies when LOG_LEVEL is unset; LOG_LEVEL wins when set", async () => {
    const quiet = await sync({ SINGER_SDK_LOG_CONFIG: "4", SDK_LEVEL: "WARNING" });
    expect(quiet.map((l) => JSON.parse(l).level)).toEqual(["warning"]);
    const loud = await sync({ SINGER_SDK_LOG_CONFIG: "4", SDK_LEVEL: "WARNING", LOG_LEVEL: "info" });
    expect(loud.map((l) => JSON.parse(l).level)).toContain("info");
  });

  it("METRIC lines: a few per stream at info, one per request only at debug, none with metrics_log_level=warning", async () => {
    const info = (await sync({})).filter((l) => l.startsWith("INFO METRIC: "));
    const requests = info.map((l) => JSON.parse(l.slice("INFO METRIC: ".length))).filter((m) => m.metric === "http_request_count");
    expect(requests).toHaveLength(1); // a count a minute and one at the end, not a line per request
    const total = requests[0].value as number;
    expect(total).toBeGreaterThan(3);
    expect(info.some((l) => l.includes('"http_request_duration"'))).toBe(false);
    expect(info.filter((l) => l.includes('"record_count"')).map((l) => JSON.parse(l.slice(13)).tags.stream).sort()).toEqual(["apps", "domains", "releases"]);

    const debug = (await sync({ LOG_LEVEL: "debug" })).filter((l) => l.includes('"http_request_duration"'));
    expect(debug.length).toBe(total);

    const dir = runDir({ ...warnConfig(), metrics_log_level: "WARNING" });
    dir.write("catalog", meltanoCatalog(discovered, ["apps.*"]));
    const none = await runTap(["--config", dir.config, "--catalog", dir.catalog]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stderr).not.toMatch(/METRIC/);
    expect(none.stderr).toMatch(/^INFO apps: \d+ records/m);
  });

  it("an invalid LOG_LEVEL is named in one warning, and the run goes on at info", async () => {
    const run = await runTap(["--about"], { env: { LOG_LEVEL: "verbose" } });
    expect(run.code).toBe(0);
    expect(run.stderr.trimEnd()).toBe("WARNING LOG_LEVEL=verbose is not a level (debug, info, warning, error); using info");
  });
});

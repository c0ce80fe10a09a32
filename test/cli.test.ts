// The CLI end to end, as Meltano runs it: a subprocess on Node and on Deno
// against the loopback Heroku simulator; stdout parsed as Singer messages.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../simulator/index.ts";
import type { Simulator } from "../simulator/index.ts";
import { runTap, RUNTIMES, tempFiles } from "./helpers/tap.ts";
import { validate } from "./helpers/json-schema.ts";
import type { Message } from "../src/singer/messages.ts";
import type { JSONSchema7 } from "json-schema";

let sim: Simulator;
let files: Record<string, string> & { dir: string };

beforeAll(async () => {
  sim = await startSimulator({ apps: 2300, sizes: { "/apps": 2300 } });
  files = tempFiles({ "config.json": { token: "test-token", api_url: sim.url, postgres: { enabled: false } } });
});
afterAll(() => sim.close());

const byType = <T extends Message["type"]>(messages: Message[], type: T) => messages.filter((m): m is Extract<Message, { type: T }> => m.type === type);

const catalogSelecting = (
  catalog: { streams: Array<{ tap_stream_id: string; metadata: Array<{ breadcrumb: string[]; metadata: Record<string, unknown> }> }> },
  ids: string[],
) => ({
  streams: catalog.streams.map((s) => ({
    ...s,
    metadata: s.metadata.map((m) => (m.breadcrumb.length === 0 ? { ...m, metadata: { ...m.metadata, selected: ids.includes(s.tap_stream_id) } } : m)),
  })),
});

describe.each(RUNTIMES)("on %s", (runtime) => {
  it("discovers, syncs apps over several pages, and resumes from its own state", async () => {
    const discover = await runTap(["--config", files["config.json"]!, "--discover"], { runtime });
    expect(discover.stderr).toBe("");
    expect(discover.code).toBe(0);
    const catalog = JSON.parse(discover.stdout);
    const apps = catalog.streams.find((s: { tap_stream_id: string }) => s.tap_stream_id === "apps");
    expect(apps.key_properties).toEqual(["id"]);
    const root = apps.metadata.find((m: { breadcrumb: string[] }) => m.breadcrumb.length === 0).metadata;
    expect(root["replication-method"]).toBe("INCREMENTAL");
    expect(root["replication-key"]).toBe("updated_at");

    const selected = tempFiles({ "catalog.json": catalogSelecting(catalog, ["apps"]) });
    sim.resetLog();
    const first = await runTap(["--config", files["config.json"]!, "--catalog", selected["catalog.json"]!], { runtime });
    expect(first.code, first.stderr).toBe(0);
    const messages = first.messages();
    expect(messages[0]).toMatchObject({ type: "SCHEMA", stream: "apps", key_properties: ["id"] });
    const records = byType(messages, "RECORD");
    expect(records).toHaveLength(sim.total("/apps"));
    expect(new Set(records.map((r) => r.record.id)).size).toBe(sim.total("/apps"));
    const schema = byType(messages, "SCHEMA")[0]!.schema as JSONSchema7;
    for (const r of records) expect(validate(schema, r.record)).toEqual([]);
    // 2,300 apps in pages of at most 1,000: three requests, no more.
    expect(sim.requests.filter((r) => r.path === "/apps")).toHaveLength(3);
    expect(sim.requests.every((r) => r.method === "GET")).toBe(true);

    const states = byType(messages, "STATE");
    const last = states.at(-1)!.value as { bookmarks: Record<string, { replication_key_value: string }>; currently_syncing: unknown };
    expect(last.currently_syncing).toBeNull();
    const newest = records.map((r) => String(r.record.updated_at)).sort().at(-1);
    expect(last.bookmarks.apps!.replication_key_value).toBe(newest);

    // Second run from the first run's state: only the touched app and the ties at the bookmark.
    const touchedId = String(records[5]!.record.id);
    sim.touch("/apps", touchedId, new Date(Date.parse(newest!) + 60_000));
    const state = tempFiles({ "state.json": last });
    const second = await runTap(["--config", files["config.json"]!, "--catalog", selected["catalog.json"]!, "--state", state["state.json"]!], { runtime });
    expect(second.code, second.stderr).toBe(0);
    const again = byType(second.messages(), "RECORD").map((r) => r.record);
    expect(again.map((r) => r.id)).toContain(touchedId);
    expect(again.every((r) => String(r.updated_at) >= newest!)).toBe(true);
    expect(again.length).toBeLessThan(records.length);
  });

  it("syncs the default selection without a catalog, parents before children", async () => {
    // Children of every app are selected by default: a small account keeps this quick.
    const small = await startSimulator({ apps: 3 });
    try {
      const f = tempFiles({ "c.json": { token: "test-token", api_url: small.url, postgres: { enabled: false } } });
      const run = await runTap(["--config", f["c.json"]!], { runtime });
      expect(run.code, run.stderr).toBe(0);
      const order = byType(run.messages(), "SCHEMA").map((m) => m.stream);
      expect(order).toContain("releases");
      expect(order.indexOf("apps")).toBeLessThan(order.indexOf("releases"));
      expect(run.stderr).toMatch(/summary:/);
    } finally {
      await small.close();
    }
  });

  it("reads settings from TAP_HEROKU_* with --config ENV and the token from HEROKU_API_KEY", async () => {
    const run = await runTap(["--config", "ENV", "--discover"], {
      runtime,
      env: { TAP_HEROKU_API_URL: sim.url, HEROKU_API_KEY: "test-token", TAP_HEROKU_MAX_RETRIES: "2", TAP_HEROKU_POSTGRES_ENABLED: "false" },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).streams.length).toBeGreaterThan(0);
  });

  it("describes itself with --about", async () => {
    const json = await runTap(["--about", "--format", "json"], { runtime });
    expect(json.code).toBe(0);
    const about = JSON.parse(json.stdout);
    expect(about.name).toBe("tap-heroku");
    expect(about.capabilities).toEqual(expect.arrayContaining(["catalog", "discover", "state", "about"]));
    expect(about.settings.properties.token).toBeDefined();
    expect(about.settings.required).toContain("token");
    const md = await runTap(["--about", "--format", "markdown"], { runtime });
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/\| `token` \| yes \|/);
  });
});

describe("stream order", () => {
  it("follows the tap's order, parents first, whatever order the catalog lists them in", async () => {
    const small = await startSimulator({ apps: 3 });
    try {
      const f = tempFiles({ "c.json": { token: "test-token", api_url: small.url, postgres: { enabled: false } } });
      const catalog = catalogSelecting(JSON.parse((await runTap(["--config", f["c.json"]!, "--discover"])).stdout), ["apps", "releases"]);
      catalog.streams.reverse(); // releases before apps
      const c = tempFiles({ "cat.json": catalog });
      small.resetLog();
      const run = await runTap(["--config", f["c.json"]!, "--catalog", c["cat.json"]!]);
      expect(run.code, run.stderr).toBe(0);
      expect(byType(run.messages(), "SCHEMA").map((m) => m.stream)).toEqual(["apps", "releases"]);
      // The apps walk fills the parent list: /apps is read once, not again for releases.
      expect(small.requests.filter((r) => r.path === "/apps")).toHaveLength(1);
    } finally {
      await small.close();
    }
  });
});

describe("deselected properties", () => {
  it("are left out of SCHEMA and RECORD; keys stay", async () => {
    const discover = await runTap(["--config", files["config.json"]!, "--discover"]);
    const catalog = catalogSelecting(JSON.parse(discover.stdout), ["apps"]);
    const apps = catalog.streams.find((s) => s.tap_stream_id === "apps")!;
    apps.metadata = apps.metadata.map((m) =>
      m.breadcrumb[1] === "name" || m.breadcrumb[1] === "id"
        ? { ...m, metadata: { ...m.metadata, selected: true } }
        : m.breadcrumb.length
        ? { ...m, metadata: { ...m.metadata, selected: false } }
        : m
    );
    const f = tempFiles({ "catalog.json": catalog });
    const run = await runTap(["--config", files["config.json"]!, "--catalog", f["catalog.json"]!]);
    expect(run.code, run.stderr).toBe(0);
    const schema = byType(run.messages(), "SCHEMA")[0]!.schema as JSONSchema7;
    expect(Object.keys(schema.properties!).sort()).toEqual(["id", "name", "updated_at"]);
    for (const r of byType(run.messages(), "RECORD")) expect(Object.keys(r.record).sort()).toEqual(["id", "name", "updated_at"]);
  });
});

describe("bad input: one line on stderr, exit 2, no stack trace", () => {
  const good = () => ({ token: "test-token", api_url: sim.url });
  const discoverCatalog = async () => JSON.parse((await runTap(["--config", files["config.json"]!, "--discover"])).stdout);

  const cases: Array<[string, () => Promise<string[]>, RegExp]> = [
    ["missing config file", async () => ["--config", "/nonexistent/config.json"], /config file \/nonexistent\/config\.json: no such file/],
    ["config not JSON", async () => ["--config", tempFiles({ "c.json": "{nope" })["c.json"]!], /config file .*c\.json: not valid JSON/],
    // A file holding only the token (a common mistake): the message must not quote it, and stays one line.
    [
      "config not JSON that is a bare token",
      async () => ["--config", tempFiles({ "c.json": "hrku-SECRET-0123456789\nsecond line\n" })["c.json"]!],
      /^ERROR config file .*c\.json: not valid JSON \(it does not start with \{ or \[\)$/,
    ],
    [
      "config not JSON, with the place of the error",
      async () => ["--config", tempFiles({ "c.json": '{\n  "token": "hrku-SECRET-0123456789"\n  "api_url": 1\n}' })["c.json"]!],
      /^ERROR config file .*c\.json: not valid JSON \(line 3, column 3\)$/,
    ],
    ["an empty config file", async () => ["--config", tempFiles({ "c.json": "" })["c.json"]!], /c\.json: not valid JSON \(the file is empty\)$/],
    [
      "a token that is not a string",
      async () => ["--config", tempFiles({ "c.json": { ...good(), token: 12345 } })["c.json"]!],
      /c\.json: field "token": expected the Heroku API token .*, found a number$/,
    ],
    [
      "api_url over plain http to a host that is not loopback",
      async () => ["--config", tempFiles({ "c.json": { ...good(), api_url: "http://api.heroku.com" } })["c.json"]!],
      /field "api_url": plain http:\/\/ would send the token in clear text; use https:\/\//,
    ],
    [
      "state that is a list",
      async () => ["--config", files["config.json"]!, "--state", tempFiles({ "s.json": [] })["s.json"]!],
      /state file .*s\.json: expected an object, found a list$/,
    ],
    ["--log-level that is not a level", async () => ["--log-level", "loud", "--about"], /--log-level must be debug, info, warning or error, not "loud"/],
    ["config not an object", async () => ["--config", tempFiles({ "c.json": [1, 2] })["c.json"]!], /c\.json: expected a JSON object/],
    ["empty token", async () => ["--config", tempFiles({ "c.json": { ...good(), token: "" } })["c.json"]!], /c\.json: field "token": must not be empty/],
    [
      "bad start_date",
      async () => ["--config", tempFiles({ "c.json": { ...good(), start_date: "last tuesday" } })["c.json"]!],
      /c\.json: field "start_date": expected an RFC 3339/,
    ],
    [
      "max_retries of the wrong type",
      async () => ["--config", tempFiles({ "c.json": { ...good(), max_retries: "five" } })["c.json"]!],
      /c\.json: field "max_retries"/,
    ],
    [
      "postgres.max_connections below 1",
      async () => ["--config", tempFiles({ "c.json": { ...good(), postgres: { max_connections: 0 } } })["c.json"]!],
      /c\.json: field "postgres\.max_connections": Too small: expected number to be >=1$/,
    ],
    [
      "postgres.max_statement_s of 0",
      async () => ["--config", tempFiles({ "c.json": { ...good(), postgres: { max_statement_s: 0 } } })["c.json"]!],
      /c\.json: field "postgres\.max_statement_s": expected a number of seconds$/,
    ],
    [
      "a delete detection state limit of 0 KB",
      async () => ["--config", tempFiles({ "c.json": { ...good(), postgres: { detect_deletes: true, detect_deletes_max_kb: 0 } } })["c.json"]!],
      /c\.json: field "postgres\.detect_deletes_max_kb": .*0/,
    ],
    [
      "bad api_url",
      async () => ["--config", tempFiles({ "c.json": { ...good(), api_url: "not a url" } })["c.json"]!],
      /field "api_url": expected an http\(s\) URL/,
    ],
    [
      "data_api_url over plain http to a host that is not loopback",
      async () => ["--config", tempFiles({ "c.json": { ...good(), data_api_url: "http://api.data.heroku.com" } })["c.json"]!],
      /field "data_api_url": plain http:\/\/ would send the token in clear text/,
    ],
    [
      "metrics.lookback_hours beyond Heroku's retention",
      async () => ["--config", tempFiles({ "c.json": { ...good(), metrics: { lookback_hours: 500 } } })["c.json"]!],
      /field "metrics\.lookback_hours": Heroku keeps metrics for 7 days \(168 hours\) at most/,
    ],
    ["no token anywhere", async () => ["--config", tempFiles({ "c.json": { api_url: sim.url } })["c.json"]!], /field "token": expected the Heroku API token/],
    [
      "catalog not JSON",
      async () => ["--config", files["config.json"]!, "--catalog", tempFiles({ "cat.json": "[" })["cat.json"]!],
      /catalog file .*cat\.json: not valid JSON/,
    ],
    [
      "catalog of the wrong shape",
      async () => ["--config", files["config.json"]!, "--catalog", tempFiles({ "cat.json": { streams: {} } })["cat.json"]!],
      /cat\.json: field "streams": streams must be a list/,
    ],
    [
      "catalog selecting an unknown stream",
      async () => {
        const c = { streams: [{ tap_stream_id: "nope", stream: "nope", schema: {}, metadata: [{ breadcrumb: [], metadata: { selected: true } }] }] };
        return ["--config", files["config.json"]!, "--catalog", tempFiles({ "cat.json": c })["cat.json"]!];
      },
      /cat\.json: streams\[0\] \(nope\): the stream is selected but this tap has no such stream/,
    ],
    [
      "replication-key that is not a valid key",
      async () => {
        const c = catalogSelecting(await discoverCatalog(), ["apps"]);
        const apps = c.streams.find((s) => s.tap_stream_id === "apps")!;
        apps.metadata[0]!.metadata["replication-key"] = "name";
        return ["--config", files["config.json"]!, "--catalog", tempFiles({ "cat.json": c })["cat.json"]!];
      },
      /\(apps\): replication-key "name" is not one of the stream's valid replication keys \(updated_at\)/,
    ],
    [
      "INCREMENTAL on a stream that cannot do it",
      async () => {
        const cat = await discoverCatalog();
        const full = cat.streams.find((s: { metadata: Array<{ breadcrumb: string[]; metadata: Record<string, unknown> }> }) =>
          s.metadata[0]!.metadata["forced-replication-method"] === "FULL_TABLE"
        );
        const c = catalogSelecting(cat, [full.tap_stream_id]);
        c.streams.find((s) => s.tap_stream_id === full.tap_stream_id)!.metadata[0]!.metadata["replication-method"] = "INCREMENTAL";
        return ["--config", files["config.json"]!, "--catalog", tempFiles({ "cat.json": c })["cat.json"]!];
      },
      /replication-method INCREMENTAL is impossible for this stream/,
    ],
    [
      "replication-method that is not a method",
      async () => {
        const c = catalogSelecting(await discoverCatalog(), ["apps"]);
        c.streams.find((s) => s.tap_stream_id === "apps")!.metadata[0]!.metadata["replication-method"] = "SOMETIMES";
        return ["--config", files["config.json"]!, "--catalog", tempFiles({ "cat.json": c })["cat.json"]!];
      },
      /\(apps\): field "metadata.replication-method": replication-method must be one of/,
    ],
    [
      "state not JSON",
      async () => ["--config", files["config.json"]!, "--state", tempFiles({ "s.json": "x" })["s.json"]!],
      /state file .*s\.json: not valid JSON/,
    ],
    [
      "state of the wrong shape",
      async () => ["--config", files["config.json"]!, "--state", tempFiles({ "s.json": { bookmarks: [] } })["s.json"]!],
      /s\.json: field "bookmarks": expected an object of bookmarks/,
    ],
    [
      "state bookmark of the wrong type",
      async () => ["--config", files["config.json"]!, "--state", tempFiles({ "s.json": { bookmarks: { apps: { replication_key_value: 12 } } } })["s.json"]!],
      /s\.json: field "bookmarks\.apps\.replication_key_value": expected an RFC 3339 date-time/,
    ],
    ["an unknown flag", async () => ["--config", files["config.json"]!, "--frobnicate"], /Unknown option --frobnicate/],
    [
      "two modes: --discover and --about",
      async () => ["--config", files["config.json"]!, "--discover", "--about"],
      /--about and --discover are different modes; give one/,
    ],
    ["two modes: --discover and --test", async () => ["--config", files["config.json"]!, "--test", "--discover"], /--discover and --test are different modes/],
    [
      "--test with a value it does not know",
      async () => ["--config", files["config.json"]!, "--test=bogus"],
      /--test takes no value, "all" or "schema", not "bogus"/,
    ],
    [
      "--catalog with --properties",
      async () => ["--config", files["config.json"]!, "--catalog", "a.json", "--properties", "b.json"],
      /--catalog and --properties/,
    ],
    ["--format without --about", async () => ["--format", "json"], /--format goes with --about/],
    ["--config without a value", async () => ["--discover", "--config"], /--config/],
    ["a stray argument", async () => ["sync", "--config", files["config.json"]!], /unexpected argument "sync"/],
  ];

  it.each(cases)("%s", async (_name, args, expected) => {
    const run = await runTap(await args(), { env: { HEROKU_API_KEY: undefined } });
    expect(run.stdout).toBe("");
    expect(run.stderr).not.toMatch(/hrku-SECRET/);
    expect(run.code).toBe(2);
    const lines = run.stderr.trimEnd().split("\n");
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^ERROR /);
    expect(lines[0]).toMatch(expected);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("run-time failures", () => {
  it("with LOG_FORMAT=json, every log line is a JSON object a collector can parse", async () => {
    const f = tempFiles({ "c.json": { token: "revoked-token-5678", api_url: sim.url, postgres: { enabled: false } } });
    const run = await runTap(["--config", f["c.json"]!], { env: { LOG_FORMAT: "json" } });
    expect(run.code).toBe(1);
    const logs = run.stderr.trimEnd().split("\n").filter((l) => !l.startsWith("INFO METRIC: "));
    const parsed = logs.map((l) => JSON.parse(l) as { level: string; message: string; time: string });
    expect(parsed.at(-1)).toMatchObject({ level: "error", message: expect.stringMatching(/^Heroku rejected the token/) });
    for (const p of parsed) expect(Date.parse(p.time)).not.toBeNaN();
  });

  it("a rejected token stops the run with one clear line and exit 1, and the token is never printed", async () => {
    const f = tempFiles({ "c.json": { token: "revoked-token-1234", api_url: sim.url } });
    const run = await runTap(["--config", f["c.json"]!]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(""); // before any stream starts
    expect(run.stderr.trimEnd().split("\n").filter((l) => !l.startsWith("INFO METRIC")).join("\n")).toMatch(
      /^ERROR Heroku rejected the token \(401 unauthorized\): it is invalid, expired or revoked; create one with heroku authorizations:create$/,
    );
    expect(run.stderr + run.stdout).not.toContain("revoked-token-1234");
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  // Nothing listens on port 9. One retry keeps the test short; the default retries for about 30 s.
  const unreachable = { token: "t0ken-unreachable", api_url: "http://127.0.0.1:9", max_retries: 1, retry_backoff_s: 0.05 };

  it("--discover with databases on fails when the API cannot be reached, rather than print a catalog without them", async () => {
    const run = await runTap(["--config", tempFiles({ "c.json": unreachable })["c.json"]!, "--discover"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trimEnd().split("\n").at(-1)).toMatch(
      /^ERROR cannot reach the Heroku API at http:\/\/127\.0\.0\.1:9: GET \/addons: connection refused \(after 2 attempts\)$/,
    );
    // Without databases discovery needs no request (the API catalog is data), so it works offline.
    const offline = await runTap(["--config", tempFiles({ "c.json": { ...unreachable, postgres: { enabled: false } } })["c.json"]!, "--discover"]);
    expect(offline.code, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout).streams.length).toBeGreaterThan(50);
  });

  it("--test prints its fail line when the API cannot be reached", async () => {
    const run = await runTap(["--config", tempFiles({ "c.json": unreachable })["c.json"]!, "--test"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("fail  api: cannot reach http://127.0.0.1:9: GET /account: connection refused (after 2 attempts)\n");
  });
});

describe("the Meltano SDK's other CLI forms", () => {
  it("--test=schema writes the SCHEMA of every stream and nothing else", async () => {
    const run = await runTap(["--config", files["config.json"]!, "--test=schema"]);
    expect(run.code, run.stderr).toBe(0);
    const messages = run.messages();
    expect(messages.every((m) => m.type === "SCHEMA")).toBe(true);
    const catalog = JSON.parse((await runTap(["--config", files["config.json"]!, "--discover"])).stdout) as { streams: { tap_stream_id: string }[] };
    expect(messages.map((m) => (m as { stream: string }).stream)).toEqual(catalog.streams.map((s) => s.tap_stream_id));
    expect(messages.find((m) => (m as { stream: string }).stream === "releases")).toMatchObject({
      key_properties: ["id"],
      bookmark_properties: ["updated_at"],
    });
  });

  it("--about --format text lists the capabilities and each setting with its variable", async () => {
    const run = await runTap(["--about", "--format", "text"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Name: tap-heroku\nDescription: .+\nVersion: \d+\.\d+\.\d+\nSupported Runtimes:\n( {2}- .+\n)+Capabilities:\n {2}- catalog\n/);
    expect(run.stdout).toContain("  - Name: postgres.ssl\n    Type: string\n    Environment Variable: TAP_HEROKU_POSTGRES_SSL\n");
    expect(run.stdout).toContain("  - structured-logging\n");
  });
});

describe.each(RUNTIMES)("--version on %s", (runtime) => {
  it("names the tap and the runtime it really runs on", async () => {
    const run = await runTap(["--version"], { runtime });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(runtime === "deno" ? /^tap-heroku\/\d+\.\d+\.\d+ deno-2\.\d+\.\d+\n$/ : /^tap-heroku\/\d+\.\d+\.\d+ node-\d+\.\d+\.\d+\n$/);
  });
});

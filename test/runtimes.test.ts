// The same sync on every supported runtime writes the same bytes: Node 20 (the
// suite's own), Node 22 and 24 (fetched by scripts/runtimes.ts) and Deno 2. API
// streams and the fixture database's every type; only the extraction time and
// the FULL_TABLE pass's version (a timestamp) may differ.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachDatabase, startSimulator } from "../simulator/index.ts";
import type { Simulator } from "../simulator/index.ts";
import { runTap, RUNTIMES, tempFiles } from "./helpers/tap.ts";
import { createDatabase, readerRole } from "./postgres/helpers.ts";

let sim: Simulator;
let config: string;
let catalog: string;

beforeAll(async () => {
  sim = await startSimulator({ apps: 3, postgresApps: 1 });
  await createDatabase("tap_runtimes");
  const url = await readerRole("tap_runtimes", "tap_runtimes_reader");
  attachDatabase(sim, url);
  config = tempFiles({ "c.json": { token: "test-token", api_url: sim.url, postgres: { batch_size: 100 } } })["c.json"]!;
  const discover = await runTap(["--config", config, "--discover"]);
  expect(discover.code, discover.stderr).toBe(0);
  const c = JSON.parse(discover.stdout) as { streams: { tap_stream_id: string; metadata: { breadcrumb: string[]; metadata: Record<string, unknown> }[] }[] };
  for (const s of c.streams) {
    s.metadata[0]!.metadata.selected = ["apps", "releases", "add_ons"].includes(s.tap_stream_id) || s.tap_stream_id.includes("-public-");
  }
  catalog = tempFiles({ "cat.json": c })["cat.json"]!;
});
afterAll(() => sim?.close());

/**
 * stdout's SCHEMA and RECORD lines, without what is meant to differ from run to
 * run, sorted: child streams' pages arrive in whatever order concurrent requests
 * finish, so the order of their records is not fixed, their bytes are.
 */
const comparable = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l.startsWith('{"type":"RECORD"') || l.startsWith('{"type":"SCHEMA"'))
    .map((l) => l.replace(/,"time_extracted":"[^"]*"/, "").replace(/,"version":\d+\}$/, "}"))
    .sort()
    .join("\n");

describe("one sync on every runtime", () => {
  it("writes byte-identical SCHEMA and RECORD messages on Node 20, 22, 24 and Deno", async () => {
    const outputs = new Map<string, string>();
    for (const runtime of RUNTIMES) {
      const run = await runTap(["--config", config, "--catalog", catalog], { runtime });
      expect(run.code, `${runtime}: ${run.stderr}`).toBe(0);
      outputs.set(runtime, comparable(run.stdout));
    }
    const reference = outputs.get("node")!;
    expect(reference).toMatch(/"stream":"\w+-public-all_types"/);
    expect(reference.split("\n").filter((l) => l.startsWith('{"type":"RECORD"')).length).toBeGreaterThan(100);
    expect(outputs.size).toBe(4);
    for (const [runtime, out] of outputs) expect(out, `${runtime} differs from node`).toBe(reference);
  });
});

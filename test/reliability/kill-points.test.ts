// SIGKILL at seeded random points of a long sync, then a rerun from the last
// STATE line the killed run wrote: the union of both runs' records covers
// every source record (at-least-once), and a record the killed run wrote
// before its last STATE comes again only where the protocol says it may (a
// tie at an incremental bookmark). For API child streams of many apps and for
// a table stream, three kill points each.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { parseMessages, runTap, tempFiles } from "../helpers/tap.ts";
import type { Message } from "../../src/singer/messages.ts";
import { configFile, discover, keyOf, selecting } from "../heroku/util.ts";
import type { Catalog, Rec } from "../heroku/util.ts";
import { createDatabase } from "../postgres/helpers.ts";

/** Seeded points in [lo, hi): mulberry32. */
function points(seed: number, n: number, lo: number, hi: number): number[] {
  let a = seed >>> 0;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: n }, () => Math.floor(lo + rnd() * (hi - lo))).sort((x, y) => x - y);
}

type RecordMsg = Extract<Message, { type: "RECORD" }>;

/** Runs the tap and SIGKILLs it once `killAt` RECORD lines have been read; returns the complete lines. */
async function killedRun(args: string[], killAt: number): Promise<Message[]> {
  let seen = 0;
  let tail = "";
  const run = await runTap(args, {
    onSpawn: (child) =>
      child.stdout!.on("data", (d: Buffer) => {
        const text = tail + d.toString();
        const lines = text.split("\n");
        tail = lines.pop()!;
        for (const l of lines) if (l.startsWith('{"type":"RECORD"')) seen++;
        if (seen >= killAt && !child.killed) child.kill("SIGKILL");
      }),
  });
  expect(run.signal, `killed at ${killAt} records; ${run.stderr.slice(-500)}`).toBe("SIGKILL");
  return parseMessages(run.stdout.slice(0, run.stdout.lastIndexOf("\n") + 1));
}

/** The records before the last STATE line, and that STATE. */
function covered(messages: Message[]): { before: RecordMsg[]; state: unknown } {
  const last = messages.map((m) => m.type).lastIndexOf("STATE");
  return {
    before: messages.slice(0, Math.max(last, 0)).filter((m): m is RecordMsg => m.type === "RECORD"),
    state: last >= 0 ? (messages[last] as Extract<Message, { type: "STATE" }>).value : undefined,
  };
}

const records = (ms: Message[]) => ms.filter((m): m is RecordMsg => m.type === "RECORD");

describe("SIGKILL at random points, then a rerun from the last STATE", () => {
  let sim: Simulator;
  let config: string;
  let catalogFile: string;
  const STREAMS = ["apps", "releases", "domains", "builds", "collaborators"];
  let truth: Set<string>;

  beforeAll(async () => {
    sim = await startSimulator({ apps: 120, perParent: 3, sizes: { "/apps/{app}/releases": 100 } });
    config = configFile({ api_url: sim.url });
    const catalog: Catalog = await discover(config);
    catalogFile = tempFiles({ "cat.json": selecting(catalog, STREAMS) })["cat.json"]!;
    const clean = await runTap(["--config", config, "--catalog", catalogFile]);
    expect(clean.code, clean.stderr).toBe(0);
    truth = new Set(records(clean.messages()).map((r) => `${r.stream}/${keyOf(r.stream, r.record as Rec)}`));
    expect(truth.size).toBeGreaterThan(13_000);
  });
  afterAll(() => sim?.close());

  it.each(points(5, 3, 300, 13_000).map((p) => [p]))("API child streams of 120 apps, killed after %i records", async (killAt) => {
    const first = await killedRun(["--config", config, "--catalog", catalogFile], killAt);
    const { before, state } = covered(first);
    const f = tempFiles({ "state.json": state ?? { bookmarks: {} } });
    const second = await runTap(["--config", config, "--catalog", catalogFile, ...(state ? ["--state", f["state.json"]!] : [])]);
    expect(second.code, second.stderr).toBe(0);
    const key = (r: RecordMsg) => `${r.stream}/${keyOf(r.stream, r.record as Rec)}`;
    const union = new Set([...records(first), ...records(second.messages())].map(key));
    expect([...truth].filter((k) => !union.has(k))).toEqual([]);

    // Repeats of records covered by the STATE are only ties at the bookmark they were resumed from.
    const bookmarks =
      ((state ?? { bookmarks: {} }) as { bookmarks: Record<string, { replication_key_value?: string; partitions?: Record<string, string> }> }).bookmarks;
    const coveredKeys = new Set(before.map(key));
    const bad = records(second.messages())
      .filter((r) => coveredKeys.has(key(r)))
      .filter((r) => {
        const bm = bookmarks[r.stream];
        const rec = r.record as Rec;
        const at = bm?.partitions ? bm.partitions[String(rec.app_id)] : bm?.replication_key_value;
        return at === undefined || String(rec.updated_at) !== at;
      })
      .map(key);
    expect(bad).toEqual([]);
  });
});

describe("SIGKILL at random points of a table, then a rerun from the last STATE", () => {
  const ROWS = 60_000;
  let sim: Simulator;
  let config: string;
  let catalogFile: string;

  beforeAll(async () => {
    sim = await startSimulator({ apps: 1, postgresApps: 1 });
    const url = await createDatabase(
      "tap_rel_kill",
      `CREATE TABLE t (id int8 PRIMARY KEY, note text);
      INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, ${ROWS}) i;`,
    );
    const app = (sim.items("/apps") as { name: string }[])[0]!.name;
    const atts = (sim.items("/apps/{app}/addon-attachments", { app }) as { name: string }[]).map((a) => `${a.name}_URL`);
    sim.setConfigVars(app, Object.fromEntries(atts.map((v) => [v, url])));
    config = tempFiles({ "c.json": { token: "test-token", api_url: sim.url, apps: [app], postgres: { batch_size: 1000 } } })["c.json"]!;
    const catalog = await discover(config);
    const id = catalog.streams.map((s) => s.tap_stream_id).find((s) => s.endsWith("-public-t"))!;
    catalogFile = tempFiles({ "cat.json": selecting(catalog, [id]) })["cat.json"]!;
  });
  afterAll(() => sim?.close());

  it.each(points(4, 3, 1_000, ROWS - 1_000).map((p) => [p]))("a FULL_TABLE table of 60,000 rows, killed after %i records", async (killAt) => {
    const first = await killedRun(["--config", config, "--catalog", catalogFile], killAt);
    const { before, state } = covered(first);
    const f = tempFiles({ "state.json": state ?? { bookmarks: {} } });
    const second = await runTap(["--config", config, "--catalog", catalogFile, ...(state ? ["--state", f["state.json"]!] : [])]);
    expect(second.code, second.stderr).toBe(0);
    const ids = (rs: RecordMsg[]) => rs.map((r) => Number(r.record.id));
    const r2 = ids(records(second.messages()));
    expect(new Set([...ids(records(first)), ...r2]).size).toBe(ROWS);
    // Nothing the last STATE covered is read again.
    const done = new Set(ids(before));
    expect(r2.filter((id) => done.has(id))).toEqual([]);
    // Same version across the kill, then ACTIVATE_VERSION.
    const v1 = records(first)[0]!.version;
    if (before.length > 0) expect(records(second.messages())[0]!.version).toBe(v1);
    expect(second.messages().some((m) => m.type === "ACTIVATE_VERSION")).toBe(true);
  });
});

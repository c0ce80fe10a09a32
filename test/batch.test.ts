// BATCH mode (src/singer/batch.ts and the writer): raw records in JSON Lines
// files, gzipped or not, rotated every batch_size records, each announced by a
// BATCH message; every open file finished and announced before a STATE, so a
// STATE never covers a record outside a finished file; no ACTIVATE_VERSION.
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchConfig, BatchFiles } from "../src/singer/batch.ts";
import { RawJson } from "../src/singer/messages.ts";
import { MessageWriter } from "../src/singer/writer.ts";
import { startSimulator } from "../simulator/index.ts";
import type { Simulator } from "../simulator/index.ts";
import { runTap, tempFiles } from "./helpers/tap.ts";
import { tempDir } from "./helpers/temp.ts";

const root = () => pathToFileURL(tempDir("batch")).href;
const readBatch = (url: string) => {
  const bytes = readFileSync(fileURLToPath(url));
  return (url.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8").trimEnd().split("\n");
};

describe("the writer in BATCH mode", () => {
  it("rotates files every batch_size records and finishes every file before a STATE", async () => {
    const config = BatchConfig.parse({ encoding: { format: "jsonl", compression: "gzip" }, storage: { root: root(), prefix: "p-" }, batch_size: 3 });
    let out = "";
    const writer = new MessageWriter(async (b) => void (out += new TextDecoder().decode(b)), 16, new BatchFiles(config, "tap-heroku"));
    await writer.schema({ stream: "s", schema: {}, key_properties: ["id"] });
    for (let id = 1; id <= 7; id++) {
      await writer.record("s", id % 2 ? { id } : new RawJson(`{"id":${id},"big":12345678901234567890}`), "2024-01-01T00:00:00Z", 5);
    }
    await writer.state({ bookmarks: { s: { n: 7 } } });
    await writer.activateVersion({ stream: "s", version: 5 });
    await writer.flush();

    const lines = out.trimEnd().split("\n").map((l) => JSON.parse(l) as { type: string; manifest?: string[]; encoding?: unknown });
    expect(lines.map((l) => l.type)).toEqual(["SCHEMA", "BATCH", "BATCH", "BATCH", "STATE"]); // 3 + 3 + the 1 left, finished by the STATE
    expect(lines[1]!.encoding).toEqual({ format: "jsonl", compression: "gzip" });
    const files = lines.filter((l) => l.type === "BATCH").map((l) => l.manifest![0]!);
    expect(files.every((f) => /\/p-tap-heroku--s-\d+-\w+-\d+\.json\.gz$/.test(f))).toBe(true);
    // Raw records, not RECORD messages; pre-encoded JSON text kept exact.
    expect(files.flatMap(readBatch)).toEqual([
      '{"id":1}',
      '{"id":2,"big":12345678901234567890}',
      '{"id":3}',
      '{"id":4,"big":12345678901234567890}',
      '{"id":5}',
      '{"id":6,"big":12345678901234567890}',
      '{"id":7}',
    ]);
    expect(writer.counts).toMatchObject({ RECORD: 7, BATCH: 3, STATE: 1, ACTIVATE_VERSION: 0 });
  });

  it("with two streams at once, a STATE holds the state as it was when called, after the BATCH of every record it covers, in call order", async () => {
    const config = BatchConfig.parse({ encoding: { format: "jsonl", compression: "none" }, storage: { root: root() }, batch_size: 3 });
    let out = "";
    const writer = new MessageWriter(async (b) => void (out += new TextDecoder().decode(b)), 16, new BatchFiles(config, "tap-heroku"));
    const state = { bookmarks: {} as Record<string, { id: number }> };
    // Stream a writes a record, saves its bookmark and writes a STATE; stream b does the same before that STATE is out.
    const a = writer.record("a", { id: 1 }, "2024-01-01T00:00:00Z");
    state.bookmarks.a = { id: 1 };
    const first = writer.state(state);
    const b = writer.record("b", { id: 1 }, "2024-01-01T00:00:00Z");
    state.bookmarks.b = { id: 1 };
    const second = writer.state(state);
    await Promise.all([a, b, first, second]);
    await writer.flush();

    const lines = out.trimEnd().split("\n").map((l) => JSON.parse(l) as { type: string; stream?: string; value?: unknown });
    const states = lines.flatMap((l, i) => (l.type === "STATE" ? [i] : []));
    expect(states.map((i) => lines[i]!.value)).toEqual([{ bookmarks: { a: { id: 1 } } }, { bookmarks: { a: { id: 1 }, b: { id: 1 } } }]);
    const announced = (stream: string) => lines.findIndex((l) => l.type === "BATCH" && l.stream === stream);
    expect(announced("a")).toBeLessThan(states[0]!);
    expect(announced("b")).toBeGreaterThan(-1);
    expect(announced("b")).toBeLessThan(states[1]!);
  });

  it("writes uncompressed files with compression none, and refuses parquet and non-file storage with the field named", () => {
    expect(BatchConfig.safeParse({ encoding: { format: "parquet" }, storage: { root: "file:///tmp" } }).error?.issues[0]?.message).toMatch(
      /only "jsonl" is supported/,
    );
    expect(BatchConfig.safeParse({ encoding: { format: "jsonl" }, storage: { root: "s3://bucket" } }).error?.issues[0]?.path).toEqual(["storage", "root"]);
  });
});

describe("a sync with batch_config", () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ apps: 30 });
  });
  afterAll(() => sim?.close());

  it("puts exactly the records of a RECORD-mode run into BATCH files, and no RECORD on stdout", async () => {
    const base = { token: "test-token", api_url: sim.url, postgres: { enabled: false } };
    const cat = (await runTap(["--config", tempFiles({ "c.json": base })["c.json"]!, "--discover"])).stdout;
    const catalog = JSON.parse(cat) as { streams: { tap_stream_id: string; metadata: { metadata: Record<string, unknown> }[] }[] };
    for (const s of catalog.streams) s.metadata[0]!.metadata.selected = ["apps", "releases", "regions"].includes(s.tap_stream_id);
    const c = tempFiles({
      "cat.json": catalog,
      "rec.json": base,
      "bat.json": { ...base, batch_config: { encoding: { format: "jsonl", compression: "none" }, storage: { root: root() }, batch_size: 25 } },
    });

    const records = await runTap(["--config", c["rec.json"]!, "--catalog", c["cat.json"]!]);
    const batched = await runTap(["--config", c["bat.json"]!, "--catalog", c["cat.json"]!]);
    expect(records.code, records.stderr).toBe(0);
    expect(batched.code, batched.stderr).toBe(0);

    const want = new Map<string, string[]>();
    for (const m of records.messages()) if (m.type === "RECORD") want.set(m.stream, [...(want.get(m.stream) ?? []), JSON.stringify(m.record)]);
    const messages = batched.messages();
    expect(messages.some((m) => m.type === "RECORD" || m.type === "ACTIVATE_VERSION")).toBe(false);
    const got = new Map<string, string[]>();
    for (const m of messages) {
      if (m.type === "BATCH") {
        got.set(m.stream, [
          ...(got.get(m.stream) ?? []),
          ...m.manifest.flatMap(readBatch).map((l) => JSON.stringify(JSON.parse(l))),
        ]);
      }
    }
    expect(new Set(got.keys())).toEqual(new Set(want.keys()));
    for (const [stream, rows] of want) expect(got.get(stream)!.sort(), stream).toEqual([...rows].sort());
    // The run's last STATE comes after the last BATCH.
    expect(messages.map((m) => m.type).lastIndexOf("BATCH")).toBeLessThan(messages.map((m) => m.type).lastIndexOf("STATE"));
  });
});

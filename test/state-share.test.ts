// Every STATE line repeats the whole state, and delete detection's kept keys
// can make that megabytes: a STATE line is written only once the records since
// the last one outweigh it STATE_SHARE times over (MessageWriter.stateOutweighed),
// so a large state costs a bounded share of the output, and a small one is
// written as often as ever.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { runSync } from "../src/singer/runner.ts";
import type { Stream } from "../src/singer/stream.ts";
import { MessageWriter, STATE_SHARE } from "../src/singer/writer.ts";
import type { State } from "../src/singer/state.ts";

const RECORDS = 5_000;

/** A stream that saves a bookmark after each record, as a table read does after each chunk. */
const counting: Stream = {
  id: "orders",
  schema: { type: ["null", "object"], properties: { id: { type: ["integer"] }, note: { type: ["string"] } } },
  keyProperties: ["id"],
  validReplicationKeys: ["id"],
  defaultReplicationMethod: "INCREMENTAL",
  selectedByDefault: true,
  bookmark: z.record(z.string(), z.unknown()),
  async sync(ctx) {
    for (let id = 1; id <= RECORDS; id++) {
      await ctx.writeRecord({ id, note: "a note of some forty characters, or so." });
      await ctx.saveBookmark({ replication_key: "id", replication_key_value: id });
    }
  },
};

/** Syncs `counting` beside a state holding another table's kept keys of `keptChars` characters; the lines out. */
async function sync(keptChars: number, stateEvery = 100): Promise<string[]> {
  let out = "";
  const writer = new MessageWriter(async (bytes) => void (out += new TextDecoder().decode(bytes)));
  const state: State = { bookmarks: { "db-public-big": { deletes: { key: ["id"], keys: ["x".repeat(keptChars)] } } } };
  await runSync([{ stream: counting, replicationMethod: "INCREMENTAL", replicationKey: "id", properties: new Set(["id", "note"]) }], {
    writer,
    state,
    startDate: undefined,
    signal: new AbortController().signal,
    stateEvery: { records: stateEvery, seconds: 3600 },
  });
  return out.split("\n").filter(Boolean);
}

const chars = (lines: string[], type: string) => lines.filter((l) => l.startsWith(`{"type":"${type}"`)).reduce((n, l) => n + l.length, 0);

describe("STATE lines and the size of the state", () => {
  it("writes a small state every stateEvery records, as before", async () => {
    const lines = await sync(10);
    // One per 100 records, and the stream's last.
    expect(lines.filter((l) => l.startsWith('{"type":"STATE"')).length).toBe(RECORDS / 100 + 1);
  });

  it("writes a large one only once the records outweigh it, and always the last", async () => {
    const lines = await sync(20_000);
    const states = lines.filter((l) => l.startsWith('{"type":"STATE"'));
    // Every 100 records would be 50 lines of 20 KB, five times the records' 400 KB.
    expect(states.length).toBeGreaterThan(1);
    expect(states.length).toBeLessThan(RECORDS / 100 / 4);
    // The first line comes before the writer knows the state's size, the last is the stream's end.
    expect(chars(lines, "STATE")).toBeLessThanOrEqual(chars(lines, "RECORD") / STATE_SHARE + states[0]!.length + states.at(-1)!.length);
    expect(JSON.parse(states.at(-1)!).value.bookmarks.orders).toEqual({ replication_key: "id", replication_key_value: RECORDS });
    // A STATE never comes before the record its bookmark covers.
    for (const [i, line] of lines.entries()) {
      if (!line.startsWith('{"type":"STATE"')) continue;
      const covered = JSON.parse(line).value.bookmarks.orders?.replication_key_value as number | undefined;
      const written = lines.slice(0, i).filter((l) => l.startsWith('{"type":"RECORD"')).length;
      if (covered !== undefined) expect(covered).toBeLessThanOrEqual(written);
    }
  });
});

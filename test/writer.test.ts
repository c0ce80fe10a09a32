// The writer's promise: output memory is bounded by its chunk size, whatever
// the number of records, because every chunk waits for the sink.
import { describe, expect, it } from "vitest";
import { MessageWriter } from "../src/singer/writer.ts";
import { parseMessages } from "./helpers/tap.ts";
import { RawJson } from "../src/singer/messages.ts";

describe("MessageWriter", () => {
  it("never holds more than one chunk while a slow sink catches up, and keeps order", async () => {
    const chunkSize = 4096;
    const received: Uint8Array[] = [];
    let pendingBytes = 0;
    let maxPending = 0;
    // A slow target: each chunk takes a macrotask to be accepted.
    const writer = new MessageWriter(async (bytes) => {
      pendingBytes += bytes.length;
      maxPending = Math.max(maxPending, pendingBytes);
      await new Promise((r) => setTimeout(r, 0));
      received.push(bytes);
      pendingBytes -= bytes.length;
    }, chunkSize);

    for (let i = 0; i < 20_000; i++) await writer.record("s", { i, pad: "x".repeat(20) }, "2026-01-01T00:00:00.000Z");
    await writer.state({ bookmarks: { s: { i: 19_999 } } });

    const longestLine =
      JSON.stringify({ type: "RECORD", stream: "s", record: { i: 19_999, pad: "x".repeat(20) }, time_extracted: "2026-01-01T00:00:00.000Z" }).length + 1;
    expect(maxPending).toBeLessThanOrEqual(chunkSize + longestLine);
    const text = Buffer.concat(received).toString("utf8");
    const messages = parseMessages(text);
    expect(messages).toHaveLength(20_001);
    expect(messages.slice(0, -1).map((m) => (m.type === "RECORD" ? m.record.i : -1))).toEqual([...Array(20_000).keys()]);
    expect(messages.at(-1)).toEqual({ type: "STATE", value: { bookmarks: { s: { i: 19_999 } } } });
  });

  it("with reuseChunks, encodes every chunk into one buffer, writes chunks one at a time in order, and splits a longer line between characters", async () => {
    const buffers = new Set<ArrayBufferLike>();
    const pieces: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const writer = new MessageWriter(
      async (bytes) => {
        buffers.add(bytes.buffer);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        pieces.push(new TextDecoder().decode(bytes)); // each piece alone: a character cut in two would decode as U+FFFD
        await new Promise((r) => setTimeout(r, 0));
        inFlight--;
      },
      64,
      undefined,
      { reuseChunks: true },
    );
    // Lines of 3-byte and 4-byte characters far longer than the 3 x 64 + 1024-byte buffer, and
    // records handed over without waiting (as streams running beside each other do).
    const long = "é€😀x".repeat(400);
    const written: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) written.push(writer.record(i % 2 ? "a" : "b", { i, pad: i % 40 === 0 ? long : "y" }, "2026-01-01T00:00:00.000Z"));
    await Promise.all(written);
    await writer.state({ bookmarks: {} });

    expect(buffers.size).toBe(1);
    expect(maxInFlight).toBe(1);
    const text = pieces.join("");
    expect(text).not.toContain("\uFFFD");
    const messages = parseMessages(text);
    expect(messages.slice(0, -1).map((m) => (m.type === "RECORD" ? m.record.i : -1))).toEqual([...Array(300).keys()]);
    expect(messages.filter((m) => m.type === "RECORD" && m.record.pad === long)).toHaveLength(8);
    expect(messages.at(-1)).toEqual({ type: "STATE", value: { bookmarks: {} } });
  });

  it("writes pre-encoded JSON as it is, so big numbers keep every digit", async () => {
    let out = "";
    const writer = new MessageWriter(async (b) => void (out += new TextDecoder().decode(b)));
    await writer.record("t", new RawJson('{"n":12345678901234567890,"x":0.10000000000000000000001}'), "2026-01-01T00:00:00.000Z", 7);
    await writer.flush();
    expect(out).toBe(
      '{"type":"RECORD","stream":"t","record":{"n":12345678901234567890,"x":0.10000000000000000000001},"version":7,"time_extracted":"2026-01-01T00:00:00.000Z"}\n',
    );
  });
});

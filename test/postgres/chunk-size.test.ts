// How big a chunk (one COPY statement) is: sized by time alone. Memory is
// bounded by the socket, which stops reading while the writer waits (on Deno
// too: src/deno-socket.ts), not by the chunk.
import { describe, expect, it } from "vitest";
import { ChunkSize } from "../../src/postgres/read.ts";

describe("ChunkSize", () => {
  it("grows while chunks are quick and shrinks when one runs long", () => {
    const c = new ChunkSize(1000, 600);
    c.observe(1000, 10);
    expect(c.rows).toBe(4000);
    c.observe(4000, 10);
    expect(c.rows).toBe(16000);
    c.observe(16000, 10_000);
    expect(c.rows).toBe(8000);
    for (let i = 0; i < 5; i++) c.observe(c.rows, 10_000);
    expect(c.rows).toBe(1000); // never below the first chunk
  });
});

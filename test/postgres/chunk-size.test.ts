// How big a chunk (one COPY statement) is: sized by time alone. Memory is
// bounded by the socket, which stops reading while the writer waits (on Deno
// too: src/deno-socket.ts), not by the chunk.
import { describe, expect, it } from "vitest";
import { ChunkSize } from "../../src/postgres/read.ts";
import { chunkTargetMs } from "../../src/postgres/statement-bound.ts";

describe("ChunkSize", () => {
  it("grows toward the target time at the rate seen, at most 16-fold, and shrinks when one runs long", () => {
    const c = new ChunkSize(1000, 2000);
    c.observe(1000, 10);
    expect(c.rows).toBe(16000); // the rate says 200,000 rows in 2 s; growth is capped
    c.observe(16000, 400);
    expect(c.rows).toBe(80000); // 16,000 rows in 0.4 s: 80,000 in 2 s
    c.observe(80000, 1500);
    expect(c.rows).toBe(80000); // within the target: kept
    c.observe(80000, 10_000);
    expect(c.rows).toBe(40000);
    for (let i = 0; i < 8; i++) c.observe(c.rows, 10_000);
    expect(c.rows).toBe(1000); // never below the first chunk
  });

  it("halves at each chunk cut at max_statement_s, below the first chunk too, so a read always moves on", () => {
    const c = new ChunkSize(1000, 2000);
    c.observe(300, 15_000, true);
    expect(c.rows).toBe(500);
    for (let i = 0; i < 20; i++) c.observe(0, 15_000, true);
    expect(c.rows).toBe(1);
  });

  it("aims at an eighth of max_statement_s, at most a tenth of statement_timeout_s", () => {
    expect(chunkTargetMs({ maxStatementS: 15, statementTimeoutS: 600 })).toBe(1875);
    expect(chunkTargetMs({ maxStatementS: 15, statementTimeoutS: 5 })).toBe(500);
  });
});

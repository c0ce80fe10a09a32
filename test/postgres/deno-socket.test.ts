// The socket pg reads through on Deno (src/deno-socket.ts), run under Deno: a
// paused reader holds back the network, over TLS too (Deno's own node:tls
// socket read a whole table meanwhile), every ssl mode connects as it does on
// Node, failures read the same, and a connect timeout lets the process end.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DENO_PERMISSIONS, denoBinary, ROOT } from "../helpers/tap.ts";
import { superuserUrl } from "./helpers.ts";

const fixture = (name: string) => join(ROOT, "test/fixtures/tls", name);

describe("DenoSocket", () => {
  it("holds back while the reader is paused, in every ssl mode, and fails as node:net does", async () => {
    const { stdout } = await promisify(execFile)(
      denoBinary(),
      ["run", "--quiet", ...DENO_PERMISSIONS, join(ROOT, "test/postgres/deno-socket.fixture.ts"), superuserUrl(), fixture("ca.crt"), fixture("other-ca.crt")],
      { cwd: ROOT, timeout: 60_000 },
    );
    const out = JSON.parse(stdout) as {
      results: { ssl: string; tls: boolean; before: number; paused: number; rows: number; total: number }[];
      wrongCa: string;
      refused: string;
      timeout: string;
      timeoutMs: number;
    };
    expect(out.results.map((r) => [r.ssl, r.tls, r.rows])).toEqual([["no-verify", true, 200000], ["disable", false, 200000], ["verify-full", true, 200000]]);
    for (const r of out.results) {
      // 200,000 rows of ~210 bytes: ~42 MB went by; during the 1.5 s wait at most a read or two (64 KiB each) more came in.
      expect(r.total).toBeGreaterThan(40_000_000);
      expect(r.paused - r.before).toBeLessThan(256 * 1024);
    }
    expect(out.wrongCa).toMatch(/TLS certificate rejected/);
    expect(out.refused).toBe("connection refused");
    expect(out.timeout).toBe("no answer within 10 s (connect_timeout_s)"); // describeConnectError's wording, given 10
    expect(out.timeoutMs).toBeGreaterThanOrEqual(900);
    expect(out.timeoutMs).toBeLessThan(5000);
  });
});

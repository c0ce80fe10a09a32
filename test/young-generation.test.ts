// The tap holds V8's young generation near two 4 MB semi-spaces however it was
// started (src/runtime.ts): without a flag, Node 20 and 22 let it grow to 32 MB,
// Node 24 to 128 MB and Deno to 64 MB under a sync's allocation pattern, which
// test/fixtures/young-generation.mjs reproduces with and without the runtime.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { nodeExecutable } from "../scripts/runtimes.ts";
import { DENO_PERMISSIONS, denoBinary, ROOT } from "./helpers/tap.ts";

const FIXTURE = join(ROOT, "test/fixtures/young-generation.mjs");
const MB = 1024 * 1024;

const RUNTIMES = {
  node: { command: [process.execPath], module: join(ROOT, "dist/runtime.js") },
  node22: { command: [nodeExecutable("node22")], module: join(ROOT, "dist/runtime.js") },
  node24: { command: [nodeExecutable("node24")], module: join(ROOT, "dist/runtime.js") },
  deno: { command: [denoBinary(), "run", "--quiet", ...DENO_PERMISSIONS], module: join(ROOT, "src/runtime.ts") },
};

/** The new space's largest size, in bytes, while the fixture runs with the tap's runtime (or with none). */
function largestNewSpace(runtime: keyof typeof RUNTIMES, withRuntime: boolean, flags: string[] = []): number {
  const [cmd, ...pre] = RUNTIMES[runtime].command;
  const module = withRuntime ? pathToFileURL(RUNTIMES[runtime].module).href : "none";
  const run = spawnSync(cmd!, [...pre, ...flags, FIXTURE, module], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  if (run.status !== 0 || !/^\d+\n$/.test(run.stderr)) throw new Error(`${runtime}: exit ${run.status}: ${run.stderr}`);
  return Number(run.stderr);
}

describe("the young generation", () => {
  for (const runtime of Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[]) {
    it(`stays near 8 MB on ${runtime} without any flag, where V8 alone grows it to the limit`, () => {
      const alone = largestNewSpace(runtime, false);
      const held = largestNewSpace(runtime, true);
      const sizes = `alone ${alone / MB} MB, held ${held / MB} MB`;
      expect(alone, sizes).toBeGreaterThanOrEqual(32 * MB);
      expect(held, sizes).toBeLessThanOrEqual(32 * MB);
      expect(held * 2, sizes).toBeLessThanOrEqual(alone);
    }, 60_000);
  }

  it("leaves a semi-space size the user gave Node alone", () => {
    expect(largestNewSpace("node", true, ["--max-semi-space-size=16"])).toBe(32 * MB);
  }, 60_000);
});

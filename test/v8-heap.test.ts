// The tap holds V8's heap near what it needs however it was started
// (src/heap.ts, driven by src/runtime.ts; WebAssembly flags in runtime.ts), with the patterns of test/fixtures/:
//   - the young generation near two 4 MB semi-spaces: without a flag, Node 20
//     and 22 let it grow to 32 MB, Node 24 to 128 MB and Deno to 64 MB under a
//     table read's pattern (young-generation.mjs);
//   - the old generation within 16 MB of what it held after the last full
//     collection: an API sync's pattern (old-generation.mjs) otherwise grows
//     it to 47-73 MB, for 8 MB live;
//   - WebAssembly (undici's llhttp) on Liftoff: TurboFan's compiles of it took
//     35 MB of native memory in an API sync (wasm-tiering.mjs).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { nodeExecutable } from "../scripts/runtimes.ts";
import { DENO_PERMISSIONS, denoBinary, ROOT } from "./helpers/tap.ts";

const fixture = (name: string) => join(ROOT, "test/fixtures", name);
const MB = 1024 * 1024;

const RUNTIMES = {
  node: { command: [process.execPath], module: join(ROOT, "dist/runtime.js") },
  node22: { command: [nodeExecutable("node22")], module: join(ROOT, "dist/runtime.js") },
  node24: { command: [nodeExecutable("node24")], module: join(ROOT, "dist/runtime.js") },
  deno: { command: [denoBinary(), "run", "--quiet", ...DENO_PERMISSIONS], module: join(ROOT, "src/runtime.ts") },
};

/** The line a fixture prints when run with the tap's runtime (or with none). */
function runFixture(fixtureName: string, runtime: keyof typeof RUNTIMES, withRuntime: boolean, flags: string[] = []): string {
  const [cmd, ...pre] = RUNTIMES[runtime].command;
  const module = withRuntime ? pathToFileURL(RUNTIMES[runtime].module).href : "none";
  const run = spawnSync(cmd!, [...pre, ...flags, fixture(fixtureName), module], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  if (run.status !== 0 || !/^\w+\n$/.test(run.stderr)) throw new Error(`${runtime}: exit ${run.status}: ${run.stderr}`);
  return run.stderr.trim();
}

/** The size in bytes a heap fixture prints. */
const largest = (fixtureName: string, runtime: keyof typeof RUNTIMES, withRuntime: boolean, flags: string[] = []) =>
  Number(runFixture(fixtureName, runtime, withRuntime, flags));

describe("the young generation", () => {
  for (const runtime of Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[]) {
    it(`stays near 8 MB on ${runtime} without any flag, where V8 alone grows it to the limit`, () => {
      const alone = largest("young-generation.mjs", runtime, false);
      const held = largest("young-generation.mjs", runtime, true);
      const sizes = `alone ${alone / MB} MB, held ${held / MB} MB`;
      expect(alone, sizes).toBeGreaterThanOrEqual(32 * MB);
      expect(held, sizes).toBeLessThanOrEqual(32 * MB);
      expect(held * 2, sizes).toBeLessThanOrEqual(alone);
    }, 60_000);
  }

  it("leaves a semi-space size the user gave Node alone", () => {
    expect(largest("young-generation.mjs", "node", true, ["--max-semi-space-size=16"])).toBe(32 * MB);
  }, 60_000);
});

describe("the old generation", () => {
  for (const runtime of Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[]) {
    it(`stays within 16 MB of its live objects on ${runtime}: a full collection once it has grown by that much`, () => {
      // About 8 MB live, and a few MB of the runtime's own: without the rule, 47-73 MB.
      const used = largest("old-generation.mjs", runtime, true);
      expect(used, `${used / MB} MB`).toBeLessThanOrEqual(32 * MB);
    }, 60_000);
  }
});

describe("WebAssembly", () => {
  // Node 24's V8 takes the wasm flags only at start: it recompiles the loop whatever the runtime sets (README).
  for (const runtime of ["node", "node22"] as const) {
    it(`stays on Liftoff on ${runtime}, where a spent tiering budget would have TurboFan recompile it`, () => {
      expect(runFixture("wasm-tiering.mjs", runtime, false, ["--allow-natives-syntax"])).toBe("turbofan");
      expect(runFixture("wasm-tiering.mjs", runtime, true, ["--allow-natives-syntax"])).toBe("liftoff");
    }, 60_000);
  }
});

// The other Node versions the end-to-end tests run the tap on (the suite itself
// runs on the Node that runs npm test, 20 on CI). Node's official binaries are
// on the npm registry as node-<platform>-<arch>; they are not dependencies
// (their os/cpu fields would break `npm ci` elsewhere, and users would download
// them), so `npm test` fetches them here, with npm, into node_modules/.cache.
//   deno run --allow-read --allow-write --allow-run --allow-env scripts/runtimes.ts
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** Exact versions, so every machine tests the same ones. */
export const NODE_RUNTIMES = { node22: "22.23.5", node24: "24.22.3" } as const;
export type NodeRuntime = keyof typeof NODE_RUNTIMES;

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CACHE = join(ROOT, "node_modules/.cache/tap-heroku-runtimes");
const pkg = `node-${process.platform}-${process.arch}`;

/** Where the Node executable of that runtime is once fetched. */
export function nodeExecutable(runtime: NodeRuntime): string {
  return join(CACHE, `${pkg}-${NODE_RUNTIMES[runtime]}`, "bin", "node");
}

/** Fetches each runtime that is not there yet (npm's own cache and registry settings apply). */
export function fetchNodeRuntimes(): void {
  mkdirSync(CACHE, { recursive: true });
  for (const runtime of Object.keys(NODE_RUNTIMES) as NodeRuntime[]) {
    const exe = nodeExecutable(runtime);
    if (existsSync(exe)) continue;
    const spec = `${pkg}@${NODE_RUNTIMES[runtime]}`;
    const tmp = mkdtempSync(join(CACHE, "fetch-"));
    try {
      const [packed] = JSON.parse(
        execFileSync("npm", ["pack", spec, "--json", "--pack-destination", tmp], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }),
      ) as { filename: string }[];
      execFileSync("tar", ["-xzf", join(tmp, packed!.filename), "-C", tmp]);
      renameSync(join(tmp, "package"), join(CACHE, `${pkg}-${NODE_RUNTIMES[runtime]}`)); // whole or not at all
      console.error(`fetched ${spec} for the end-to-end tests: ${execFileSync(exe, ["--version"], { encoding: "utf8" }).trim()}`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

if ((import.meta as { main?: boolean }).main) fetchNodeRuntimes();

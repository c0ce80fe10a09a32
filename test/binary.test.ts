// The single binary (npm run binary): built here from the sources, then copied
// to an empty directory and run with an empty environment, so nothing but the
// executable itself can supply Node, the dependencies or the catalog.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BINARY, parseMessages, ROOT, runTap } from "./helpers/tap.ts";
import { tempDir } from "./helpers/temp.ts";

const dir = tempDir("binary");
const bin = join(dir, "tap-heroku");
const runAlone = (args: string[]) => spawnSync(bin, args, { cwd: dir, env: {}, encoding: "utf8", timeout: 60_000 });

beforeAll(() => {
  const build = spawnSync("npm", ["run", "--silent", "binary"], { cwd: ROOT, encoding: "utf8", timeout: 240_000 });
  expect(build.status, build.stdout + build.stderr).toBe(0);
  copyFileSync(BINARY, bin);
  chmodSync(bin, 0o755);
}, 250_000);

describe("the single binary", () => {
  it("answers --about exactly as the npm bin does, with no Node, repository or environment around it", async () => {
    const alone = runAlone(["--about", "--format", "json"]);
    expect(alone.status, alone.stderr).toBe(0);
    expect(alone.stderr).toBe("");
    const node = await runTap(["--about", "--format", "json"]);
    expect(JSON.parse(alone.stdout)).toEqual(JSON.parse(node.stdout));
    expect(JSON.parse(alone.stdout).version).toBe(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version);
  });

  it("discovers the same catalog from its embedded stream definitions", async () => {
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ token: "t0ken-for-discovery", api_url: "http://127.0.0.1:9", postgres: { enabled: false } }));
    const alone = runAlone(["--config", config, "--discover"]);
    expect(alone.status, alone.stderr).toBe(0);
    const node = await runTap(["--config", config, "--discover"]);
    expect(JSON.parse(alone.stdout)).toEqual(JSON.parse(node.stdout));
    expect(JSON.parse(alone.stdout).streams.length).toBe(98); // 90 Platform API streams, 4 Data API, 4 metrics
  });

  it("embeds Node 24 and its memory flags (SEA execArgv), so it needs no launcher to pass them", () => {
    expect(runAlone(["--version"]).stdout).toMatch(/^tap-heroku\/\S+ node-24\.\d+\.\d+\n$/);
    const debug = spawnSync(bin, ["--about"], { cwd: dir, env: { LOG_LEVEL: "debug" }, encoding: "utf8", timeout: 60_000 });
    // 4 MB semi-spaces, and WebAssembly on Liftoff, which Node 24 takes only at start (scripts/build-binary.ts).
    expect(debug.stderr).toMatch(/^DEBUG tap-heroku \S+ on node 24\.\d+\.\d+ \(--max-semi-space-size=4 --liftoff-only\)$/m);
  });

  it("as built, maps no more of its own file than a copy of it does (postject's large write cost 17-30 MB)", () => {
    // postject writes the executable in one large write, whose page cache comes in large folios that the
    // loader maps whole; the build copies the file once (scripts/build-binary.ts). `bin` is a copy.
    const probe = join(dir, "own-pages.cjs");
    writeFileSync(
      probe,
      `let path, kb = 0;
for (const line of require("fs").readFileSync("/proc/self/smaps", "utf8").split("\\n")) {
  if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) path = line.split(/\\s+/).slice(5).join(" ");
  else if (path === process.execPath && line.startsWith("Rss:")) kb += Number(line.split(/\\s+/)[1]);
}
process.stderr.write("own pages " + kb + " kB\\n");`,
    );
    const ownPages = (executable: string) => {
      const run = spawnSync(executable, ["--version"], { env: { NODE_OPTIONS: `--require ${probe}` }, encoding: "utf8", timeout: 60_000 });
      expect(run.status, run.stderr).toBe(0);
      return Number(/^own pages (\d+) kB$/m.exec(run.stderr)?.[1]);
    };
    const copy = ownPages(bin);
    expect(copy).toBeGreaterThan(10_000);
    expect(ownPages(BINARY)).toBeLessThan(copy + 5_000);
  });

  it("rejects bad input with one line and exit 2, like the npm bin", () => {
    const config = join(dir, "bad.json");
    writeFileSync(config, JSON.stringify({ token: "t0ken", max_retries: "many" }));
    const alone = runAlone(["--config", config, "--discover"]);
    expect(alone.status).toBe(2);
    expect(alone.stdout).toBe("");
    expect(alone.stderr.trim().split("\n")).toHaveLength(1);
    expect(alone.stderr).toMatch(/bad\.json.*max_retries/);
  });

  it("runs the demo: discovery and a sync of API streams and database tables", () => {
    const out = join(dir, "demo"); // not .demo/, which the demo's own test writes at the same time
    const demo = spawnSync("npm", ["run", "--silent", "demo", "--", "--tap", bin, "--out", out], { cwd: ROOT, encoding: "utf8", timeout: 110_000 });
    expect(demo.status, demo.stdout + demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/-public-order_items\s+12000/);
    expect(demo.stdout).toContain(`${bin} --config config.json --catalog selected.json`);
    const messages = parseMessages(readFileSync(join(out, "output.jsonl"), "utf8"));
    expect(messages.filter((m) => m.type === "RECORD").length).toBeGreaterThan(20_000);
    expect(messages.at(-1)!.type).toBe("STATE");
  });
});

// Benchmark of the Heroku Platform API path (a script, not a test).
//
//   npm run bench:api                         # 500 apps, 50 ms per request, default streams
//   npm run bench:api -- --apps 2000 --latency-ms 80 --concurrency 8 --runtime deno
//   npm run bench:api -- --runtime binary   # build/tap-heroku (npm run binary first)
//
// Starts the Heroku API simulator with a simulated account (500 apps by default,
// each answer delayed by --latency-ms), runs a full sync of the default stream
// selection (`tap-heroku --config c.json`, no catalog; Postgres discovery off),
// Node on dist/ or Deno on src/, and prints: wall time, requests made, the
// minimum possible (one walk of each list endpoint per parent, pages of 1,000,
// computed from the simulator's own counts), records and records/s.
//
// The simulator's rate-limit bucket is unlimited here (--bucket to change it):
// the benchmark measures the tap, not Heroku's 75-a-minute refill. The tap's
// own estimate line (what the run would take against a real account) is
// printed as well. Run with Deno (it imports TypeScript): deno run -A bench/api.ts.
// The Node run needs a current dist/ (npm run build).
import { execFileSync, spawn } from "node:child_process";
import { cpus, tmpdir, totalmem } from "node:os";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { startSimulator } from "../test/simulator/index.ts";
import { minimumDefaultRequests } from "../test/helpers/minimum.ts";
import { option } from "../scripts/options.ts";
import { command, type RuntimeName } from "../test/helpers/tap.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const APPS = Number(option("--apps", "500"));
const LATENCY = Number(option("--latency-ms", "50"));
const CONCURRENCY = Number(option("--concurrency", "4"));
const BUCKET = Number(option("--bucket", "1000000000"));
const RUNTIME = option("--runtime", "node") as RuntimeName;

const sim = await startSimulator({ apps: APPS, latencyMs: LATENCY, rateLimit: { bucket: BUCKET, refillPerMinute: BUCKET } });
const dir = mkdtempSync(join(tmpdir(), "tap-heroku-bench-"));
const config = join(dir, "config.json");
writeFileSync(config, JSON.stringify({ token: "test-token", api_url: sim.url, max_concurrency: CONCURRENCY, postgres: { enabled: false } }));

const [cmd, pre] = command(RUNTIME);

sim.resetLog();
const started = performance.now();
const result = await new Promise<{ code: number | null; records: number; estimate: string[] }>((resolve, reject) => {
  const child = spawn(cmd, [...pre, "--config", config], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let records = 0;
  let tail = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (tail + chunk).split("\n");
    tail = lines.pop() ?? "";
    for (const l of lines) if (l.startsWith('{"type":"RECORD"')) records++;
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.on("error", reject);
  child.on("close", (code) => {
    if (code !== 0) process.stderr.write(stderr.split("\n").filter((l) => !l.includes("METRIC")).slice(-20).join("\n") + "\n");
    resolve({ code, records, estimate: stderr.split("\n").filter((l) => / Heroku API requests/.test(l)) });
  });
});
const seconds = (performance.now() - started) / 1000;
const made = sim.requests.length;
const floor = minimumDefaultRequests(sim);
// The binary answers --version itself; the Node inside it is the one that built it.
const version = execFileSync(RUNTIME === "deno" ? cmd : "node", ["--version"], { encoding: "utf8" }).split("\n")[0]!.trim();
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${RUNTIME} ${version}`;

console.log(`tap-heroku API benchmark: ${APPS} apps, ${LATENCY} ms per request, max_concurrency ${CONCURRENCY}, default streams`);
console.log(`machine         ${machine}`);
console.log(`exit code       ${result.code}`);
console.log(`wall time       ${seconds.toFixed(1)} s`);
console.log(`requests made   ${made}${made === floor ? " (the minimum)" : ""}`);
console.log(`minimum         ${floor}  (one walk of each list endpoint per parent, pages of 1,000)`);
console.log(`records         ${result.records}`);
console.log(`records/s       ${Math.round(result.records / seconds)}`);
console.log(`requests/s      ${(made / seconds).toFixed(1)}  (latency-bound ceiling: ${((CONCURRENCY * 1000) / LATENCY).toFixed(0)}/s)`);
for (const line of result.estimate) console.log(`tap's estimate  ${line.replace(/^INFO /, "")}`);
await sim.close();
process.exit(result.code === 0 && made === floor ? 0 : 1);

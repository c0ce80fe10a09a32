// Benchmark of the Heroku Platform API path (a script, not a test).
//
//   npm run bench:api                         # 1,200 apps, 50 ms per request, every stream
//   npm run bench:api -- --apps 5000 --latency-ms 0 --streams default --runtime deno
//   npm run bench:api -- --runtime binary     # build/tap-heroku (npm run binary first)
//
// Starts the Heroku API simulator with a simulated account (each answer
// delayed by --latency-ms) and runs the tap three times on it, each from the
// state of the one before:
//   full       no state: every list of every parent (held to the minimum:
//              one walk of each list endpoint per parent, pages of 1,000)
//   1 % change 1 % of the apps changed: half edited (updated_at), half deployed
//              (a build that succeeds is released: released_at moves, dynos
//              restart), plus a domain touched on as many apps, which no
//              parent field signals (it waits for its refresh interval)
//   no change  nothing changed since
// and prints for each: requests (and their share of the full run), records,
// wall time, the tap's peak RSS (VmHWM from /proc), and the time the run would take at Heroku's rate limit (a bucket
// of 4,500 less the 200 reserve, then 75 a minute: the wall time plus the
// paced wait, computed; the simulator's own bucket is unlimited here). Then the
// hourly steady state: what a run an hour after the last one adds, by refresh
// family (the share of parents whose slot comes due in an hour), against the
// default per-run budget. The Node run needs a current dist/ (npm run build).
import { execFileSync, spawn } from "node:child_process";
import { cpus, tmpdir, totalmem } from "node:os";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { startSimulator } from "../simulator/index.ts";
import type { Simulator } from "../simulator/index.ts";
import { minimumDefaultRequests } from "../test/helpers/minimum.ts";
import { option } from "../scripts/options.ts";
import { command, type RuntimeName } from "../test/helpers/tap.ts";
import { selecting } from "../test/heroku/util.ts";
import type { Catalog } from "../test/heroku/util.ts";
import { streamDefinitions } from "../src/heroku/definitions.ts";
import { Settings } from "../src/config.ts";
import { runBudget } from "../src/heroku/schedule.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const APPS = Number(option("--apps", "1200"));
const LATENCY = Number(option("--latency-ms", "50"));
const CONCURRENCY = Number(option("--concurrency", "4"));
const RUNTIME = option("--runtime", "node") as RuntimeName;
const STREAMS = option("--streams", "all"); // all (every stream that needs no start_date) or default
const RESERVE = 200;
const REFILL = 75;

const definitions = streamDefinitions();
const selected = STREAMS === "default" ? definitions.filter((d) => d.selected_by_default) : definitions.filter((d) => d.query === null);

const sim = await startSimulator({ apps: APPS, latencyMs: LATENCY, rateLimit: { bucket: 1e9, refillPerMinute: 1e9 } });
const dir = mkdtempSync(join(tmpdir(), "tap-heroku-bench-"));
const config = join(dir, "config.json");
writeFileSync(config, JSON.stringify({ token: "test-token", api_url: sim.url, max_concurrency: CONCURRENCY, postgres: { enabled: false } }));
const [cmd, pre] = command(RUNTIME);

interface Run {
  code: number | null;
  records: number;
  requests: number;
  seconds: number;
  state: unknown;
  estimate: string[];
  /** The tap's peak RSS in MB (VmHWM, sampled from /proc every 20 ms); undefined where there is no /proc. */
  peakRssMb: number | undefined;
}

function tap(args: string[]): Promise<Omit<Run, "requests" | "seconds">> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let peakKb: number | undefined;
    const sample = () => {
      try {
        const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1]);
        if (kb) peakKb = Math.max(peakKb ?? 0, kb);
      } catch {
        // exited, or no /proc
      }
    };
    const poll = setInterval(sample, 20);
    let records = 0;
    let state: unknown;
    let tail = "";
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (tail + chunk).split("\n");
      tail = lines.pop() ?? "";
      for (const l of lines) {
        if (l.startsWith('{"type":"RECORD"')) records++;
        else if (l.startsWith('{"type":"STATE"')) state = (JSON.parse(l) as { value: unknown }).value;
        else if (args.includes("--discover")) stdout += l + "\n";
      }
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(poll);
      if (args.includes("--discover")) stdout += tail;
      if (code !== 0) process.stderr.write(stderr.split("\n").filter((l) => !l.includes("METRIC")).slice(-20).join("\n") + "\n");
      resolve({
        code,
        records,
        state: args.includes("--discover") ? JSON.parse(stdout) : state,
        estimate: stderr.split("\n").filter((l) => / Heroku API requests/.test(l)),
        peakRssMb: peakKb === undefined ? undefined : Math.round(peakKb / 1024),
      });
    });
  });
}

const discovered = (await tap(["--config", config, "--discover"])).state as Catalog;
const catalogFile = join(dir, "catalog.json");
writeFileSync(catalogFile, JSON.stringify(selecting(discovered, selected.map((d) => d.stream))));

async function run(state: unknown): Promise<Run> {
  const args = ["--config", config, "--catalog", catalogFile];
  if (state) {
    const f = join(dir, "state.json");
    writeFileSync(f, JSON.stringify(state));
    args.push("--state", f);
  }
  sim.resetLog();
  const started = performance.now();
  const r = await tap(args);
  return { ...r, requests: sim.requests.length, seconds: (performance.now() - started) / 1000 };
}

/** 1 % of the apps: half edited, half deployed; as many domains touched with no parent signal. */
function changeOnePercent(s: Simulator): number {
  const apps = s.items("/apps") as { id: string }[];
  const n = Math.max(1, Math.round(apps.length / 100));
  for (let i = 0; i < n; i++) {
    const app = apps[Math.floor(((i + 0.5) * apps.length) / n)]!.id;
    if (i % 2 === 0) s.touch("/apps", app);
    else s.add("/apps/{app}/builds", { app });
    const other = apps[(Math.floor(((i + 0.5) * apps.length) / n) + 1) % apps.length]!.id;
    const domain = (s.items("/apps/{app}/domains", { app: other }) as { id: string }[])[0];
    if (domain) s.touch("/apps/{app}/domains", domain.id);
  }
  return n;
}

const full = await run(undefined);
const changedApps = changeOnePercent(sim);
const onePercent = await run(full.state);
const quiet = await run(onePercent.state);
const floor = STREAMS === "default" ? minimumDefaultRequests(sim) : undefined;

// The version of the runtime (the binary answers --version itself; its Node is the one that built it).
const version = execFileSync(RUNTIME === "deno" ? cmd : "node", ["--version"], { encoding: "utf8" }).split("\n")[0]!.trim();
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${RUNTIME} ${version}`;
const paced = (r: Run) => r.seconds + (Math.max(0, r.requests - (4500 - RESERVE)) / REFILL) * 60;
const hms = (s: number) => (s < 90 ? `${s.toFixed(1)} s` : s < 5400 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`);

console.log(`tap-heroku API benchmark: ${APPS} apps, ${LATENCY} ms per request, max_concurrency ${CONCURRENCY}, ${selected.length} streams (${STREAMS})`);
console.log(`machine         ${machine}`);
console.log(`run             exit  requests  of full  records   wall time  at Heroku's rate limit  peak RSS`);
for (const [name, r] of [["full", full], [`1 % change (${changedApps} apps)`, onePercent], ["no change", quiet]] as const) {
  console.log(
    `${name.padEnd(24)}${String(r.code).padStart(2)}  ${String(r.requests).padStart(8)}  ${((100 * r.requests) / full.requests).toFixed(1).padStart(6)} %  ${
      String(r.records).padStart(7)
    }  ${hms(r.seconds).padStart(10)}  ${hms(paced(r)).padEnd(22)}  ${r.peakRssMb === undefined ? "?" : `${r.peakRssMb} MB`}`,
  );
}
if (floor !== undefined) console.log(`minimum (full)  ${floor}${floor === full.requests ? " (the full run made exactly that)" : ""}`);

// Hourly steady state: each child stream reads, per hour, the share of its parents whose slot comes due.
const settings = Settings.parse({ token: "x" });
const state = quiet.state as { bookmarks: Record<string, { parents?: number }> };
const perFamily = new Map<string, number>();
for (const d of selected) {
  if (!d.refresh) continue;
  const n = state.bookmarks[d.stream]?.parents ?? 0;
  const hours = settings.refresh_hours[d.refresh.family];
  perFamily.set(d.refresh.family, (perFamily.get(d.refresh.family) ?? 0) + n * Math.min(1, hours <= 0 ? 1 : 1 / hours));
}
const refreshPerHour = [...perFamily.values()].reduce((a, b) => a + b, 0);
const hourly = quiet.requests + refreshPerHour + (onePercent.requests - quiet.requests);
console.log(
  `hourly run      about ${Math.round(hourly)} requests: ${quiet.requests} listing the parents, ${Math.round(refreshPerHour)} refresh (${
    [...perFamily].map(([f, n]) => `${f} ${Math.round(n)}`).join(", ")
  }), ${onePercent.requests - quiet.requests} for 1 % of apps changed; default budget ${runBudget(settings)} a run, refill ${REFILL * 60} an hour: ${
    hourly <= runBudget(settings) ? "fits" : "does not fit: the refresh falls behind, stalest first"
  }`,
);
for (const line of onePercent.estimate) console.log(`tap's estimate  ${line.replace(/^INFO /, "")}`);
await sim.close();
const ok = [full, onePercent, quiet].every((r) => r.code === 0) && (floor === undefined || floor === full.requests);
process.exit(ok ? 0 : 1);

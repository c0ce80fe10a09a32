// Benchmark of the Heroku Postgres FULL_TABLE path (a script, not a test).
//
//   npm run bench:pg                          # 1,000,000 rows; loopback, 20 ms and 60 ms RTT
//   npm run bench:pg -- --flat-rss            # also 5,000,000 rows, to show RSS stays flat
//   npm run bench:pg -- --paths 0,10 --runs 3 # one-way delays in ms; alternating runs, medians
//   npm run bench:pg -- --paths 0,r0,10       # r0: through the relay without delay (what the relay costs)
//   npm run bench:pg -- --relay-in-process    # the relay inside this process, as before (it cost the tap ~12 %)
//   npm run bench:pg -- --mbit 50             # cap each relayed connection at 50 Mbit/s
//   npm run bench:pg -- --launch bin,node-bin,node-dist,deno,binary   # peak RSS per launch path
//   npm run bench:pg -- --method INCREMENTAL  # on updated_at (indexed)
//   npm run bench:pg -- --copy-text           # also psql reading the COPY text the tap reads (the server's share)
//   npm run bench:pg -- --batch               # also BATCH mode (jsonl, gzip and none) against RECORD mode
//   npm run bench:pg -- --capture             # also change capture (_sdc_xmin) against FULL_TABLE (bench/capture.ts)
//   npm run bench:pg -- --deletes             # also delete detection with 1 % deleted against FULL_TABLE (bench/pg-deletes.ts)
//   npm run bench:pg -- --rows 200000 --runtime deno --batch-size 5000
//   npm run bench:pg -- --paths 0 --launch node-dist --node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"
//   npm run bench:pg -- --parallel            # only the parallel case: 8 tables x 250,000 rows, budget 1 vs 3,
//                                             # 10 ms each way and 50 Mbit/s per connection (--tables, --rows-each,
//                                             # --budgets 1,3, --paths 10 and --mbit 50 change it)
//
// It starts its own embedded PostgreSQL (SSL on, as on Heroku) and the Heroku
// API simulator (whose DATABASE_URL points at it), loads big_table (ten mixed
// columns), reads it once so every run finds it warm, then measures in the
// same run, for each network path (loopback, or through bench/relay.ts adding
// a delay each way):
//   - the tap: `tap-heroku --catalog` as a subprocess (the bin, as users run
//     it; --runtime deno or binary instead), stdout piped to `wc -c`, peak RSS
//     from /usr/bin/time -v (or /proc polling when GNU time is missing);
//   - the floor: PostgreSQL's own JSON rendering of the same table,
//     `COPY (SELECT row_to_json(t) FROM big_table t) TO STDOUT` through psql
//     (/usr/bin/psql, Debian's postgresql-client; without it there is no floor)
//     to `wc -c`, through the same path.
// Then, on loopback, peak RSS for each launch path (--launch): the bin run
// directly, `node bin/tap-heroku.js` and `node dist/main.js`, Deno on src/ with
// deno task tap's flag and without (deno-plain), the single binary if built, and
// Node 22 and 24 (node22-bin, node24-bin: the bin run by that Node).
// Run with Deno (it imports TypeScript): deno run -A bench/pg.ts. The Node
// runs need a current dist/ (npm run build).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import process from "node:process";
import pg from "pg";
import setup from "../test/global-setup.ts";
import { startSimulator } from "../simulator/index.ts";
import { flag, option } from "../scripts/options.ts";
import { BINARY, command, DENO_PERMISSIONS, DENO_V8_FLAGS, denoBinary, type RuntimeName } from "../test/helpers/tap.ts";
import { type Relay, startRelay } from "./relay.ts";
import { nodeExecutable } from "../scripts/runtimes.ts";
import { type Catalog, selecting } from "../test/heroku/util.ts";
import { benchCapture } from "./capture.ts";
import { benchDeletes } from "./pg-deletes.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const ROWS = Number(option("--rows", "1000000"));
const RUNTIME = option("--runtime", "node") as RuntimeName;
const BATCH = Number(option("--batch-size", "5000"));
/**
 * One-way delays in ms; 0 is loopback, without the relay. "r0" is the relay
 * with no delay: what the relay itself costs the tap and the floor (its JS
 * copies every byte on the cores they share), apart from latency.
 */
const PATHS = option("--paths", "0,10,30").split(",");
const delayOf = (path: string) => Number(path.replace(/^r/, ""));
const RUNS = Number(option("--runs", "1"));
const MBIT = option("--mbit", "") ? Number(option("--mbit", "")) : undefined;
const METHOD = option("--method", "FULL_TABLE");
const LAUNCH = option("--launch", "bin,node-bin,node-dist,deno,binary").split(",").filter(Boolean);
/** Extra Node flags for the node-bin and node-dist launch paths, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
const NODE_FLAGS = option("--node-flags", "").split(" ").filter(Boolean);
/** Extra flags for `deno run` on the deno launch path, e.g. "--v8-flags=--trace-gc". */
const DENO_FLAGS = option("--deno-flags", "").split(" ").filter(Boolean);

const LOAD = (n: number, table: string) => `
DROP TABLE IF EXISTS ${table};
CREATE TABLE ${table} (
  id bigint PRIMARY KEY, n int, name text, amount numeric(14, 2), active boolean,
  tags text[], attrs jsonb, created_at timestamptz, updated_at timestamptz, note text
);
INSERT INTO ${table}
SELECT i, ((i::bigint * 7919) % 100000)::int, 'customer ' || i, round((i * 1.37)::numeric % 100000, 2), i % 3 = 0,
       ARRAY['tag' || (i % 10), 'group ' || (i % 7)],
       jsonb_build_object('plan', 'standard-' || (i % 5), 'seats', i % 50, 'big', 12345678901234567890 + i),
       '2020-01-01'::timestamptz + i * interval '1 second', '2024-01-01'::timestamptz + i * interval '317 milliseconds',
       CASE WHEN i % 4 = 0 THEN NULL ELSE md5(i::text) END
  FROM generate_series(1, ${n}) i;
CREATE INDEX ON ${table} (updated_at);`;

/** --deno-flags with deno task tap's V8 flags first: Deno takes --v8-flags once, and a later V8 flag overrides an earlier one. */
function denoFlags(): string[] {
  const v8 = DENO_FLAGS.filter((f) => f.startsWith("--v8-flags=")).map((f) => f.slice("--v8-flags=".length));
  return [...DENO_FLAGS.filter((f) => !f.startsWith("--v8-flags=")), `--v8-flags=${[...DENO_V8_FLAGS, ...v8].join(",")}`];
}

/** How a launch path starts the tap: the command and its leading arguments. */
function launch(name: string): [string, string[]] | undefined {
  switch (name) {
    case "bin":
      return command("node"); // executed directly: the shebang's flag applies
    case "node-bin":
      return ["node", [...NODE_FLAGS, join(ROOT, "bin/tap-heroku.js")]];
    case "node-dist":
      return ["node", [...NODE_FLAGS, join(ROOT, "dist/main.js")]];
    case "deno":
      return [denoBinary(), ["run", "--quiet", ...DENO_PERMISSIONS, ...denoFlags(), join(ROOT, "src/main.ts")]];
    case "binary":
      return existsSync(BINARY) ? [BINARY, []] : undefined;
    case "node22-bin":
    case "node24-bin":
      // The Node versions the tests fetch (npm run runtimes), running the bin as its shebang would.
      return [nodeExecutable(name === "node22-bin" ? "node22" : "node24"), [...NODE_FLAGS, join(ROOT, "bin/tap-heroku.js")]];
    case "deno-plain":
      // A bare `deno run`, without deno task tap's V8 flags.
      return [denoBinary(), ["run", "--quiet", ...DENO_PERMISSIONS, ...DENO_FLAGS, join(ROOT, "src/main.ts")]];
  }
  throw new Error(
    `unknown launch path ${name}: bin, node-bin, node-dist, deno, deno-plain, binary, node22-bin or node24-bin`,
  );
}

interface Measure {
  seconds: number;
  bytes: number;
  peakRssMb: number | undefined;
  stderr: string;
}

/** Runs `cmd args | wc -c`, timing it and reading the peak RSS of cmd. */
function measure(cmd: string, cmdArgs: string[], env: Record<string, string> = {}): Promise<Measure> {
  const gnuTime = existsSync("/usr/bin/time");
  const argv = gnuTime ? ["/usr/bin/time", "-v", cmd, ...cmdArgs] : [cmd, ...cmdArgs];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const wc = spawn("wc", ["-c"], { stdio: ["pipe", "pipe", "inherit"] });
    child.stdout.pipe(wc.stdin);
    let stderr = "";
    let wcOut = "";
    let peakKb = 0;
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-20000)));
    wc.stdout.setEncoding("utf8").on("data", (d: string) => (wcOut += d));
    // Without GNU time, poll /proc for the high-water mark.
    const poll = gnuTime ? undefined : setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // exited
      }
    }, 50);
    child.on("error", reject);
    let childCode: number | null = null;
    child.on("close", (code) => (childCode = code));
    wc.on("close", () => {
      if (poll) clearInterval(poll);
      const seconds = (performance.now() - started) / 1000;
      if (childCode !== 0 && childCode !== null) return reject(new Error(`${cmd} exited with ${childCode}: ${stderr.slice(-2000)}`));
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      if (m) peakKb = Number(m[1]);
      resolve({ seconds, bytes: Number(wcOut.trim()), peakRssMb: peakKb ? peakKb / 1024 : undefined, stderr });
    });
  });
}

function output(cmd: string, cmdArgs: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString("en");
const pathName = (path: string) =>
  path === "0" ? "loopback" : path === "r0" ? "relay, no delay" : `${2 * delayOf(path)} ms RTT (${delayOf(path)} ms each way${MBIT ? `, ${MBIT} Mbit/s` : ""})`;

async function main() {
  let databaseUrl = "";
  const teardown = await setup({ provide: (_k: string, v: string) => (databaseUrl = v) } as never);
  const sim = await startSimulator({ apps: 1, postgresApps: 1, postgresPerApp: 1 });
  const relays: Relay[] = [];
  let failure: unknown;
  try {
    if (flag("--parallel")) {
      await parallelCase(databaseUrl, sim, relays);
      return;
    }
    const admin = new pg.Client({ connectionString: databaseUrl, ssl: { rejectUnauthorized: false } });
    await admin.connect();
    const sizes = flag("--flat-rss") ? [ROWS, ROWS * 5] : [ROWS];
    const tables = sizes.map((n, i) => ({ n, table: i === 0 ? "big_table" : "big_table_x5" }));
    for (const { n, table } of tables) {
      const t0 = performance.now();
      console.error(`loading ${table}...`);
      await admin.query(LOAD(n, table));
      await admin.query(`VACUUM ANALYZE ${table}`);
      const size = (await admin.query(`SELECT pg_size_pretty(pg_total_relation_size('${table}')) AS s`)).rows[0].s;
      console.error(`loaded ${n.toLocaleString("en")} rows into ${table} (${size}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    await admin.end();

    // One URL per network path: loopback, or a relay adding the delay each way.
    const urls = new Map<string, string>();
    for (const path of PATHS) {
      const oneWay = delayOf(path);
      if (path === "0") {
        urls.set(path, databaseUrl);
        continue;
      }
      const u = new URL(databaseUrl);
      const target = { host: u.hostname, port: Number(u.port || 5432), delayMs: oneWay, mbit: MBIT };
      // In a process of its own by default: inside this one it shared an event loop with the bench's own work,
      // and on 1M rows cost the tap 0.95 -> 0.83 of the floor even with no delay (--relay-in-process shows it).
      const relay = flag("--relay-in-process") ? await startRelay(target) : await relayProcess(target);
      relays.push(relay);
      u.hostname = "127.0.0.1";
      u.port = String(relay.port);
      urls.set(path, u.toString());
    }

    // The simulator's app gets DATABASE_URL (and its color) pointing at the path measured.
    const app = (sim.items("/apps") as { name: string }[])[0]!.name;
    const atts = sim.items("/apps/{app}/addon-attachments", { app }) as { name: string }[];
    const usePath = (url: string) => sim.setConfigVars(app, Object.fromEntries(atts.map((a) => [`${a.name}_URL`, url])));
    usePath(databaseUrl);
    const dir = mkdtempSync(join(tmpdir(), "tap-heroku-bench-"));
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ token: "test-token", api_url: sim.url, apps: [app], postgres: { batch_size: BATCH, schemas: ["public"] } }));
    const [cmd, pre] = command(RUNTIME);
    // Not execFileSync: the simulator answering the tap lives in this process.
    const catalog = JSON.parse(await output(cmd, [...pre, "--config", config, "--discover"])) as Catalog;

    const psql = (() => {
      try {
        execFileSync("psql", ["--version"], { stdio: "ignore" });
        return true;
      } catch {
        return false;
      }
    })();
    if (!psql) console.error("psql is not installed (Debian: apt-get install postgresql-client): no floor is measured");
    const floorRun = (table: string, url: string) =>
      measure("psql", ["-X", "-q", "-c", `COPY (SELECT row_to_json(t) FROM ${table} t) TO STDOUT`, `${url}?sslmode=require`]);
    // With --copy-text: PostgreSQL's COPY text of the table in key order, what the tap reads, to tell the server's share from the tap's.
    const copyTextRun = (table: string, url: string) =>
      measure("psql", ["-X", "-q", "-c", `COPY (SELECT * FROM ${table} ORDER BY id) TO STDOUT`, `${url}?sslmode=require`]);

    const catalogFiles = new Map<string, string>();
    for (const { table } of tables) {
      const id = catalog.streams.find((s) => s.tap_stream_id.endsWith(`-public-${table}`))!.tap_stream_id;
      const selected = selecting(catalog, [id], { [id]: METHOD }, METHOD === "INCREMENTAL" ? { [id]: "updated_at" } : {});
      const catalogFile = join(dir, `catalog-${table}.json`);
      writeFileSync(catalogFile, JSON.stringify(selected));
      catalogFiles.set(table, catalogFile);
      // Warm: every measured run finds the table in the page cache and shared buffers.
      if (psql) await floorRun(table, databaseUrl);
    }
    const tapRun = async (launcher: [string, string[]], table: string, n: number) => {
      const m = await measure(launcher[0], [...launcher[1], "--config", config, "--catalog", catalogFiles.get(table)!], { LOG_LEVEL: "warning" });
      if (m.bytes < n * 50) throw new Error(`the tap wrote only ${m.bytes} bytes for ${n} rows: ${m.stderr.split("\tCommand being timed")[0]!.slice(-3000)}`);
      return m;
    };

    console.log(
      `\ntap-heroku (${RUNTIME}) ${METHOD} vs COPY (SELECT row_to_json(t) ...) TO STDOUT through psql; batch_size ${BATCH}; ` +
        `${RUNS} alternating run(s), medians; ${process.arch}, ${navigatorCores()} cores, load average ${loadAverage()}\n`,
    );
    console.log("| path | table | rows | tap s | tap rows/s | tap peak RSS | floor s | floor rows/s | tap/floor |");
    console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (const { n, table } of tables) {
      for (const path of PATHS) {
        const url = urls.get(path)!;
        usePath(url);
        const taps: Measure[] = [];
        const floors: Measure[] = [];
        const texts: Measure[] = [];
        for (let r = 0; r < RUNS; r++) {
          taps.push(await tapRun([cmd, pre], table, n));
          if (psql) floors.push(await floorRun(table, url));
          if (psql && flag("--copy-text")) texts.push(await copyTextRun(table, url));
        }
        const tapS = median(taps.map((m) => m.seconds));
        const rss = median(taps.map((m) => m.peakRssMb ?? 0));
        const floorS = floors.length ? median(floors.map((m) => m.seconds)) : undefined;
        console.log(
          `| ${pathName(path)} | ${table} | ${fmt(n)} | ${tapS.toFixed(1)} | ${fmt(n / tapS)} | ${rss ? rss.toFixed(0) + " MB" : "?"} | ` +
            (floorS ? `${floorS.toFixed(1)} | ${fmt(n / floorS)} | ${(floorS / tapS).toFixed(2)} |` : "no psql | | |"),
        );
        if (texts.length) {
          console.log(
            `|   COPY text in key order through psql | ${table} | ${fmt(n)} | ${median(texts.map((m) => m.seconds)).toFixed(1)} | ${
              fmt(n / median(texts.map((m) => m.seconds)))
            } | | | | |`,
          );
        }
      }
    }

    // BATCH mode against RECORD mode (issue 14): the same sync, the records in files.
    if (flag("--batch")) {
      usePath(databaseUrl);
      console.log(`\nBATCH against RECORD, the bin on loopback (load average ${loadAverage()})\n`);
      console.log("| mode | table | rows | s | rows/s | bytes (stdout + files) | peak RSS |");
      console.log("|---|---|---:|---:|---:|---:|---:|");
      for (const { n, table } of tables) {
        const rec = await tapRun(launch("bin")!, table, n);
        console.log(
          `| RECORD | ${table} | ${fmt(n)} | ${rec.seconds.toFixed(1)} | ${fmt(n / rec.seconds)} | ${fmt(rec.bytes)} | ${
            rec.peakRssMb?.toFixed(0) ?? "?"
          } MB |`,
        );
        for (const compression of ["gzip", "none"] as const) {
          const root = mkdtempSync(join(tmpdir(), "tap-heroku-bench-batch-"));
          const batchConfig = join(dir, `config-batch-${compression}.json`);
          writeFileSync(
            batchConfig,
            JSON.stringify({
              ...JSON.parse(readFileSync(config, "utf8")),
              batch_config: { encoding: { format: "jsonl", compression }, storage: { root: pathToFileURL(root).href }, batch_size: 100_000 },
            }),
          );
          const [cmd, pre] = launch("bin")!;
          const m = await measure(cmd, [...pre, "--config", batchConfig, "--catalog", catalogFiles.get(table)!], { LOG_LEVEL: "warning" });
          const files = readdirSync(root).reduce((sum, f) => sum + statSync(join(root, f)).size, 0);
          console.log(
            `| BATCH jsonl ${compression} | ${table} | ${fmt(n)} | ${m.seconds.toFixed(1)} | ${fmt(n / m.seconds)} | ${fmt(m.bytes + files)} | ${
              m.peakRssMb?.toFixed(0) ?? "?"
            } MB |`,
          );
          rmSync(root, { recursive: true, force: true });
        }
      }
    }

    if (flag("--capture")) {
      usePath(databaseUrl);
      await benchCapture({ launcher: launch("bin")!, config, catalog, databaseUrl, table: tables[0]!.table, rows: tables[0]!.n, dir, root: ROOT });
    }

    if (flag("--deletes")) {
      usePath(databaseUrl);
      await benchDeletes({ databaseUrl, config, dir, launcher: [cmd, pre], runs: RUNS, measure, loadAverage });
    }

    // Peak RSS by launch path, on loopback.
    usePath(databaseUrl);
    console.log(`\nPeak RSS by launch path (loopback, load average ${loadAverage()})\n`);
    console.log("| launch | table | rows | tap s | tap rows/s | tap peak RSS |");
    console.log("|---|---|---:|---:|---:|---:|");
    for (const name of LAUNCH) {
      const launcher = launch(name);
      if (!launcher) {
        console.log(`| ${name} | not built (npm run binary) | | | | |`);
        continue;
      }
      for (const { n, table } of tables) {
        const m = await tapRun(launcher, table, n);
        console.log(`| ${name} | ${table} | ${fmt(n)} | ${m.seconds.toFixed(1)} | ${fmt(n / m.seconds)} | ${m.peakRssMb?.toFixed(0) ?? "?"} MB |`);
      }
    }
  } catch (e) {
    failure = e;
  } finally {
    for (const r of relays) await r.close();
    await sim.close();
    await teardown?.().catch((e: unknown) => console.error("stopping PostgreSQL failed:", e));
  }
  if (failure) throw failure;
}

/** The relay in a Deno process of its own (bench/relay-main.ts): its copying then shares no event loop with the bench. */
async function relayProcess(opts: { host: string; port: number; delayMs: number; mbit?: number }): Promise<Relay> {
  const child = spawn(denoBinary(), [
    "run",
    "-A",
    join(ROOT, "bench/relay-main.ts"),
    opts.host,
    String(opts.port),
    String(opts.delayMs),
    ...(opts.mbit ? [String(opts.mbit)] : []),
  ], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once("data", (d: Buffer) => resolve(Number(String(d).trim())));
    child.once("exit", (code) => reject(new Error(`the relay process exited (${code})`)));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill();
      }),
  };
}

/**
 * The parallel case (issue 12): `--tables` tables of `--rows-each` rows read by
 * one run, with postgres.max_connections at each of `--budgets`, through a relay
 * adding `--paths` ms each way and capping each connection at `--mbit` Mbit/s
 * (defaults 8 x 250,000, budgets 1 and 3, 10 ms, 50 Mbit/s). Runs alternate
 * between the budgets; a sampler polls pg_stat_activity for the tap's sessions.
 */
async function parallelCase(databaseUrl: string, sim: Awaited<ReturnType<typeof startSimulator>>, relays: Relay[]) {
  const tables = Number(option("--tables", "8"));
  const each = Number(option("--rows-each", "250000"));
  const budgets = option("--budgets", "1,3").split(",").map(Number);
  const oneWay = Number(option("--paths", "10").split(",")[0]);
  const mbit = MBIT ?? 50;
  const names = Array.from({ length: tables }, (_, i) => `par_${i + 1}`);

  const admin = new pg.Client({ connectionString: databaseUrl, ssl: { rejectUnauthorized: false } });
  await admin.connect();
  const t0 = performance.now();
  for (const t of names) {
    const exists = (await admin.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = '${t}'`)).rows[0].n > 0;
    const rows = exists ? (await admin.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n : 0;
    if (rows !== each) await admin.query(LOAD(each, t));
    await admin.query(`VACUUM ANALYZE ${t}`);
  }
  const size =
    (await admin.query(`SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) AS s FROM pg_class c WHERE relname LIKE 'par\\_%' AND relkind = 'r'`))
      .rows[0].s;
  console.error(`loaded ${tables} tables x ${fmt(each)} rows (${size}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const database = new URL(databaseUrl).pathname.slice(1) || "postgres";

  const u = new URL(databaseUrl);
  const relay = await startRelay({ host: u.hostname, port: Number(u.port || 5432), delayMs: oneWay, mbit });
  relays.push(relay);
  u.hostname = "127.0.0.1";
  u.port = String(relay.port);
  const app = (sim.items("/apps") as { name: string }[])[0]!.name;
  const atts = sim.items("/apps/{app}/addon-attachments", { app }) as { name: string }[];
  sim.setConfigVars(app, Object.fromEntries(atts.map((a) => [`${a.name}_URL`, u.toString()])));

  const dir = mkdtempSync(join(tmpdir(), "tap-heroku-bench-"));
  const configFor = (budget: number) => {
    const file = join(dir, `config-${budget}.json`);
    writeFileSync(
      file,
      JSON.stringify({ token: "test-token", api_url: sim.url, apps: [app], postgres: { batch_size: BATCH, schemas: ["public"], max_connections: budget } }),
    );
    return file;
  };
  const [cmd, pre] = command(RUNTIME);
  const catalog = JSON.parse(await output(cmd, [...pre, "--config", configFor(budgets[0]!), "--discover"])) as Catalog;
  for (const s of catalog.streams) s.metadata[0]!.metadata.selected = names.some((t) => s.tap_stream_id.endsWith(`-public-${t}`));
  const catalogFile = join(dir, "catalog-parallel.json");
  writeFileSync(catalogFile, JSON.stringify(catalog));

  // Sessions named tap-heroku on the database, sampled every 20 ms during each run.
  const sampler = new pg.Client({ connectionString: databaseUrl, ssl: { rejectUnauthorized: false } });
  await sampler.connect();
  const sampled = async <T>(run: () => Promise<T>): Promise<[T, number]> => {
    let max = 0;
    let on = true;
    const loop = (async () => {
      while (on) {
        const r = await sampler.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tap-heroku' AND datname = $1", [database]);
        max = Math.max(max, r.rows[0].n);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      return [await run(), max];
    } finally {
      on = false;
      await loop;
    }
  };

  const total = tables * each;
  const results = new Map<number, { m: Measure; sessions: number }[]>(budgets.map((b) => [b, []]));
  for (let r = 0; r < RUNS; r++) {
    for (const budget of budgets) {
      const [m, sessions] = await sampled(() => measure(cmd, [...pre, "--config", configFor(budget), "--catalog", catalogFile], { LOG_LEVEL: "warning" }));
      if (m.bytes < total * 50) throw new Error(`the tap wrote only ${m.bytes} bytes for ${total} rows: ${m.stderr.slice(-3000)}`);
      results.get(budget)!.push({ m, sessions });
      console.error(`budget ${budget}: ${m.seconds.toFixed(1)} s, ${m.peakRssMb?.toFixed(0) ?? "?"} MB, at most ${sessions} session(s) seen`);
    }
  }
  await sampler.end();
  await admin.end();

  console.log(
    `
Parallel tables: ${tables} x ${fmt(each)} rows, ${2 * oneWay} ms RTT (${oneWay} ms each way, ${mbit} Mbit/s per connection)` +
      `; tap-heroku (${RUNTIME}), batch_size ${BATCH}; ${RUNS} alternating run(s), medians; ${process.arch}, ${navigatorCores()} cores, load average ${loadAverage()}\n`,
  );
  console.log("| postgres.max_connections | s | rows/s | peak RSS | most sessions seen | time / budget 1 |");
  console.log("|---:|---:|---:|---:|---:|---:|");
  const base = median(results.get(budgets[0]!)!.map((x) => x.m.seconds));
  for (const budget of budgets) {
    const xs = results.get(budget)!;
    const secs = median(xs.map((x) => x.m.seconds));
    const rss = median(xs.map((x) => x.m.peakRssMb ?? 0));
    console.log(
      `| ${budget} | ${secs.toFixed(1)} | ${fmt(total / secs)} | ${rss ? rss.toFixed(0) + " MB" : "?"} | ${Math.max(...xs.map((x) => x.sessions))} | ${
        (secs / base).toFixed(2)
      } |`,
    );
  }
}

function navigatorCores(): number {
  try {
    return Number(execFileSync("nproc").toString().trim());
  } catch {
    return 0;
  }
}

function loadAverage(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

await main().catch((e) => {
  console.error("bench failed:", e instanceof Error ? e.stack : e);
  process.exit(1);
});

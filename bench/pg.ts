// Benchmark of the Heroku Postgres FULL_TABLE path (a script, not a test).
//
//   npm run bench:pg                 # 1,000,000 rows
//   npm run bench:pg -- --flat-rss   # also 5,000,000 rows, to show RSS stays flat
//   npm run bench:pg -- --rows 200000 --runtime deno
//   npm run bench:pg -- --runtime binary   # build/tap-heroku (npm run binary first)
//
// It starts its own embedded PostgreSQL (SSL on, as on Heroku) and the Heroku
// API simulator (whose DATABASE_URL points at it), loads big_table (ten mixed
// columns), then in the same run measures:
//   - the tap: `tap-heroku --catalog` (Node on dist/, Deno on src/, or the binary) as a
//     subprocess, stdout piped to `wc -c`, peak RSS from /usr/bin/time -v
//     (or /proc polling when GNU time is missing);
//   - the floor: PostgreSQL's own JSON rendering of the same table,
//     `COPY (SELECT row_to_json(t) FROM big_table t) TO STDOUT` through psql
//     (when installed) to `wc -c`.
// Run with Deno (it imports TypeScript): deno run -A bench/pg.ts. The Node
// run needs a current dist/ (npm run build).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import pg from "pg";
import setup from "../test/global-setup.ts";
import { startSimulator } from "../test/simulator/index.ts";
import { flag, option } from "../scripts/options.ts";
import { command, type RuntimeName } from "../test/helpers/tap.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const ROWS = Number(option("--rows", "1000000"));
const RUNTIME = option("--runtime", "node") as RuntimeName;
const BATCH = Number(option("--batch-size", "5000"));

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
  FROM generate_series(1, ${n}) i;`;

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
    const poll = gnuTime
      ? undefined
      : setInterval(() => {
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

async function main() {
  let databaseUrl = "";
  const teardown = await setup({ provide: (_k: string, v: string) => (databaseUrl = v) } as never);
  const sim = await startSimulator({ apps: 1, postgresApps: 1, postgresPerApp: 1 });
  let failure: unknown;
  try {
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

    // The simulator's app gets DATABASE_URL (and its color) pointing at the server.
    const app = (sim.items("/apps") as { name: string }[])[0]!.name;
    const atts = sim.items("/apps/{app}/addon-attachments", { app }) as { name: string }[];
    sim.setConfigVars(app, Object.fromEntries(atts.map((a) => [`${a.name}_URL`, databaseUrl])));
    const dir = mkdtempSync(join(tmpdir(), "tap-heroku-bench-"));
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ token: "test-token", api_url: sim.url, apps: [app], postgres: { batch_size: BATCH, schemas: ["public"] } }));
    const [cmd, pre] = command(RUNTIME);
    // Not execFileSync: the simulator answering the tap lives in this process.
    const catalog = JSON.parse(await output(cmd, [...pre, "--config", config, "--discover"])) as {
      streams: { tap_stream_id: string; metadata: { breadcrumb: string[]; metadata: Record<string, unknown> }[] }[];
    };

    const psql = (() => {
      try {
        execFileSync("psql", ["--version"], { stdio: "ignore" });
        return true;
      } catch {
        return false;
      }
    })();

    console.log(`\ntap-heroku ${RUNTIME} FULL_TABLE vs COPY (SELECT row_to_json(t) ...) TO STDOUT; batch_size ${BATCH}; ${process.arch}, ${navigatorCores()} cores\n`);
    console.log("| table | rows | tap s | tap rows/s | tap MB/s | tap peak RSS | floor s | floor rows/s | floor MB/s | tap/floor |");
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const { n, table } of tables) {
      const selected = {
        streams: catalog.streams.map((s) => ({
          ...s,
          metadata: s.metadata.map((m) =>
            m.breadcrumb.length === 0 ? { ...m, metadata: { ...m.metadata, selected: s.tap_stream_id.endsWith(`-public-${table}`), "replication-method": "FULL_TABLE" } } : m,
          ),
        })),
      };
      const catalogFile = join(dir, `catalog-${table}.json`);
      writeFileSync(catalogFile, JSON.stringify(selected));
      const tap = await measure(cmd, [...pre, "--config", config, "--catalog", catalogFile], { LOG_LEVEL: "warning" });
      if (tap.bytes < n * 50) throw new Error(`the tap wrote only ${tap.bytes} bytes for ${n} rows: ${tap.stderr.split("\tCommand being timed")[0]!.slice(-3000)}`);
      const floor = psql
        ? await measure("psql", ["-X", "-q", "-c", `COPY (SELECT row_to_json(t) FROM ${table} t) TO STDOUT`, `${databaseUrl}?sslmode=require`])
        : undefined;
      const mb = (m: Measure) => m.bytes / 1e6 / m.seconds;
      console.log(
        `| ${table} | ${n.toLocaleString("en")} | ${tap.seconds.toFixed(1)} | ${Math.round(n / tap.seconds).toLocaleString("en")} | ${mb(tap).toFixed(1)} | ${tap.peakRssMb?.toFixed(0) ?? "?"} MB | ` +
          (floor
            ? `${floor.seconds.toFixed(1)} | ${Math.round(n / floor.seconds).toLocaleString("en")} | ${mb(floor).toFixed(1)} | ${(floor.seconds / tap.seconds).toFixed(2)} |`
            : "no psql | | | |"),
      );
    }
  } catch (e) {
    failure = e;
  } finally {
    await sim.close();
    await teardown?.().catch((e: unknown) => console.error("stopping PostgreSQL failed:", e));
  }
  if (failure) throw failure;
}

function navigatorCores(): number {
  try {
    return Number(execFileSync("nproc").toString().trim());
  } catch {
    return 0;
  }
}

await main().catch((e) => {
  console.error("bench failed:", e instanceof Error ? e.stack : e);
  process.exit(1);
});

// The soak run, shared by bench/soak.ts (2,000 apps, 50 tables, 5,000,000
// rows) and the reduced test in load.test.ts: a simulated account and a
// database of many tables synced by the real CLI in one run, with
//   - the records of every stream counted as they stream by (never kept),
//   - the tap's peak RSS (VmHWM of its process, sampled from /proc),
//   - the Heroku requests made against the minimum: one walk of each selected
//     list per parent in pages of 1,000, plus the database discovery (one
//     walk of /addons, then attachments and config vars of each app with a
//     database).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { startSimulator } from "../../simulator/index.ts";
import { minimumDefaultRequests, pagesOf } from "../helpers/minimum.ts";
import { ROOT, tempFiles } from "../helpers/tap.ts";

export interface SoakOptions {
  /** Superuser URL of a PostgreSQL server (SSL on). */
  adminUrl: string;
  apps: number;
  tables: number;
  rowsPerTable: number;
  batchSize?: number;
  /** Log progress lines here (the bench script); silent by default. */
  say?: (line: string) => void;
}

export interface SoakResult {
  code: number | null;
  seconds: number;
  peakRssMb: number;
  requests: number;
  minimum: { streams: number; discovery: number; total: number };
  records: { api: number; tables: number; perTable: Map<string, number> };
  stderrTail: string;
}

export async function soak(o: SoakOptions): Promise<SoakResult> {
  const say = o.say ?? (() => undefined);
  const dbName = `tap_soak_${o.apps}_${o.tables}_${o.rowsPerTable}`;
  const admin = new pg.Client({ connectionString: o.adminUrl, ssl: { rejectUnauthorized: false } });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const u = new URL(o.adminUrl);
  u.pathname = `/${dbName}`;
  const dbUrl = u.toString();
  const db = new pg.Client({ connectionString: dbUrl, ssl: { rejectUnauthorized: false } });
  await db.connect();
  say(`loading ${o.tables} tables × ${o.rowsPerTable.toLocaleString("en")} rows`);
  for (let t = 0; t < o.tables; t++) {
    await db.query(`CREATE UNLOGGED TABLE t${t} (id bigint PRIMARY KEY, n int, name text, amount numeric(14, 2), at timestamptz, attrs jsonb);
      INSERT INTO t${t} SELECT i, (i * 7919) % 100000, 'customer ' || i, round((i * 1.37)::numeric % 100000, 2),
        '2024-01-01'::timestamptz + i * interval '1 second', jsonb_build_object('plan', 'p' || (i % 5), 'big', 12345678901234567890 + i)
        FROM generate_series(1, ${o.rowsPerTable}) i;`);
  }
  await db.query("ANALYZE");
  await db.end();

  const sim = await startSimulator({ apps: o.apps, postgresApps: 1, rateLimit: { bucket: 1e9, refillPerMinute: 1e9 } });
  try {
    const app = (sim.items("/apps") as { name: string }[]).map((a) => a.name).find((name) =>
      (sim.items("/apps/{app}/addons", { app: name }) as { addon_service: { name: string } }[]).some((a) => a.addon_service.name === "heroku-postgresql")
    )!;
    const atts = (sim.items("/apps/{app}/addon-attachments", { app }) as { name: string }[]).map((a) => `${a.name}_URL`);
    sim.setConfigVars(app, Object.fromEntries(atts.map((v) => [v, dbUrl])));
    const files = tempFiles({ "config.json": { token: "test-token", api_url: sim.url, postgres: { batch_size: o.batchSize ?? 5000 } } });
    const bin = join(ROOT, "bin/tap-heroku.js");

    // Discover, then select the default streams and every table.
    const catalog = JSON.parse(await capture(bin, ["--config", files["config.json"]!, "--discover"])) as {
      streams: { tap_stream_id: string; metadata: { breadcrumb: string[]; metadata: Record<string, unknown> }[] }[];
    };
    const tableIds = new Set<string>();
    for (const s of catalog.streams) {
      const md = s.metadata.find((m) => m.breadcrumb.length === 0)!.metadata;
      const isTable = /-public-t\d+$/.test(s.tap_stream_id);
      if (isTable) tableIds.add(s.tap_stream_id);
      md.selected = isTable || md["selected-by-default"] === true;
    }
    if (tableIds.size !== o.tables) throw new Error(`discovered ${tableIds.size} tables, expected ${o.tables}`);
    const cat = tempFiles({ "catalog.json": catalog })["catalog.json"]!;

    // The minimum, from the simulator's own counts.
    const pgApps = new Set(
      (sim.items("/addons") as { app: { name: string }; addon_service: { name: string } }[]).filter((a) => a.addon_service.name === "heroku-postgresql").map((
        a,
      ) => a.app.name),
    );
    const streams = minimumDefaultRequests(sim, pgApps); // config_vars reuses what discovery read
    const discovery = pagesOf("add_ons", sim.count("/addons")) + 2 * pgApps.size;

    sim.resetLog();
    say(`syncing ${o.apps} apps and ${o.tables} tables`);
    const started = performance.now();
    const perTable = new Map<string, number>();
    let api = 0;
    let peakKb = 0;
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(bin, ["--config", files["config.json"]!, "--catalog", cat], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      const sample = () => {
        try {
          const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
          if (m) peakKb = Math.max(peakKb, Number(m[1]));
        } catch {
          // the process has exited
        }
      };
      const poll = setInterval(sample, 100);
      let tail = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        const lines = (tail + chunk).split("\n");
        tail = lines.pop() ?? "";
        for (const l of lines) {
          if (!l.startsWith('{"type":"RECORD"')) continue;
          const stream = l.slice(l.indexOf('"stream":"') + 10, l.indexOf('"', l.indexOf('"stream":"') + 10));
          if (tableIds.has(stream)) perTable.set(stream, (perTable.get(stream) ?? 0) + 1);
          else api++;
        }
        sample();
      });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-20_000)));
      child.on("error", reject);
      child.on("close", (code) => {
        clearInterval(poll);
        resolve({ code, stderr });
      });
    });
    return {
      code: run.code,
      seconds: (performance.now() - started) / 1000,
      peakRssMb: Math.round(peakKb / 1024),
      requests: sim.requests.length,
      minimum: { streams, discovery, total: streams + discovery },
      records: { api, tables: [...perTable.values()].reduce((a, b) => a + b, 0), perTable },
      stderrTail: run.stderr.split("\n").filter((l) => !l.includes("METRIC")).slice(-15).join("\n"),
    };
  } finally {
    await sim.close();
    const c = new pg.Client({ connectionString: o.adminUrl, ssl: { rejectUnauthorized: false } });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await c.end();
  }
}

function capture(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")}: exit ${code}\n${err.slice(-2000)}`))));
  });
}

// Change capture against a FULL_TABLE read of the same warmed table (issue 13),
// run by bench/pg.ts with --capture: INCREMENTAL on _sdc_xmin when nothing
// changed and when 1 % of the rows changed, each from the state of the run
// before, timed as users run the tap (the bin, stdout to a file, peak RSS from
// GNU time). The cost model: an xmin run scans the whole heap on the server
// (the filter is on each row's header) but sends only the changed rows.
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import pg from "pg";
import { type Catalog, selecting } from "../test/heroku/util.ts";

export interface CaptureBench {
  readonly launcher: [string, string[]];
  readonly config: string;
  readonly catalog: Catalog;
  readonly databaseUrl: string;
  readonly table: string;
  readonly rows: number;
  readonly dir: string;
  readonly root: string;
}

interface Run {
  seconds: number;
  records: number;
  bytes: number;
  peakRssMb: number | undefined;
  state: unknown;
}

/** Runs the tap with stdout to a file; returns its time, records, peak RSS and last STATE. */
function runTap(b: CaptureBench, catalogFile: string, stateFile: string | undefined, name: string): Promise<Run> {
  const out = join(b.dir, `${name}.out`);
  const gnuTime = existsSync("/usr/bin/time");
  const args = [...b.launcher[1], "--config", b.config, "--catalog", catalogFile, ...(stateFile ? ["--state", stateFile] : [])];
  const argv = gnuTime ? ["/usr/bin/time", "-v", b.launcher[0], ...args] : [b.launcher[0], ...args];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { cwd: b.root, env: { ...process.env, LOG_LEVEL: "warning" }, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-20000)));
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) return reject(new Error(`the tap exited with ${code}: ${stderr.slice(-2000)}`));
      const text = Buffer.concat(chunks).toString("utf8");
      writeFileSync(out, text);
      let records = 0;
      let state: unknown;
      for (const line of text.split("\n")) {
        if (line.startsWith('{"type":"RECORD"')) records++;
        else if (line.startsWith('{"type":"STATE"')) state = JSON.parse(line).value;
      }
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      resolve({ seconds, records, bytes: Buffer.byteLength(text), peakRssMb: m ? Number(m[1]) / 1024 : undefined, state });
    });
  });
}

/** The catalog selecting `table` only, with the given method and key. */
function catalogFile(b: CaptureBench, method: string, key: string | undefined, name: string): string {
  const id = b.catalog.streams.find((s) => s.tap_stream_id.endsWith(`-public-${b.table}`))!.tap_stream_id;
  const file = join(b.dir, `catalog-${name}.json`);
  writeFileSync(file, JSON.stringify(selecting(b.catalog, [id], { [id]: method }, key ? { [id]: key } : {})));
  return file;
}

function stateFile(b: CaptureBench, state: unknown, name: string): string {
  const file = join(b.dir, `state-${name}.json`);
  writeFileSync(file, JSON.stringify(state));
  return file;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en");

export async function benchCapture(b: CaptureBench): Promise<void> {
  const admin = new pg.Client({ connectionString: b.databaseUrl, ssl: { rejectUnauthorized: false } });
  await admin.connect();
  try {
    const full = catalogFile(b, "FULL_TABLE", undefined, "full");
    const xmin = catalogFile(b, "INCREMENTAL", "_sdc_xmin", "xmin");
    console.log(`\nChange capture on ${b.table} (${fmt(b.rows)} rows), the bin on loopback, stdout to a file\n`);
    console.log("| run | records | s | × FULL_TABLE time | bytes | peak RSS |");
    console.log("|---|---:|---:|---:|---:|---:|");
    const row = (name: string, r: Run, base: number) =>
      console.log(
        `| ${name} | ${fmt(r.records)} | ${r.seconds.toFixed(2)} | ${(r.seconds / base).toFixed(3)} | ${fmt(r.bytes)} | ${r.peakRssMb?.toFixed(0) ?? "?"} MB |`,
      );

    const fullRun = await runTap(b, full, undefined, "full");
    row("FULL_TABLE", fullRun, fullRun.seconds);
    const first = await runTap(b, xmin, undefined, "xmin-first");
    row("_sdc_xmin, first run (every row, a new version)", first, fullRun.seconds);
    const unchanged = await runTap(b, xmin, stateFile(b, first.state, "first"), "xmin-unchanged");
    row("_sdc_xmin, nothing changed", unchanged, fullRun.seconds);
    if (unchanged.records !== 0) throw new Error(`an unchanged table sent ${unchanged.records} records`);

    const changed = Math.round(b.rows / 100);
    await admin.query(`UPDATE ${b.table} SET n = n + 1 WHERE id % 100 = 7`);
    const one = await runTap(b, xmin, stateFile(b, unchanged.state, "unchanged"), "xmin-1pct");
    row(`_sdc_xmin, 1 % updated (${fmt(changed)} rows)`, one, fullRun.seconds);
    if (one.records < changed) throw new Error(`1 % updated: ${one.records} records, expected at least ${changed}`);
    // Leave the table as other benchmarks expect it (the update is undone; vacuum restores the visibility map).
    await admin.query(`UPDATE ${b.table} SET n = n - 1 WHERE id % 100 = 7`);
    await admin.query(`VACUUM ${b.table}`);
  } finally {
    await admin.end();
  }
}

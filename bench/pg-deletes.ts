// bench:pg --deletes (issue 13): what delete detection costs against a
// FULL_TABLE read of the same warmed table. On a copy of big_table (so the
// other cases keep theirs), with the incremental bookmark at the newest
// updated_at, so an INCREMENTAL run reads only the rows tied with it:
//   1. a run with detect_deletes records the keys (the first run: no tombstone);
//   2. 1 % of the rows are deleted at random;
//   3. in alternating runs from the state of step 1: FULL_TABLE; INCREMENTAL
//      without detection; INCREMENTAL with detection (the tombstones). The
//      detection's cost is the difference of the last two (both pay the
//      process start, the API discovery and the connection);
//   4. the same after VACUUM, which sets the visibility map again so the key
//      read is an index-only scan (until autovacuum runs, the deleted rows'
//      pages make it visit the heap).
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import pg from "pg";
import { type Catalog, selecting } from "../test/heroku/util.ts";

interface Measure {
  seconds: number;
  bytes: number;
  /** The end of the tap's stderr. */
  stderr: string;
}

export interface DeletesBench {
  readonly databaseUrl: string;
  /** The bench's config file (API simulator, batch size); detect_deletes is added here. */
  readonly config: string;
  readonly dir: string;
  readonly launcher: [string, string[]];
  readonly runs: number;
  readonly measure: (cmd: string, args: string[], env?: Record<string, string>) => Promise<Measure>;
  readonly loadAverage: () => string;
}

const TABLE = "big_table_deletes";
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString("en");

/** Runs the tap to the end and returns its last STATE and how many tombstones it wrote. */
function stateOf(cmd: string, args: string[]): Promise<{ state: Record<string, unknown>; tombstones: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, LOG_LEVEL: "warning" }, stdio: ["ignore", "pipe", "inherit"] });
    let rest = "";
    let state: Record<string, unknown> = {};
    let tombstones = 0;
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      const lines = (rest + d).split("\n");
      rest = lines.pop()!;
      for (const l of lines) {
        if (l.startsWith('{"type":"STATE"')) state = JSON.parse(l).value;
        else if (l.includes('"_sdc_deleted_at":"')) tombstones++;
      }
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve({ state, tombstones }) : reject(new Error(`the tap exited with ${code}`))));
  });
}

export async function benchDeletes(b: DeletesBench): Promise<void> {
  const admin = new pg.Client({ connectionString: b.databaseUrl, ssl: { rejectUnauthorized: false } });
  await admin.connect();
  try {
    console.error(`copying big_table to ${TABLE}...`);
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} AS SELECT * FROM big_table ORDER BY id;
      ALTER TABLE ${TABLE} ADD PRIMARY KEY (id); CREATE INDEX ON ${TABLE} (updated_at);`);
    await admin.query(`VACUUM ANALYZE ${TABLE}`);
    const rows = Number((await admin.query(`SELECT count(*)::int8::text AS n FROM ${TABLE}`)).rows[0].n);
    const newest = String((await admin.query(`SELECT max(updated_at)::text AS v FROM ${TABLE}`)).rows[0].v);

    const base = JSON.parse(readFileSync(b.config, "utf8"));
    const on = join(b.dir, "config-deletes.json");
    const off = join(b.dir, "config-no-deletes.json");
    writeFileSync(on, JSON.stringify({ ...base, postgres: { ...base.postgres, detect_deletes: true } }));
    writeFileSync(off, JSON.stringify(base));
    const [cmd, pre] = b.launcher;
    const discovered = await new Promise<string>((resolve, reject) => {
      const c = spawn(cmd, [...pre, "--config", on, "--discover"], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      c.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
      c.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`--discover exited with ${code}`))));
    });
    const catalog = JSON.parse(discovered) as Catalog;
    const stream = catalog.streams.find((s) => s.tap_stream_id.endsWith(`-public-${TABLE}`))!.tap_stream_id;
    const catalogFor = (method: string) => {
      const file = join(b.dir, `catalog-deletes-${method}.json`);
      writeFileSync(file, JSON.stringify(selecting(catalog, [stream], { [stream]: method }, method === "INCREMENTAL" ? { [stream]: "updated_at" } : {})));
      return file;
    };
    const full = catalogFor("FULL_TABLE");
    const incremental = catalogFor("INCREMENTAL");
    const state0 = join(b.dir, "state-deletes-0.json");
    writeFileSync(state0, JSON.stringify({ bookmarks: { [stream]: { replication_key: "updated_at", replication_key_value: newest } } }));

    // 1. The first run with detection records the keys.
    const first = await stateOf(cmd, [...pre, "--config", on, "--catalog", incremental, "--state", state0]);
    const state1 = join(b.dir, "state-deletes-1.json");
    writeFileSync(state1, JSON.stringify(first.state));
    const keptBytes = JSON.stringify((first.state.bookmarks as Record<string, { deletes?: unknown }>)[stream]!.deletes ?? "").length;

    // 2. 1 % deleted at random.
    const deleted = (await admin.query(`DELETE FROM ${TABLE} WHERE random() < 0.01`)).rowCount ?? 0;
    const check = await stateOf(cmd, [...pre, "--config", on, "--catalog", incremental, "--state", state1]);
    if (check.tombstones !== deleted) throw new Error(`delete detection sent ${check.tombstones} tombstones for ${deleted} deleted rows`);
    const afterBytes = JSON.stringify((check.state.bookmarks as Record<string, { deletes?: unknown }>)[stream]!.deletes ?? "").length;

    console.log(
      `\nDelete detection: ${fmt(rows)} rows, ${fmt(deleted)} deleted at random (1 %); ${b.runs} alternating run(s), medians; ` +
        `the keys kept in the state: ${fmt(keptBytes)} bytes before, ${fmt(afterBytes)} after (load average ${b.loadAverage()})\n`,
    );
    console.log(
      "| heap | FULL_TABLE run s | INCREMENTAL run s (no change) | INCREMENTAL + detection run s | detection s (difference) | detection / FULL_TABLE | " +
        "in the tap: FULL_TABLE read s | in the tap: detection s | detection / FULL_TABLE |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    // Two readings: whole runs (detection = the difference of two runs' wall time), and the tap's own
    // INFO lines (the FULL_TABLE stream's seconds, the detection's seconds), which leave out the process
    // start, discovery and connecting, and so the load of other jobs between them.
    const seconds = (stderr: string, re: RegExp) => Number(re.exec(stderr)?.[1] ?? NaN);
    for (const heap of ["after the deletes, before VACUUM", "after VACUUM"]) {
      if (heap === "after VACUUM") await admin.query(`VACUUM ${TABLE}`);
      // The pages the DELETE or VACUUM dirtied are written now, not during a measured run.
      await admin.query("CHECKPOINT");
      const fulls: number[] = [];
      const plain: number[] = [];
      const detect: number[] = [];
      const fullInTap: number[] = [];
      const detectInTap: number[] = [];
      for (let r = 0; r < b.runs; r++) {
        const f = await b.measure(cmd, [...pre, "--config", off, "--catalog", full], { LOG_LEVEL: "info" });
        fulls.push(f.seconds);
        fullInTap.push(seconds(f.stderr, /: \d+ records in ([\d.]+) s/));
        plain.push((await b.measure(cmd, [...pre, "--config", off, "--catalog", incremental, "--state", state1], { LOG_LEVEL: "warning" })).seconds);
        const d = await b.measure(cmd, [...pre, "--config", on, "--catalog", incremental, "--state", state1], { LOG_LEVEL: "info" });
        detect.push(d.seconds);
        detectInTap.push(seconds(d.stderr, /delete detection read \d+ keys in ([\d.]+) s/));
      }
      const f = median(fulls);
      const d = median(detect) - median(plain);
      const fi = median(fullInTap);
      const di = median(detectInTap);
      console.log(
        `| ${heap} | ${f.toFixed(2)} | ${median(plain).toFixed(2)} | ${median(detect).toFixed(2)} | ${d.toFixed(2)} | ${(100 * d / f).toFixed(1)} % | ` +
          `${fi.toFixed(2)} | ${di.toFixed(2)} | ${(100 * di / fi).toFixed(1)} % |`,
      );
    }
  } finally {
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => undefined);
    await admin.end();
  }
}

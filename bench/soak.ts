// Soak run (a script, not a test): a simulated account of 2,000 apps (the
// default stream selection) and a database of 50 tables and 5,000,000 rows,
// synced by the real CLI (Node, dist/, run as its bin) in one run.
//
//   deno run -A bench/soak.ts                      # 2,000 apps, 50 × 100,000 rows
//   deno run -A bench/soak.ts --apps 500 --tables 10 --rows-per-table 50000
//
// It starts its own embedded PostgreSQL (SSL on) and the Heroku API simulator
// (no latency, unlimited rate-limit bucket: it measures the tap), and prints:
// exit code, wall time, records (API and tables, every table complete), the
// tap's peak RSS (VmHWM from /proc/<pid>/status, sampled every 100 ms) and the
// Heroku requests made against the minimum. Exits non-zero if the run failed,
// a row is missing or a request was made beyond the minimum.
// The reduced version is test/reliability/load.test.ts. Needs a current dist/.
import { cpus, totalmem } from "node:os";
import process from "node:process";
import setup from "../test/global-setup.ts";
import { soak } from "../test/reliability/soak.ts";
import { option } from "../scripts/options.ts";

const APPS = Number(option("--apps", "2000"));
const TABLES = Number(option("--tables", "50"));
const ROWS = Number(option("--rows-per-table", "100000"));
const BATCH = Number(option("--batch-size", "5000"));

let adminUrl = "";
const teardown = await setup({ provide: (_k: string, v: string) => (adminUrl = v) } as never);
try {
  const r = await soak({ adminUrl, apps: APPS, tables: TABLES, rowsPerTable: ROWS, batchSize: BATCH, say: (l) => console.error(l) });
  const complete = [...r.records.perTable.values()].every((n) => n === ROWS) && r.records.perTable.size === TABLES;
  console.log(`tap-heroku soak: ${APPS} apps (default streams), ${TABLES} tables × ${ROWS.toLocaleString("en")} rows, batch_size ${BATCH}`);
  console.log(
    `machine         ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, node (dist/, bin shebang flags)`,
  );
  console.log(`exit code       ${r.code}`);
  console.log(`wall time       ${r.seconds.toFixed(1)} s`);
  console.log(
    `records         ${r.records.api.toLocaleString("en")} API, ${r.records.tables.toLocaleString("en")} table rows${
      complete ? " (every table complete)" : " (INCOMPLETE)"
    }`,
  );
  console.log(`peak RSS        ${r.peakRssMb} MB (VmHWM of the tap process)`);
  console.log(`requests made   ${r.requests}${r.requests === r.minimum.total ? " (the minimum)" : ""}`);
  console.log(`minimum         ${r.minimum.total} = ${r.minimum.streams} for the streams + ${r.minimum.discovery} for database discovery`);
  if (r.code !== 0) console.log(r.stderrTail);
  process.exitCode = r.code === 0 && complete && r.requests === r.minimum.total ? 0 : 1;
} finally {
  await teardown?.();
}

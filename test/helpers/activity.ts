// A sampler of pg_stat_activity in a process of its own (so a busy tap in the
// test's process cannot starve it): the most sessions named tap-heroku seen at
// once on one database, and how long the oldest running statement and the
// oldest open transaction (a snapshot a follower's recovery may wait for) of
// those sessions had lasted, polled every few milliseconds until stopped.
import { spawn } from "node:child_process";
import { ROOT } from "./tap.ts";

const SCRIPT = `
const pg = require("pg");
const [url, database] = process.argv.slice(1);
const c = new pg.Client({ connectionString: url, ssl: { rejectUnauthorized: false } });
let max = 0, samples = 0, oldestStatement = 0, oldestTransaction = 0, running = true;
process.stdin.on("end", () => (running = false)).resume();
(async () => {
  await c.connect();
  process.stdout.write("ready\\n");
  while (running) {
    const r = await c.query(
      "SELECT count(*)::int AS n," +
        " coalesce(max(extract(epoch FROM clock_timestamp() - query_start)) FILTER (WHERE state = 'active'), 0)::float8 AS statement," +
        " coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)::float8 AS xact" +
        " FROM pg_stat_activity WHERE application_name = 'tap-heroku' AND datname = $1",
      [database],
    );
    max = Math.max(max, r.rows[0].n);
    oldestStatement = Math.max(oldestStatement, Number(r.rows[0].statement));
    oldestTransaction = Math.max(oldestTransaction, Number(r.rows[0].xact));
    samples++;
    await new Promise((r) => setTimeout(r, 5));
  }
  await c.end();
  process.stdout.write(JSON.stringify({ max, samples, oldestStatement, oldestTransaction }) + "\\n");
})();`;

export interface Sampled {
  readonly max: number;
  readonly samples: number;
  /** Seconds the longest-running statement had run when seen. */
  readonly oldestStatement: number;
  /** Seconds the longest-open transaction had been open when seen (a statement outside one counts as one). */
  readonly oldestTransaction: number;
}

export async function sampleActivity(url: string, database: string): Promise<{ stop(): Promise<Sampled> }> {
  const child = spawn(process.execPath, ["-e", SCRIPT, url, database], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the sampler exited with ${code}`)));
    child.stdout.on("data", (d: string) => {
      out += d;
      if (out.startsWith("ready\n")) resolve();
    });
  });
  return {
    stop: () =>
      new Promise<Sampled>((resolve, reject) => {
        child.removeAllListeners("exit");
        child.once("exit", () => {
          const line = out.split("\n").filter(Boolean).at(-1)!;
          try {
            resolve(JSON.parse(line) as Sampled);
          } catch {
            reject(new Error(`the sampler said: ${out}`));
          }
        });
        child.stdin.end();
      }),
  };
}

// npm run demo: tap-heroku end to end with no credentials. Starts the Heroku
// API simulator and a real PostgreSQL seeded with a small shop database that
// the simulator's first app has attached, then runs discovery and a sync with
// the real CLI, and shows what came out. `--tap build/tap-heroku` runs the
// single binary instead of the npm bin; `--out DIR` writes elsewhere than .demo/.
import pg from "pg";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startSimulator } from "../simulator/index.ts";
import { startEmbeddedPostgres } from "../test/helpers/embedded-postgres.ts";
import { option } from "./options.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const OUT = resolve(option("--out", join(ROOT, ".demo")));
const out = (file: string) => relative(process.cwd(), join(OUT, file));
const TAP_OPTION = option("--tap", "");
const TAP = TAP_OPTION ? resolve(TAP_OPTION) : join(ROOT, "bin/tap-heroku.js");
const say = (s = "") => console.log(s);

async function main() {
  const started = Date.now();
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });

  say("1. Starting a real PostgreSQL (embedded-postgres, SSL on) and seeding a shop database ...");
  const db = await startPostgres();
  try {
    await seed(db.url);

    say("2. Starting the Heroku API simulator on loopback; one app has that database attached (DATABASE_URL) ...");
    const sim = await startSimulator({ apps: 3, postgresApps: 1 });
    // The app with the Heroku Postgres add-on; every config var of that add-on points at the demo database.
    type AddOn = { app: { name: string }; addon_service: { name: string }; config_vars: string[] };
    const addon = (sim.items("/addons") as AddOn[]).find((a) => a.addon_service.name === "heroku-postgresql")!;
    const firstApp = addon.app.name;
    sim.setConfigVars(firstApp, Object.fromEntries(addon.config_vars.map((v) => [v, db.readerUrl])));
    try {
      const config = join(OUT, "config.json");
      writeFileSync(config, JSON.stringify({ token: "test-token", api_url: sim.url, apps: [firstApp] }, null, 2));

      say(`3. Discovery: tap-heroku --config ${out("config.json")} --discover > ${out("catalog.json")}`);
      const discover = await tap(["--config", config, "--discover"]);
      writeFileSync(join(OUT, "discover.log"), discover.stderr);
      if (discover.code !== 0) throw new Error(`discovery failed:\n${discover.stderr}`);
      for (const w of discover.stderr.split("\n").filter((l) => l.startsWith("WARNING"))) say(`   ${w}`);
      const catalog = JSON.parse(discover.stdout) as {
        streams: Array<{ tap_stream_id: string; metadata: Array<{ breadcrumb: string[]; metadata: Record<string, unknown> }> }>;
      };
      const tables = catalog.streams.filter((s) => s.metadata[0]?.metadata["database-name"] !== undefined);
      say(`   ${catalog.streams.length} streams: ${catalog.streams.length - tables.length} Heroku API resources and ${tables.length} database tables:`);
      for (const t of tables) say(`     - ${t.tap_stream_id}`);

      // Select a few API streams and every table, as `meltano select` would.
      const api = ["apps", "add_ons", "add_on_attachments", "releases", "dynos", "domains"];
      const wanted = new Set([...api, ...tables.map((t) => t.tap_stream_id)]);
      for (const s of catalog.streams) s.metadata[0]!.metadata.selected = wanted.has(s.tap_stream_id);
      writeFileSync(join(OUT, "catalog.json"), JSON.stringify(catalog, null, 2));
      say(`   selected ${wanted.size} of them (the ${api.length} API streams ${api.join(", ")} and the ${tables.length} tables)`);
      say(`   by setting "selected": true in each one's top-level metadata in ${out("catalog.json")}, and false in the others:`);
      say(`   what \`meltano select tap-heroku <stream> "*"\` writes, and what the command printed at the end does.`);

      say(`4. Sync: tap-heroku --config ${out("config.json")} --catalog ${out("catalog.json")} > ${out("output.jsonl")}`);
      const sync = await tap(["--config", config, "--catalog", join(OUT, "catalog.json")]);
      writeFileSync(join(OUT, "output.jsonl"), sync.stdout);
      writeFileSync(join(OUT, "stderr.log"), sync.stderr);
      if (sync.code !== 0) throw new Error(`sync failed (exit ${sync.code}):\n${sync.stderr}`);

      const counts = new Map<string, number>();
      let lastState: unknown;
      for (const line of sync.stdout.split("\n")) {
        if (!line) continue;
        const m = JSON.parse(line) as { type: string; stream?: string; value?: unknown };
        if (m.type === "RECORD") counts.set(m.stream!, (counts.get(m.stream!) ?? 0) + 1);
        if (m.type === "STATE") lastState = m.value;
      }
      say("   records per stream:");
      for (const [stream, n] of [...counts].sort()) say(`     ${stream.padEnd(52)} ${String(n).padStart(7)}`);
      writeFileSync(join(OUT, "state.json"), JSON.stringify(lastState, null, 2));
      say(`   final state (${out("state.json")}; pass it with --state to continue incrementally):`);
      say(JSON.stringify(lastState, null, 2).split("\n").slice(0, 12).map((l) => `     ${l}`).join("\n") + "\n     ...");
      say();
      say(`Output: ${out("output.jsonl")} (Singer messages), logs in ${out("stderr.log")}. Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
      say();
      say("The same against your Heroku account:");
      say("  heroku authorizations:create --scope read-protected,identity --description tap-heroku");
      say('  echo \'{"token": "<that token>"}\' > config.json');
      const command = TAP_OPTION || "tap-heroku"; // installed as the README's quick start says
      say(`  ${command} --config config.json --discover > catalog.json`);
      say('  # select streams: sets "selected" in each stream\'s top-level metadata (name the streams you want)');
      say(`  node -e '${SELECT_SCRIPT}' ${api.join(" ")} < catalog.json > selected.json`);
      say(`  ${command} --config config.json --catalog selected.json | target-postgres --config target.json`);
    } finally {
      await sim.close();
    }
  } finally {
    await db.stop();
  }
}

/** A one-line selection script for the printed commands: stream ids as arguments, the catalog on stdin. */
const SELECT_SCRIPT = [
  'const c = JSON.parse(require("fs").readFileSync(0, "utf8"))',
  "const want = new Set(process.argv.slice(1))",
  "for (const s of c.streams) s.metadata.find((m) => m.breadcrumb.length === 0).metadata.selected = want.has(s.tap_stream_id)",
  "console.log(JSON.stringify(c))",
].join("; ");

function tap(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TAP, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function startPostgres() {
  const server = await startEmbeddedPostgres({ password: "demo-superuser" });
  return {
    url: server.url,
    // What Heroku hands an app: a credential for its database (here a read-only role, as the tap needs no more).
    readerUrl: `postgres://shop_reader:demo-reader-pw@127.0.0.1:${server.port}/shop`,
    stop: () => server.stop(),
  };
}

async function seed(adminUrl: string) {
  const admin = new pg.Client({ connectionString: adminUrl, ssl: { rejectUnauthorized: false } });
  await admin.connect();
  await admin.query("CREATE DATABASE shop");
  await admin.query("CREATE ROLE shop_reader LOGIN PASSWORD 'demo-reader-pw'");
  await admin.end();
  const shop = new pg.Client({ connectionString: adminUrl.replace(/\/postgres$/, "/shop"), ssl: { rejectUnauthorized: false } });
  await shop.connect();
  await shop.query(readFileSync(join(ROOT, "scripts/demo-shop.sql"), "utf8"));
  await shop.end();
}

const code = await main().then(
  () => 0,
  (e) => {
    console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  },
);
process.exit(code);

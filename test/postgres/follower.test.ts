// A Heroku Postgres follower for real: a physical hot standby of its own
// embedded primary, streaming over loopback with SSL. The API simulator
// exposes the leader and the follower as two add-ons of one app, and the real
// CLI must see one database, read it from the standby by default (or from the
// leader with prefer_follower=false) and emit exactly the primary's rows,
// including those that reached the standby through replication.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../helpers/embedded-postgres.ts";
import type { RunningPostgres, RunningStandby } from "../helpers/embedded-postgres.ts";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { runTap, RUNTIMES, tempFiles } from "../helpers/tap.ts";
import { aliasOf } from "../../src/postgres/streams.ts";
import { connect, reportedStandby, reportedVersion } from "../../src/postgres/connect.ts";
import { PostgresSettings } from "../../src/config.ts";
import { rawFields, sql } from "./helpers.ts";

const DB = "tap_follower";
const READER = { name: "tap_follower_reader", password: "pw-follower-reader-secret" };
// Mixed types whose text must survive exactly: keys beyond 2^53, numerics
// beyond a double, microseconds, a jsonb number no double can hold.
const ROWS = (from: number, to: number) => `
INSERT INTO items
SELECT 9007199254740993 + i, 12345678901234567890.123456789012345678 * i, '2024-02-29 23:59:59.999999+00'::timestamptz + i * interval '1.000001 second',
       jsonb_build_object('n', 123456789012345678901234567890 + i, 'tag', 'row ' || i)
  FROM generate_series(${from}, ${to}) i;`;

let primary: RunningPostgres | undefined;
let standby: RunningStandby | undefined;
let sim: Simulator | undefined;
let leader: string;
let follower: string;
const dirs: string[] = [];
/** Config files: default settings, and prefer_follower=false. */
const configs = { default: "", leader: "" };

const inDb = (url: string, user?: { name: string; password: string }) => {
  const u = new URL(url);
  u.pathname = `/${DB}`;
  if (user) [u.username, u.password] = [user.name, user.password];
  return u.toString();
};

beforeAll(async () => {
  primary = await startEmbeddedPostgres({ password: "follower-test-superuser" });
  await sql(primary.url, `CREATE DATABASE ${DB}`);
  await sql(
    inDb(primary.url),
    `CREATE TABLE items (id bigint PRIMARY KEY, amount numeric, at timestamptz, doc jsonb);
     ${ROWS(1, 1500)}
     CREATE ROLE ${READER.name} LOGIN PASSWORD '${READER.password}';
     GRANT SELECT ON items TO ${READER.name};`,
  );
  standby = await primary.startStandby();
  // Written after the copy: these rows reach the standby only by streaming replication.
  await sql(inDb(primary.url), `${ROWS(1501, 2000)} INSERT INTO items VALUES (1, -0.000000000000000000000001, NULL, '{"big": -1.5e400}');`);
  await standby.waitForReplay();

  // One app with two Heroku Postgres add-ons: the first (DATABASE) is the leader, the second its follower.
  sim = await startSimulator({ apps: 1, postgresApps: 1, postgresPerApp: 2 });
  const app = (sim.items("/apps") as { name: string }[])[0]!.name;
  const atts = sim.items("/apps/{app}/addon-attachments", { app }) as { name: string; addon: { id: string; name: string } }[];
  const leaderId = atts.find((a) => a.name === "DATABASE")!.addon.id;
  leader = atts.find((a) => a.addon.id === leaderId)!.addon.name;
  follower = atts.find((a) => a.addon.id !== leaderId)!.addon.name;
  const urlOf = (id: string) => inDb(id === leaderId ? primary!.url : standby!.url, READER);
  sim.setConfigVars(app, Object.fromEntries(atts.map((a) => [`${a.name}_URL`, urlOf(a.addon.id)])));
  const config = (postgres: Record<string, unknown>) => ({ token: "test-token", api_url: sim!.url, apps: [app], postgres: { batch_size: 500, ...postgres } });
  const f = tempFiles({ "default.json": config({}), "leader.json": config({ prefer_follower: false }) });
  dirs.push(f.dir);
  configs.default = f["default.json"]!;
  configs.leader = f["leader.json"]!;
});

afterAll(async () => {
  await sim?.close();
  await standby?.stop();
  await primary?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Index and sequential scans of `items` on a server, once the tap's sessions
 * are gone: a backend flushes its table statistics when it exits, and a
 * standby counts the scans run on it (PostgreSQL 15+ statistics).
 */
async function scans(url: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  while ((await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tap-heroku'"))[0]!.n > 0) {
    if (Date.now() > deadline) throw new Error("the tap's sessions did not end");
    await new Promise((r) => setTimeout(r, 50));
  }
  const [row] = await sql<{ n: string }>(inDb(url), "SELECT (seq_scan + coalesce(idx_scan, 0))::text AS n FROM pg_stat_user_tables WHERE relname = 'items'");
  return Number(row!.n);
}

/** The primary's rows as the tap must write them: each field's exact JSON text. */
async function expectedRows(): Promise<Record<string, string>[]> {
  const rows = await sql<{ id: string; amount: string | null; at: string | null; doc: string | null }>(
    inDb(primary!.url),
    `SELECT id::text, amount::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, doc::text FROM items ORDER BY id`,
  );
  return rows.map((r) => ({ id: r.id, amount: r.amount ?? "null", at: r.at === null ? "null" : JSON.stringify(r.at), doc: r.doc ?? "null" }));
}

type Catalog = { streams: { tap_stream_id: string; metadata: { breadcrumb: string[]; metadata: Record<string, unknown> }[] }[] };

async function discover(config: string, runtime: (typeof RUNTIMES)[number]) {
  const run = await runTap(["--config", config, "--discover"], { runtime });
  expect(run.code, run.stderr).toBe(0);
  const catalog = JSON.parse(run.stdout) as Catalog;
  const items = catalog.streams.filter((s) => s.tap_stream_id.endsWith("-public-items"));
  expect(items.map((s) => s.tap_stream_id)).toEqual([`${aliasOf(leader)}-public-items`]); // one logical database, named after the leader
  const selected: Catalog = {
    streams: catalog.streams.map((s) => ({
      ...s,
      metadata: s.metadata.map((m) => (m.breadcrumb.length === 0 ? { ...m, metadata: { ...m.metadata, selected: s === items[0] } } : m)),
    })),
  };
  const f = tempFiles({ "catalog.json": selected });
  dirs.push(f.dir);
  return { metadata: items[0]!.metadata.find((m) => m.breadcrumb.length === 0)!.metadata, catalog: f["catalog.json"]! };
}

/** Runs the sync; returns the records' raw fields and how many scans of `items` each server saw. */
async function sync(config: string, catalog: string, runtime: (typeof RUNTIMES)[number]) {
  const before = { primary: await scans(primary!.url), standby: await scans(standby!.url) };
  const run = await runTap(["--config", config, "--catalog", catalog], { runtime });
  expect(run.code, run.stderr).toBe(0);
  const after = { primary: await scans(primary!.url), standby: await scans(standby!.url) };
  const records = run.stdout.split("\n").filter((l) => l.startsWith('{"type":"RECORD"')).map((l) => Object.fromEntries(rawFields(l)));
  return { records, primaryScans: after.primary - before.primary, standbyScans: after.standby - before.standby };
}

describe.each(RUNTIMES)("a leader and its real follower (hot standby), on %s", (runtime) => {
  it("says it is a standby, and its version, without a query: in_hot_standby and server_version, reported at connect", async () => {
    const settings = PostgresSettings.parse({ ssl: "no-verify" });
    const onStandby = await connect(inDb(standby!.url, READER), settings);
    const onPrimary = await connect(inDb(primary!.url, READER), settings);
    try {
      expect([reportedStandby(onStandby), reportedStandby(onPrimary)]).toEqual([true, false]);
      const [{ v }] = (await onPrimary.query("SELECT current_setting('server_version_num') AS v")).rows as [{ v: string }];
      expect(reportedVersion(onPrimary)).toBe(Number(v));
    } finally {
      await onStandby.end();
      await onPrimary.end();
    }
  });

  it("is one database, read from the standby by default: exactly the primary's rows, replicated ones included", async () => {
    const d = await discover(configs.default, runtime);
    expect(d.metadata).toMatchObject({ "database-name": DB, "heroku-addon": leader, "heroku-read-from": follower });

    const s = await sync(configs.default, d.catalog, runtime);
    expect(s.standbyScans).toBeGreaterThan(0);
    expect(s.primaryScans).toBe(0);
    const expected = await expectedRows();
    expect(expected).toHaveLength(2001);
    expect(s.records).toEqual(expected);
  });

  it("is read from the leader with prefer_follower=false, under the same stream name", async () => {
    const d = await discover(configs.leader, runtime);
    expect(d.metadata).toMatchObject({ "database-name": DB, "heroku-addon": leader });
    expect(d.metadata["heroku-read-from"]).toBeUndefined();

    const s = await sync(configs.leader, d.catalog, runtime);
    expect(s.primaryScans).toBeGreaterThan(0);
    expect(s.standbyScans).toBe(0);
    expect(s.records).toEqual(await expectedRows());
  });
});

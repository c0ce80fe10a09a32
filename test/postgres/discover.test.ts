// Finding databases through the Heroku API simulator, whose config vars point
// at the embedded PostgreSQL: two databases on one app, one database attached
// twice, a follower, an unreachable add-on, and config vars refused (403).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { Settings } from "../../src/config.ts";
import { herokuClient } from "../../src/tap.ts";
import { openPostgres } from "../../src/postgres/index.ts";
import { discoverEntry } from "../../src/singer/runner.ts";
import { aliasOf } from "../../src/postgres/streams.ts";
import { catalogFor, createDatabase, readerRole, recordsOf, runInProcess, sql, superuserUrl } from "./helpers.ts";

const SMALL = `
CREATE SCHEMA "Sales-EU";
CREATE TABLE things (id int PRIMARY KEY, label text);
INSERT INTO things SELECT i, 'thing ' || i FROM generate_series(1, 25) i;
CREATE TABLE secret_stuff (id int);
CREATE TABLE partly_visible (id int, visible text);`;

let sim: Simulator;
let app0: string;
let app1: string;
let noPgApp: string;
const addons: Record<string, { name: string; attachments: string[] }[]> = {};
let urlA: string;
let urlB: string;
let followerA: string;

/** The add-ons of an app with their attachment names, in the simulator's order. */
function pgAddons(app: string) {
  const list = sim.items("/apps/{app}/addons", { app }) as { id: string; name: string; addon_service: { name: string } }[];
  const atts = sim.items("/apps/{app}/addon-attachments", { app }) as { name: string; addon: { id: string } }[];
  return list
    .filter((a) => a.addon_service.name === "heroku-postgresql")
    .map((a) => ({ name: a.name, attachments: atts.filter((t) => t.addon.id === a.id).map((t) => t.name) }))
    .sort((x, y) => Number(y.attachments.includes("DATABASE")) - Number(x.attachments.includes("DATABASE")));
}

beforeAll(async () => {
  sim = await startSimulator({
    apps: 3,
    postgresApps: 2,
    postgresPerApp: 2,
    tokens: { "test-token": { scopes: ["global"] }, "no-config-vars": { scopes: ["read"] } },
  });
  const apps = (sim.items("/apps") as { name: string }[]).map((a) => a.name);
  const withPg = apps.filter((a) => pgAddons(a).length > 0);
  expect(withPg).toHaveLength(2);
  [app0, app1] = withPg as [string, string];
  noPgApp = apps.find((a) => !withPg.includes(a))!;
  addons[app0] = pgAddons(app0);
  addons[app1] = pgAddons(app1);

  await createDatabase("tap_pg_disc_a", SMALL);
  await createDatabase("tap_pg_disc_b", SMALL);
  // Both read through non-superuser roles, as on Heroku.
  urlA = await readerRole("tap_pg_disc_a", "tap_pg_disc_reader");
  urlB = await readerRole("tap_pg_disc_b", "tap_pg_disc_reader");
  // A "follower" of A on another app: the same database seen through a role
  // whose search_path puts a pg_is_in_recovery() that answers true first. The
  // shared server cannot be stopped to copy it into a real standby; that is
  // test/postgres/follower.test.ts, with a server of its own.
  await sql(
    superuserUrl("tap_pg_disc_a"),
    `CREATE SCHEMA tap_fake_standby;
     CREATE FUNCTION tap_fake_standby.pg_is_in_recovery() RETURNS boolean LANGUAGE sql AS 'SELECT true';
     DO $$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tap_pg_disc_follower') THEN
         CREATE ROLE tap_pg_disc_follower LOGIN PASSWORD 'follower-secret-pw';
       END IF;
     END $$;
     ALTER ROLE tap_pg_disc_follower SET search_path = tap_fake_standby, pg_catalog;
     GRANT USAGE ON SCHEMA public, tap_fake_standby TO tap_pg_disc_follower;
     GRANT SELECT ON ALL TABLES IN SCHEMA public TO tap_pg_disc_follower;`,
  );
  const f = new URL(urlA);
  f.username = "tap_pg_disc_follower";
  f.password = "follower-secret-pw";
  followerA = f.toString();

  // app0: A attached twice (DATABASE + its color), B on the second add-on.
  const [a0, b0] = addons[app0]!;
  sim.setConfigVars(app0, {
    ...Object.fromEntries(a0!.attachments.map((n) => [`${n}_URL`, `${urlA}?sslmode=require`])),
    ...Object.fromEntries(b0!.attachments.map((n) => [`${n}_URL`, urlB])),
  });
  // app1: a follower of A, and an add-on that cannot be reached.
  const [f1, dead1] = addons[app1]!;
  sim.setConfigVars(app1, {
    ...Object.fromEntries(f1!.attachments.map((n) => [`${n}_URL`, followerA])),
    ...Object.fromEntries(dead1!.attachments.map((n) => [`${n}_URL`, "postgres://dead:dead-secret@127.0.0.1:1/nothing"])),
  });
});

afterAll(async () => {
  await sim?.close();
});

async function open(over: Record<string, unknown> = {}) {
  const settings = Settings.parse({
    token: "test-token",
    api_url: sim.url,
    apps: [app0, app1],
    ...over,
    postgres: { batch_size: 10, connect_timeout_s: 2, ...(over.postgres as object) },
  });
  const client = herokuClient(settings);
  const pg = await openPostgres(settings, client);
  return { pg, client, close: async () => (await pg.close(), await client.close()) };
}

describe("discovery through the Heroku API", () => {
  it("finds each database once: two on one app, one attached twice, a leader read from its follower", async () => {
    const { pg, close } = await open();
    try {
      const [a0, b0] = addons[app0]!;
      const [f1, dead1] = addons[app1]!;
      expect(a0!.attachments).toContain("DATABASE");
      const aliasA = aliasOf(a0!.name);
      const aliasB = aliasOf(b0!.name);
      // A is introspected through the follower's credential, which (unlike the
      // leader's here) may read secret_stuff: proof of where A is read from.
      expect(pg.streams.map((s) => s.id).sort()).toEqual(
        [
          `${aliasA}-public-partly_visible`,
          `${aliasA}-public-secret_stuff`,
          `${aliasA}-public-things`,
          `${aliasB}-public-partly_visible`,
          `${aliasB}-public-things`,
        ].sort(),
      );
      const a = discoverEntry(pg.streams.find((s) => s.id === `${aliasA}-public-things`)!);
      expect(a.metadata[0]!.metadata).toMatchObject({
        "database-name": "tap_pg_disc_a",
        "heroku-app": app0,
        "heroku-addon": a0!.name,
        "heroku-read-from": f1!.name,
      });
      // The unreachable add-on is reported, not fatal.
      const groups = pg.unavailable.filter((u) => u.kind === "group");
      expect(groups.map((u) => u.name)).toEqual([aliasOf(dead1!.name)]);
      expect(groups[0]!.reason).toMatch(/connection refused/);
      expect(groups[0]!.covers(`${aliasOf(dead1!.name)}-public-t`)).toBe(true);
      // The tables are read through the follower's credential.
      const run = await runInProcess(pg.streams, catalogFor(pg.streams, { [a.tap_stream_id]: {} }));
      expect(recordsOf(run.messages, a.tap_stream_id)).toHaveLength(25);
      // Nothing secret in the catalog.
      const text = JSON.stringify(pg.streams.map(discoverEntry));
      for (const secret of ["follower-secret-pw", "pw-tap_pg_disc_reader-secret", "dead-secret", urlA, followerA]) expect(text).not.toContain(secret);
    } finally {
      await close();
    }
  });

  it("reads from the leader with prefer_follower=false", async () => {
    const { pg, close } = await open({ postgres: { prefer_follower: false } });
    try {
      const a = discoverEntry(pg.streams.find((s) => s.id.startsWith(aliasOf(addons[app0]![0]!.name)))!);
      expect(a.metadata[0]!.metadata["heroku-read-from"]).toBeUndefined();
      expect(a.metadata[0]!.metadata["heroku-addon"]).toBe(addons[app0]![0]!.name);
    } finally {
      await close();
    }
  });

  it("goes on without databases when config vars are refused (403), naming the scope to add", async () => {
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write =
      ((chunk: string | Uint8Array, ...rest: unknown[]) => (writes.push(String(chunk)), orig(chunk as string, ...(rest as [])))) as typeof process.stderr.write;
    try {
      const { pg, close } = await open({ token: "no-config-vars" });
      await close();
      expect(pg.streams).toEqual([]);
    } finally {
      process.stderr.write = orig;
    }
    const warnings = writes.filter((w) => w.startsWith("WARNING") && w.includes("config-vars"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/403 forbidden.*read-protected/);
  });

  it("skips an app without Heroku Postgres without asking for its config vars", async () => {
    sim.resetLog();
    const { pg, close } = await open({ apps: [noPgApp] });
    await close();
    expect(pg.streams).toEqual([]);
    expect(sim.requests.some((r) => String(r.path).includes("config-vars"))).toBe(false);
  });
});

// postgres_databases (src/postgres/inventory.ts): one row per Heroku Postgres
// add-on found through the API, from the query discovery already makes: plan,
// attachments, version, size, connections, tables, role, and why one could not
// be reached; no extra request, no secret in a row.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appsWithPostgres, attachDatabase, startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { runTap, tempFiles } from "../helpers/tap.ts";
import { createDatabase, readerRole, sql } from "./helpers.ts";

const SCRIPT = `
CREATE SCHEMA "Sales-EU";
CREATE TABLE secret_stuff (id int);
CREATE TABLE partly_visible (id int, visible text, hidden text);
CREATE TABLE orders (id int PRIMARY KEY);
CREATE TABLE "Sales-EU".leads (id int);`;

let sim: Simulator;
let url: string;
let apps: string[];

beforeAll(async () => {
  sim = await startSimulator({ apps: 4, postgresApps: 2 });
  const admin = await createDatabase("tap_inventory", SCRIPT);
  url = await readerRole("tap_inventory", "tap_inventory_reader");
  apps = appsWithPostgres(sim);
  attachDatabase(sim, url, apps[0]);
  attachDatabase(sim, "postgres://someone-inv:pw-inventory-secret@127.0.0.1:9/gone", apps[1]);
  expect(admin).toBeTruthy();
});
afterAll(() => sim?.close());

const config = () => tempFiles({ "c.json": { token: "test-token", api_url: sim.url, postgres: { connect_timeout_s: 1 } } })["c.json"]!;

async function catalogSelecting(c: string, ids: string[]): Promise<string> {
  const catalog = JSON.parse((await runTap(["--config", c, "--discover"])).stdout) as {
    streams: { tap_stream_id: string; metadata: { metadata: Record<string, unknown> }[] }[];
  };
  for (const s of catalog.streams) s.metadata[0]!.metadata.selected = ids.includes(s.tap_stream_id);
  return tempFiles({ "cat.json": catalog })["cat.json"]!;
}

describe("postgres_databases", () => {
  it("has a row per add-on found: plan, attachments, version, size, connections, tables; the unreachable one with its reason, no secret", async () => {
    const c = config();
    const run = await runTap(["--config", c, "--catalog", await catalogSelecting(c, ["postgres_databases"])]);
    expect(run.code, run.stderr).toBe(0);
    const messages = run.messages();
    const rows = messages.filter((m) => m.type === "RECORD").map((m) => (m as { record: Record<string, unknown> }).record);
    expect(rows).toHaveLength(2);
    const addons = (app: string) => sim.items("/apps/{app}/addons", { app }) as { id: string; name: string; plan: { name: string } }[];

    const ok = rows.find((r) => r.app_name === apps[0])!;
    const addon = addons(apps[0]!).find((a) => a.id === ok.addon_id)!;
    const [facts] = await sql<{ size: string; version: string }>(
      url,
      "SELECT pg_database_size(current_database())::text AS size, current_setting('server_version') AS version",
    );
    expect(ok).toMatchObject({
      addon_name: addon.name,
      plan: addon.plan.name,
      reachable: true,
      unreachable_reason: null,
      role: "leader",
      leader_addon_id: null,
      read_by_tap: true,
      postgres_version: facts!.version,
      table_count: 4, // every table, readable or not
      follower_lag_s: null,
    });
    expect(ok.attachments).toContain("DATABASE");
    expect(Math.abs((ok.database_size_bytes as number) - Number(facts!.size))).toBeLessThan(1_000_000);
    expect(ok.connections).toBeGreaterThanOrEqual(1);
    expect(ok.max_connections).toBeGreaterThanOrEqual(ok.connections as number);

    const away = rows.find((r) => r.app_name === apps[1])!;
    expect(away).toMatchObject({ reachable: false, postgres_version: null, database_size_bytes: null, read_by_tap: false });
    expect(away.unreachable_reason).toMatch(/cannot connect/);
    expect(run.stdout + run.stderr).not.toMatch(/someone-inv|pw-inventory-secret/);
    expect(messages.some((m) => m.type === "ACTIVATE_VERSION" && m.stream === "postgres_databases")).toBe(true);
  });

  it("costs no request beyond the database discovery a run makes anyway", async () => {
    const c = config();
    const counted = async (ids: string[]) => {
      const cat = await catalogSelecting(c, ids);
      sim.resetLog();
      const run = await runTap(["--config", c, "--catalog", cat]);
      expect(run.code, run.stderr).toBe(0);
      return sim.requests.length;
    };
    expect(await counted(["regions", "postgres_databases"])).toBe(await counted(["regions"]));
  });
});

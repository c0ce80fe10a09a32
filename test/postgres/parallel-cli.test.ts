// The real CLI reading one database's tables side by side (issue 12), on Node
// and Deno: the budget logged with why, SIGKILL part way with 3 tables under
// way, the rerun from the last STATE complete and exact, each stream in order,
// and a sampler of pg_stat_activity that never sees more than the budget. Then
// the budget's cap: a role with CONNECTION LIMIT 4 gets 2 sessions however
// many are asked for, and the plan's default when nothing is asked.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachDatabase, startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { parseMessages, runTap, RUNTIMES, tempFiles } from "../helpers/tap.ts";
import type { State } from "../../src/singer/state.ts";
import { sampleActivity } from "../helpers/activity.ts";
import { planDefault } from "../../src/postgres/budget.ts";
import { createDatabase, sql } from "./helpers.ts";
import { byKey, checkOrder, expected, records, SCRIPT, TABLES } from "./parallel-fixture.ts";
import type { Rec } from "./parallel-fixture.ts";

const DB = "tap_pg_parallel_cli";
const ROLE = "tap_pg_parallel_limited";
const PASSWORD = "pw-tap_pg_parallel_limited-secret";
let sim: Simulator;
let app: string;
let url: string;
let limitedUrl: string;

beforeAll(async () => {
  sim = await startSimulator({ apps: 2, postgresApps: 1 });
  url = await createDatabase(DB, SCRIPT);
  await sql(
    url,
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE} LOGIN; END IF;
     END $$;
     ALTER ROLE ${ROLE} PASSWORD '${PASSWORD}' CONNECTION LIMIT 4;
     GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${ROLE};`,
  );
  const u = new URL(url);
  u.username = ROLE;
  u.password = PASSWORD;
  limitedUrl = u.toString();
  app = attachDatabase(sim, url);
});
afterAll(() => sim?.close());

const config = (postgres: Record<string, unknown>) =>
  tempFiles({ "c.json": { token: "test-token", api_url: sim.url, apps: [app], postgres: { batch_size: 500, schemas: ["public"], ...postgres } } })["c.json"]!;

/** The discovered catalog with exactly the fixture's tables selected. */
async function catalogFile(cfg: string, runtime: (typeof RUNTIMES)[number] = "node"): Promise<{ file: string; ids: string[] }> {
  const discover = await runTap(["--config", cfg, "--discover"], { runtime });
  expect(discover.code, discover.stderr).toBe(0);
  const catalog = JSON.parse(discover.stdout) as {
    streams: { tap_stream_id: string; metadata: { breadcrumb: string[]; metadata: Record<string, unknown> }[] }[];
  };
  const ids = TABLES.map((t) => catalog.streams.find((s) => s.tap_stream_id.endsWith(`-public-${t.name}`))!.tap_stream_id);
  for (const s of catalog.streams) s.metadata[0]!.metadata.selected = ids.includes(s.tap_stream_id);
  return { file: tempFiles({ "catalog.json": catalog })["catalog.json"]!, ids };
}

describe.each(RUNTIMES.filter((r) => r === "node" || r === "deno"))("on %s", (runtime) => {
  it("reads 3 tables at once, is killed part way, and the rerun from the last STATE completes every table exactly", async () => {
    attachDatabase(sim, url, app); // another test may have pointed it elsewhere
    const cfg = config({ max_connections: 3 });
    const { file, ids } = await catalogFile(cfg, runtime);

    const watch = await sampleActivity(url, DB);
    const underwayIn = (state: State) =>
      ids.filter((s) => {
        const b = state.bookmarks[s] as Record<string, unknown> | undefined;
        return b?.last_pk_fetched !== undefined || b?.last_ctid !== undefined;
      });
    // Killed at the first STATE that shows two tables part way: a count of records would
    // depend on how the runtime interleaves the tables (Deno's chunks are smaller).
    let partial = "";
    const first = await runTap(["--config", cfg, "--catalog", file], {
      runtime,
      onSpawn: (child) =>
        child.stdout!.on("data", (d: Buffer) => {
          const lines = (partial + d.toString()).split("\n");
          partial = lines.pop()!;
          for (const line of lines) {
            if (!line.startsWith('{"type":"STATE"') || child.killed) continue;
            if (underwayIn(JSON.parse(line).value as State).length >= 2) child.kill("SIGKILL");
          }
        }),
    });
    expect(first.signal, first.stderr).toBe("SIGKILL");
    // (The superuser is called postgres, a name the log masks as a credential.)
    expect(first.stderr).toMatch(/up to 3 table\(s\) read at once, a session each \((postgres|\*\*\*)\.max_connections\)/);
    const m1 = parseMessages(first.stdout.slice(0, first.stdout.lastIndexOf("\n") + 1));
    checkOrder(m1, ids);
    const state = m1.filter((m) => m.type === "STATE").at(-1)!.value as State;
    expect(underwayIn(state).length, JSON.stringify(state)).toBeGreaterThanOrEqual(2);

    const second = await runTap(["--config", cfg, "--catalog", file, "--state", tempFiles({ "s.json": state })["s.json"]!], { runtime });
    const sampled = await watch.stop();
    expect(second.code, second.stderr).toBe(0);
    const m2 = second.messages();
    checkOrder(m2, ids, state);
    for (const [i, { name, n }] of TABLES.entries()) {
      const s = ids[i]!;
      const activated = m2.find((m) => m.type === "ACTIVATE_VERSION" && m.stream === s) as { version: number } | undefined;
      expect(activated, name).toBeDefined();
      const final = new Map<unknown, Rec>();
      for (const r of [...records(m1, s), ...records(m2, s)]) if (r.version === activated!.version) final.set(r.record.id ?? r.record.n, r);
      expect(byKey([...final.values()]), name).toEqual(expected(name, n));
    }
    expect(sampled.max).toBeLessThanOrEqual(3);
    expect(sampled.max).toBeGreaterThanOrEqual(2);
  });
});

describe("the budget", () => {
  it("is capped by the role's CONNECTION LIMIT less the reserve: 2 of 4 when 5 are asked for", async () => {
    attachDatabase(sim, limitedUrl, app);
    const cfg = config({ max_connections: 5 });
    const { file, ids } = await catalogFile(cfg);
    const watch = await sampleActivity(url, DB);
    const run = await runTap(["--config", cfg, "--catalog", file]);
    const sampled = await watch.stop();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /up to 2 table\(s\) read at once, a session each \(postgres\.max_connections is 5, but the role's connection limit leaves only 1 more connection\(s\) beyond its reserve\)/,
    );
    expect(checkOrder(run.messages(), ids)).toBe(2);
    expect(sampled.max).toBeLessThanOrEqual(2);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it("defaults from the add-on's plan when postgres.max_connections is unset", async () => {
    attachDatabase(sim, url, app);
    const addon = (sim.items("/apps/{app}/addons", { app }) as { addon_service: { name: string }; plan: { name: string } }[])
      .find((a) => a.addon_service.name === "heroku-postgresql")!;
    const run = await runTap(["--config", config({}), "--discover"]);
    expect(run.code, run.stderr).toBe(0);
    const n = planDefault(addon.plan.name);
    expect(run.stderr).toContain(`up to ${n} table(s) read at once, a session each (the default for plan ${addon.plan.name})`);
  });
});

// Heroku Postgres backups and maintenance (the Data API) and router and dyno
// metrics (the metrics API), end to end: the real CLI against the simulator's
// three hosts on loopback. A seeded account with four databases (a leader with
// backups, its follower, an Essential one, one this token may not read):
// complete counts, exactly the minimum requests on each host, incremental
// second runs, a read-only token skipped with the scope named, --test's lines,
// no secret in the output, and Node 22, 24 and Deno writing the same records as Node.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appsWithPostgres, startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { SERIES } from "../../simulator/metrics-api.ts";
import { runTap, RUNTIMES, tempFiles } from "../helpers/tap.ts";
import type { TapRun } from "../helpers/tap.ts";

const DATA = ["postgres_backups", "postgres_backup_schedules", "postgres_maintenances", "postgres_database_info"];
const METRICS = ["router_status_metrics", "router_latency_metrics", "router_error_metrics", "dyno_error_metrics"];
const LOOKBACK = 6;

let sim: Simulator;
let addons: { id: string; name: string; app: string }[];
let secrets: string[];

beforeAll(async () => {
  sim = await startSimulator({
    apps: 5,
    postgresApps: 4,
    tokens: { "test-token": { scopes: ["global"] }, "read-token": { scopes: ["read", "read-protected", "identity"] } },
  });
  addons = appsWithPostgres(sim).map((app) => {
    const a = (sim.items("/apps/{app}/addons", { app }) as { id: string; name: string; addon_service: { name: string } }[])
      .find((x) => x.addon_service.name === "heroku-postgresql")!;
    return { id: a.id, name: a.name, app };
  });
  expect(addons).toHaveLength(4);
  const [leader, follower, essential, denied] = addons;
  sim.setDataApi({ followerOf: { [follower!.id]: leader!.id }, essential: [essential!.id], denied: [denied!.id] });
  // What must never come out: every config var value (the database URLs and their passwords) and the token.
  secrets = ["test-token", "X-Amz-Signature", "callback?token="];
  for (const { app } of addons) {
    const vars = await fetch(`${sim.url}/apps/${app}/config-vars`, {
      headers: { accept: "application/vnd.heroku+json; version=3", authorization: "Bearer test-token" },
    });
    for (const v of Object.values((await vars.json()) as Record<string, string>)) {
      secrets.push(v);
      const password = /:([^:@/]+)@/.exec(v)?.[1];
      if (password) secrets.push(password);
    }
  }
  expect(secrets.length).toBeGreaterThan(2 + 4 * 2);
});
afterAll(() => sim?.close());

const config = (token = "test-token") =>
  tempFiles({
    "c.json": {
      token,
      api_url: sim.url,
      data_api_url: sim.dataUrl,
      metrics_api_url: sim.metricsUrl,
      metrics: { lookback_hours: LOOKBACK },
      postgres: { connect_timeout_s: 1 },
    },
  })["c.json"]!;

async function catalogSelecting(c: string, ids: string[]): Promise<string> {
  const discovered = await runTap(["--config", c, "--discover"]);
  expect(discovered.code, discovered.stderr).toBe(0);
  const catalog = JSON.parse(discovered.stdout) as {
    streams: { tap_stream_id: string; metadata: { breadcrumb: string[]; metadata: Record<string, unknown> }[] }[];
  };
  for (const s of catalog.streams) s.metadata.find((m) => m.breadcrumb.length === 0)!.metadata.selected = ids.includes(s.tap_stream_id);
  return tempFiles({ "cat.json": catalog })["cat.json"]!;
}

const recordsOf = (run: TapRun, stream: string) =>
  run.messages().filter((m) => m.type === "RECORD" && m.stream === stream).map((m) => (m as { record: Record<string, unknown> }).record);
const lastState = (run: TapRun) =>
  (run.messages().filter((m) => m.type === "STATE").at(-1) as unknown as { value: { bookmarks: Record<string, Record<string, unknown>> } }).value;
const hostRequests = (host: string) => sim.requests.filter((r) => r.host === host);

describe("the Data API and metrics streams", () => {
  let first: TapRun;
  let catalog: string;

  it("reads every database's backups, schedules, maintenance and info, and every app's metrics: complete counts, the minimum requests", async () => {
    const c = config();
    catalog = await catalogSelecting(c, [...DATA, ...METRICS]);
    sim.resetLog();
    first = await runTap(["--config", c, "--catalog", catalog]);
    expect(first.code, first.stderr).toBe(0);
    const [leader, follower, essential, denied] = addons;

    // Backups: the leader's 3 (its newest still running); the follower and the Essential database have none; the refused one is warned about.
    const backups = recordsOf(first, "postgres_backups");
    expect(backups).toHaveLength(3);
    expect(backups.map((b) => b.from_uuid)).toEqual([leader!.id, leader!.id, leader!.id]);
    expect(backups.map((b) => b.type)).toEqual(["backup", "backup", "backup"]);
    expect(backups.map((b) => b.name)).toEqual(["a001", "b002", "a003"]);
    expect(backups.map((b) => b.succeeded)).toEqual([true, false, null]);
    expect(backups.at(-1)!.finished_at).toBeNull();
    expect(Object.keys(backups[0]!)).not.toContain("from_url");

    // Schedules: the leader's one; the follower none; the Essential database answers 422 (a warning); the refused one 403.
    const schedules = recordsOf(first, "postgres_backup_schedules");
    expect(schedules.map((s) => s.addon_id)).toEqual([leader!.id]);
    expect(schedules[0]).toMatchObject({ hour: 2, timezone: "UTC", retain_weeks: 4 });
    expect(first.stderr).toMatch(new RegExp(`WARNING postgres_backup_schedules: the Heroku Data API has nothing for ${essential!.name} \\(422`));

    const maintenances = recordsOf(first, "postgres_maintenances");
    expect(maintenances.map((m) => m.addon_id).sort()).toEqual([leader!.id, follower!.id, essential!.id].sort());
    expect(maintenances.find((m) => m.addon_id === leader!.id)).toMatchObject({ status: "scheduled", window: "Thursdays 22:00 to Fridays 02:00 UTC" });

    const info = recordsOf(first, "postgres_database_info");
    expect(info.map((i) => i.addon_id).sort()).toEqual([leader!.id, follower!.id, essential!.id].sort());
    const followerInfo = info.find((i) => i.addon_id === follower!.id)!;
    expect(Object.keys(followerInfo.info as object)).not.toContain("Following"); // the leader's URL
    expect(followerInfo.table_count).toEqual(expect.any(Number));
    expect(followerInfo.data_size_bytes).toEqual(expect.any(Number));

    // The refused database: one warning per stream naming it and the scope, and the run goes on (exit 0).
    for (const stream of DATA) {
      const label = stream === "postgres_backups" || stream === "postgres_maintenances" ? `app ${denied!.app}` : denied!.name;
      expect(first.stderr).toMatch(new RegExp(`WARNING ${stream}: the Heroku Data API refused ${label} \\(403 forbidden\\).*"global" OAuth scope`));
    }

    // Metrics: 5 apps × series × LOOKBACK hourly buckets; dyno errors per process type of each formation.
    const apps = sim.items("/apps") as { id: string }[];
    const types = apps.map((a) => new Set((sim.items("/apps/{app}/formation", { app: a.id }) as { type: string }[]).map((f) => f.type)).size);
    const typeCount = types.reduce((a, b) => a + b, 0);
    expect(recordsOf(first, "router_status_metrics")).toHaveLength(5 * SERIES.status!.length * LOOKBACK);
    expect(recordsOf(first, "router_latency_metrics")).toHaveLength(5 * SERIES.latency!.length * LOOKBACK);
    expect(recordsOf(first, "router_error_metrics")).toHaveLength(5 * SERIES.errors!.length * LOOKBACK);
    expect(recordsOf(first, "dyno_error_metrics")).toHaveLength(typeCount * SERIES.dyno!.length * LOOKBACK);
    const times = new Set(recordsOf(first, "router_status_metrics").map((r) => r.time));
    expect([...times].sort()).toEqual(Array.from({ length: LOOKBACK }, (_, i) => new Date(Date.UTC(2026, 0, 15, 12 - LOOKBACK + i)).toISOString()));

    // The minimum: one request per database (schedules, info) or per app owning one (transfers, maintenances) on the Data API;
    // per app (and per process type) on the metrics API; /apps listed once and each formation once on the Platform API.
    expect(hostRequests("data")).toHaveLength(4 * 4);
    expect(hostRequests("metrics")).toHaveLength(5 * 3 + typeCount);
    expect(hostRequests("metrics").every((r) => r.query.step === "1h" && r.status === 200)).toBe(true);
    const names = new Set((sim.items("/apps") as { name: string }[]).map((a) => a.name));
    expect(hostRequests("metrics").every((r) => names.has(decodeURIComponent(r.path.split("/")[2]!)))).toBe(true); // by name, as apps:errors asks
    expect(sim.requests.filter((r) => !r.host && r.path === "/apps")).toHaveLength(1);
    expect(sim.requests.filter((r) => !r.host && /^\/apps\/[^/]+\/formation$/.test(r.path))).toHaveLength(5);
    expect(sim.requests.every((r) => r.method === "GET")).toBe(true);

    const state = lastState(first);
    expect(state.bookmarks.postgres_backups).toEqual({ replication_key: "finished_at", replication_key_value: backups[1]!.finished_at });
    expect(state.bookmarks.router_status_metrics).toEqual({ replication_key: "time", replication_key_value: "2026-01-15T12:00:00.000Z" });
  });

  it("writes no secret: no database URL, password, signed URL or token in stdout or stderr", () => {
    const out = first.stdout + first.stderr;
    for (const s of secrets) expect(out.includes(s), `a secret of ${s.length} characters`).toBe(false);
  });

  it("next run, from its state: only the unfinished backup and the one at the bookmark; no metrics request before a new bucket completes", async () => {
    const f = tempFiles({ "state.json": lastState(first) });
    sim.resetLog();
    const next = await runTap(["--config", config(), "--catalog", catalog, "--state", f["state.json"]!]);
    expect(next.code, next.stderr).toBe(0);
    expect(recordsOf(next, "postgres_backups").map((b) => b.name)).toEqual(["b002", "a003"]);
    for (const s of METRICS) expect(recordsOf(next, s)).toHaveLength(0);
    expect(hostRequests("metrics")).toHaveLength(0);

    // An hour later: one new bucket per series, and the window starts at the bookmark.
    sim.setClock(new Date(Date.UTC(2026, 0, 15, 13, 5)));
    const later = await runTap(["--config", config(), "--catalog", catalog, "--state", tempFiles({ "s.json": lastState(next) })["s.json"]!]);
    expect(later.code, later.stderr).toBe(0);
    expect(recordsOf(later, "router_status_metrics")).toHaveLength(5 * SERIES.status!.length);
    expect(new Set(recordsOf(later, "router_status_metrics").map((r) => r.time))).toEqual(new Set(["2026-01-15T12:00:00.000Z"]));
    sim.setClock(new Date(Date.UTC(2026, 0, 15, 12)));
  });

  it("survives 503s, 429s and dropped connections on every host: the same records, every faulted request retried", async () => {
    const f = tempFiles({
      "c.json": {
        token: "test-token",
        api_url: sim.url,
        data_api_url: sim.dataUrl,
        metrics_api_url: sim.metricsUrl,
        metrics: { lookback_hours: LOOKBACK },
        postgres: { connect_timeout_s: 1 },
        max_retries: 8,
        retry_backoff_s: 0.01,
        rate_limit: { refill_per_minute: 60_000 },
      },
    });
    sim.resetLog();
    sim.setFaults({ rate5xx: 0.15, rate429: 0.1, dropRate: 0.1 });
    try {
      const run = await runTap(["--config", f["c.json"]!, "--catalog", catalog]);
      expect(run.code, run.stderr).toBe(0);
      for (const host of ["data", "metrics"]) expect(hostRequests(host).some((r) => r.fault !== undefined), host).toBe(true);
      const records = (r: TapRun) => r.messages().filter((m) => m.type === "RECORD").map((m) => JSON.stringify([m.stream, (m as { record: unknown }).record]));
      expect(records(run)).toEqual(records(first));
    } finally {
      sim.setFaults(undefined);
    }
  });

  it("a read-only token: every new stream skipped with a warning naming the scope, exit 0", async () => {
    const c = config("read-token");
    const run = await runTap(["--config", c, "--catalog", catalog]);
    expect(run.code, run.stderr).toBe(0);
    for (const s of [...DATA, ...METRICS]) {
      expect(recordsOf(run, s)).toHaveLength(0);
      expect(run.stderr).toMatch(
        new RegExp(`WARNING ${s}: skipped: the Heroku (Data|metrics) API refused this token \\(403 forbidden\\).*needs the "global" OAuth scope`),
      );
    }
  });

  it("--test says whether the token can read each family", async () => {
    const ok = await runTap(["--config", config(), "--test"]);
    expect(ok.stdout).toMatch(new RegExp(`^warn {2}data api: refused for ${addons[3]!.name} \\(403\\) \\(3 of 4 readable\\).*"global"`, "m"));
    expect(ok.stdout).toMatch(/^ok {4}metrics api: the token can read router and dyno metrics/m);
    const ro = await runTap(["--config", config("read-token"), "--test"]);
    expect(ro.stdout).toMatch(/^warn {2}data api: refused for .* \(0 of 4 readable\)/m);
    expect(ro.stdout).toMatch(/^warn {2}metrics api: refused \(403\): router_status_metrics, .* will be skipped; it needs the "global" OAuth scope/m);
  });

  it.each(RUNTIMES.filter((r) => r !== "node"))("%s writes the same records as Node", async (runtime) => {
    const other = await runTap(["--config", config(), "--catalog", catalog], { runtime, timeoutMs: 120_000 });
    expect(other.code, other.stderr).toBe(0);
    const records = (run: TapRun) =>
      run.messages().filter((m) => m.type === "RECORD").map((m) => JSON.stringify([m.stream, (m as { record: unknown }).record]));
    expect(records(other)).toHaveLength(records(first).length);
    expect(records(other)).toEqual(records(first));
  });
});

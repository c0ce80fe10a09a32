// The Heroku API misbehaving, against the simulator: 429 bursts, 503s,
// dropped connections and slow answers leave the data identical to a clean
// run; the rate limit is shared politely (paced at the reserve, waited out
// when empty); a token without the global scope skips those streams with a
// warning and exits 0.
//
// Short waits come from settings, not from test-only switches:
// retry_backoff_s (first retry wait) and rate_limit.refill_per_minute (the
// pace at the reserve and the first 429 wait), matched to the simulator's bucket.
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import { runTap } from "../helpers/tap.ts";
import { BY_NAME, configFile, discover, GLOBAL, lastState, recordsOf, serverSide, sync } from "./util.ts";
import type { Rec } from "./util.ts";

const STREAMS = [
  "apps",
  "releases",
  "domains",
  "account_features",
  "add_on_attachments",
  "team_members",
  "team_member_apps",
  "buildpack_installations",
  "account",
];

/** Records by stream as sorted JSON lines (time_extracted and versions are not part of a record). */
function canonical(records: Map<string, Rec[]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [stream, rows] of records) out[stream] = rows.map((r) => JSON.stringify(r, Object.keys(r).sort())).sort();
  return out;
}

describe("faults", () => {
  it("429 bursts, 503s, dropped connections and timeouts: the records equal a clean run's", async () => {
    const sim = await startSimulator({ apps: 10, perParent: 3, sizes: { "/account/features": 2100, "/apps/{app}/releases": 1100 } });
    try {
      const config = configFile({ api_url: sim.url, max_retries: 8, request_timeout_s: 1, rate_limit: { refill_per_minute: 60_000 } });
      const catalog = await discover(config);
      const clean = await sync(config, catalog, STREAMS);
      expect(clean.code, clean.stderr).toBe(0);

      sim.setFaults({ rate429: 0.08, rate5xx: 0.1, dropRate: 0.05, slowRate: 0.01, slowMs: 2500 });
      sim.resetLog();
      const faulty = await sync(config, catalog, STREAMS);
      expect(faulty.code, faulty.stderr).toBe(0);
      const faults = sim.requests.map((r) => r.fault).filter(Boolean);
      for (const kind of ["rate429", "rate5xx", "drop"]) expect(faults, kind).toContain(kind);
      expect(faulty.stderr).toMatch(/rate limited \(429, RateLimit-Remaining 0\); all requests wait [\d.]+ s/);
      expect(faulty.stderr).toMatch(/503 unavailable; retrying in/);
      expect(faulty.stderr).toMatch(/connection dropped; retrying in/);
      expect(canonical(recordsOf(faulty.messages()))).toEqual(canonical(recordsOf(clean.messages())));
      expect(serverSide(lastState(faulty.messages()).bookmarks)).toEqual(serverSide(lastState(clean.messages()).bookmarks));
    } finally {
      await sim.close();
    }
  });

  it("another 4xx fails that stream with Heroku's message and Request-Id; the others complete, exit 1", async () => {
    // A usage range the tap's year-long windows exceed: Heroku answers 422.
    const sim = await startSimulator({ apps: 3, usageMaxDays: 30 });
    try {
      const config = configFile({ api_url: sim.url, start_date: "2015-01-01" });
      const catalog = await discover(config);
      const run = await sync(config, catalog, ["team_daily_usage", "regions"]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /ERROR team_daily_usage: failed: GET \/teams\/[^ ]+\/usage\/daily\?start=2015-01-01&end=\S+: 422 invalid_params: .* \(Request-Id [0-9a-f-]{36}\)/,
      );
      expect(recordsOf(run.messages()).get("regions")!.length).toBe(sim.total("/regions"));
    } finally {
      await sim.close();
    }
  });
});

describe("a usage range longer than Heroku accepts", () => {
  it("is read in windows of a year: every day from start_date to today, no 422", async () => {
    const sim = await startSimulator({ apps: 3 });
    try {
      const config = configFile({ api_url: sim.url, start_date: "2020-01-01" });
      const catalog = await discover(config);
      sim.resetLog();
      const run = await sync(config, catalog, ["team_daily_usage"]);
      expect(run.code, run.stderr).toBe(0);
      const teams = new Set(sim.requests.filter((r) => r.path.includes("/usage/daily")).map((r) => r.path.split("/")[2]));
      const today = new Date().toISOString().slice(0, 10);
      for (const team of teams) {
        const windows = sim.requests
          .filter((r) => r.path.startsWith(`/teams/${team}/usage/daily`))
          .map((r) => r.query as { start: string; end: string });
        expect(windows[0]!.start).toBe("2020-01-01");
        expect(windows.at(-1)!.end).toBe(today);
        for (const [i, w] of windows.entries()) {
          expect((Date.parse(w.end) - Date.parse(w.start)) / 86_400_000, JSON.stringify(w)).toBeLessThanOrEqual(365);
          if (i > 0) expect(Date.parse(w.start) - Date.parse(windows[i - 1]!.end)).toBe(86_400_000); // contiguous
        }
      }
      expect(teams.size).toBeGreaterThan(0);
      expect(sim.requests.filter((r) => r.status === 422)).toEqual([]);
      expect(recordsOf(run.messages()).get("team_daily_usage")!.length).toBeGreaterThan(0);
    } finally {
      await sim.close();
    }
  });
});

describe("the rate limit", () => {
  it("paces requests at the reserve, so the bucket is never emptied", async () => {
    const sim = await startSimulator({ apps: 40, perParent: 2, rateLimit: { bucket: 60, refillPerMinute: 1200 } });
    try {
      const config = configFile({ api_url: sim.url, rate_limit: { reserve: 25, refill_per_minute: 1200 } });
      const catalog = await discover(config);
      sim.resetLog();
      const run = await sync(config, catalog, ["apps", "domains", "dynos"]);
      expect(run.code, run.stderr).toBe(0);
      expect(sim.requests.filter((r) => r.status === 429)).toEqual([]);
      expect(run.stderr).toMatch(/RateLimit-Remaining is \d+, at the reserve of 25: pacing requests to 1200 a minute/);
      const records = recordsOf(run.messages());
      expect(records.get("domains")!.length).toBe(sim.total("/apps/{app}/domains"));
      expect(run.stderr).toMatch(/about \d+ Heroku API requests \(over 40 apps\); more than the \d+ requests left above the reserve/);
    } finally {
      await sim.close();
    }
  });

  it("waits out an empty bucket (429) instead of failing", async () => {
    const sim = await startSimulator({ apps: 40, perParent: 2, rateLimit: { bucket: 20, refillPerMinute: 1500 } });
    try {
      const config = configFile({ api_url: sim.url, max_retries: 0, rate_limit: { reserve: 0, refill_per_minute: 1500 } });
      const catalog = await discover(config);
      sim.resetLog();
      const run = await sync(config, catalog, ["apps", "domains", "dynos"]);
      expect(run.code, run.stderr).toBe(0);
      expect(sim.requests.some((r) => r.status === 429)).toBe(true);
      expect(run.stderr).toMatch(/rate limited \(429, RateLimit-Remaining 0\); all requests wait/);
      expect(recordsOf(run.messages()).get("dynos")!.length).toBe(sim.total("/apps/{app}/dynos"));
    } finally {
      await sim.close();
    }
  });
});

describe("a token without the global scope", () => {
  it("skips the global streams with a warning naming stream and scope; the others complete; exit 0", async () => {
    const sim = await startSimulator({ apps: 4, tokens: { "test-token": { scopes: ["global"] }, "rp-token": { scopes: ["read-protected", "identity"] } } });
    try {
      const config = configFile({ api_url: sim.url, token: "rp-token" });
      const run = await runTap(["--config", config]);
      expect(run.code, run.stderr).toBe(0);
      const records = recordsOf(run.messages());
      const defaults = [...BY_NAME.values()].filter((d) => d.selected_by_default);
      for (const d of defaults) {
        if (GLOBAL.includes(d.stream)) {
          expect(run.stderr).toMatch(
            new RegExp(`WARNING ${d.stream}: skipped: Heroku refused \\S+ \\(403 forbidden\\); stream ${d.stream} needs the "global" OAuth scope`),
          );
          expect(records.get(d.stream)).toBeUndefined();
        } else {
          expect(run.stderr).not.toMatch(new RegExp(`^\\w+ ${d.stream}: (skipped|failed)`, "m"));
        }
      }
      expect(records.get("apps")!.length).toBe(4);
      expect(run.stdout + run.stderr).not.toContain("rp-token");
    } finally {
      await sim.close();
    }
  });
});

// --test for Heroku's other hosts: can this token read the Data API (the
// databases discovery found) and the metrics API? One line each, a warning
// when refused (the run skips those streams and goes on), checked only when a
// selected stream reads that host (every family without a catalog).
import type { Settings } from "../config.ts";
import type { Candidate } from "../postgres/discover.ts";
import type { HerokuClient } from "./client.ts";
import { HerokuHttpError } from "./client.ts";
import { dataApi } from "./data-api.ts";
import { DATA_STREAMS, METRICS_STREAMS } from "./host-streams.ts";
import type { HostApi } from "./host-api.ts";
import { metricsApi, metricsWindow, STEP_MS } from "./metrics-api.ts";

interface Check {
  readonly outcome: "ok" | "warn" | "fail";
  readonly subject: string;
  readonly detail: string;
}

/** Databases --test tries on the Data API: enough to see a refusal, few enough for a check. */
const TRY_DATABASES = 20;

const wanted = (ids: readonly string[], selected: ReadonlySet<string> | undefined) => selected === undefined || ids.some((id) => selected.has(id));

/** The status of one GET on another host (200, or Heroku's error status); no answer at all is thrown. */
async function status(client: HerokuClient, api: HostApi, path: string): Promise<number> {
  try {
    await client.get(path, api.base);
    return 200;
  } catch (e) {
    if (e instanceof HerokuHttpError) return e.status;
    throw e;
  }
}

/** Tries the Data API's database info on every database found (one request each): how many it may read. */
export async function dataApiCheck(
  settings: Settings,
  client: HerokuClient,
  databases: readonly Candidate[],
  selected: ReadonlySet<string> | undefined,
): Promise<Check | undefined> {
  const streams = DATA_STREAMS.map((d) => d.stream);
  if (!wanted(streams, selected)) return undefined;
  const api = dataApi(settings);
  const subject = "data api";
  if (!settings.postgres.enabled) {
    return { outcome: "ok", subject, detail: `Heroku Postgres discovery is off (postgres.enabled=false), so ${streams.join(", ")} have no database to read` };
  }
  if (databases.length === 0) return { outcome: "ok", subject, detail: `no Heroku Postgres database found to try ${api.base} on` };
  const refused: string[] = [];
  const none: string[] = [];
  // A check, not a sync: at most TRY_DATABASES requests, whatever the size of the account.
  const tried = databases.slice(0, TRY_DATABASES);
  try {
    for (const c of tried) {
      const s = await status(client, api, `/client/v11/databases/${encodeURIComponent(c.addonId)}`);
      if (s === 401 || s === 403) refused.push(`${c.addonName} (${s})`);
      else if (s !== 200) none.push(`${c.addonName} (${s})`);
    }
  } catch (e) {
    return { outcome: "warn", subject, detail: `cannot reach ${api.base}: ${e instanceof Error ? e.message : String(e)}; ${streams.join(", ")} would fail` };
  }
  const read = tried.length - refused.length - none.length;
  const of = `${tried.length}${tried.length < databases.length ? ` tried (of ${databases.length} found)` : ""}`;
  if (refused.length === 0) {
    return { outcome: "ok", subject, detail: `the token can read ${read} of ${of} databases${none.length ? ` (none for ${none.join(", ")})` : ""}` };
  }
  return {
    outcome: "warn",
    subject,
    detail: `refused for ${refused.join(", ")} (${read} of ${of} readable): ${streams.join(", ")} skip them; it needs ${api.scope}`,
  };
}

/** One router-metrics read of the first app in scope, over the last complete bucket. */
export async function metricsApiCheck(settings: Settings, client: HerokuClient, selected: ReadonlySet<string> | undefined): Promise<Check | undefined> {
  const streams = METRICS_STREAMS.map((d) => d.stream);
  if (!wanted(streams, selected)) return undefined;
  const api = metricsApi(settings);
  const subject = "metrics api";
  const apps = (await client.get("/apps").catch(() => [])) as { name?: string }[];
  const app = settings.apps?.[0] ?? apps[0]?.name;
  if (app === undefined) return { outcome: "ok", subject, detail: "no app to try it on" };
  const { end } = metricsWindow(settings, undefined, client.serverDateMs ?? Date.now());
  const step = STEP_MS[settings.metrics.step];
  const q = new URLSearchParams({
    start_time: new Date(end - step).toISOString(),
    end_time: new Date(end).toISOString(),
    step: settings.metrics.step,
    process_type: "web",
  });
  let s: number;
  try {
    s = await status(client, api, `/apps/${encodeURIComponent(app)}/router-metrics/status?${q}`);
  } catch (e) {
    return { outcome: "warn", subject, detail: `cannot reach ${api.base}: ${e instanceof Error ? e.message : String(e)}; ${streams.join(", ")} would fail` };
  }
  if (s === 200) return { outcome: "ok", subject, detail: `the token can read router and dyno metrics (tried on one app)` };
  if (s === 401 || s === 403) return { outcome: "warn", subject, detail: `refused (${s}): ${streams.join(", ")} will be skipped; it needs ${api.scope}` };
  return { outcome: "ok", subject, detail: `reachable; the app tried has no metrics (${s}): apps on eco dynos have none` };
}

// Router and dyno metrics (beta), from Heroku's metrics API: the API behind
// the Dashboard's Metrics tab, which `heroku apps:errors` also reads. Routes
// and query parameters from heroku/typescript-api-schema src/metrics/routes.ts
// (start_time, end_time, step, process_type; router metrics are the web
// process's); the answer is {data: {<series>: number[]}, start_time,
// end_time, step}, one value per step from start_time, as heroku/cli
// src/lib/types/app-errors.ts reads it.
//
// Rows are long: one per (app, process type, series, bucket), so a series
// Heroku adds (a new status code or error code) is a new row, never a schema
// change. Incremental by time window: each run reads the complete buckets
// since the last one it read, never further back than metrics.lookback_hours
// (Heroku keeps 7 days), and the bookmark is the end of the window read.
import type { JSONSchema7 } from "json-schema";
import { z } from "zod";
import { METRICS_STREAMS } from "./host-streams.ts";
import type { MetricsStreamDefinition } from "./host-streams.ts";
import type { Settings } from "../config.ts";
import { log } from "../log.ts";
import { inShard } from "../shard.ts";
import type { Stream, SyncContext } from "../singer/stream.ts";
import type { HerokuClient } from "./client.ts";
import { HerokuHttpError } from "./client.ts";
import { readEach } from "./host-api.ts";
import type { HostApi, Target } from "./host-api.ts";

const SCHEMA: JSONSchema7 = {
  type: "object",
  additionalProperties: false,
  properties: {
    app_id: { type: "string" },
    app_name: { type: ["null", "string"] },
    process_type: { type: "string" },
    series: { type: "string" },
    time: { type: "string", format: "date-time" },
    step: { type: ["null", "string"] },
    value: { type: ["null", "number"] },
  },
};

export const METRICS_API_SCOPE = 'the "global" OAuth scope, as the Heroku CLI\'s own token has (heroku authorizations:create --scope global)';

export function metricsApi(settings: Settings): HostApi {
  // 400: a process type the app does not run ("invalid process_type provided", as apps:errors reads it); 404/422: no metrics (eco dynos).
  return {
    name: "the Heroku metrics API",
    base: settings.metrics_api_url.replace(/\/+$/, ""),
    scope: METRICS_API_SCOPE,
    none: [400, 404, 422],
    noneLevel: "info",
  };
}

export const STEP_MS: Record<Settings["metrics"]["step"], number> = { "1m": 60_000, "10m": 600_000, "1h": 3_600_000, "2h": 7_200_000 };

interface App {
  readonly id: string;
  readonly name: string;
}

/**
 * The apps in scope, listed once per run for all four streams (one request
 * per 1,000 apps), and each app's process types, read once per run for
 * dyno_error_metrics (GET /apps/{app}/formation, one request per app).
 */
class Apps {
  private apps: Promise<App[]> | undefined;
  constructor(private readonly client: HerokuClient, private readonly settings: Settings) {}

  list(): Promise<App[]> {
    this.apps ??= (async () => {
      const wanted = this.settings.apps ? new Set(this.settings.apps) : undefined;
      const out: App[] = [];
      for await (const page of this.client.pages("/apps")) {
        for (const a of page.items as { id?: string; name?: string }[]) {
          if (typeof a.id !== "string" || !inShard(a.id, this.settings.shard)) continue;
          if (wanted && !wanted.has(a.id) && !wanted.has(String(a.name))) continue;
          out.push({ id: a.id, name: String(a.name ?? a.id) });
        }
      }
      return out;
    })();
    this.apps.catch(() => (this.apps = undefined));
    return this.apps;
  }

  async processTypes(app: App): Promise<string[]> {
    let formation: unknown;
    try {
      formation = await this.client.get(`/apps/${encodeURIComponent(app.id)}/formation`);
    } catch (e) {
      // Deleted since /apps was listed: no process types, as the Platform API streams skip a vanished parent.
      if (e instanceof HerokuHttpError && e.status === 404) return [];
      throw e;
    }
    const types = Array.isArray(formation) ? formation.map((f) => (f as { type?: unknown }).type).filter((t): t is string => typeof t === "string") : [];
    return [...new Set(types)].sort();
  }
}

const Bookmark = z.looseObject({ replication_key: z.string().optional(), replication_key_value: z.string().optional() });

/** The window a run reads: complete buckets only, from the bookmark (or metrics.start_date), at most lookback_hours back. */
export function metricsWindow(settings: Settings, bookmark: string | undefined, nowMs: number): { start: number; end: number } {
  const step = STEP_MS[settings.metrics.step];
  const end = Math.floor(nowMs / step) * step;
  const floor = Math.ceil((end - settings.metrics.lookback_hours * 3_600_000) / step) * step;
  const from = bookmark ?? settings.metrics.start_date;
  const start = Math.max(floor, from === undefined ? -Infinity : Math.ceil(Date.parse(from) / step) * step);
  return { start, end };
}

export function metricsStreams(settings: Settings, client: HerokuClient): Stream[] {
  const api = metricsApi(settings);
  const apps = new Apps(client, settings);
  return METRICS_STREAMS.map((def): Stream => ({
    id: def.stream,
    schema: SCHEMA,
    keyProperties: ["app_id", "process_type", "series", "time"],
    validReplicationKeys: ["time"],
    defaultReplicationMethod: "INCREMENTAL",
    // Beta, on another host, and a request per app each run: chosen, not imposed.
    selectedByDefault: false,
    extraMetadata: [{ breadcrumb: [], metadata: { "heroku-endpoint": `GET ${api.base}${def.path}`, "heroku-scope": "global", "heroku-beta": true } }],
    bookmark: Bookmark,
    sync: (ctx) => syncMetrics(def, ctx, client, api, apps, settings),
  }));
}

async function syncMetrics(def: MetricsStreamDefinition, ctx: SyncContext, client: HerokuClient, api: HostApi, apps: Apps, settings: Settings): Promise<void> {
  const bookmark = ctx.replicationMethod === "INCREMENTAL" ? ctx.bookmark?.replication_key_value as string | undefined : undefined;
  const { start, end } = metricsWindow(settings, bookmark, client.serverDateMs ?? Date.now());
  const version = ctx.replicationMethod === "INCREMENTAL" ? undefined : Date.now();
  if (start >= end) {
    log.info(`${def.stream}: no complete ${settings.metrics.step} bucket since ${new Date(start).toISOString()}; nothing to read`);
    return;
  }
  const query = new URLSearchParams({ start_time: iso(start), end_time: iso(end), step: settings.metrics.step });
  const targets: Target<{ app: App; type: string }>[] = [];
  for (const app of await apps.list()) {
    const types = def.per === "web" ? ["web"] : await apps.processTypes(app);
    for (const type of types) {
      const q = new URLSearchParams(query);
      if (def.per === "web") q.set("process_type", type);
      // By name, as heroku/cli apps:errors asks; the row carries the id, which a rename does not change.
      const path = def.path.replace("{app}", encodeURIComponent(app.name)).replace("{type}", encodeURIComponent(type));
      targets.push({ label: `${app.name} ${type}`, path: `${path}?${q}`, of: { app, type } });
    }
  }
  const stepMs = STEP_MS[settings.metrics.step];
  // The run's estimate counts the Platform API only: say what this stream costs on its host.
  log.info(`${def.stream}: ${targets.length} requests to ${api.name}, ${iso(start)} to ${iso(end)} in ${settings.metrics.step} buckets`);
  await readEach(client, api, def.stream, targets, settings.max_concurrency, ctx.signal, async (body, t) => {
    ctx.progress(t.label);
    const answer = (body ?? {}) as { data?: unknown; start_time?: unknown; step?: unknown };
    const from = typeof answer.start_time === "string" && Number.isFinite(Date.parse(answer.start_time)) ? Date.parse(answer.start_time) : start;
    const data = answer.data !== null && typeof answer.data === "object" ? answer.data as Record<string, unknown> : {};
    for (const series of Object.keys(data).sort()) {
      const values = data[series];
      if (!Array.isArray(values)) continue;
      for (const [i, v] of values.entries()) {
        const at = from + i * stepMs;
        if (at < start || at >= end) continue; // only the window asked for, so windows never overlap
        await ctx.writeRecord({
          app_id: t.of.app.id,
          app_name: t.of.app.name,
          process_type: t.of.type,
          series,
          time: iso(at),
          step: settings.metrics.step,
          value: typeof v === "number" && Number.isFinite(v) ? v : null,
        }, version);
      }
    }
  });
  if (ctx.signal.aborted) return;
  if (version === undefined) await ctx.saveBookmark({ replication_key: "time", replication_key_value: iso(end) });
  else await ctx.activateVersion(version);
}

const iso = (ms: number) => new Date(ms).toISOString();

// Heroku Postgres backups, backup schedules, maintenance and database info,
// from the Heroku Data API (the host the Heroku CLI's pg:backups, pg:info and
// data:maintenances commands read; routes in heroku/typescript-api-schema
// src/data/routes.ts, shapes in its generated data types). Read-only GETs
// through the Platform API's client (host-api.ts).
//
// The databases are the Heroku Postgres add-ons discovery already found
// (src/postgres/discover.ts): no API walk of its own. Per-app endpoints are read
// once per app that owns one of them, per-database ones once per add-on.
//
// Secrets: a transfer carries from_url and to_url (the database URL with its
// password, a signed storage URL), database info carries resource_url,
// database_user and database_password, and info entries marked resolve_db_name
// hold other databases' URLs. Records are built by picking named fields, so
// none of these is ever read into a record; strings that are kept are masked
// all the same (the URLs discovery read are registered secrets).
import type { JSONSchema7 } from "json-schema";
import { z } from "zod";
import { DATA_STREAMS } from "./host-streams.ts";
import type { DataStreamDefinition } from "./host-streams.ts";
import type { Settings } from "../config.ts";
import { log, redact } from "../log.ts";
import type { Candidate } from "../postgres/discover.ts";
import type { Stream, SyncContext } from "../singer/stream.ts";
import type { HerokuClient } from "./client.ts";
import { readEach } from "./host-api.ts";
import type { HostApi, Target } from "./host-api.ts";

const str = { type: ["null", "string"] } as JSONSchema7;
const time = { type: ["null", "string"], format: "date-time" } as JSONSchema7;
const int = { type: ["null", "integer"] } as JSONSchema7;
const bool = { type: ["null", "boolean"] } as JSONSchema7;
const strings = { type: ["null", "array"], items: { type: "string" } } as JSONSchema7;
const object = (properties: Record<string, JSONSchema7>): JSONSchema7 => ({ type: "object", properties, additionalProperties: false });
const database = { addon_id: { type: "string" }, addon_name: str, app_name: str } as Record<string, JSONSchema7>;

const SCHEMAS: Record<string, JSONSchema7> = {
  postgres_backups: object({
    id: { type: "string" },
    num: int,
    name: str,
    type: str,
    scheduled: bool,
    schedule_id: str,
    app_name: str,
    from_name: str,
    from_uuid: str,
    from_type: str,
    to_name: str,
    to_uuid: str,
    to_type: str,
    source_bytes: int,
    processed_bytes: int,
    succeeded: bool,
    warnings: int,
    created_at: time,
    started_at: time,
    finished_at: time,
    canceled_at: time,
    updated_at: time,
    deleted_at: time,
    purged_at: time,
    num_keep: int,
  }),
  postgres_backup_schedules: object({
    id: { type: "string" },
    ...database,
    name: str,
    days: strings,
    hour: int,
    timezone: str,
    retain_weeks: int,
    retain_months: int,
  }),
  postgres_maintenances: object({
    ...database,
    app_id: str,
    attachments: strings,
    kind: str,
    plan: str,
    window: str,
    status: str,
    required_by: time,
    scheduled_for: time,
    method: str,
    reason: str,
    description: str,
    started_at: time,
    completed_at: time,
    duration_seconds: { type: ["null", "number"] },
    server_created_at: time,
  }),
  postgres_database_info: object({
    ...database,
    plan: str,
    created_at: time,
    data_size_bytes: int,
    table_count: int,
    status: str,
    postgres_version: str,
    available_for_ingress: bool,
    waiting: bool,
    info: { type: ["null", "object"], additionalProperties: { type: "string" } },
  }),
};

export const DATA_API_SCOPE = 'the "global" OAuth scope, as the Heroku CLI\'s own token has (heroku authorizations:create --scope global)';

export function dataApi(settings: Settings): HostApi {
  return { name: "the Heroku Data API", base: settings.data_api_url.replace(/\/+$/, ""), scope: DATA_API_SCOPE, none: [404, 422], noneLevel: "warn" };
}

type Json = Record<string, unknown>;
const asObject = (v: unknown): Json => (v !== null && typeof v === "object" && !Array.isArray(v) ? v as Json : {});
const text = (v: unknown): string | null => (typeof v === "string" ? redact(v) : typeof v === "number" ? String(v) : null);
const whole = (
  v: unknown,
): number | null => (typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : null);
const flag = (v: unknown): boolean | null => (typeof v === "boolean" ? v : null);
const names = (v: unknown): string[] | null => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : null);
const of = (c: Candidate) => ({ addon_id: c.addonId, addon_name: c.addonName, app_name: c.app });

/**
 * A transfer as a row: backup, restore or copy by the kinds of its ends, and
 * the name the CLI shows (b001, a002 for a scheduled backup, r003, c004), as
 * heroku/cli src/lib/pg/backups.ts derives them. from_url, to_url, options and
 * logs are left out: the URLs are credentials.
 */
export function transferRecord(t: Json, app: string): Json {
  const from = text(t.from_type);
  const to = text(t.to_type);
  const schedule = asObject(t.schedule);
  const scheduled = typeof schedule.uuid === "string";
  const type = from === "pg_dump" ? (to === "pg_restore" ? "copy" : "backup") : to === "pg_restore" ? "restore" : "backup";
  const prefix = type === "copy" ? "c" : type === "restore" ? "r" : from === "pg_dump" && scheduled ? "a" : "b";
  const num = whole(t.num);
  return {
    id: text(t.uuid),
    num,
    name: num === null ? null : `${prefix}${String(num).padStart(3, "0")}`,
    type,
    scheduled,
    schedule_id: scheduled ? text(schedule.uuid) : null,
    app_name: app,
    from_name: text(t.from_name),
    from_uuid: text(t.from_uuid),
    from_type: from,
    to_name: text(t.to_name),
    to_uuid: text(t.to_uuid),
    to_type: to,
    source_bytes: whole(t.source_bytes),
    processed_bytes: whole(t.processed_bytes),
    succeeded: flag(t.succeeded),
    warnings: whole(t.warnings),
    created_at: text(t.created_at),
    started_at: text(t.started_at),
    finished_at: text(t.finished_at),
    canceled_at: text(t.canceled_at),
    updated_at: text(t.updated_at),
    deleted_at: text(t.deleted_at),
    purged_at: text(t.purged_at),
    num_keep: whole(t.num_keep),
  };
}

function scheduleRecord(s: Json, c: Candidate): Json {
  return {
    id: text(s.uuid),
    ...of(c),
    name: text(s.name),
    days: names(s.days),
    hour: whole(s.hour),
    timezone: text(s.timezone),
    retain_weeks: whole(s.retain_weeks),
    retain_months: whole(s.retain_months),
  };
}

function maintenanceRecord(m: Json, c: Candidate): Json {
  const addon = asObject(m.addon);
  const app = asObject(m.app);
  return {
    ...of(c),
    app_id: text(app.uuid) ?? c.appId ?? null,
    attachments: names(addon.attachments),
    kind: text(addon.kind),
    plan: text(addon.plan),
    window: text(m.window) ?? text(addon.window),
    status: text(m.status),
    required_by: text(m.required_by),
    scheduled_for: text(m.scheduled_for),
    method: text(m.method),
    reason: text(m.reason),
    description: text(m.addon_description),
    started_at: text(m.started_at),
    completed_at: text(m.completed_at),
    duration_seconds: typeof m.duration_seconds === "number" ? m.duration_seconds : null,
    server_created_at: text(m.server_created_at),
  };
}

/**
 * Database info as pg:info shows it: `info` is Heroku's list of labelled
 * values ("Plan", "Status", "Data Size", "Tables", "PG Version", ...), kept as
 * label -> values joined by ", ". Entries Heroku marks resolve_db_name hold
 * another database's URL (a follower's leader): left out, never read.
 */
function infoRecord(d: Json, c: Candidate): Json {
  const info: Record<string, string> = {};
  for (const entry of Array.isArray(d.info) ? d.info : []) {
    const e = asObject(entry);
    if (typeof e.name !== "string" || e.resolve_db_name === true || !Array.isArray(e.values)) continue;
    const values = e.values.filter((v) => typeof v === "string" || typeof v === "number").map(String);
    // A value that is a connection URL is a credential whatever its label says.
    if (values.some((v) => /^[a-z][a-z0-9+.-]*:\/\/[^/\s]*@/i.test(v))) continue;
    info[e.name] = redact(values.join(", "));
  }
  const tables = /^\d+$/.exec(info["Tables"] ?? "")?.[0];
  return {
    ...of(c),
    plan: text(d.plan) ?? c.plan ?? null,
    created_at: text(d.created_at),
    data_size_bytes: whole(d.num_bytes),
    table_count: tables === undefined ? null : Number(tables),
    status: info["Status"] ?? null,
    postgres_version: info["PG Version"] ?? null,
    available_for_ingress: flag(d.available_for_ingress),
    waiting: flag(d["waiting?"]),
    info,
  };
}

/** The targets of a stream: one per app that owns a database found, or one per database. */
function targets(def: DataStreamDefinition, databases: readonly Candidate[]): Target<Candidate[]>[] {
  if (def.per === "database") {
    return databases.map((c) => ({ label: c.addonName, path: fill(def.path, c), of: [c] }));
  }
  const byApp = new Map<string, Candidate[]>();
  for (const c of databases) {
    if (def.path.includes("{app_id}") && c.appId === undefined) continue;
    byApp.set(c.app, [...(byApp.get(c.app) ?? []), c]);
  }
  return [...byApp].map(([app, cs]) => ({ label: `app ${app}`, path: fill(def.path, cs[0]!), of: cs }));
}

function fill(path: string, c: Candidate): string {
  return path
    .replace("{app}", encodeURIComponent(c.app))
    .replace("{app_id}", encodeURIComponent(c.appId ?? ""))
    .replace("{addon_id}", encodeURIComponent(c.addonId));
}

const list = (body: unknown, field?: string): Json[] => {
  const v = field === undefined ? body : asObject(body)[field];
  return Array.isArray(v) ? v.map(asObject) : [];
};

/** The records one answer gives. */
function recordsOf(def: DataStreamDefinition, body: unknown, t: Target<Candidate[]>): Json[] {
  const c = t.of[0]!;
  switch (def.stream) {
    case "postgres_backups":
      return list(body).map((x) => transferRecord(x, c.app));
    case "postgres_backup_schedules":
      return list(body).map((x) => scheduleRecord(x, c));
    case "postgres_maintenances": {
      // The app's data add-ons of every kind: only the Heroku Postgres ones discovery found.
      const byId = new Map(t.of.map((x) => [x.addonId, x]));
      return list(body, "maintenances").flatMap((m) => {
        const found = byId.get(String(asObject(m.addon).uuid));
        return found ? [maintenanceRecord(m, found)] : [];
      });
    }
    default:
      return [infoRecord(asObject(body), c)];
  }
}

const Bookmark = z.looseObject({ replication_key: z.string().optional(), replication_key_value: z.string().optional() });

/**
 * The Data API streams. `databases` is called when a stream syncs, after
 * discovery ran; an empty list (discovery off, or config vars not readable)
 * gives no rows and no request.
 */
export function dataApiStreams(settings: Settings, client: HerokuClient, databases: () => readonly Candidate[]): Stream[] {
  const api = dataApi(settings);
  return DATA_STREAMS.map((def): Stream => ({
    id: def.stream,
    schema: SCHEMAS[def.stream]!,
    keyProperties: def.key_properties,
    validReplicationKeys: def.replication_key ? [def.replication_key] : [],
    defaultReplicationMethod: def.replication_key ? "INCREMENTAL" : "FULL_TABLE",
    // Another host and one request per database or app each run: chosen, not imposed (README, Heroku Postgres backups and maintenance).
    selectedByDefault: false,
    extraMetadata: [{ breadcrumb: [], metadata: { "heroku-endpoint": `GET ${api.base}${def.path}`, "heroku-scope": "global" } }],
    bookmark: Bookmark,
    sync: (ctx) => syncData(def, ctx, client, api, databases(), settings),
  }));
}

async function syncData(
  def: DataStreamDefinition,
  ctx: SyncContext,
  client: HerokuClient,
  api: HostApi,
  databases: readonly Candidate[],
  settings: Settings,
): Promise<void> {
  if (!settings.postgres.enabled) {
    log.info(`${def.stream}: no databases to read: Heroku Postgres discovery is off (postgres.enabled=false)`);
  } else if (databases.length === 0) log.info(`${def.stream}: no Heroku Postgres database was found, so there is nothing to read`);
  const incremental = ctx.replicationMethod === "INCREMENTAL" && def.replication_key !== null;
  const key = def.replication_key ?? "";
  const since = incremental ? ((ctx.bookmark?.replication_key_value as string | undefined) ?? ctx.startDate) : undefined;
  const sinceMs = since === undefined ? -Infinity : Date.parse(since);
  const version = incremental ? undefined : Date.now();
  let newest = since;
  const todo = targets(def, databases);
  // The run's estimate counts the Platform API only: say what this stream costs on its host.
  if (todo.length > 0) log.info(`${def.stream}: ${todo.length} requests to ${api.name} (one per ${def.per === "app" ? "app owning a database" : "database"})`);
  await readEach(client, api, def.stream, todo, settings.max_concurrency, ctx.signal, async (body, t) => {
    ctx.progress(t.label);
    for (const r of recordsOf(def, body, t)) {
      if (incremental) {
        // Unfinished transfers come every run until they finish; finished ones once, from the newest finish seen (>=, upserted by id).
        const at = typeof r[key] === "string" ? Date.parse(r[key] as string) : NaN;
        if (Number.isFinite(at) && at < sinceMs) continue;
        if (Number.isFinite(at) && (newest === undefined || at > Date.parse(newest))) newest = r[key] as string;
      }
      await ctx.writeRecord(r, version);
    }
  });
  if (ctx.signal.aborted) return;
  if (incremental) {
    if (newest !== undefined) await ctx.saveBookmark({ replication_key: key, replication_key_value: newest });
  } else await ctx.activateVersion(version!);
}

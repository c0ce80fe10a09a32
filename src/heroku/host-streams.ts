// The streams of Heroku's other hosts as rows of data: what differs between
// them is the path, what a request is made per, the keys and the reference
// they are built from. Data only (zod), so the catalog generator reads them
// without the tap's runtime; src/heroku/data-api.ts and metrics-api.ts read them.
import { z } from "zod";

/** A Data API stream: a row of data (what differs is the path, what it fans out over, the keys). */
export const DataStreamDefinition = z.object({
  stream: z.string(),
  /** Path on the Data API; {app} is the app's name, {app_id} its id, {addon_id} the add-on's id. */
  path: z.string(),
  /** One request per app that owns a database found, or per database. */
  per: z.enum(["app", "database"]),
  key_properties: z.array(z.string()),
  /** finished_at for transfers (INCREMENTAL); null for snapshots (FULL_TABLE with ACTIVATE_VERSION). */
  replication_key: z.string().nullable(),
  /** The reference it is built from (catalog/heroku/README.md cites the same). */
  source: z.string(),
});
export type DataStreamDefinition = z.infer<typeof DataStreamDefinition>;

export const DATA_STREAMS: readonly DataStreamDefinition[] = z.array(DataStreamDefinition).parse([
  {
    stream: "postgres_backups",
    path: "/client/v11/apps/{app}/transfers",
    per: "app",
    key_properties: ["id"],
    replication_key: "finished_at",
    source: "data transfer.listByApp; heroku/cli pg:backups (src/commands/pg/backups/index.ts, src/lib/pg/types.ts BackupTransfer)",
  },
  {
    stream: "postgres_backup_schedules",
    path: "/client/v11/databases/{addon_id}/transfer-schedules",
    per: "database",
    key_properties: ["id"],
    replication_key: null,
    source: "data transferSchedule.list; heroku/cli pg:backups:schedules",
  },
  {
    stream: "postgres_maintenances",
    path: "/data/maintenances/v1/apps/{app_id}",
    per: "app",
    key_properties: ["addon_id"],
    replication_key: null,
    source: "data maintenance.infoByApp; heroku/cli data:maintenances (src/commands/data/maintenances/index.ts)",
  },
  {
    stream: "postgres_database_info",
    path: "/client/v11/databases/{addon_id}",
    per: "database",
    key_properties: ["addon_id"],
    replication_key: null,
    source: "data database.info; heroku/cli pg:info (src/commands/pg/info.ts)",
  },
]);

export const MetricsStreamDefinition = z.object({
  stream: z.string(),
  /** Path on the metrics API: {app} is the app's name (as heroku/cli apps:errors asks), {type} a process type of its formation. */
  path: z.string(),
  /** Router metrics are the web process's; dyno errors are per process type of the app's formation. */
  per: z.enum(["web", "process_type"]),
  source: z.string(),
});
export type MetricsStreamDefinition = z.infer<typeof MetricsStreamDefinition>;

export const METRICS_STREAMS: readonly MetricsStreamDefinition[] = z.array(MetricsStreamDefinition).parse([
  {
    stream: "router_status_metrics",
    path: "/apps/{app}/router-metrics/status",
    per: "web",
    source: "metrics routerMetric.status (request counts by HTTP status)",
  },
  {
    stream: "router_latency_metrics",
    path: "/apps/{app}/router-metrics/latency",
    per: "web",
    source: "metrics routerMetric.latency (latency percentiles)",
  },
  {
    stream: "router_error_metrics",
    path: "/apps/{app}/router-metrics/errors",
    per: "web",
    source: "metrics routerMetric.errors (router error counts by H code); heroku/cli apps:errors --router",
  },
  {
    stream: "dyno_error_metrics",
    path: "/apps/{app}/formation/{type}/metrics/errors",
    per: "process_type",
    source: "metrics formationMetric.errors (dyno error counts by R code); heroku/cli apps:errors --dyno",
  },
]);

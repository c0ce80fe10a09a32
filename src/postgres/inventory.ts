// postgres_databases: one row per Heroku Postgres add-on found through the API,
// with what the database said of itself in the one query discovery already
// makes (version, size, connections, follower lag, tables): "which databases
// do we run, on which plans, how big, can the tap reach them". It costs no
// extra API request and no extra query. A snapshot (FULL_TABLE, a new version
// every run), so an add-on that is gone leaves the target at the next run.
import type { JSONSchema7 } from "json-schema";
import { z } from "zod";
import type { Stream } from "../singer/stream.ts";
import type { InventoryRow } from "./discover.ts";
import { redact } from "../log.ts";

const nullable = (type: JSONSchema7["type"], extra: JSONSchema7 = {}): JSONSchema7 =>
  ({ type: ["null", ...(Array.isArray(type) ? type : [type!])], ...extra }) as JSONSchema7;

const SCHEMA: JSONSchema7 = {
  type: "object",
  properties: {
    addon_id: { type: "string", format: "uuid" },
    addon_name: { type: "string" },
    app_name: { type: "string" },
    plan: nullable("string"),
    attachments: { type: "array", items: { type: "string" } },
    reachable: { type: "boolean" },
    unreachable_reason: nullable("string"),
    role: nullable("string"),
    leader_addon_id: nullable("string", { format: "uuid" }),
    leader_addon_name: nullable("string"),
    read_by_tap: { type: "boolean" },
    postgres_version: nullable("string"),
    database_size_bytes: nullable("integer", { "x-sql-datatype": "bigint" } as JSONSchema7),
    connections: nullable("integer"),
    max_connections: nullable("integer"),
    follower_lag_s: nullable("number"),
    table_count: nullable("integer"),
  },
};

/** A row as a record; the numbers are far below 2^53 (a database of 9 PB), so exact as JS numbers. */
function record(row: InventoryRow): Record<string, unknown> {
  const c = row.candidate;
  const f = row.facts;
  const num = (v: string | null | undefined) => (v === undefined || v === null || !/^-?\d+(\.\d+)?$/.test(v) ? null : Number(v));
  return {
    addon_id: c.addonId,
    addon_name: c.addonName,
    app_name: c.app,
    plan: c.plan ?? null,
    attachments: [...c.attachments],
    reachable: f !== undefined,
    // A driver's reason can name the database user: masked like every log line, since this one goes to stdout.
    unreachable_reason: row.reason === undefined ? null : redact(row.reason),
    role: row.role ?? null,
    leader_addon_id: row.leader?.addonId ?? null,
    leader_addon_name: row.leader?.addonName ?? null,
    read_by_tap: row.readFrom === true,
    postgres_version: f?.version ?? null,
    database_size_bytes: num(f?.size_bytes),
    connections: num(f?.connections),
    max_connections: num(f?.max_connections),
    follower_lag_s: num(f?.lag_s),
    table_count: num(f?.tables),
  };
}

export function inventoryStream(rows: () => readonly InventoryRow[]): Stream {
  return {
    id: "postgres_databases",
    schema: SCHEMA,
    keyProperties: ["addon_id"],
    validReplicationKeys: [],
    defaultReplicationMethod: "FULL_TABLE",
    selectedByDefault: true,
    bookmark: z.looseObject({ version: z.number().int().optional() }),
    sync: async (ctx) => {
      const version = Date.now();
      for (const row of rows()) await ctx.writeRecord(record(row), version);
      await ctx.activateVersion(version);
    },
  };
}

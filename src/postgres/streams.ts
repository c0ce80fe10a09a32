// The catalog side of a database: one Singer stream per readable table,
// view, materialized view and partitioned table, named
// `<alias>-<schema>-<table>` so that target-postgres, which reads the last two
// `-`-separated parts as schema and table, finds them.
import type { JSONSchema7 } from "json-schema";
import type { MetadataEntry } from "../singer/catalog.ts";
import type { Stream } from "../singer/stream.ts";
import type { PostgresSettings } from "./connect.ts";
import type { Column, Introspection, Table } from "./introspect.ts";
import type { SessionPool } from "./pool.ts";
import { syncTable, TableBookmark } from "./sync.ts";
import type { TablePlan } from "./read.ts";
import { XMIN_KEY } from "./xmin.ts";
import { columnType } from "./types.ts";
import { DELETED_AT, DELETED_AT_SCHEMA } from "./deletes.ts";
import type { ColumnType } from "./types.ts";

/** Where a database came from, for the catalog metadata. */
export interface DatabaseInfo {
  /** Hyphen-free, stable name of the logical database (from its leader add-on). */
  readonly alias: string;
  readonly app?: string;
  readonly addon?: string;
  /** The follower add-on the tables are read from, when not the leader. */
  readonly readFrom?: string;
}

/** A hyphen-free alias from an add-on name: lower case, [a-z0-9_] only. */
export function aliasOf(name: string): string {
  const a = name.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  return a || "db";
}

/** A name part without hyphens (target-postgres splits on them). */
const part = (s: string) => s.replace(/-/g, "_");

/** The stream id a relation gets (before de-duplication). */
export const streamIdOf = (alias: string, schema: string, name: string) => `${alias}-${part(schema)}-${part(name)}`;

/** Whether a stream id is one of a database's tables: the one place that knows the id's shape. */
export const inDatabase = (alias: string, streamId: string) => streamId.startsWith(`${alias}-`);

/** The id of the transaction that wrote the row version, 64-bit: a record carries it when selected. */
const XMIN_SCHEMA: JSONSchema7 = {
  type: "integer",
  minimum: 0,
  description: "The transaction that inserted or last updated the row (xmin, with its epoch); computed by the tap",
};

/** Column names that make good replication keys come first. */
const PREFERRED_KEY = /^(updated|modified|changed|last_modified|last_updated)(_at|_on|_time|_date)?$|^(updated|modified)at$/i;

export function tableStreams(
  db: DatabaseInfo,
  intro: Introspection,
  pool: SessionPool,
  settings: PostgresSettings,
  taken: Set<string>,
): Stream[] {
  const lookup = (oid: number) => intro.types.get(oid);
  const limits = { batchSize: settings.batch_size, statementTimeoutS: settings.statement_timeout_s, maxStatementS: settings.max_statement_s };
  return intro.tables.map((table) => {
    let id = streamIdOf(db.alias, table.schema, table.name);
    for (let n = 2; taken.has(id); n++) id = `${db.alias}-${part(table.schema)}-${part(table.name)}_${n}`;
    taken.add(id);

    const types = new Map<string, ColumnType>(
      table.columns.map((c) => [c.name, columnType(c.typeOid, lookup, c.dims, { singerDecimal: settings.use_singer_decimal })]),
    );
    // Delete detection needs a key, and a table of its own column _sdc_deleted_at keeps that column.
    const deletes = settings.detect_deletes && table.primaryKey.length > 0 && !table.columns.some((c) => c.name === DELETED_AT)
      ? { maxBytes: settings.detect_deletes_max_kb * 1024, fullTableEveryH: settings.detect_deletes_full_table_every_h }
      : undefined;
    // fromEntries, not assignment: a column may be called __proto__.
    const properties: Record<string, JSONSchema7> = Object.fromEntries([
      ...table.columns.map((c) => [c.name, columnSchema(c, types.get(c.name)!.schema)]),
      ...(deletes ? [[DELETED_AT, { ...DELETED_AT_SCHEMA, type: [...DELETED_AT_SCHEMA.type] }]] : []),
    ]);
    const orderable = table.columns.filter((c) => types.get(c.name)!.orderable).map((c) => c.name);
    // Tables (not views) offer _sdc_xmin: after a named updated_at, before other columns, which catch inserts only.
    const xmin = (table.kind === "r" || table.kind === "p") && !(XMIN_KEY in properties) ? [XMIN_KEY] : [];
    if (xmin.length) properties[XMIN_KEY] = XMIN_SCHEMA;
    const keys = [...orderable.filter((n) => PREFERRED_KEY.test(n)), ...xmin, ...orderable.filter((n) => !PREFERRED_KEY.test(n))];
    const plan: TablePlan = { stream: id, table, types, ...(deletes ? { deletes } : {}) };
    return {
      id,
      schema: { type: "object", properties },
      keyProperties: table.primaryKey,
      validReplicationKeys: keys,
      computedProperties: xmin,
      defaultReplicationMethod: "FULL_TABLE",
      selectedByDefault: false,
      extraMetadata: [
        ...metadata(db, intro.database, table),
        ...xmin.map((name) => ({ breadcrumb: ["properties", name], metadata: { "sql-datatype": "xid8", "selected-by-default": false } })),
      ],
      extraEntry: { table_name: table.name },
      bookmark: TableBookmark,
      group: db.alias,
      // The database's tables are read concurrently within its budget, each on a session of its own.
      parallel: pool.size,
      sync: (ctx) => pool.use((session) => syncTable(session, plan, ctx, limits)),
    } satisfies Stream;
  });
}

/**
 * What a column's declaration adds to its type's schema: varchar's length, and
 * numeric(p,s)'s precision and scale, which SDK targets read from an
 * x-singer.decimal property to create DECIMAL(p,s).
 */
function columnSchema(c: Column, s: JSONSchema7): JSONSchema7 {
  if (c.maxLength !== undefined && s.type !== undefined) return { ...s, maxLength: c.maxLength };
  const numeric = /^numeric\((\d+)(?:,(-?\d+))?\)$/.exec(c.sqlType);
  if (numeric && s.format === "x-singer.decimal") return { ...s, precision: Number(numeric[1]), scale: Number(numeric[2] ?? 0) } as JSONSchema7;
  return s;
}

function metadata(db: DatabaseInfo, database: string, table: Table): MetadataEntry[] {
  return [
    {
      breadcrumb: [],
      metadata: {
        "database-name": database,
        "schema-name": table.schema,
        "table-name": table.name,
        "is-view": table.kind === "v" || table.kind === "m",
        "table-kind": { r: "table", v: "view", m: "materialized view", p: "partitioned table" }[table.kind],
        "row-count": table.rowEstimate,
        ...(db.app ? { "heroku-app": db.app } : {}),
        ...(db.addon ? { "heroku-addon": db.addon } : {}),
        ...(db.readFrom ? { "heroku-read-from": db.readFrom } : {}),
      },
    },
    ...table.columns.map((c) => ({ breadcrumb: ["properties", c.name], metadata: { "sql-datatype": c.sqlType } })),
  ];
}

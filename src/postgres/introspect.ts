// What one database holds: its tables, views, materialized views and
// partitioned tables (parents only), their columns with types, primary keys
// and row estimates, and which of them this credential may read.
import type pg from "pg";
import { isTrue } from "./types.ts";
import type { PgType } from "./types.ts";
import { quoteLiteral } from "./copy.ts";

export interface Column {
  readonly name: string;
  readonly typeOid: number;
  /** format_type(type, typmod), e.g. "character varying(20)". */
  readonly sqlType: string;
  /** format_type(type, NULL): the cast used for bookmarks. */
  readonly castType: string;
  readonly dims: number;
  readonly notNull: boolean;
  readonly maxLength: number | undefined;
}

export interface Table {
  readonly schema: string;
  readonly name: string;
  /** r table, v view, m materialized view, p partitioned table */
  readonly kind: "r" | "v" | "m" | "p";
  readonly rowEstimate: number;
  readonly columns: readonly Column[];
  readonly primaryKey: readonly string[];
  /** Columns that lead a plain btree index (no predicate): reading in their order needs no sort. */
  readonly indexed: readonly string[];
}

export interface Introspection {
  readonly database: string;
  readonly tables: readonly Table[];
  /** Relations left out because the credential may not read them. */
  readonly denied: readonly string[];
  /** The same relations by schema and name. */
  readonly deniedRelations: readonly { schema: string; name: string }[];
  readonly types: ReadonlyMap<number, PgType>;
}

export interface SchemaFilter {
  readonly schemas?: readonly string[] | undefined;
  readonly exclude: readonly string[];
}

const RELATIONS = `
SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
       CASE WHEN c.relkind = 'p' THEN
              (SELECT coalesce(sum(greatest(p.reltuples, 0)), 0) FROM pg_catalog.pg_partition_tree(c.oid) t
                 JOIN pg_catalog.pg_class p ON p.oid = t.relid WHERE t.isleaf)
            ELSE greatest(c.reltuples, 0) END::int8::text AS rows,
       pg_catalog.has_schema_privilege(n.oid, 'USAGE') AS usage,
       pg_catalog.has_table_privilege(c.oid, 'SELECT') AS readable,
       pg_catalog.has_any_column_privilege(c.oid, 'SELECT') AS some_columns
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'v', 'm', 'p')
   AND NOT c.relispartition
   AND n.nspname <> 'information_schema'
   AND n.nspname NOT LIKE 'pg\\_%'
 ORDER BY n.nspname, c.relname`;

const COLUMNS = `
SELECT a.attrelid::int8::text AS rel, a.attname AS name, a.atttypid::int8::text AS type,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS sql_type,
       pg_catalog.format_type(a.atttypid, NULL) AS cast_type,
       a.attndims::text AS dims, a.attnotnull AS not_null,
       CASE WHEN a.atttypid IN (1043, 1042) AND a.atttypmod > 4 THEN (a.atttypmod - 4)::text END AS max_length,
       pg_catalog.has_column_privilege(a.attrelid, a.attnum, 'SELECT') AS readable
  FROM pg_catalog.pg_attribute a
 WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum`;

const PRIMARY_KEYS = `
SELECT i.indrelid::int8::text AS rel, a.attname AS name
  FROM pg_catalog.pg_index i
  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indisprimary AND i.indrelid = ANY($1::oid[])
 ORDER BY i.indrelid, k.pos`;

const INDEXED = `
SELECT DISTINCT i.indrelid::int8::text AS rel, a.attname AS name
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
  JOIN pg_catalog.pg_am am ON am.oid = c.relam
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
 WHERE am.amname = 'btree' AND i.indpred IS NULL AND i.indrelid = ANY($1::oid[])`;

const TYPES = `
SELECT t.oid::int8::text AS oid, t.typname AS name, n.nspname AS schema, t.typtype AS typtype,
       t.typcategory AS category, t.typelem::int8::text AS elem, t.typbasetype::int8::text AS base, t.typdelim AS delim
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace`;

type Row = Record<string, string | boolean | null>;

/**
 * The relations whose columns and keys are read: in the schemas asked for,
 * and readable by this credential (the same test introspect() applies to
 * RELATIONS' rows to tell denied ones), so that those two queries need no
 * list of oids from the first and all five go in one round trip.
 */
function wantedRelations(filter: SchemaFilter): string {
  const list = (names: readonly string[]) => `ARRAY[${names.map(quoteLiteral).join(", ")}]::text[]`;
  return `
SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'v', 'm', 'p') AND NOT c.relispartition
   AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
   ${filter.schemas ? `AND n.nspname = ANY(${list(filter.schemas)})` : ""} AND n.nspname <> ALL(${list(filter.exclude)})
   AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
   AND (pg_catalog.has_table_privilege(c.oid, 'SELECT') OR pg_catalog.has_any_column_privilege(c.oid, 'SELECT'))`;
}

export async function introspect(client: pg.Client, filter: SchemaFilter): Promise<Introspection> {
  // One simple-protocol query of six statements: one round trip, however far the server is.
  const wanted = wantedRelations(filter);
  const results = (await client.query<Row>(
    [
      "SELECT pg_catalog.current_database() AS db",
      RELATIONS,
      COLUMNS.replace("$1::oid[]", `ARRAY(${wanted})`),
      PRIMARY_KEYS.replace("$1::oid[]", `ARRAY(${wanted})`),
      INDEXED.replace("$1::oid[]", `ARRAY(${wanted})`),
      TYPES,
    ].join(";\n"),
  )) as unknown as pg.QueryResult<Row>[];
  const [db, relations, cols, pks, indexes, types] = results.map((r) => r.rows) as [Row[], Row[], Row[], Row[], Row[], Row[]];
  const database = String(db[0]!.db);
  const rels = relations.filter((r) => {
    const schema = String(r.schema);
    return (!filter.schemas || filter.schemas.includes(schema)) && !filter.exclude.includes(schema);
  });
  const denied: string[] = [];
  const deniedRelations: { schema: string; name: string }[] = [];
  const deny = (r: Row) => {
    denied.push(`${r.schema}.${r.name}`);
    deniedRelations.push({ schema: String(r.schema), name: String(r.name) });
  };
  const readable = rels.filter((r) => {
    const ok = isTrue(r.usage) && (isTrue(r.readable) || isTrue(r.some_columns));
    if (!ok) deny(r);
    return ok;
  });
  const columns = groupBy(cols, (r) => String(r.rel));
  const keys = groupBy(pks, (r) => String(r.rel));
  const indexed = groupBy(indexes, (r) => String(r.rel));
  const tables: Table[] = [];
  for (const r of readable) {
    const all = columns.get(String(r.oid)) ?? [];
    const readableColumns = all.filter((c) => isTrue(c.readable));
    if (readableColumns.length === 0) {
      deny(r);
      continue;
    }
    const primaryKey = (keys.get(String(r.oid)) ?? []).map((k) => String(k.name));
    const readableNames = new Set(readableColumns.map((c) => String(c.name)));
    tables.push({
      schema: String(r.schema),
      name: String(r.name),
      kind: String(r.kind) as Table["kind"],
      rowEstimate: Number(r.rows),
      columns: readableColumns.map((c) => ({
        name: String(c.name),
        typeOid: Number(c.type),
        sqlType: String(c.sql_type),
        castType: String(c.cast_type),
        dims: Number(c.dims),
        notNull: isTrue(c.not_null),
        maxLength: c.max_length === null ? undefined : Number(c.max_length),
      })),
      // A key the credential cannot read in full cannot be a key.
      primaryKey: primaryKey.every((k) => readableNames.has(k)) ? primaryKey : [],
      indexed: (indexed.get(String(r.oid)) ?? []).map((i) => String(i.name)).filter((n) => readableNames.has(n)),
    });
  }
  const typeMap = new Map<number, PgType>();
  for (const t of types) {
    typeMap.set(Number(t.oid), {
      oid: Number(t.oid),
      name: String(t.name),
      schema: String(t.schema),
      typtype: String(t.typtype),
      category: String(t.category),
      elem: Number(t.elem),
      base: Number(t.base),
      delim: String(t.delim),
    });
  }
  return { database, tables, denied, deniedRelations, types: typeMap };
}

function groupBy<T>(rows: T[], key: (r: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = m.get(k);
    if (list) list.push(r);
    else m.set(k, [r]);
  }
  return m;
}

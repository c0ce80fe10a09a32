// Reading one table: a REPEATABLE READ READ ONLY snapshot streamed with
// `COPY (SELECT …) TO STDOUT` (copy.ts), so rows flow at wire speed with no
// round trip per batch; each row's COPY text is split into fields and turned
// into JSON text by the per-column encoders, then handed to the writer, whose
// backpressure pauses the socket. FULL_TABLE walks the primary key in keyset
// chunks (one COPY statement each, ordered by the key's index: no server
// sort), so an interrupted pass resumes after the last key written, under
// the same version; INCREMENTAL selects `key >= bookmark` ordered by the key.
import { z } from "zod";
import type pg from "pg";
import type { SyncContext } from "../singer/stream.ts";
import { RawJson } from "../singer/messages.ts";
import { RunError, StreamSkipped } from "../errors.ts";
import { log } from "../log.ts";
import { isConnectionLost, RAW_TYPES, sqlState } from "./connect.ts";
import type { Column, Table } from "./introspect.ts";
import { Unreachable } from "./session.ts";
import type { Session } from "./session.ts";
import { quoteIdent } from "./types.ts";
import { quoteLiteral } from "./copy.ts";
import { ChunkSize, copyRows, fromClause, inSnapshot, readColumns, readCtidRanges, RowEncoder, selectList, stoppable, tableBlocks, tidRanges } from "./read.ts";
import type { CtidPass, ReadOptions, TablePlan } from "./read.ts";
import { syncXmin, XMIN_KEY } from "./xmin.ts";
import { DeletesBookmark, DeleteTracking } from "./deletes.ts";

/**
 * Key column -> PostgreSQL's text of its value. Not z.record: it drops a key
 * named __proto__, and a key column may be called that; the parsed object is kept as it is.
 */
const KeyValues = z.custom<Record<string, string>>(
  (v) => typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string"),
  "expected an object of key column -> value text",
);

/** Bookmark of a FULL_TABLE pass (pipelinewise-tap-postgres' names); key values are PostgreSQL's text. */
export const FullTableBookmark = z.object({
  version: z.number().int().optional(),
  last_pk_fetched: KeyValues.optional(),
  max_pk_values: KeyValues.optional(),
  /** A table without a key, read in physical order: the ctid of the last row written, e.g. "(12,4)". */
  last_ctid: z.string().regex(/^\(\d+,\d+\)$/, "expected a ctid such as (12,4)").optional(),
  /** …and the table's size in blocks when the pass began: later blocks come with the next pass. */
  max_block: z.number().int().min(0).optional(),
});

/** Bookmark of an INCREMENTAL stream; the value is PostgreSQL's text of the key. */
export const IncrementalBookmark = z.object({
  replication_key: z.string().optional(),
  replication_key_value: z.union([z.string(), z.number()]).optional(),
});

export const TableBookmark = z.looseObject({ ...FullTableBookmark.shape, ...IncrementalBookmark.shape, deletes: DeletesBookmark.optional() });

export type { TablePlan } from "./read.ts";

const TIME_TYPES = new Set(["date", "timestamp", "timestamptz"]);

export async function syncTable(session: Session, plan: TablePlan, ctx: SyncContext, limits: ReadOptions): Promise<void> {
  try {
    if (ctx.replicationMethod === "INCREMENTAL") {
      // Delete detection: a hook inside the read's snapshot, then the fallback's FULL_TABLE pass when one is due.
      const deletes = DeleteTracking.for(plan, ctx, limits);
      const read = ctx.replicationKey === XMIN_KEY ? syncXmin : incremental;
      await read(session, plan, deletes?.ctx ?? ctx, { ...limits, ...(deletes ? { beforeRows: deletes.beforeRows } : {}) });
      await deletes?.afterPass((c, onKey) => fullTable(session, plan, c, { ...limits, ...(onKey ? { onKey } : {}) }));
    } else await fullTable(session, plan, ctx, limits);
  } catch (e) {
    if (e instanceof Unreachable) throw new StreamSkipped(e.message);
    // Database errors fail this stream; anything else (stdout closed, a bug) is not ours to soften.
    if (sqlState(e) !== undefined || isConnectionLost(e)) throw new RunError(`${plan.stream}: ${describeQueryError(e)}`, { cause: e });
    throw e;
  }
}

/** `(a, b)` for a key, `('1'::int8, 'x'::text)` for its values: COPY takes no bound parameters. */
const keyTuple = (cols: readonly Column[], values: readonly string[]) => `(${values.map((v, i) => `${quoteLiteral(v)}::${cols[i]!.castType}`).join(", ")})`;

async function fullTable(session: Session, plan: TablePlan, ctx: SyncContext, { batchSize, statementTimeoutS, onKey }: ReadOptions): Promise<void> {
  const { table } = plan;
  const pk = table.primaryKey;
  const prior = FullTableBookmark.safeParse(ctx.bookmark ?? {});
  const bm = prior.success ? prior.data : {};
  const sameKey = (v: Record<string, string> | undefined) => v !== undefined && pk.length > 0 && pk.every((k) => k in v) && Object.keys(v).length === pk.length;
  const resume = bm.version !== undefined && sameKey(bm.last_pk_fetched) && sameKey(bm.max_pk_values);
  let version = resume ? bm.version! : Date.now();
  let last: string[] | undefined = resume ? pk.map((k) => bm.last_pk_fetched![k]!) : undefined;
  let max: string[] | undefined = resume ? pk.map((k) => bm.max_pk_values![k]!) : undefined;
  if (resume) log.info(`${plan.stream}: resuming the full-table pass of version ${version} after key ${JSON.stringify(bm.last_pk_fetched)}`);

  const { cols, emit } = readColumns(plan, ctx, []);
  const encoder = new RowEncoder(plan, cols, emit);
  const pkIdx = pk.map((k) => cols.findIndex((c) => c.name === k));
  const pkCols = pk.map((k) => table.columns.find((c) => c.name === k)!);
  const keyList = pkCols.map((c) => quoteIdent(c.name)).join(", ");
  const select = `SELECT ${selectList(plan, cols)} FROM ${fromClause(table)}`;
  const chunk = new ChunkSize(batchSize, statementTimeoutS);

  let stopped = false;
  let ctidPass: (CtidPass & { readonly version: number }) | undefined;
  const saveCtid = (
    p: CtidPass & { readonly version: number },
  ) => (p.last ? ctx.saveBookmark({ version: p.version, last_ctid: p.last, max_block: p.maxBlock }) : Promise.resolve());
  const onLost = (why: string) => {
    if (ctidPass) {
      log.warn(`${plan.stream}: ${why}; reconnecting and continuing after ctid ${ctidPass.last ?? "(0,0)"}`);
      return;
    }
    if (pk.length === 0) {
      // Without a key there is no place to continue from: start over under a
      // new version, so the target drops the partial pass when it completes.
      version = Date.now();
      log.warn(`${plan.stream}: ${why}; the table has no primary key, so the pass starts over (version ${version})`);
    } else {
      log.warn(`${plan.stream}: ${why}; reconnecting and continuing after the last key written`);
    }
  };
  const bookmark = () => ctx.saveBookmark({ version, last_pk_fetched: toObject(pk, last!), max_pk_values: toObject(pk, max!) });
  const pass = async (client: pg.Client, progress: { made: boolean }) => {
    if (pk.length === 0 && (table.kind === "r" || table.kind === "m") && (await tidRanges(client))) {
      const p = ctidPass ??= await startCtidPass(client, table, bm, version, plan.stream);
      version = p.version;
      // A table without a key, in block ranges of its heap; the bookmark is the ctid of the last row written.
      stopped = await readCtidRanges(client, {
        signal: ctx.signal,
        select: `SELECT ${[selectList(plan, cols), "ctid::text"].filter(Boolean).join(", ")} FROM ${fromClause(table)}`,
        fields: cols.length + 1,
        pass: p,
        batchSize,
        statementTimeoutS,
        progress,
        write: (row) => ctx.writeRecord(new RawJson(encoder.encode(row)), p.version),
        save: () => saveCtid(p),
      });
      return;
    }
    if (pk.length === 0) {
      // One COPY of the whole table (a view, a partitioned table, or PostgreSQL before 14).
      await copyRows(client, ctx.signal, `COPY (${select}) TO STDOUT`, cols.length, (row) => {
        if (ctx.signal.aborted) return; // stopping: rows already received are not written
        progress.made = true;
        return ctx.writeRecord(new RawJson(encoder.encode(row)), version);
      });
      return;
    }
    if (max === undefined) {
      const r = await client.query({
        text: `SELECT ${pkCols.map((c) => plan.types.get(c.name)!.select(quoteIdent(c.name))).join(", ")} FROM ${fromClause(table)} ORDER BY ${
          pkCols.map((c) => `${quoteIdent(c.name)} DESC`).join(", ")
        } LIMIT 1`,
        rowMode: "array",
        types: RAW_TYPES,
      });
      max = r.rows[0] as string[] | undefined;
      if (max === undefined) return; // an empty table: the pass is complete
    }
    for (;;) {
      const limit = chunk.rows;
      const where = ` WHERE (${keyList}) <= ${keyTuple(pkCols, max)}` + (last ? ` AND (${keyList}) > ${keyTuple(pkCols, last)}` : "");
      const started = performance.now();
      let n = 0;
      // The bookmark moves every batch_size rows within a chunk too: any written key is a valid resume point.
      await copyRows(client, ctx.signal, `COPY (${select}${where} ORDER BY ${keyList} LIMIT ${limit}) TO STDOUT`, cols.length, (row) => {
        if (ctx.signal.aborted) return; // stopping: rows already received are not written
        const written = ctx.writeRecord(new RawJson(encoder.encode(row)), version);
        last = pkIdx.map((i) => row[i]!);
        onKey?.(last);
        progress.made = true;
        if (++n % batchSize !== 0) return written;
        return Promise.all([written, bookmark()]).then(() => undefined);
      });
      if (n > 0 && n % batchSize !== 0) await bookmark();
      if (ctx.signal.aborted) {
        stopped = true;
        return;
      }
      chunk.observe(n, performance.now() - started);
      if (n < limit) break;
    }
  };
  if (await stoppable(session, () => inSnapshot(session, ctx.signal, onLost, pass))) stopped = true;
  if (stopped && last !== undefined && max !== undefined) await bookmark();
  encoder.warnLost(plan.stream);
  if (stopped) return;
  await ctx.activateVersion(version);
  await ctx.saveBookmark({ version });
}

async function incremental(session: Session, plan: TablePlan, ctx: SyncContext, { batchSize, statementTimeoutS, beforeRows }: ReadOptions): Promise<void> {
  const { table } = plan;
  const key = ctx.replicationKey!;
  const keyCol = table.columns.find((c) => c.name === key);
  if (!keyCol) throw new RunError(`${plan.stream}: the replication key "${key}" is not a readable column`);
  const prior = IncrementalBookmark.safeParse(ctx.bookmark ?? {});
  const bm = prior.success ? prior.data : {};
  const keyType = plan.types.get(key)!;
  let from: string | undefined = bm.replication_key === key && bm.replication_key_value !== undefined
    ? String(bm.replication_key_value)
    : TIME_TYPES.has(keyType.baseName)
    ? ctx.startDate
    : undefined;

  const { cols, emit } = readColumns(plan, ctx, [key]);
  const encoder = new RowEncoder(plan, cols, emit);
  const keyIdx = cols.findIndex((c) => c.name === key);
  const quoted = quoteIdent(key);

  const onLost = (why: string) => log.warn(`${plan.stream}: ${why}; reconnecting and continuing from the bookmark`);
  const keyText = plan.types.get(key)!.select(quoted);
  const lit = (v: string) => `${quoteLiteral(v)}::${keyCol.castType}`;
  const chunk = new ChunkSize(batchSize, statementTimeoutS);
  let indexed: boolean | undefined;
  const pass = async (client: pg.Client, progress: { made: boolean }) => {
    // Without an index on the key, the one COPY below sorts (as any ordered read
    // would); with one, the read goes in chunks of the index, each its own statement.
    indexed ??= await keyIsIndexed(client, table, key);
    await beforeRows?.(client);
    // Rows whose key is NULL can never be bookmarked and are not read. Rows come
    // in key order, so any written key resumes with `>=`: the bookmark moves every
    // batch_size rows as they stream.
    let lower = from === undefined ? `${quoted} IS NOT NULL` : `${quoted} >= ${lit(from)}`;
    for (;;) {
      // A chunk ends at the key chunk.rows rows ahead, with every row tied with it.
      let upper: string | undefined;
      if (indexed) {
        const r = await client.query({
          text: `SELECT ${keyText} FROM ${fromClause(table)} WHERE ${lower} ORDER BY ${quoted} OFFSET ${chunk.rows - 1} LIMIT 1`,
          rowMode: "array",
          types: RAW_TYPES,
        });
        upper = (r.rows[0] as string[] | undefined)?.[0];
      }
      const where = ` WHERE ${lower}` + (upper === undefined ? "" : ` AND ${quoted} <= ${lit(upper)}`);
      const started = performance.now();
      let n = 0;
      await copyRows(
        client,
        ctx.signal,
        `COPY (SELECT ${selectList(plan, cols)} FROM ${fromClause(table)}${where} ORDER BY ${quoted}) TO STDOUT`,
        cols.length,
        (row) => {
          if (ctx.signal.aborted) return; // stopping: rows already received are not written
          const written = ctx.writeRecord(new RawJson(encoder.encode(row)));
          from = row[keyIdx]!;
          progress.made = true;
          if (++n % batchSize !== 0) return written;
          return Promise.all([written, ctx.saveBookmark({ replication_key: key, replication_key_value: from })]).then(() => undefined);
        },
      );
      if (upper === undefined || ctx.signal.aborted) return;
      chunk.observe(n, performance.now() - started);
      lower = `${quoted} > ${lit(upper)}`;
    }
  };
  await stoppable(session, () => inSnapshot(session, ctx.signal, onLost, pass));
  encoder.warnLost(plan.stream);
  if (from !== undefined) await ctx.saveBookmark({ replication_key: key, replication_key_value: from });
}

/** Whether a plain btree index leads with `column`, so reading in its order needs no sort. */
async function keyIsIndexed(client: pg.Client, table: Table, column: string): Promise<boolean> {
  const r = await client.query<{ indexed: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_catalog.pg_index i
         JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
         JOIN pg_catalog.pg_am am ON am.oid = c.relam
         JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = $1::regclass AND a.attname = $2 AND am.amname = 'btree' AND i.indpred IS NULL
     ) AS indexed`,
    [fromClause(table), column],
  );
  return ["t", "true"].includes(String(r.rows[0]?.indexed)); // the session reads every value as text
}

function toObject(keys: readonly string[], values: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.map((k, i) => [k, values[i]!])); // a key column may be called __proto__
}

function describeQueryError(e: unknown): string {
  const state = sqlState(e);
  const m = e instanceof Error ? e.message : String(e);
  if (state === "57014") return `the query was cancelled by statement_timeout (postgres.statement_timeout_s): ${m}`;
  if (state === "42501") return `permission denied: ${m}`;
  return state ? `${m} (SQLSTATE ${state})` : m;
}

/** A resumed pass keeps its version and block limit; a new one takes the table's size now. */
async function startCtidPass(
  client: pg.Client,
  table: Table,
  bm: z.infer<typeof FullTableBookmark>,
  version: number,
  stream: string,
): Promise<CtidPass & { readonly version: number }> {
  if (bm.version !== undefined && bm.last_ctid !== undefined && bm.max_block !== undefined) {
    log.info(`${stream}: resuming the full-table pass of version ${bm.version} after ctid ${bm.last_ctid}`);
    return { version: bm.version, maxBlock: bm.max_block, last: bm.last_ctid };
  }
  return { version, maxBlock: await tableBlocks(client, table), last: undefined };
}

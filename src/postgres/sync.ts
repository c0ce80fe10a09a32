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
import { isConnectionLost, sqlState } from "./connect.ts";
import type { Column, Table } from "./introspect.ts";
import { Unreachable } from "./session.ts";
import type { Session } from "./session.ts";
import { quoteIdent } from "./types.ts";
import { quoteLiteral } from "./copy.ts";
import { ChunkSize, fromClause, inSnapshot, readColumns, readCtidRanges, RowEncoder, selectList, stoppable, tableBlocks, tidRanges } from "./read.ts";
import { chunkTargetMs } from "./statement-bound.ts";
import type { Statements } from "./statement-bound.ts";
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

async function fullTable(session: Session, plan: TablePlan, ctx: SyncContext, limits: ReadOptions): Promise<void> {
  const { batchSize, onKey } = limits;
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
  const chunk = new ChunkSize(batchSize, chunkTargetMs(limits));

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
  // The pass's last key bounds it (and its resumes); it comes with the snapshot's BEGIN, in the same round trip.
  const lastKey = () =>
    pk.length > 0 && max === undefined
      ? `SELECT ${pkCols.map((c, i) => `${plan.types.get(c.name)!.select(quoteIdent(c.name))} AS k${i}`).join(", ")} FROM ${fromClause(table)} ORDER BY ${
        pkCols.map((c) => `${quoteIdent(c.name)} DESC`).join(", ")
      } LIMIT 1`
      : undefined;
  const pass = async (statements: Statements, progress: { made: boolean }, first: readonly pg.QueryResultRow[] | undefined) => {
    const { client } = statements;
    if (pk.length === 0 && (table.kind === "r" || table.kind === "m") && (await tidRanges(client))) {
      const p = ctidPass ??= await startCtidPass(client, table, bm, version, plan.stream);
      version = p.version;
      // A table without a key, in block ranges of its heap; the bookmark is the ctid of the last row written.
      stopped = await readCtidRanges(statements, {
        signal: ctx.signal,
        select: `SELECT ${[selectList(plan, cols), "ctid::text"].filter(Boolean).join(", ")} FROM ${fromClause(table)}`,
        fields: cols.length + 1,
        pass: p,
        batchSize,
        targetMs: chunkTargetMs(limits),
        progress,
        write: (row) => ctx.writeRecord(new RawJson(encoder.encode(row)), p.version),
        save: () => saveCtid(p),
      });
      return;
    }
    if (pk.length === 0) {
      // One COPY of the whole table (a view, a partitioned table, or PostgreSQL before 14): not bounded, it cannot resume part way.
      await statements.copy(ctx.signal, `COPY (${select}) TO STDOUT`, cols.length, (row) => {
        if (ctx.signal.aborted) return; // stopping: rows already received are not written
        progress.made = true;
        return ctx.writeRecord(new RawJson(encoder.encode(row)), version);
      }, false);
      return;
    }
    if (max === undefined) {
      const row = first?.[0];
      if (row === undefined) return; // an empty table: the pass is complete
      max = pkCols.map((_, i) => String(row[`k${i}`]));
    }
    for (;;) {
      const limit = chunk.rows;
      const where = ` WHERE (${keyList}) <= ${keyTuple(pkCols, max)}` + (last ? ` AND (${keyList}) > ${keyTuple(pkCols, last)}` : "");
      const started = performance.now();
      let n = 0;
      // The bookmark moves every batch_size rows within a chunk too: any written key is a valid resume point.
      const got = await statements.copy(ctx.signal, `COPY (${select}${where} ORDER BY ${keyList} LIMIT ${limit}) TO STDOUT`, cols.length, (row) => {
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
      chunk.observe(n, performance.now() - started, got.cut);
      // A chunk cut at max_statement_s goes on after the last key written.
      if (!got.cut && n < limit) break;
    }
  };
  // Keyset chunks may each have their own snapshot on a follower: key order gives each key at most once.
  const opts = { stream: plan.stream, maxStatementS: limits.maxStatementS, perChunkOnFollower: pk.length > 0 };
  if (await stoppable(session, () => inSnapshot(session, ctx.signal, onLost, opts, pass, lastKey))) stopped = true;
  if (stopped && last !== undefined && max !== undefined) await bookmark();
  encoder.warnLost(plan.stream);
  if (stopped) return;
  await ctx.activateVersion(version);
  await ctx.saveBookmark({ version });
}

async function incremental(session: Session, plan: TablePlan, ctx: SyncContext, limits: ReadOptions): Promise<void> {
  const { batchSize, beforeRows } = limits;
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
  const lit = (v: string) => `${quoteLiteral(v)}::${keyCol.castType}`;
  const chunk = new ChunkSize(batchSize, chunkTargetMs(limits));
  // Without an index on the key, the one COPY below sorts (as any ordered read
  // would); with one, the read goes in chunks of the index, each its own statement.
  const indexed = table.indexed.includes(key);
  const from_ = fromClause(table);
  /** Rows written in a row in this pass whose key is `from`: a chunk cut among them goes on past them. */
  let ties = 0;
  const pass = async (statements: Statements, progress: { made: boolean }) => {
    await beforeRows?.(statements);
    // Rows whose key is NULL can never be bookmarked and are not read. Rows come
    // in key order, so any written key resumes with `>=`: the bookmark moves every
    // batch_size rows as they stream.
    let lower = from === undefined ? `${quoted} IS NOT NULL` : `${quoted} >= ${lit(from)}`;
    let offset = 0;
    // Counted from this pass's start: a new snapshot sends the rows tied with the bookmark again.
    ties = 0;
    for (;;) {
      // A chunk ends at the key `limit` rows ahead, with every row tied with it; the server finds that
      // key itself (a subquery on the index), so a chunk is one round trip. Fewer rows left than that:
      // the chunk takes them all (up to the greatest key) and is the last.
      const limit = chunk.rows;
      const bound = `(SELECT ${quoted} FROM ${from_} WHERE ${lower} ORDER BY ${quoted} OFFSET ${limit - 1} LIMIT 1)`;
      const where = ` WHERE ${lower}` + (indexed ? ` AND ${quoted} <= coalesce(${bound}, (SELECT max(${quoted}) FROM ${from_}))` : "");
      const started = performance.now();
      let n = 0;
      const got = await statements.copy(
        ctx.signal,
        `COPY (SELECT ${selectList(plan, cols)} FROM ${from_}${where} ORDER BY ${quoted}${offset ? ` OFFSET ${offset}` : ""}) TO STDOUT`,
        cols.length,
        (row) => {
          if (ctx.signal.aborted) return; // stopping: rows already received are not written
          const written = ctx.writeRecord(new RawJson(encoder.encode(row)));
          const k = row[keyIdx]!;
          // Equal text is an equal key; an equal key in other text (1.0, 1.00) only undercounts, which sends a row again, never loses one.
          ties = k === from ? ties + 1 : 1;
          from = k;
          progress.made = true;
          if (++n % batchSize !== 0) return written;
          return Promise.all([written, ctx.saveBookmark({ replication_key: key, replication_key_value: from })]).then(() => undefined);
        },
        // Without an index the one COPY sorts the rest of the table: it cannot resume part way cheaply.
        indexed,
      );
      if (ctx.signal.aborted) return;
      chunk.observe(n, performance.now() - started, got.cut);
      if (got.cut) {
        // Cut at max_statement_s: go on after the last row written. Rows tied with its key come
        // in the index's order, the same in the same snapshot, so the ones written are skipped.
        if (n > 0) {
          lower = `${quoted} >= ${lit(from!)}`;
          offset = ties;
        }
        continue;
      }
      // The rows from `lower` on (the skipped ties included) numbered fewer than `limit`: none are left.
      if (!indexed || n + offset < limit) return;
      // The chunk ended with every row tied with its last key, which `from` now holds.
      lower = `${quoted} > ${lit(from!)}`;
      offset = 0;
    }
  };
  // One snapshot on a follower too: a cut among tied keys resumes by their order, which only one snapshot keeps.
  const opts = { stream: plan.stream, maxStatementS: limits.maxStatementS, perChunkOnFollower: false };
  await stoppable(session, () => inSnapshot(session, ctx.signal, onLost, opts, pass));
  encoder.warnLost(plan.stream);
  if (from !== undefined) await ctx.saveBookmark({ replication_key: key, replication_key_value: from });
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

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
import { copyFields, CopyOut, CopyStopped, quoteLiteral } from "./copy.ts";
import type { ColumnType } from "./types.ts";
import { DeletesBookmark, DeleteTracking } from "./deletes.ts";
import type { DeleteSettings } from "./deletes.ts";

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

/** A table with everything needed to read it, computed once. */
export interface TablePlan {
  readonly stream: string;
  readonly table: Table;
  readonly types: ReadonlyMap<string, ColumnType>;
  /** Set when postgres.detect_deletes applies to the table (it has a primary key): see deletes.ts. */
  readonly deletes?: DeleteSettings;
}

const TIME_TYPES = new Set(["date", "timestamp", "timestamptz"]);
const MAX_RECONNECTS = 3;

export async function syncTable(session: Session, plan: TablePlan, ctx: SyncContext, batchSize: number, statementTimeoutS = 600): Promise<void> {
  try {
    if (ctx.replicationMethod === "INCREMENTAL") {
      // Delete detection: a hook inside the read's snapshot, then the fallback's FULL_TABLE pass when one is due.
      const deletes = DeleteTracking.for(plan, ctx, { batchSize, statementTimeoutS });
      await incremental(session, plan, deletes?.ctx ?? ctx, batchSize, statementTimeoutS, deletes?.beforeRows);
      await deletes?.afterPass((c, onKey) => fullTable(session, plan, c, batchSize, statementTimeoutS, onKey));
    } else await fullTable(session, plan, ctx, batchSize, statementTimeoutS);
  } catch (e) {
    if (e instanceof Unreachable) throw new StreamSkipped(e.message);
    // Database errors fail this stream; anything else (stdout closed, a bug) is not ours to soften.
    if (sqlState(e) !== undefined || isConnectionLost(e)) throw new RunError(`${plan.stream}: ${describeQueryError(e)}`, { cause: e });
    throw e;
  }
}

/** The columns to read: the selected ones, the key and the replication key, in table order. */
function readColumns(plan: TablePlan, ctx: SyncContext, extra: readonly string[]): { cols: Column[]; emit: boolean[] } {
  const need = new Set([...ctx.properties, ...plan.table.primaryKey, ...extra]);
  const cols = plan.table.columns.filter((c) => need.has(c.name));
  return { cols, emit: cols.map((c) => ctx.properties.has(c.name)) };
}

/** Turns fetched rows into RECORD text; per-column encoders are built once. */
class RowEncoder {
  private readonly prefixes: string[] = [];
  private readonly encoders: ((s: string) => string)[] = [];
  private readonly index: number[] = [];
  readonly lost = new Map<string, number>();

  constructor(plan: TablePlan, cols: Column[], emit: boolean[]) {
    let first = true;
    cols.forEach((c, i) => {
      if (!emit[i]) return;
      this.index.push(i);
      this.prefixes.push((first ? "{" : ",") + JSON.stringify(c.name) + ":");
      first = false;
      const name = c.name;
      this.encoders.push(plan.types.get(name)!.makeEncoder(() => this.lost.set(name, (this.lost.get(name) ?? 0) + 1)));
    });
  }

  encode(row: (string | null)[]): string {
    const n = this.index.length;
    if (n === 0) return "{}";
    let s = "";
    for (let k = 0; k < n; k++) {
      const v = row[this.index[k]!];
      s += this.prefixes[k]! + (v === null || v === undefined ? "null" : this.encoders[k]!(v));
    }
    return s + "}";
  }

  warnLost(stream: string): void {
    for (const [col, n] of this.lost) {
      log.warn(`${stream}: column "${col}": ${n} value(s) have no JSON form (NaN, ±Infinity, or a date outside years 1-9999) and were emitted as null`);
    }
  }
}

function selectList(plan: TablePlan, cols: Column[]): string {
  return cols.map((c) => plan.types.get(c.name)!.select(quoteIdent(c.name))).join(", ");
}

const fromClause = (t: Table) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/** `(a, b)` for a key, `('1'::int8, 'x'::text)` for its values: COPY takes no bound parameters. */
const keyTuple = (cols: readonly Column[], values: readonly string[]) => `(${values.map((v, i) => `${quoteLiteral(v)}::${cols[i]!.castType}`).join(", ")})`;

/**
 * Rows per keyset chunk. The first chunk is batch_size rows; chunks grow while
 * they finish well within the target time and shrink when one runs long (a
 * slow target holds the statement open), so the round trip per chunk costs
 * little even at 60 ms RTT while every statement stays far below
 * statement_timeout.
 */
class ChunkSize {
  private static readonly MAX = 2_000_000;
  rows: number;
  private readonly targetMs: number;

  constructor(
    private readonly minRows: number,
    statementTimeoutS: number,
  ) {
    this.rows = minRows;
    this.targetMs = Math.min(2000, (statementTimeoutS * 1000) / 10);
  }

  observe(rows: number, ms: number): void {
    if (ms > this.targetMs * 2) this.rows = Math.max(this.minRows, Math.floor(this.rows / 2));
    else if (rows >= this.rows && ms < this.targetMs / 2) this.rows = Math.min(ChunkSize.MAX, this.rows * 4);
  }
}

/**
 * Streams one COPY statement, each row's fields to `row`; resolves with the row
 * count. A stop (`signal`) ends the read at once with CopyStopped, closing the
 * session, instead of reading the rest of a chunk or of a keyless table.
 */
async function copyRows(
  client: pg.Client,
  signal: AbortSignal,
  text: string,
  n: number,
  row: (fields: (string | null)[]) => Promise<void> | void,
): Promise<number> {
  const copy = new CopyOut(text, (buf) => copyFields(buf, n), row);
  const stop = () => copy.abort();
  signal.addEventListener("abort", stop, { once: true });
  try {
    void client.query(copy);
    return await copy.done;
  } finally {
    signal.removeEventListener("abort", stop);
  }
}

async function fullTable(
  session: Session,
  plan: TablePlan,
  ctx: SyncContext,
  batchSize: number,
  statementTimeoutS: number,
  /** Given each written row's key, in key order (delete detection's fallback keeps them). */
  onKey?: (key: string[]) => void,
): Promise<void> {
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
  let ctidPass: CtidPass | undefined;
  /**
   * A table without a key, in block ranges of its heap: `ctid >= (a,0) AND ctid
   * < (b,0)` is a TID range scan (PostgreSQL 14+), rows come in physical order,
   * and the bookmark is the ctid of the last row written, so a pass resumes right
   * after it. Blocks per chunk grow while quick, like key chunks.
   */
  const readCtidRanges = async (client: pg.Client, p: CtidPass, progress: { made: boolean }) => {
    const blocks = new ChunkSize(128, statementTimeoutS);
    const ctidAt = cols.length; // the extra last column
    const selectWithCtid = `SELECT ${[selectList(plan, cols), "ctid::text"].filter(Boolean).join(", ")} FROM ${fromClause(table)}`;
    let from = blockOf(p.last);
    while (from < p.maxBlock) {
      const to = Math.min(p.maxBlock, from + blocks.rows);
      const where = ` WHERE ctid >= '(${from},0)'::tid AND ctid < '(${to},0)'::tid` + (p.last ? ` AND ctid > ${quoteLiteral(p.last)}::tid` : "");
      const started = performance.now();
      let n = 0;
      await copyRows(client, ctx.signal, `COPY (${selectWithCtid}${where}) TO STDOUT`, cols.length + 1, (row) => {
        if (ctx.signal.aborted) return;
        const written = ctx.writeRecord(new RawJson(encoder.encode(row)), p.version);
        p.last = row[ctidAt]!;
        progress.made = true;
        if (++n % batchSize !== 0) return written;
        return Promise.all([written, saveCtid(p)]).then(() => undefined);
      });
      if (ctx.signal.aborted) {
        stopped = true;
        await saveCtid(p);
        return;
      }
      p.last = `(${to - 1},65535)`; // every row of the chunk's blocks is written
      await saveCtid(p);
      blocks.observe(blocks.rows, performance.now() - started);
      from = to;
    }
  };
  const saveCtid = (p: CtidPass) => (p.last ? ctx.saveBookmark({ version: p.version, last_ctid: p.last, max_block: p.maxBlock }) : Promise.resolve());
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
      ctidPass ??= await startCtidPass(client, table, bm, version, plan.stream);
      version = ctidPass.version;
      await readCtidRanges(client, ctidPass, progress);
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

async function incremental(
  session: Session,
  plan: TablePlan,
  ctx: SyncContext,
  batchSize: number,
  statementTimeoutS: number,
  /** Runs in each snapshot before its rows (delete detection). */
  beforeRows?: (client: pg.Client) => Promise<void>,
): Promise<void> {
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

/** Runs `read`; true when a stop ended it part way (CopyStopped), after dropping the session it closed. */
async function stoppable(session: Session, read: () => Promise<void>): Promise<boolean> {
  try {
    await read();
    return false;
  } catch (e) {
    if (!(e instanceof CopyStopped)) throw e;
    await session.reset();
    return true;
  }
}

/**
 * A follower (hot standby) cancels a statement whose snapshot still needs rows
 * the leader has since removed, once max_standby_streaming_delay runs out:
 * SQLSTATE 40001, "canceling statement due to conflict with recovery". The
 * read goes on from its bookmark in a new snapshot, as after a lost connection.
 */
function isRecoveryConflict(e: unknown): boolean {
  return sqlState(e) === "40001" && /conflict with recovery/i.test(e instanceof Error ? e.message : "");
}

/**
 * Runs one pass over a table inside a REPEATABLE READ READ ONLY transaction (one
 * consistent snapshot). When the connection is lost, it reconnects and runs the
 * pass again: each pass continues from the bookmark the previous one left. A
 * pass that made progress resets the reconnect budget; MAX_RECONNECTS attempts
 * in a row without progress give up.
 */
async function inSnapshot(
  session: Session,
  signal: AbortSignal,
  /** Called before a retry, with why the read was interrupted. */
  onLost: (why: string) => void,
  pass: (client: pg.Client, progress: { made: boolean }) => Promise<void>,
): Promise<void> {
  for (let attempt = 0;; attempt++) {
    const progress = { made: false };
    try {
      const client = attempt === 0 ? await session.open() : await session.reopen(signal);
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      // Rows come in index order or none: a server sort could spill to temp files on Heroku's small disk.
      await client.query("SET LOCAL enable_sort = off");
      // One process scans: a parallel TID range scan (PostgreSQL 18) would not return rows in ctid order.
      await client.query("SET LOCAL max_parallel_workers_per_gather = 0");
      try {
        await pass(client, progress);
        await client.query("COMMIT");
      } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw e;
      }
      return;
    } catch (e) {
      // A run that is stopping does not reconnect: the state already covers what was written.
      const conflict = isRecoveryConflict(e);
      if ((!isConnectionLost(e) && !conflict) || signal.aborted || (attempt >= MAX_RECONNECTS && !progress.made)) throw e;
      if (progress.made) attempt = 0;
      await session.reset();
      onLost(
        conflict ? "the follower cancelled the read (a conflict with recovery: the leader removed rows this snapshot still saw)" : "the connection was lost",
      );
    }
  }
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

/** Where a ctid-range pass stands. */
interface CtidPass {
  readonly version: number;
  readonly maxBlock: number;
  /** The ctid of the last row written (or past a finished chunk), undefined before the first. */
  last: string | undefined;
}

/** TID range scans read only the blocks asked for from PostgreSQL 14 on; before, `ctid >=` filters a full scan. */
async function tidRanges(client: pg.Client): Promise<boolean> {
  const r = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  return Number(r.rows[0]!.v) >= 140000;
}

/** A resumed pass keeps its version and block limit; a new one takes the table's size now. */
async function startCtidPass(client: pg.Client, table: Table, bm: z.infer<typeof FullTableBookmark>, version: number, stream: string): Promise<CtidPass> {
  if (bm.version !== undefined && bm.last_ctid !== undefined && bm.max_block !== undefined) {
    log.info(`${stream}: resuming the full-table pass of version ${bm.version} after ctid ${bm.last_ctid}`);
    return { version: bm.version, maxBlock: bm.max_block, last: bm.last_ctid };
  }
  const r = await client.query<{ blocks: string }>(
    "SELECT (pg_catalog.pg_relation_size($1::regclass) / current_setting('block_size')::int8)::text AS blocks",
    [fromClause(table)],
  );
  return { version, maxBlock: Number(r.rows[0]!.blocks), last: undefined };
}

const blockOf = (ctid: string | undefined) => (ctid === undefined ? 0 : Number(/^\((\d+),/.exec(ctid)![1]));

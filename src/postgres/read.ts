// What every way of reading a table shares: the columns to read and their
// encoders, one COPY statement streamed row by row, chunk sizes that adapt to
// the network, the REPEATABLE READ snapshot with its reconnects, and ctid
// block ranges for a table read in physical order. sync.ts (FULL_TABLE and
// INCREMENTAL on a column) and xmin.ts (INCREMENTAL on transaction ids) build
// their passes from these.
import type pg from "pg";
import type { SyncContext } from "../singer/stream.ts";
import { log } from "../log.ts";
import { isConnectionLost, reportedStandby, reportedVersion, sqlState } from "./connect.ts";
import type { Column, Table } from "./introspect.ts";
import type { Session } from "./session.ts";
import { isTrue, quoteIdent } from "./types.ts";
import type { ColumnType } from "./types.ts";
import type { DeleteSettings } from "./deletes.ts";
import { CopyStopped, quoteLiteral } from "./copy.ts";
import { type ReadLimits, Statements } from "./statement-bound.ts";

/** A table with everything needed to read it, computed once. */
export interface TablePlan {
  readonly stream: string;
  readonly table: Table;
  readonly types: ReadonlyMap<string, ColumnType>;
  /** Set when postgres.detect_deletes applies to the table (it has a primary key): see deletes.ts. */
  readonly deletes?: DeleteSettings;
}

/** What every read of a table takes besides the table and its context. */
export interface ReadOptions extends ReadLimits {
  /** Runs in each snapshot before its rows: delete detection's key read (deletes.ts). */
  readonly beforeRows?: (statements: Statements) => Promise<void>;
  /** Given each written row's key, in key order: delete detection's fallback keeps them. */
  readonly onKey?: (key: string[]) => void;
}

const MAX_RECONNECTS = 3;

/** The columns to read: the selected ones, the key and the replication key, in table order. */
export function readColumns(plan: TablePlan, ctx: SyncContext, extra: readonly string[]): { cols: Column[]; emit: boolean[] } {
  const need = new Set([...ctx.properties, ...plan.table.primaryKey, ...extra]);
  const cols = plan.table.columns.filter((c) => need.has(c.name));
  return { cols, emit: cols.map((c) => ctx.properties.has(c.name)) };
}

/** Turns fetched rows into RECORD text; per-column encoders are built once. */
export class RowEncoder {
  private readonly prefixes: string[] = [];
  private readonly encoders: ((s: string) => string)[] = [];
  private readonly index: number[] = [];
  readonly lost = new Map<string, number>();

  /**
   * `computed` names the fields that follow the table's columns in each row
   * (e.g. _sdc_xmin), whose text is already a JSON number.
   */
  constructor(plan: TablePlan, cols: Column[], emit: boolean[], computed: readonly string[] = []) {
    let first = true;
    const add = (i: number, name: string, encoder: (s: string) => string) => {
      this.index.push(i);
      this.prefixes.push((first ? "{" : ",") + JSON.stringify(name) + ":");
      this.encoders.push(encoder);
      first = false;
    };
    cols.forEach((c, i) => {
      if (!emit[i]) return;
      const name = c.name;
      add(i, name, plan.types.get(name)!.makeEncoder(() => this.lost.set(name, (this.lost.get(name) ?? 0) + 1)));
    });
    computed.forEach((name, k) => add(cols.length + k, name, (s) => s));
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

export function selectList(plan: TablePlan, cols: Column[]): string {
  return cols.map((c) => plan.types.get(c.name)!.select(quoteIdent(c.name))).join(", ");
}

export const fromClause = (t: Table) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/**
 * Rows per keyset chunk. The first chunk is batch_size rows; chunks grow toward
 * the target time at the rate seen while they finish well within it, and shrink when one runs long (a
 * slow target holds the statement open), so the round trip per chunk costs
 * little even at 60 ms RTT while every statement stays far below
 * max_statement_s. A chunk cut at that bound halves it, below the first
 * chunk's size if need be, so a read always moves on.
 */
export class ChunkSize {
  private static readonly MAX = 2_000_000;
  private static readonly GROWTH = 16;
  rows: number;

  constructor(
    private readonly minRows: number,
    private readonly targetMs: number,
  ) {
    this.rows = minRows;
  }

  /**
   * After a chunk: `rows` units read (rows, or blocks) in `ms`; `cut` at the bound. Memory needs no
   * bound here: the socket holds back while the writer waits, on Node and Deno.
   */
  observe(rows: number, ms: number, cut = false): void {
    if (cut) this.rows = Math.max(1, Math.floor(this.rows / 2));
    else if (ms > this.targetMs * 2) this.rows = Math.max(this.minRows, Math.floor(this.rows / 2));
    // A full, quick chunk: the next one is sized to the target at the rate just seen (the rate counts the
    // round trip, so it errs small), growing at most 16-fold, so few statements, and so few round trips, read a table.
    else if (rows >= this.rows && ms < this.targetMs / 2) {
      this.rows = Math.min(ChunkSize.MAX, this.rows * ChunkSize.GROWTH, Math.max(this.rows * 2, Math.floor((rows * this.targetMs) / Math.max(ms, 1))));
    }
  }
}

/** Runs `read`; true when a stop ended it part way (CopyStopped), after dropping the session it closed. */
export async function stoppable(session: Session, read: () => Promise<void>): Promise<boolean> {
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

/** How a pass over a table runs its statements. */
export interface SnapshotOptions {
  /** Names the table in log lines. */
  readonly stream: string;
  readonly maxStatementS: number;
  /**
   * The pass stays correct with each chunk in its own snapshot: then on a
   * follower it gets them (see inSnapshot). Reads whose order or bookmark
   * needs one snapshot (ctid order, _sdc_xmin, delete detection's key read)
   * pass false.
   */
  readonly perChunkOnFollower: boolean;
}

/**
 * Whether a session is on a follower: as the server reported it at connect (PostgreSQL 14+),
 * else asked once per session (a promotion during a read only makes it a leader read in chunks).
 */
const standbys = new WeakMap<pg.Client, boolean>();

async function inRecovery(client: pg.Client): Promise<boolean> {
  let standby = reportedStandby(client) ?? standbys.get(client);
  if (standby === undefined) {
    const r = await client.query<{ r: string }>("SELECT pg_is_in_recovery()::text AS r");
    standby = isTrue(r.rows[0]!.r);
    standbys.set(client, standby);
  }
  return standby;
}

// Rows come in index order or none: a server sort could spill to temp files on Heroku's small disk.
// One process scans: a parallel TID range scan (PostgreSQL 18) would not return rows in ctid order.
const SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL enable_sort = off; SET LOCAL max_parallel_workers_per_gather = 0";
const PER_CHUNK = "SET enable_sort = off; SET max_parallel_workers_per_gather = 0";

/**
 * Runs one pass over a table. On a leader, and for passes that need it, the
 * pass is one REPEATABLE READ READ ONLY transaction: one consistent snapshot,
 * kept through statements cut at max_statement_s (statement-bound.ts). On a
 * follower, a pass that allows it (`perChunkOnFollower`) runs each statement
 * in its own snapshot instead, outside any transaction: between chunks the
 * session holds no snapshot, so replay never waits for it and only a single
 * chunk longer than max_standby_streaming_delay could meet a conflict.
 *
 * When the connection is lost, or a follower cancels the read (a conflict with
 * recovery), it reconnects and runs the pass again: each pass continues from
 * the bookmark the previous one left. A pass that made progress resets the
 * reconnect budget; MAX_RECONNECTS attempts in a row without progress give up.
 */
export async function inSnapshot(
  session: Session,
  signal: AbortSignal,
  /** Called before a retry, with why the read was interrupted. */
  onLost: (why: string) => void,
  opts: SnapshotOptions,
  pass: (statements: Statements, progress: { made: boolean }, first: readonly pg.QueryResultRow[] | undefined) => Promise<void>,
  /** A query whose rows the pass needs before any other, sent with BEGIN in the same round trip; undefined: none (asked before each attempt). */
  first?: () => string | undefined,
): Promise<void> {
  let cuts = 0;
  try {
    for (let attempt = 0;; attempt++) {
      const progress = { made: false };
      try {
        const client = attempt === 0 ? await session.open() : await session.reopen(signal);
        const perChunk = opts.perChunkOnFollower && (await inRecovery(client));
        // One round trip for the snapshot (or, for per-chunk snapshots, which have no transaction to
        // scope settings, the session's settings, reset at the end) and the pass's first query.
        const query = first?.();
        const opened = (await client.query([perChunk ? PER_CHUNK : SNAPSHOT, ...(query ? [query] : [])].join("; "))) as unknown as pg.QueryResult[];
        const statements = new Statements(client, perChunk ? "chunk" : "table", opts.maxStatementS * 1000);
        try {
          await pass(statements, progress, query ? opened.at(-1)!.rows : undefined);
          await end(client, perChunk ? "RESET" : "COMMIT");
        } catch (e) {
          await end(client, perChunk ? "RESET" : "ROLLBACK").catch(() => undefined);
          throw e;
        } finally {
          cuts += statements.cuts;
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
  } finally {
    if (cuts > 0) {
      log.info(
        `${opts.stream}: ${cuts} statement(s) reached postgres.max_statement_s (${opts.maxStatementS} s) and were cut (a target reading slowly, or a slow server); each next one went on after the last row written`,
      );
    }
  }
}

/** Ends a pass: its transaction, or the session settings a pass of per-chunk snapshots made (the session serves other reads next). */
async function end(client: pg.Client, how: "COMMIT" | "ROLLBACK" | "RESET"): Promise<void> {
  await client.query(how === "RESET" ? "RESET enable_sort; RESET max_parallel_workers_per_gather" : how);
}

/** Where a ctid-range pass stands. */
export interface CtidPass {
  /** The table's size in blocks when the pass began: later blocks come with the next pass. */
  readonly maxBlock: number;
  /** The ctid of the last row written (or past a finished range), undefined before the first. */
  last: string | undefined;
}

/** TID range scans read only the blocks asked for from PostgreSQL 14 on; before, `ctid >=` filters a full scan. */
export const TID_RANGE_SCANS = 140000;

export async function tidRanges(client: pg.Client): Promise<boolean> {
  return (await serverVersion(client)) >= TID_RANGE_SCANS;
}

/** server_version_num: as the server reported it at connect, or asked for where it did not (a round trip). */
export async function serverVersion(client: pg.Client): Promise<number> {
  const known = reportedVersion(client);
  if (known !== undefined) return known;
  const r = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  return Number(r.rows[0]!.v);
}

export const blockOf = (ctid: string | undefined) => (ctid === undefined ? 0 : Number(/^\((\d+),/.exec(ctid)![1]));

/** What readCtidRanges needs besides the connection. */
export interface CtidRead {
  readonly signal: AbortSignal;
  /** `SELECT <columns>, ctid::text FROM <table>`: the ctid comes last. */
  readonly select: string;
  /** Columns in `select`, the ctid included. */
  readonly fields: number;
  /** A further condition on the rows, if any. */
  readonly where?: string;
  readonly pass: CtidPass;
  readonly batchSize: number;
  /** What a range aims at, in ms (chunkTargetMs). */
  readonly targetMs: number;
  readonly progress: { made: boolean };
  /** Writes one row; resolves when the output can take more. */
  write(fields: (string | null)[]): Promise<void> | void;
  /** Saves the pass's bookmark (pass.last has moved). */
  save(): Promise<void>;
}

/**
 * Reads the blocks after `pass.last` up to `pass.maxBlock` in ranges: `ctid >=
 * (a,0) AND ctid < (b,0)` is a TID range scan (PostgreSQL 14+), rows come in
 * physical order, and pass.last is the ctid of the last row written, so a pass
 * resumes right after it, and so does the range after one cut at
 * max_statement_s. Blocks per range grow while quick, like key chunks.
 * Resolves true when a stop ended the read, with the bookmark saved.
 */
export async function readCtidRanges(statements: Statements, r: CtidRead): Promise<boolean> {
  const p = r.pass;
  const blocks = new ChunkSize(128, r.targetMs);
  let from = blockOf(p.last);
  while (from < p.maxBlock) {
    const to = Math.min(p.maxBlock, from + blocks.rows);
    const where = ` WHERE ctid >= '(${from},0)'::tid AND ctid < '(${to},0)'::tid` + (p.last ? ` AND ctid > ${quoteLiteral(p.last)}::tid` : "") +
      (r.where ? ` AND (${r.where})` : "");
    const started = performance.now();
    let n = 0;
    const got = await statements.copy(r.signal, `COPY (${r.select}${where}) TO STDOUT`, r.fields, (row) => {
      if (r.signal.aborted) return; // stopping: rows already received are not written
      const written = r.write(row);
      p.last = row[r.fields - 1]!;
      r.progress.made = true;
      if (++n % r.batchSize !== 0) return written;
      return Promise.all([written, r.save()]).then(() => undefined);
    });
    if (r.signal.aborted) {
      await r.save();
      return true;
    }
    if (got.cut) {
      // Cut at max_statement_s: the next range starts after the last row written.
      await r.save();
      blocks.observe(to - from, performance.now() - started, true);
      from = blockOf(p.last);
      continue;
    }
    p.last = `(${to - 1},65535)`; // every row of the range's blocks is written
    await r.save();
    blocks.observe(to - from, performance.now() - started);
    from = to;
  }
  return false;
}

/** The table's size in blocks now: a pass reads up to there, later blocks come with the next pass. */
export async function tableBlocks(client: pg.Client, table: Table): Promise<number> {
  const r = await client.query<{ blocks: string }>(
    "SELECT (pg_catalog.pg_relation_size($1::regclass) / current_setting('block_size')::int8)::text AS blocks",
    [fromClause(table)],
  );
  return Number(r.rows[0]!.blocks);
}

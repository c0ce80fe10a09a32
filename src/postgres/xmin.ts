// INCREMENTAL on transaction ids, for tables with no trustworthy updated_at:
// every row version carries the id of the transaction that wrote it (xmin),
// so the rows inserted or updated since the last run are those whose xmin is
// at or after the bookmark. The bookmark is 64-bit (epoch-aware, as xid8) and
// is the xmin of the run's first snapshot: every transaction below it had
// finished when the run read the table, and one still open then is read by
// the next run. Rows come in ctid ranges as a keyless FULL_TABLE pass does
// (bounded statements, no sort, resumable), filtered on the 32-bit xmin, which
// the bookmark maps into the current epoch.
//
// A bookmark is trusted only on the server whose transaction ids it counts:
// same system identifier and timeline, ids not gone backwards on a leader,
// fewer than 2^31 transactions since. Otherwise the table is read whole under
// a new version (ACTIVATE_VERSION) with one warning.
import { z } from "zod";
import type pg from "pg";
import type { SyncContext } from "../singer/stream.ts";
import { RawJson } from "../singer/messages.ts";
import { RunError } from "../errors.ts";
import { log } from "../log.ts";
import { fromClause, inSnapshot, readColumns, readCtidRanges, RowEncoder, selectList, serverVersion, stoppable, tableBlocks, TID_RANGE_SCANS } from "./read.ts";
import { chunkTargetMs } from "./statement-bound.ts";
import type { Statements } from "./statement-bound.ts";
import { isTrue } from "./types.ts";
import type { CtidPass, ReadOptions, TablePlan } from "./read.ts";
import type { Session } from "./session.ts";

/** The virtual replication key every table offers. */
export const XMIN_KEY = "_sdc_xmin";

const TWO_32 = 1n << 32n;
/** PostgreSQL orders 32-bit ids within half their range; a bookmark further back is past wraparound. */
const WRAPAROUND = 1n << 31n;

const Xid8 = z.string().regex(/^\d+$/, "expected a 64-bit transaction id (digits)");

/** The server whose transaction ids a bookmark counts. */
const Server = z.object({ system_identifier: z.string(), timeline: z.number().int() });
type Server = z.infer<typeof Server>;

/** A pass under way, saved so a stopped or killed run resumes it. */
const Pass = z.object({
  /** Rows written by transactions at or after this id are read; absent: every row (a first pass or a re-sync). */
  from: Xid8.optional(),
  /** The bookmark once the pass completes: the xmin of its first snapshot. */
  to: Xid8,
  /** A pass over every row is a new version of the table. */
  version: z.number().int().optional(),
  max_block: z.number().int().min(0),
  last_ctid: z.string().regex(/^\(\d+,\d+\)$/, "expected a ctid such as (12,4)").optional(),
  /** The table's file when the pass began: a rewrite (VACUUM FULL, CLUSTER) moves every row, so the walk starts over. */
  filenode: z.string().optional(),
});
type Pass = z.infer<typeof Pass>;

export const XminBookmark = z.object({
  replication_key: z.literal(XMIN_KEY),
  /** Every row written by a transaction below this id has been read. */
  replication_key_value: Xid8.optional(),
  server: Server.optional(),
  pass: Pass.optional(),
});
type XminBookmark = z.infer<typeof XminBookmark>;

/** What the current snapshot says about transaction ids, and which server it is on. */
interface Horizon {
  /** Every transaction below this had finished when the snapshot was taken. */
  readonly xmin: bigint;
  /** The first id not yet assigned then: every visible row was written below it. */
  readonly xmax: bigint;
  readonly standby: boolean;
  readonly server: Server | undefined;
  readonly filenode: string | undefined;
  /** server_version_num. */
  readonly version: number;
}

/** The row's 32-bit xmin as a number (xid has no cast to integers). */
const RAW = "xmin::text::int8";

/**
 * SQL: rows written at or after `from` (64-bit) as seen from a snapshot whose
 * xmax is `xmax`. Fewer than 2^31 ids separate them, so the 32-bit window
 * [from, xmax) is exact; it may wrap past 2^32, where ids 0-2 are special.
 */
export function xminWindow(from: bigint, xmax: bigint): string {
  if (from >= xmax) return "false";
  const lo = from % TWO_32;
  const hi = xmax % TWO_32;
  return lo < hi ? `${RAW} >= ${lo} AND ${RAW} < ${hi}` : `(${RAW} >= ${lo} OR ${RAW} < ${hi}) AND ${RAW} >= 3`;
}

/** SQL: the row's 64-bit transaction id, its 32-bit xmin placed in the epoch at or before `xmax`'s. */
export function xid8Of(xmax: bigint): string {
  const hi = xmax % TWO_32;
  const base = xmax - hi;
  return `(CASE WHEN ${RAW} < ${hi} THEN ${base} ELSE ${base - TWO_32} END + ${RAW})::text`;
}

/** What a session may ask of its server: asked once per connection, as neither changes during it. */
interface ServerAccess {
  readonly version: number;
  /** Whether the credential may call pg_control_system() and pg_control_checkpoint() (PUBLIC may by default; a server may revoke it). */
  readonly control: boolean;
}
const access = new WeakMap<pg.Client, Promise<ServerAccess>>();

function serverAccess(client: pg.Client): Promise<ServerAccess> {
  let a = access.get(client);
  if (!a) {
    a = Promise.all([
      serverVersion(client),
      client.query<{ control: string }>(
        `SELECT (has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
                 AND has_function_privilege('pg_catalog.pg_control_checkpoint()', 'EXECUTE'))::text AS control`,
      ),
    ]).then(([version, r]) => ({ version, control: isTrue(r.rows[0]!.control) }));
    access.set(client, a);
    a.catch(() => access.delete(client));
  }
  return a;
}

/** The first statement of a snapshot: it fixes the snapshot the bookmark is taken from. */
async function horizon(client: pg.Client, plan: TablePlan): Promise<Horizon> {
  const { version, control } = await serverAccess(client);
  // xid8 and pg_current_snapshot() from PostgreSQL 13; the txid_ functions before (also 64-bit).
  const [snap, lo, hi] = version >= 130000
    ? ["pg_current_snapshot()", "pg_snapshot_xmin", "pg_snapshot_xmax"]
    : ["txid_current_snapshot()", "txid_snapshot_xmin", "txid_snapshot_xmax"];
  // Not a CASE on the privilege: PostgreSQL checks a function's EXECUTE right when it plans the
  // call, so a call the CASE never reaches still fails the query (tested with the right revoked).
  const identity = control
    ? `(SELECT system_identifier::text FROM pg_catalog.pg_control_system()) AS system,
       (SELECT timeline_id::text FROM pg_catalog.pg_control_checkpoint()) AS timeline`
    : "NULL AS system, NULL AS timeline";
  const r = await client.query<{ xmin: string; xmax: string; standby: string; system: string | null; timeline: string | null; filenode: string | null }>(
    `SELECT ${lo}(s)::text AS xmin, ${hi}(s)::text AS xmax, pg_is_in_recovery()::text AS standby, ${identity},
       pg_catalog.pg_relation_filenode($1::regclass)::text AS filenode
     FROM ${snap} AS s`,
    [fromClause(plan.table)],
  );
  const row = r.rows[0]!;
  return {
    xmin: BigInt(row.xmin),
    xmax: BigInt(row.xmax),
    standby: isTrue(row.standby),
    server: row.system !== null && row.timeline !== null ? { system_identifier: row.system, timeline: Number(row.timeline) } : undefined,
    filenode: row.filenode ?? undefined,
    version,
  };
}

/**
 * Where the next pass starts: the bookmark when it can be trusted on this
 * server, or nothing (every row) with the reason it cannot.
 */
export function windowStart(prior: XminBookmark | undefined, h: Horizon): { from?: bigint; distrust?: string } {
  if (prior?.replication_key_value === undefined) return {};
  const from = BigInt(prior.replication_key_value);
  const was = prior.server;
  if (was && h.server && was.system_identifier !== h.server.system_identifier) {
    return {
      distrust: `the database is not the server the bookmark was taken on (system identifier ${was.system_identifier}, now ${h.server.system_identifier})`,
    };
  }
  if (was && h.server && was.timeline !== h.server.timeline) {
    return {
      distrust:
        `the server's timeline moved from ${was.timeline} to ${h.server.timeline} (a failover or a point-in-time restore), so transactions already read may be gone`,
    };
  }
  if (from > h.xmax) {
    // A follower that has not yet replayed up to the bookmark has nothing new; a leader's ids never go back.
    if (h.standby) return { from };
    return { distrust: `transaction ids went backwards (bookmark ${from}, the server is at ${h.xmax}): the database was restored or reset` };
  }
  if (h.xmax - from >= WRAPAROUND) {
    return { distrust: `more than 2^31 transactions ran since the bookmark (${from}, now ${h.xmax}), past transaction-id wraparound` };
  }
  return { from };
}

const sameServer = (a: Server | undefined, b: Server | undefined) =>
  a === undefined || b === undefined || (a.system_identifier === b.system_identifier && a.timeline === b.timeline);

export async function syncXmin(session: Session, plan: TablePlan, ctx: SyncContext, limits: ReadOptions): Promise<void> {
  const { batchSize, beforeRows } = limits;
  const { table } = plan;
  const parsed = XminBookmark.safeParse(ctx.bookmark ?? {});
  const prior = parsed.success ? parsed.data : undefined;
  const { cols, emit } = readColumns(plan, ctx, []);
  const computed = ctx.properties.has(XMIN_KEY) ? [XMIN_KEY] : [];
  const encoder = new RowEncoder(plan, cols, emit, computed);
  const fields = cols.length + computed.length;

  let pass: (Pass & CtidPass) | undefined;
  let server: Server | undefined;
  let stopped = false;
  const bookmark = () =>
    ctx.saveBookmark({
      replication_key: XMIN_KEY,
      ...(prior?.replication_key_value !== undefined ? { replication_key_value: prior.replication_key_value } : {}),
      ...(server ? { server } : {}),
      pass: { ...passFields(pass!), ...(pass!.last ? { last_ctid: pass!.last } : {}) },
    });

  const read = async (statements: Statements, progress: { made: boolean }) => {
    const { client } = statements;
    const h = await horizon(client, plan);
    if (pass === undefined) {
      server = h.server;
      pass = resumeOrStart(plan.stream, prior, h, await tableBlocks(client, table));
    } else if (!sameServer(server, h.server)) {
      throw new RunError(`${plan.stream}: the server changed during the read (a failover); the next run reads the table again`);
    }
    if (pass.filenode !== h.filenode) {
      // Every row moved; their xmin did not: walk the table again with the same window.
      log.warn(`${plan.stream}: the table was rewritten (VACUUM FULL, CLUSTER or the like) since the pass began; reading it again from its first block`);
      const blocks = await tableBlocks(client, table);
      const { filenode: _, ...rest } = pass;
      pass = { ...rest, max_block: blocks, maxBlock: blocks, last: undefined, ...(h.filenode !== undefined ? { filenode: h.filenode } : {}) };
    }
    await beforeRows?.(statements);
    const p = pass;
    const where = p.from === undefined ? undefined : xminWindow(BigInt(p.from), h.xmax);
    const list = [selectList(plan, cols), ...(computed.length ? [xid8Of(h.xmax)] : [])].filter(Boolean);
    const write = (row: (string | null)[]) => ctx.writeRecord(new RawJson(encoder.encode(row)), p.version);
    if (table.kind === "r" && h.version >= TID_RANGE_SCANS) {
      stopped = await readCtidRanges(statements, {
        signal: ctx.signal,
        select: `SELECT ${[...list, "ctid::text"].join(", ")} FROM ${fromClause(table)}`,
        fields: fields + 1,
        ...(where ? { where } : {}),
        pass: p,
        batchSize,
        targetMs: chunkTargetMs(limits),
        progress,
        write,
        save: bookmark,
      });
      return;
    }
    // A partitioned table, or PostgreSQL before 14: one statement, started over if interrupted, so not bounded.
    await statements.copy(
      ctx.signal,
      `COPY (SELECT ${list.join(", ")} FROM ${fromClause(table)}${where ? ` WHERE ${where}` : ""}) TO STDOUT`,
      fields,
      (row) => {
        if (ctx.signal.aborted) return;
        progress.made = true;
        return write(row);
      },
      false,
    );
    if (ctx.signal.aborted) stopped = true;
  };
  const onLost = (why: string) => log.warn(`${plan.stream}: ${why}; reconnecting and continuing after ctid ${pass?.last ?? "(0,0)"}`);
  // One snapshot on a follower too: the bookmark is its xmin, and rows read in ctid order move between snapshots.
  const opts = { stream: plan.stream, maxStatementS: limits.maxStatementS, perChunkOnFollower: false };
  if (await stoppable(session, () => inSnapshot(session, ctx.signal, onLost, opts, read))) stopped = true;
  encoder.warnLost(plan.stream);
  if (pass === undefined) return;
  if (stopped) return await bookmark();
  if (pass.version !== undefined) await ctx.activateVersion(pass.version);
  // A follower behind the bookmark keeps it: what it has not replayed yet was read on the leader.
  const to = BigInt(pass.to);
  const done = pass.from !== undefined && BigInt(pass.from) > to ? BigInt(pass.from) : to;
  await ctx.saveBookmark({ replication_key: XMIN_KEY, replication_key_value: String(done), ...(server ? { server } : {}) });
}

/** A pass saved by a stopped run on the same server goes on; otherwise a new one starts from the bookmark, or whole. */
function resumeOrStart(stream: string, prior: XminBookmark | undefined, h: Horizon, blocks: number): Pass & CtidPass {
  const saved = prior?.pass;
  if (saved && sameServer(prior.server, h.server)) {
    log.info(`${stream}: resuming the ${saved.from === undefined ? "full" : "incremental"} xmin pass after ctid ${saved.last_ctid ?? "(0,0)"}`);
    return { ...saved, maxBlock: saved.max_block, last: saved.last_ctid };
  }
  const { from, distrust } = windowStart(prior, h);
  if (distrust) log.warn(`${stream}: the _sdc_xmin bookmark cannot be trusted: ${distrust}; reading the whole table again under a new version`);
  return {
    ...(from !== undefined ? { from: String(from) } : { version: Date.now() }),
    to: String(h.xmin),
    max_block: blocks,
    maxBlock: blocks,
    last: undefined,
    ...(h.filenode !== undefined ? { filenode: h.filenode } : {}),
  };
}

/** The saved form of a pass. */
function passFields(p: Pass & CtidPass): Pass {
  return {
    ...(p.from !== undefined ? { from: p.from } : {}),
    to: p.to,
    ...(p.version !== undefined ? { version: p.version } : {}),
    max_block: p.maxBlock,
    ...(p.filenode !== undefined ? { filenode: p.filenode } : {}),
  };
}

// No statement of a chunked read runs longer than postgres.max_statement_s,
// even when the target reads slowly, so a follower's recovery never waits on
// the tap for long (max_standby_streaming_delay) and no chunk holds a snapshot
// for long. statement_timeout cannot give this bound: PostgreSQL does not act
// on a cancel while the backend is blocked writing to a client that is not
// reading (ProcessClientWriteInterrupt handles only a terminate), which is
// exactly when a slow target keeps a chunk open. So at the bound the reader
// itself lets go: it hands no more rows to the writer, reads and drops the
// rest of the chunk at wire speed (the backend is no longer blocked and a
// cancel takes effect; a chunk is bounded in size, so this is cheap), sends a
// cancel request, and the caller's next chunk starts after the last row
// written. Nothing is written twice, nothing is lost.
//
// In one snapshot (a REPEATABLE READ transaction) a cancelled statement would
// abort the transaction: each bounded chunk runs in a savepoint, rolled back
// to after a cancel, so the transaction and its snapshot go on.
import type pg from "pg";
import { cancelStatement } from "./cancel.ts";
import { sqlState } from "./connect.ts";
import { copyFields, CopyOut } from "./copy.ts";

/** One REPEATABLE READ transaction for the whole table, or each chunk its own snapshot (a follower: see read.ts inSnapshot). */
export type SnapshotScope = "table" | "chunk";

export interface CopyResult {
  /** Rows received before any cut (all handed over, unless the cut dropped those still queued). */
  readonly rows: number;
  /** The statement reached the bound: rows after the last one handed over were dropped. */
  readonly cut: boolean;
}

/** The settings that size and bound a read's statements. */
export interface ReadLimits {
  /** Rows between bookmarks, and the first chunk's size (postgres.batch_size). */
  readonly batchSize: number;
  readonly statementTimeoutS: number;
  /** postgres.max_statement_s: no chunk statement runs longer. */
  readonly maxStatementS: number;
}

/**
 * What a chunk aims at: an eighth of postgres.max_statement_s (about 2 s at
 * its default 15), at most a tenth of statement_timeout_s, so a chunk ends by
 * itself well inside the bound and the bound cuts only a chunk slowed down by
 * its target (or by a slow server).
 */
export function chunkTargetMs(limits: Omit<ReadLimits, "batchSize">): number {
  return Math.min(limits.maxStatementS * 125, limits.statementTimeoutS * 100);
}

/** A cancel request sent at the bound gets this long to reach the server. */
const CANCEL_TIMEOUT_MS = 10_000;

/** The statements of one table read on one session, in one snapshot scope. */
export class Statements {
  /** Statements cut at the bound so far. */
  cuts = 0;
  private savepoint = false;
  /** When the last cancel request went out (performance.now()). */
  private cancelledAt = -Infinity;

  constructor(
    readonly client: pg.Client,
    readonly scope: SnapshotScope,
    /** postgres.max_statement_s in ms. */
    private readonly maxMs: number,
  ) {}

  /**
   * Streams one COPY statement, each row's fields to `row`. A stop (`signal`)
   * ends it at once with CopyStopped, closing the session. `bounded`: the
   * statement is cut at the bound (the caller can continue after the last row
   * it was given); a read that cannot resume part way passes false.
   */
  copy(
    signal: AbortSignal,
    text: string,
    n: number,
    row: (fields: (string | null)[]) => Promise<void> | void,
    bounded = true,
  ): Promise<CopyResult> {
    return this.copyDecoded(signal, text, (buf) => copyFields(buf, n), row, bounded);
  }

  /** copy() with another decoder of each row (a key read decodes integer keys from the bytes). */
  async copyDecoded<T>(
    signal: AbortSignal,
    text: string,
    /** Decodes a row at once: the Buffer is a slice of pg's read buffer, which pg reuses. */
    decode: (row: Buffer) => T,
    row: (value: T) => Promise<void> | void,
    bounded = true,
  ): Promise<CopyResult> {
    const guard = bounded && this.scope === "table";
    // RELEASE first: one savepoint at a time, however many chunks (each would otherwise nest a subtransaction).
    const prefix = guard ? [...(this.savepoint ? ["RELEASE SAVEPOINT chunk"] : []), "SAVEPOINT chunk"] : [];
    this.savepoint ||= guard;
    const copy = new CopyOut([...prefix, text].join("; "), decode, row, prefix.length);
    const stop = () => copy.abort();
    signal.addEventListener("abort", stop, { once: true });
    let cancelled: Promise<void> | undefined;
    const timer = bounded
      ? setTimeout(() => {
        if (!copy.cut()) return;
        this.cancelledAt = performance.now();
        cancelled = cancelStatement(this.client, CANCEL_TIMEOUT_MS);
      }, this.maxMs)
      : undefined;
    let failure: unknown;
    try {
      void this.client.query(copy);
      await copy.done;
    } catch (e) {
      failure = e;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", stop);
    }
    if (cancelled) {
      // The next statement goes only once the server has acted on the cancel, so it cannot cancel that one.
      await cancelled;
      this.cuts++;
    }
    // A cancel that a pooler (PgBouncer) forwarded late may land on the next chunk: that one is cut as well.
    const late = !cancelled && bounded && performance.now() - this.cancelledAt < CANCEL_TIMEOUT_MS;
    if (failure !== undefined) {
      if (!(cancelled || late) || !isOurCancel(failure)) throw failure;
      if (guard) await this.client.query("ROLLBACK TO SAVEPOINT chunk");
      if (late) this.cuts++;
      return { rows: copy.rows, cut: true };
    }
    return { rows: copy.rows, cut: cancelled !== undefined };
  }
}

/** "canceling statement due to user request": our cancel request, not statement_timeout (also 57014). */
function isOurCancel(e: unknown): boolean {
  return sqlState(e) === "57014" && /user request/i.test(e instanceof Error ? e.message : "");
}

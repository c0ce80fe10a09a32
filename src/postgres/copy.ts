// `COPY (SELECT …) TO STDOUT` read through pg's own connection, so a table
// streams with no round trip per batch and no new dependency. pg runs any
// object with submit(connection) and the handle* methods (a "Submittable",
// the way pg-cursor and pg-copy-streams plug in); the server sends one
// CopyData message per row, which arrives here as a Buffer slice of the
// socket's read. When the consumer is not ready (its promise is pending), the
// socket is paused, so memory holds one socket read, not the table.
//
// COPY takes no bound parameters: callers inline values with quoteLiteral().
import type pg from "pg";

/** A row of COPY text (without its newline); a pending promise means "wait before the next". */
export type CopyRowHandler = (row: Buffer) => Promise<void> | void;

interface Connection {
  query(text: string): void;
  sendCopyFail(message: string): void;
  stream: { pause(): void; resume(): void; destroy(): void };
}

/** The read was stopped on purpose (the run is stopping); the session it used is closed. */
export class CopyStopped extends Error {
  override readonly name = "CopyStopped";
}

export class CopyOut implements pg.Submittable {
  /** Rows received. */
  rows = 0;
  /** Settles after ReadyForQuery and once every row handler's promise has settled. */
  readonly done: Promise<number>;
  private resolve!: (n: number) => void;
  private reject!: (e: unknown) => void;
  private connection: Connection | undefined;
  private pending = 0;
  private paused = false;
  private checkQueued = false;
  private failure: unknown;
  private finished = false;
  private settled = false;

  constructor(
    private readonly text: string,
    private readonly onRow: CopyRowHandler,
  ) {
    this.done = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // A caller that stops awaiting (it failed elsewhere) must not leave an unhandled rejection.
    this.done.catch(() => undefined);
  }

  submit(connection: unknown): void {
    this.connection = connection as Connection;
    this.connection.query(this.text);
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    if (this.failure !== undefined) return; // the handler failed: drain the rest unread
    this.rows++;
    let p: Promise<void> | void;
    try {
      p = this.onRow(msg.chunk);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (!p) return;
    this.pending++;
    p.then(
      () => this.settle(),
      (e: unknown) => {
        this.fail(e);
        this.settle();
      },
    );
    // Already-resolved promises settle in the microtasks queued before this check;
    // only a promise still pending then (the writer waiting for stdout) pauses the socket.
    if (!this.checkQueued) {
      this.checkQueued = true;
      queueMicrotask(() => {
        this.checkQueued = false;
        if (this.pending > 0 && !this.paused) {
          this.paused = true;
          this.connection!.stream.pause();
        }
      });
    }
  }

  /**
   * Stops the read at once: the socket is closed, since a COPY cannot be left
   * part way on a live session, and `done` rejects with CopyStopped. The
   * caller drops the session.
   */
  abort(): void {
    if (this.settled) return;
    this.fail(new CopyStopped("the read was stopped"));
    this.connection?.stream.destroy();
    this.finished = true;
    this.maybeEnd();
  }

  handleCommandComplete(): void {}
  handleCopyInResponse(connection: unknown): void {
    (connection as Connection).sendCopyFail("tap-heroku only reads");
  }
  handleRowDescription(): void {
    this.fail(new Error("expected COPY … TO STDOUT, got a query result"));
  }
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  /** A server error (the query then ends with ReadyForQuery, which pg does not pass on) or a lost socket. */
  handleError(err: unknown): void {
    this.fail(err);
    this.finished = true;
    this.resume();
    this.maybeEnd();
  }

  handleReadyForQuery(): void {
    this.finished = true;
    this.maybeEnd();
  }

  private settle(): void {
    this.pending--;
    if (this.pending === 0) {
      this.resume();
      this.maybeEnd();
    }
  }

  private resume(): void {
    if (this.paused) {
      this.paused = false;
      this.connection?.stream.resume();
    }
  }

  private fail(e: unknown): void {
    if (this.failure === undefined) this.failure = e ?? new Error("COPY failed");
    // Keep reading: the server finishes the statement and the session stays usable.
    this.resume();
  }

  private maybeEnd(): void {
    if (this.settled || !this.finished || this.pending > 0) return;
    this.settled = true;
    if (this.failure !== undefined) this.reject(this.failure);
    else this.resolve(this.rows);
  }
}

/**
 * Splits one row of COPY text format into its fields: tab-separated, `\N` for
 * NULL, backslash escapes (\b \f \n \r \t \v \\, and a backslash before any
 * other character stands for that character) undone. `n` is the column count.
 */
export function copyFields(row: Buffer, n: number): (string | null)[] {
  let end = row.length;
  if (end > 0 && row[end - 1] === 10) end--;
  const line = row.toString("utf8", 0, end);
  const out: (string | null)[] = line.split("\t", n);
  for (let i = 0; i < out.length; i++) {
    const f = out[i]!;
    if (f.length === 2 && f === "\\N") out[i] = null;
    else if (f.indexOf("\\") >= 0) out[i] = unescapeCopy(f);
  }
  return out;
}

const ESCAPES: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };

function unescapeCopy(f: string): string {
  let s = "";
  let from = 0;
  for (let i = f.indexOf("\\"); i >= 0; i = f.indexOf("\\", from)) {
    const c = f[i + 1] ?? "";
    s += f.slice(from, i) + (ESCAPES[c] ?? c);
    from = i + 2;
  }
  return s + f.slice(from);
}

/** A string literal for SQL text, safe whatever standard_conforming_strings is (as libpq's PQescapeLiteral). */
export function quoteLiteral(value: string): string {
  const body = value.replace(/'/g, "''");
  return body.includes("\\") ? ` E'${body.replace(/\\/g, "\\\\")}'` : `'${body}'`;
}

// `COPY (SELECT …) TO STDOUT` read through pg's own connection, so a table
// streams with no round trip per batch and no new dependency. pg runs any
// object with submit(connection) and the handle* methods (a "Submittable",
// the way pg-cursor and pg-copy-streams plug in); the server sends one
// CopyData message per row.
//
// Rows are handed over strictly one after another: when the handler returns
// a promise, the next row waits for it (so a bookmark saved, or a STATE line
// written, after row n never sees row n+1 written before it), rows arriving
// meanwhile are queued and the socket is paused. Memory holds at most one
// socket read of rows, not the table, however slow the consumer.
//
// A read may be cut (statement-bound.ts): from then on no row is handed over
// and the rest of the statement is read and dropped at wire speed.
//
// COPY takes no bound parameters: callers inline values with quoteLiteral().
import type pg from "pg";

/** Takes one row; a returned promise makes the next row wait for it. */
export type CopyRowHandler<T> = (row: T) => Promise<void> | void;

interface Connection {
  query(text: string): void;
  sendCopyFail(message: string): void;
  stream: { pause(): void; resume(): void; destroy(): void };
}

/** The read was stopped on purpose (the run is stopping); the session it used is closed. */
export class CopyStopped extends Error {
  override readonly name = "CopyStopped";
}

export class CopyOut<T> implements pg.Submittable {
  /** Rows received. */
  rows = 0;
  /** Settles after ReadyForQuery and once every row was handed over and its promise settled. */
  readonly done: Promise<number>;
  private resolve!: (n: number) => void;
  private reject!: (e: unknown) => void;
  private connection: Connection | undefined;
  private readonly queue: (T | undefined)[] = [];
  private head = 0;
  private waiting = false;
  private paused = false;
  private failure: unknown;
  private finished = false;
  private settled = false;
  private dropping = false;
  private completed = 0;

  constructor(
    private readonly text: string,
    /** Decodes a row at once: the Buffer is a slice of pg's read buffer, which pg reuses. */
    private readonly decode: (row: Buffer) => T,
    private readonly onRow: CopyRowHandler<T>,
    /** Statements in `text` before the COPY (a savepoint): it is running once they completed. */
    private readonly before = 0,
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
    // Failed or cut: the rest is read and dropped, the session stays usable.
    if (this.failure !== undefined || this.dropping) return;
    this.rows++;
    let row: T;
    try {
      row = this.decode(msg.chunk);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (!this.waiting) return this.deliver(row);
    this.queue.push(row);
    if (!this.paused) {
      this.paused = true;
      this.connection!.stream.pause();
    }
  }

  private deliver(row: T): void {
    let p: Promise<void> | void;
    try {
      p = this.onRow(row);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (!p) return;
    this.waiting = true;
    p.then(
      () => this.next(),
      (e: unknown) => {
        this.fail(e);
        this.next();
      },
    );
  }

  /** The handler is ready: hand over the rows that arrived meanwhile, then let the socket flow again. */
  private next(): void {
    this.waiting = false;
    while (!this.waiting && this.head < this.queue.length) {
      const row = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      if (this.failure === undefined) this.deliver(row);
    }
    if (this.waiting) return;
    this.queue.length = 0;
    this.head = 0;
    this.resume();
    this.maybeEnd();
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

  /**
   * Hands over no more rows: those queued are dropped and the rest of the
   * statement is read and dropped as fast as it comes, so a backend blocked
   * writing to us moves on (and a cancel can take effect). A row whose
   * handler is under way still settles before `done`. False when the
   * statement had already ended, or not begun (the statements before it run):
   * then nothing is cut and every row is handed over.
   */
  cut(): boolean {
    if (this.finished || this.settled || this.completed < this.before) return false;
    this.dropping = true;
    this.queue.length = 0;
    this.head = 0;
    this.resume();
    return true;
  }

  handleCommandComplete(): void {
    this.completed++;
  }
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
    this.maybeEnd();
  }

  handleReadyForQuery(): void {
    this.finished = true;
    this.maybeEnd();
  }

  private resume(): void {
    if (this.paused) {
      this.paused = false;
      this.connection?.stream.resume();
    }
  }

  private fail(e: unknown): void {
    if (this.failure === undefined) this.failure = e ?? new Error("COPY failed");
    // Queued rows are dropped; reading goes on, so the server finishes the statement.
    this.queue.length = 0;
    this.head = 0;
    this.resume();
  }

  private maybeEnd(): void {
    if (this.settled || !this.finished || this.waiting) return;
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

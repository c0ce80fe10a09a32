// The sessions of one database, at most `size` of them: its tables are read
// concurrently within the connection budget (budget.ts). The first session is
// the one discovery opened, so a run with a budget of 1 uses one connection
// for everything; the others are opened when a table needs one and closed
// when idle (Session.release).
import { log } from "../log.ts";
import type { Session } from "./session.ts";

export class SessionPool {
  private readonly all: Session[];
  private readonly idle: Session[];
  private readonly waiting: ((s: Session) => void)[] = [];
  private limit: number;

  constructor(
    first: Session,
    size: number,
    /** A new session to the same database. */
    private readonly make: () => Session,
  ) {
    this.all = [first];
    this.idle = [first];
    this.limit = Math.max(1, size);
  }

  /** How many sessions it may hold at once. */
  get size(): number {
    return this.limit;
  }

  /** Runs `read` with a session of its own, waiting for one when all are in use. */
  async use<T>(read: (s: Session) => Promise<T>): Promise<T> {
    const s = await this.acquire();
    try {
      return await read(s);
    } finally {
      this.giveBack(s);
    }
  }

  private async acquire(): Promise<Session> {
    // The most recently used first: it is the one most likely still connected.
    const ready = this.idle.pop();
    if (ready) return ready;
    if (this.all.length < this.limit) {
      const s = this.make();
      this.all.push(s);
      try {
        await s.open();
        return s;
      } catch (e) {
        // The server had fewer connections to spare than discovery saw (or refused one):
        // read with the sessions already open rather than skip the table.
        this.all.splice(this.all.indexOf(s), 1);
        await s.close();
        this.limit = this.all.length;
        log.warn(`${s.label}: could not open another session (${e instanceof Error ? e.message : String(e)}); reading ${this.limit} table(s) at a time`);
      }
    }
    return await new Promise<Session>((resolve) => this.waiting.push(resolve));
  }

  private giveBack(s: Session): void {
    const next = this.waiting.shift();
    if (next) return next(s);
    s.release(); // closed after a while unless another table takes it
    this.idle.push(s);
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((s) => s.close()));
  }
}

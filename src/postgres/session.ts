// One database as the streams see it: a lazily opened, reused read-only
// session, reopened after the server drops it, with the URL resolved again
// through the Heroku API once when the credential was rotated.
import type pg from "pg";
import { clearTimeout as clearTimer, setTimeout as setTimer } from "node:timers";
import { connect, describeConnectError, isAuthFailure } from "./connect.ts";
import type { PostgresSettings } from "./connect.ts";
import { log } from "../log.ts";

/** Resolves the database URL; `fresh` asks the Heroku API again instead of using what is known. */
export type UrlSource = (fresh: boolean) => Promise<string>;

/** The database cannot be reached at all; its streams are skipped. */
export class Unreachable extends Error {
  override readonly name = "Unreachable";
}

export class Session {
  private client: pg.Client | undefined;
  private failure: Unreachable | undefined;
  private refreshed = false;
  private idle: ReturnType<typeof setTimer> | undefined;

  constructor(
    /** Names the database in messages (add-on name, never the URL). */
    readonly label: string,
    private readonly url: UrlSource,
    private readonly settings: PostgresSettings,
  ) {}

  /** The open session; connects on first use. Throws Unreachable when the database cannot be reached. */
  async open(): Promise<pg.Client> {
    this.keep();
    if (this.client) return this.client;
    if (this.failure) throw this.failure;
    try {
      this.client = await this.connectOnce(await this.url(false));
    } catch (first) {
      let e = first;
      if (isAuthFailure(e) && !this.refreshed) {
        // Heroku rotates credentials (maintenance, failover, on demand): ask again once.
        this.refreshed = true;
        log.info(`${this.label}: authentication failed; resolving the database URL through the Heroku API again`);
        try {
          this.client = await this.connectOnce(await this.url(true));
          return this.client;
        } catch (again) {
          e = again;
        }
      }
      this.failure = new Unreachable(`${this.label}: cannot connect: ${describeConnectError(e, this.settings.connect_timeout_s)}`, { cause: e });
      throw this.failure;
    }
    return this.client;
  }

  /**
   * Opens the session again after it was lost mid-sync. A restarting server
   * (maintenance, failover) refuses connections or answers "starting up" for
   * a while, so connecting is retried with backoff for up to 4 ×
   * connect_timeout_s before the database counts as unreachable, or until
   * the run stops (`signal`).
   */
  async reopen(signal: AbortSignal): Promise<pg.Client> {
    await this.reset();
    const deadline = Date.now() + this.settings.connect_timeout_s * 4000;
    for (let delay = 100;; delay = Math.min(delay * 2, 2000)) {
      this.failure = undefined;
      try {
        return await this.open();
      } catch (e) {
        if (!(e instanceof Unreachable) || Date.now() + delay >= deadline || signal.aborted) throw e;
        log.debug(`${e.message}; trying again`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * The session is not needed now: it is closed after `idleMs` unless open()
   * takes it again first. A table sync usually follows discovery at once and
   * then keeps the connection (one costs 5–6 round trips, 0.3 s at 60 ms RTT);
   * a run that syncs API streams first does not hold it meanwhile.
   */
  release(idleMs = 5000): void {
    this.keep();
    if (!this.client) return;
    this.idle = setTimer(() => void this.reset(), idleMs);
    this.idle.unref(); // never what keeps the process alive
  }

  private keep(): void {
    if (this.idle !== undefined) clearTimer(this.idle);
    this.idle = undefined;
  }

  /** Drops the current session (after it failed); the next open() connects again. */
  async reset(): Promise<void> {
    this.keep();
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  close(): Promise<void> {
    return this.reset();
  }

  private async connectOnce(url: string): Promise<pg.Client> {
    const client = await connect(url, this.settings);
    client.on("error", () => {
      // The session is dead; forget it so the next open() reconnects.
      if (this.client === client) this.client = undefined;
    });
    return client;
  }
}

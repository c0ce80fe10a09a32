// The Heroku Platform API client. It can only GET: this tap never changes
// anything in an account. It walks Range pagination, retries what is worth
// retrying (5xx, dropped connections, timeouts) with jittered backoff, and
// turns Heroku's error bodies into messages a user can act on.
//
// Rate limit: the account has a bucket of 4,500 request tokens refilled at
// about 75 a minute, shared with the user's other tools. Every response's
// RateLimit-Remaining is read; once it falls to `rateLimit.reserve`, requests
// are paced to the refill rate, so the bucket stays at the reserve instead of
// running dry. A 429 pauses every request of the client (not only the one
// that got it) for a jittered, growing wait, logged, and is retried until
// `rateLimit.maxWaitMs` of waiting for that request has passed; 429s do not
// count against max_retries.
// undici's Agent and request API from their own modules: the package's index also
// loads fetch, WebSocket, EventSource, caches and mocks, which the tap never uses
// and which cost every start about 0.15 s and 9 MB of memory (measured on Node 20).
import Agent from "undici/lib/dispatcher/agent.js";
import request from "undici/lib/api/api-request.js";
import { RunError } from "../errors.ts";
import { Counter, log, metric, redact } from "../log.ts";
import { backoffMs, MAX_BACKOFF_MS, RateGovernor, RETRY_STATUS } from "./policy.ts";

export interface ClientOptions {
  readonly baseUrl: string;
  readonly token: string;
  readonly userAgent: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly maxConcurrency: number;
  /** Base of the exponential backoff (setting retry_backoff_s). */
  readonly backoffMs?: number;
  readonly rateLimit?: RateLimitOptions;
}

export interface RateLimitOptions {
  /** Below this RateLimit-Remaining, requests are paced to the refill rate. */
  readonly reserve: number;
  /** Tokens Heroku adds to the bucket per minute. */
  readonly refillPerMinute: number;
  /** How long one request may wait out 429s before it fails. */
  readonly maxWaitMs: number;
}

const DEFAULT_RATE_LIMIT: RateLimitOptions = { reserve: 200, refillPerMinute: 75, maxWaitMs: 15 * 60_000 };

/** An HTTP error Heroku answered with, after retries. */
export class HerokuHttpError extends RunError {
  constructor(
    readonly status: number,
    readonly id: string,
    readonly herokuMessage: string,
    readonly requestId: string | undefined,
    readonly path: string,
  ) {
    super(
      status === 401
        ? `Heroku rejected the token (401 ${id}): it is invalid, expired or revoked; create one with heroku authorizations:create`
        : `GET ${path}: ${status} ${id}: ${herokuMessage}${requestId ? ` (Request-Id ${requestId})` : ""}`,
      { fatal: status === 401 },
    );
  }
}

export interface Page {
  readonly items: unknown[];
  readonly nextRange: string | undefined;
}

const PAGE_MAX = 1000;
const CONFIG_VARS = /^\/apps\/([^/?]+)\/config-vars$/;

export class HerokuClient {
  private readonly agent: InstanceType<typeof Agent>;
  private readonly headers: Record<string, string>;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  /** Requests sent, for the run summary and the tests. */
  requests = 0;
  private readonly requestCount = new Counter("http_request_count", {});
  /** The last RateLimit-Remaining Heroku reported. */
  rateLimitRemaining: number | undefined;
  /** The newest `Date` Heroku answered with (epoch ms): the server's clock, which stamps updated_at. */
  serverDateMs: number | undefined;
  /** Time spent waiting for the rate limit (pacing and 429s), in ms. */
  rateLimitWaitMs = 0;
  private readonly rateLimit: RateLimitOptions;
  /** 429 pauses and pacing at the reserve (policy.ts). */
  private readonly governor: RateGovernor;
  /** Aborted by stop(): ends every wait and in-flight request at once. */
  private readonly stopping = new AbortController();

  constructor(private readonly opts: ClientOptions) {
    this.rateLimit = opts.rateLimit ?? DEFAULT_RATE_LIMIT;
    this.governor = new RateGovernor(this.rateLimit);
    this.agent = new Agent({ connections: opts.maxConcurrency, keepAliveTimeout: 30_000 });
    this.headers = {
      accept: "application/vnd.heroku+json; version=3",
      authorization: `Bearer ${opts.token}`,
      "user-agent": opts.userAgent,
    };
  }

  /**
   * GET of a single object. `base` sends it to another Heroku host that takes
   * the same token (the Data API, the metrics API) through this same client:
   * one concurrency limit, rate governor, retry loop and error handling.
   */
  async get(path: string, base?: string): Promise<unknown> {
    const body = (await this.send(path, undefined, base)).body;
    if (base !== undefined) return body;
    const app = CONFIG_VARS.exec(path)?.[1];
    if (app !== undefined && body !== null && typeof body === "object") this.configVarNames.set(decodeURIComponent(app), Object.keys(body));
    return body;
  }

  /**
   * The names (never the values) of each app's config vars read this run, by
   * the app id or name asked: the config_vars stream reuses what Heroku
   * Postgres discovery read instead of asking again.
   */
  readonly configVarNames = new Map<string, string[]>();

  private readonly singles = new Map<string, Promise<unknown>>();

  /**
   * GET of a single object, asked once per run: the token check and the
   * `account` stream both read /account, and the bucket pays for one request.
   * A failed GET is forgotten, so a later caller asks again. Not for values
   * that must be fresh (config vars after a credential rotation).
   */
  getOnce(path: string): Promise<unknown> {
    let pending = this.singles.get(path);
    if (!pending) {
      pending = this.get(path);
      pending.catch(() => this.singles.delete(path));
      this.singles.set(path, pending);
    }
    return pending;
  }

  /**
   * Walks a list endpoint page by page. `range` is the first Range header
   * (default `id ..; max=1000`); each Next-Range is sent back verbatim,
   * unless `follow` computes the next Range from the page (see walk.ts: a
   * tie-safe continuation on a non-unique field). A Range that comes back a
   * second time ends the walk with an error instead of looping forever.
   */
  async *pages(
    path: string,
    range = `id ..; max=${PAGE_MAX}`,
    follow?: (page: Page) => string | undefined,
  ): AsyncGenerator<Page> {
    let next: string | undefined = range;
    const seen = new Set<string>([range]);
    while (next !== undefined) {
      const res = await this.send(path, next);
      const items = Array.isArray(res.body) ? res.body : [];
      const nextRange = res.status === 206 ? res.nextRange : undefined;
      const page = { items, nextRange };
      const following = nextRange === undefined ? undefined : follow ? follow(page) : nextRange;
      if (following !== undefined) {
        // A server that hands back a range it already gave would loop forever.
        if (seen.has(following)) throw new RepeatedRange(path, following);
        seen.add(following);
      }
      yield page;
      next = following;
    }
  }

  /**
   * The run is stopping (SIGTERM, SIGINT): requests in flight are cancelled
   * and backoff, rate-limit and queue waits end now, each with a Stopped
   * error, instead of finishing a wait that may last minutes.
   */
  stop(): void {
    this.stopping.abort();
  }

  async close(): Promise<void> {
    this.requestCount.flush();
    await this.agent.close();
  }

  private async send(path: string, range: string | undefined, base = this.opts.baseUrl) {
    let waited429 = 0;
    for (let attempt = 0, limited = 0;;) {
      const outcome = await this.withSlot(() => this.once(path, range, base));
      // A request cancelled by stop() comes back as a network failure: not one to retry.
      if (this.stopping.signal.aborted) throw new Stopped(path);
      if (outcome.kind === "ok") return outcome;
      if (outcome.kind === "http" && outcome.status === 429) {
        // The bucket is empty: every request waits, for a growing, jittered time.
        // From one refill interval (or the retry backoff, if longer), doubling.
        const base = Math.max(this.opts.backoffMs ?? 1000, Math.min(this.governor.spacingMs(), MAX_BACKOFF_MS));
        const wait = backoffMs(limited++, base, outcome.retryAfterS);
        if (waited429 + wait > this.rateLimit.maxWaitMs) {
          throw new HerokuHttpError(
            429,
            outcome.id,
            `${outcome.message} (gave up after waiting ${(waited429 / 1000).toFixed(0)} s for the rate limit)`,
            outcome.requestId,
            path,
          );
        }
        waited429 += wait;
        this.governor.pause(Date.now(), wait);
        log.warn(
          `GET ${path}: rate limited (429, RateLimit-Remaining 0); all requests wait ${(wait / 1000).toFixed(1)} s (${
            (waited429 / 1000).toFixed(0)
          } of at most ${(this.rateLimit.maxWaitMs / 1000).toFixed(0)} s for this request)`,
        );
        continue;
      }
      const retryable = outcome.kind === "network" || RETRY_STATUS.has(outcome.status);
      if (!retryable || attempt >= this.opts.maxRetries) {
        if (outcome.kind === "network") {
          throw new RunError(`GET ${path}: ${outcome.message} (after ${attempt + 1} attempts)`);
        }
        throw new HerokuHttpError(outcome.status, outcome.id, outcome.message, outcome.requestId, path);
      }
      const wait = backoffMs(attempt, this.opts.backoffMs ?? 1000, outcome.kind === "http" ? outcome.retryAfterS : undefined);
      const why = outcome.kind === "http" ? `${outcome.status} ${outcome.id}` : outcome.message;
      log.warn(`GET ${path}: ${why}; retrying in ${(wait / 1000).toFixed(1)} s (attempt ${attempt + 2} of ${this.opts.maxRetries + 1})`);
      attempt++;
      await this.sleep(wait);
    }
  }

  /** Waits `ms`, or less when the run stops. */
  private sleep(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
    });
  }

  /** Waits out a 429 pause, and paces requests once the bucket is down to the reserve (policy.ts). */
  private async throttle(): Promise<void> {
    for (;;) {
      if (this.stopping.signal.aborted) return;
      const remaining = this.rateLimitRemaining;
      const turn = this.governor.next(Date.now(), remaining);
      if (turn.kind === "paused") {
        await this.waitMs(turn.waitMs);
        continue;
      }
      if (turn.changed === "pacing") {
        log.warn(
          `RateLimit-Remaining is ${remaining}, at the reserve of ${this.rateLimit.reserve}: pacing requests to ${this.rateLimit.refillPerMinute} a minute (one every ${
            (this.governor.spacingMs() / 1000).toFixed(2)
          } s) so the bucket is not emptied`,
        );
      } else if (turn.changed === "free") log.info(`RateLimit-Remaining is ${remaining}, above the reserve again: no more pacing`);
      if (turn.waitMs > 0) await this.waitMs(turn.waitMs);
      return;
    }
  }

  private async waitMs(ms: number): Promise<void> {
    this.rateLimitWaitMs += ms;
    await this.sleep(ms);
  }

  private async once(path: string, range: string | undefined, base: string) {
    await this.throttle();
    if (this.stopping.signal.aborted) throw new Stopped(path);
    const started = performance.now();
    this.requests++;
    const headers = range ? { ...this.headers, range } : this.headers;
    const tags = { endpoint: path, http_status_code: 0, status: "failed" as string };
    try {
      const url = new URL(base + path);
      const res = await request.call(this.agent, {
        origin: url.origin,
        path: url.pathname + url.search,
        method: "GET",
        headers,
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
        signal: this.stopping.signal,
      });
      const text = await res.body.text();
      tags.http_status_code = res.statusCode;
      const remaining = Number(header(res.headers, "ratelimit-remaining"));
      if (Number.isFinite(remaining)) this.rateLimitRemaining = remaining;
      const date = Date.parse(header(res.headers, "date") ?? "");
      if (Number.isFinite(date) && date > (this.serverDateMs ?? -Infinity)) this.serverDateMs = date;
      if (res.statusCode === 200 || res.statusCode === 206) {
        tags.status = "succeeded";
        return { kind: "ok" as const, status: res.statusCode, body: parseJson(text, path), nextRange: header(res.headers, "next-range") };
      }
      const err = parseError(text);
      const retryAfter = Number(header(res.headers, "retry-after"));
      return {
        kind: "http" as const,
        status: res.statusCode,
        // Masked before anything is cut: a body that echoes the request
        // (Authorization included) must not leak a prefix of the token.
        id: err.id !== undefined ? redact(err.id) : String(res.statusCode),
        message: err.message !== undefined ? redact(err.message) : redact(text).slice(0, 200) || "no message",
        requestId: header(res.headers, "request-id"),
        retryAfterS: Number.isFinite(retryAfter) ? retryAfter : undefined,
      };
    } catch (e) {
      return { kind: "network" as const, message: describeNetworkError(e) };
    } finally {
      // One line per request only at debug; at info, a count a minute (METRIC_INTERVAL_MS).
      metric("timer", "http_request_duration", round3((performance.now() - started) / 1000), tags, "debug");
      this.requestCount.add();
      this.requestCount.tick();
    }
  }

  /** At most maxConcurrency requests in flight. */
  private async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.opts.maxConcurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.inFlight++;
    try {
      return await fn();
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }
}

/** The run stopped (a signal) while this request waited or was in flight. */
export class Stopped extends RunError {
  constructor(readonly path: string) {
    super(`GET ${path}: not finished, the run is stopping`);
  }
}

/** Heroku handed back a Range it already gave: the walk would never end. */
export class RepeatedRange extends RunError {
  constructor(
    readonly path: string,
    readonly range: string,
  ) {
    super(`GET ${path}: the Range "${range}" came back a second time; stopping instead of looping`);
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new RunError(`GET ${path}: Heroku answered with a body that is not JSON`);
  }
}

function parseError(text: string): { id?: string; message?: string } {
  try {
    const v = JSON.parse(text) as { id?: unknown; message?: unknown };
    return { id: typeof v.id === "string" ? v.id : undefined, message: typeof v.message === "string" ? v.message : undefined };
  } catch {
    return {};
  }
}

/** undici's errors name the failure by code; keep it short and free of request details. */
function describeNetworkError(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string } };
  const code = err.code ?? err.cause?.code;
  switch (code) {
    case "UND_ERR_HEADERS_TIMEOUT":
    case "UND_ERR_BODY_TIMEOUT":
      return "request timed out";
    case "UND_ERR_SOCKET":
    case "ECONNRESET":
      return "connection dropped";
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
      return "host not found";
    default:
      return `network error${code ? ` (${code})` : ""}`;
  }
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

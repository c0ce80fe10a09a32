// What this tap is and which streams it offers for a given config: the Heroku
// API streams from catalog/ data, and the tables of the Heroku Postgres
// databases found through the API.
import type { Settings } from "./config.ts";
import type { Stream, Unavailable } from "./singer/stream.ts";
import type { PlannedStream } from "./singer/runner.ts";
import type { State } from "./singer/state.ts";
import { HerokuClient, HerokuHttpError, Stopped } from "./heroku/client.ts";
import { RunError } from "./errors.ts";
import { openHeroku } from "./heroku/source.ts";
import { openPostgres } from "./postgres/index.ts";
import { dataApiStreams } from "./heroku/data-api.ts";
import { metricsStreams } from "./heroku/metrics-api.ts";
import { TAP } from "./identity.ts";
import type { Candidate } from "./postgres/discover.ts";

export interface Source {
  readonly streams: Stream[];
  readonly client: HerokuClient;
  /** Streams, or whole databases, that cannot be read this run, with the reason. */
  readonly unavailable?: readonly Unavailable[];
  /** The Heroku Postgres add-ons found, reachable or not (what the Data API streams and --test read). */
  readonly databases?: readonly Candidate[];
  /**
   * Call once before a sync with the planned streams: the Heroku streams then
   * list only the parents some planned child needs, and the run's request
   * estimate is logged.
   */
  prepare(plan: readonly PlannedStream[], state?: State): Promise<void>;
  /** Fails fast, before any output, when Heroku rejects the token. */
  checkToken(): Promise<void>;
  close(): Promise<void>;
}

export function herokuClient(settings: Settings): HerokuClient {
  return new HerokuClient({
    baseUrl: settings.api_url.replace(/\/+$/, ""),
    token: settings.token,
    userAgent: settings.user_agent ?? `${TAP.name}/${TAP.version}`,
    timeoutMs: settings.request_timeout_s * 1000,
    maxRetries: settings.max_retries,
    maxConcurrency: settings.max_concurrency,
    backoffMs: settings.retry_backoff_s * 1000,
    rateLimit: {
      reserve: settings.rate_limit.reserve,
      refillPerMinute: settings.rate_limit.refill_per_minute,
      maxWaitMs: settings.rate_limit.max_wait_s * 1000,
    },
  });
}

/**
 * The streams this config offers. The caller closes the source when done; a
 * client passed in (--test shares its own) stays open for its owner to close.
 */
export async function openSource(settings: Settings, shared?: HerokuClient): Promise<Source> {
  const client = shared ?? herokuClient(settings);
  const heroku = await openHeroku(settings, client);
  const pg = await openPostgres(settings, client);
  return {
    streams: [
      ...heroku.streams,
      ...(pg.inventory ? [pg.inventory] : []),
      // Backups, schedules, maintenance and info of the databases discovery found, from the Data API; then metrics.
      ...dataApiStreams(settings, client, () => pg.candidates ?? []),
      ...metricsStreams(settings, client),
      ...pg.streams,
    ],
    client,
    // Databases that cannot be reached and tables the credential may no longer read:
    // a catalog that selects them skips them with the reason instead of failing.
    unavailable: pg.unavailable,
    ...(pg.candidates ? { databases: pg.candidates } : {}),
    prepare: heroku.prepare,
    checkToken: () => checkToken(client, settings.api_url),
    close: async () => {
      await pg.close();
      if (!shared) await client.close();
    },
  };
}

/**
 * One GET /account: 401 means the token is invalid, expired or revoked (a
 * fatal HerokuHttpError with a message that says so), and no answer at all
 * (after the retries) means the API cannot be reached. Any other answer means
 * the token is accepted: a token without the identity scope gets 403 here and
 * can still read apps. The answer is kept, so a second call costs nothing.
 */
async function checkToken(client: HerokuClient, apiUrl: string): Promise<void> {
  try {
    await client.getOnce("/account"); // the account stream reuses this answer
  } catch (e) {
    if (e instanceof HerokuHttpError && e.status !== 401) return;
    if (e instanceof RunError && !(e instanceof HerokuHttpError) && !(e instanceof Stopped)) {
      throw new RunError(`cannot reach the Heroku API at ${apiUrl}: ${e.message}`, { fatal: true, cause: e });
    }
    throw e;
  }
}

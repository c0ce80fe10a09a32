// The HTTP client's policy, apart from its transport: which answers are
// retried, how long to back off, and how requests are paced once the
// account's rate-limit bucket is down to the reserve. Pure and clock-free
// (times are passed in), so it is tested in process (test/heroku/policy.test.ts).

/** Answers worth another try: rate limited, or a server-side failure. */
export const RETRY_STATUS: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/** The longest single wait, whatever the attempt. */
export const MAX_BACKOFF_MS = 60_000;

/**
 * Jittered exponential backoff: base × 2^attempt (attempt capped at 10), half
 * of it fixed and half random, at most a minute. A Retry-After from Heroku wins.
 */
export function backoffMs(attempt: number, baseMs: number, retryAfterS?: number, random: () => number = Math.random): number {
  if (retryAfterS !== undefined) return retryAfterS * 1000;
  const base = baseMs * 2 ** Math.min(attempt, 10);
  return Math.min(MAX_BACKOFF_MS, base / 2 + random() * base);
}

export interface PaceOptions {
  /** Below this RateLimit-Remaining, requests are paced to the refill rate. */
  readonly reserve: number;
  readonly refillPerMinute: number;
}

/** What the governor says of the next request. */
export type Turn =
  /** A 429 pause is on: wait this long, then ask again (the pause may have grown meanwhile). */
  | { readonly kind: "paused"; readonly waitMs: number }
  /** Go after waitMs (0 above the reserve); `changed` when pacing just started or stopped. */
  | { readonly kind: "go"; readonly waitMs: number; readonly changed?: "pacing" | "free" };

/**
 * Shares the bucket: a 429 pauses every request; at or below the reserve,
 * requests leave one refill interval apart (75 a minute: one every 0.8 s), so
 * the tap never empties the bucket the user's other tools draw on too.
 */
export class RateGovernor {
  private pausedUntil = 0;
  private nextPaced = 0;
  private pacing = false;

  constructor(private readonly opts: PaceOptions) {}

  /** One refill interval. */
  spacingMs(): number {
    return 60_000 / Math.max(1e-6, this.opts.refillPerMinute);
  }

  /** Stops every request from starting until now + ms (a 429). */
  pause(now: number, ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, now + ms);
  }

  /** The next request's turn at `now`, given the last RateLimit-Remaining seen. */
  next(now: number, remaining: number | undefined): Turn {
    if (this.pausedUntil > now) return { kind: "paused", waitMs: this.pausedUntil - now };
    const low = remaining !== undefined && remaining <= this.opts.reserve;
    const changed = low === this.pacing ? undefined : low ? "pacing" : "free";
    this.pacing = low;
    if (!low) return { kind: "go", waitMs: 0, ...(changed ? { changed } : {}) };
    const at = Math.max(now, this.nextPaced);
    this.nextPaced = at + this.spacingMs();
    return { kind: "go", waitMs: at - now, ...(changed ? { changed } : {}) };
  }
}

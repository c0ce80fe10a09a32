// Two kinds of failure a user can act on, told apart by their exit code:
// bad input (a flag, config, catalog or state file) exits 2 before any work;
// a failure while running exits 1. Both carry a one-line message meant for a
// person; anything else that escapes is a bug and is reported as such.

export class UsageError extends Error {
  readonly exitCode = 2;
  override readonly name = "UsageError";
}

export class RunError extends Error {
  readonly exitCode = 1;
  override readonly name = "RunError";
  /** A fatal error stops the whole run (a revoked token); others fail one stream. */
  readonly fatal: boolean;
  constructor(message: string, options?: { fatal?: boolean; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.fatal = options?.fatal ?? false;
  }
}

/** Not a failure: the stream cannot be read here (a missing scope); the run goes on. */
export class StreamSkipped extends Error {
  override readonly name = "StreamSkipped";
}

export type TapError = UsageError | RunError;

export function isTapError(e: unknown): e is TapError {
  return e instanceof UsageError || e instanceof RunError;
}

/** The message of anything thrown, without a stack. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

/** A value or the error that stands in its place. */
export type Result<T, E = UsageError> = { ok: true; value: T } | { ok: false; error: E };
export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const fail = <E>(error: E): Result<never, E> => ({ ok: false, error });

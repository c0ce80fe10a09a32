// Reading Heroku's other hosts (the Data API, the metrics API) through the
// Platform API's client: the same token, concurrency limit, rate governor,
// retries and secret masking. What differs is how a refusal is read: these
// APIs answer per database or per app, so one refused target must not cost
// the others (a private-space database, an Essential plan), and a token that
// is refused everywhere skips the stream with one warning naming the scope.
import { StreamSkipped } from "../errors.ts";
import { log } from "../log.ts";
import type { HerokuClient } from "./client.ts";
import { HerokuHttpError } from "./client.ts";

/** One of Heroku's other APIs: where it is, and what a refusal means. */
export interface HostApi {
  /** e.g. "the Heroku Data API" */
  readonly name: string;
  /** Base URL (a setting), without a trailing slash. */
  readonly base: string;
  /** What a token needs to read it, said in the warning of a 403. */
  readonly scope: string;
  /**
   * Statuses that mean "this target has none" rather than "refused": the
   * metrics API answers 400 for a process type an app does not run (as the
   * Heroku CLI's apps:errors reads it), the Data API 404 for a database not
   * yet provisioned.
   */
  readonly none: readonly number[];
  /** How "has none" is logged: a warning where it means something is off (a database without backups), info where it is normal (an app on eco dynos has no metrics). */
  readonly noneLevel: "info" | "warn";
}

/** One request of a fan-out: a label for the messages (a database or app name) and its path. */
export interface Target<T> {
  readonly label: string;
  readonly path: string;
  readonly of: T;
}

/**
 * GETs every target, `concurrency` at a time, and hands each answer to
 * `use` in the targets' order (so records come out in a stable order and
 * at most `concurrency` answers are held). Refusals are gathered and
 * reported once: all refused (403 or 401) skips the stream, some refused is
 * a warning naming them, and "none" answers are an info line.
 */
export async function readEach<T>(
  client: HerokuClient,
  api: HostApi,
  stream: string,
  targets: readonly Target<T>[],
  concurrency: number,
  signal: AbortSignal,
  use: (body: unknown, target: Target<T>) => Promise<void>,
): Promise<void> {
  const refused: string[] = [];
  const none: string[] = [];
  let why = "";
  for (let i = 0; i < targets.length && !signal.aborted; i += concurrency) {
    const chunk = targets.slice(i, i + concurrency);
    const answers = await Promise.all(chunk.map((t) => client.get(t.path, api.base).then((body) => ({ body }), (error: unknown) => ({ error }))));
    for (const [j, answer] of answers.entries()) {
      const target = chunk[j]!;
      if ("body" in answer) {
        await use(answer.body, target);
        continue;
      }
      const e = answer.error;
      // 401 here is this host's answer: the token works on the Platform API (checked first), so it is a refusal, not a dead token.
      if (e instanceof HerokuHttpError && (e.status === 403 || e.status === 401)) {
        refused.push(target.label);
        why ||= `${e.status} ${e.id}`;
      } else if (e instanceof HerokuHttpError && api.none.includes(e.status)) {
        none.push(`${target.label} (${e.status} ${e.id})`);
      } else throw e;
    }
  }
  const hint = `it needs ${api.scope}`;
  if (refused.length > 0 && refused.length === targets.length) {
    throw new StreamSkipped(`${api.name} refused this token (${why}) for ${list(refused)}; ${hint}`);
  }
  if (refused.length > 0) log.warn(`${stream}: ${api.name} refused ${list(refused)} (${why}); the others are read; ${hint}`);
  if (none.length > 0) log[api.noneLevel](`${stream}: ${api.name} has nothing for ${list(none)}; skipped`);
}

function list(labels: readonly string[]): string {
  const shown = labels.slice(0, 10).join(", ");
  return labels.length > 10 ? `${shown} and ${labels.length - 10} more` : shown;
}

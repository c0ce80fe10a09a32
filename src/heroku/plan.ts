// The order of the Heroku streams and the run's request estimate.
//
// Order: parents before children (top-level lists, then their children, then
// grandchildren), names alphabetical within a level. Discovery publishes the
// streams in this order, so a run that follows the catalog lists apps once
// and lets every child of apps reuse that walk.
//
// Estimate: one request per page of a top-level list (counted as one), and
// for every child stream the parents it plans to read (schedule.ts): all of
// them on a first run, else the pending ones and the slots due for refresh
// (and, once the parents are listed, the changed ones). Parents are counted
// from the registry once listed, or from the state's bookmarks of a previous run.
import type { State } from "../singer/state.ts";
import { log } from "../log.ts";
import type { HerokuClient } from "./client.ts";
import type { HerokuStreamSpec } from "./definitions.ts";
import type { ParentRegistry } from "./registry.ts";
import type { RefreshSchedule } from "./schedule.ts";

export function depthOf(spec: HerokuStreamSpec, specs: ReadonlyMap<string, HerokuStreamSpec>): number {
  let d = 0;
  for (let s: HerokuStreamSpec | undefined = spec; s?.parent; s = specs.get(s.parent)) d++;
  return d;
}

export function parentsFirst(specs: readonly HerokuStreamSpec[]): HerokuStreamSpec[] {
  const byName = new Map(specs.map((s) => [s.stream, s]));
  return [...specs].sort((a, b) => depthOf(a, byName) - depthOf(b, byName) || (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
}

/** What the given streams' requests come to, and what the figure rests on. */
export interface Estimate {
  /** One per top-level list, and for each child stream the parents it plans to read, where they are counted. */
  readonly requests: number;
  /**
   * The parents the child streams read, in the order first needed: each with its count, or
   * undefined when neither the registry nor the state knows it yet (then one request per parent comes on top).
   */
  readonly parents: ReadonlyMap<string, number | undefined>;
  /** From a state, before the parents are listed: the child lists of the parents that changed come on top. */
  readonly changesUnknown: boolean;
}

/** Requests the given streams will need, with what is known of their parents. */
export async function estimate(
  streams: readonly string[],
  specs: ReadonlyMap<string, HerokuStreamSpec>,
  registry: ParentRegistry,
  state: State | undefined,
  schedule?: RefreshSchedule,
): Promise<Estimate> {
  let requests = 0;
  let changesUnknown = false;
  const parents = new Map<string, number | undefined>();
  for (const id of streams) {
    const spec = specs.get(id);
    if (!spec) continue;
    if (!spec.parent) {
      requests += 1;
      continue;
    }
    if (!parents.has(spec.parent)) parents.set(spec.parent, (await registry.count(spec.parent)) ?? fromState(spec.parent, specs, state));
    const n = parents.get(spec.parent);
    if (n === undefined) continue;
    // Once the parents are listed, the plan itself (signals included); before, what the state expects.
    const planned = schedule && registry.has(spec.parent) ? schedule.todo(spec, await registry.get(spec.parent)).requests : undefined;
    const expected = schedule && planned === undefined ? schedule.expected(spec, n) : undefined;
    // With a state, which parents changed is known only once they are listed.
    if (expected !== undefined && expected < n) changesUnknown = true;
    requests += planned ?? expected ?? n;
  }
  return { requests, parents, changesUnknown };
}

/** The parent count a previous run left in its bookmarks (`parents`, or the partition list of earlier versions). */
function fromState(parent: string, specs: ReadonlyMap<string, HerokuStreamSpec>, state: State | undefined): number | undefined {
  if (!state) return undefined;
  let best: number | undefined;
  for (const spec of specs.values()) {
    if (spec.parent !== parent) continue;
    const b = state.bookmarks[spec.stream] as { partitions?: Record<string, unknown>; parents?: number } | undefined;
    const n = b?.parents ?? (b?.partitions ? Object.keys(b.partitions).length : undefined);
    if (n !== undefined && (best === undefined || n > best)) best = n;
  }
  return best;
}

/** One log line: how many requests, and how long the rate limit makes that. */
export function logEstimate(
  what: string,
  e: Estimate,
  client: HerokuClient,
  rate: { reserve: number; refillPerMinute: number },
): void {
  const remaining = client.rateLimitRemaining;
  const counted = [...e.parents].filter(([, n]) => n !== undefined);
  const parents = counted.map(([p, n]) => `${n} ${p}`).join(", ");
  const uncounted = [...e.parents.keys()].filter((p) => e.parents.get(p) === undefined);
  const unknown = (uncounted.length ? `, plus one per ${uncounted.join(", ")} (not counted yet)` : "") +
    (e.changesUnknown ? ", plus the child lists of parents that changed (counted once the parents are listed)" : "");
  const bucket = remaining ?? 4500;
  const free = Math.max(0, bucket - rate.reserve);
  const time = e.requests <= free
    ? `fits in the rate limit (RateLimit-Remaining ${remaining ?? "not known yet, 4500 when full"}, reserve ${rate.reserve})`
    : `more than the ${free} requests left above the reserve (RateLimit-Remaining ${remaining ?? "4500 assumed"}): about ${
      duration(((e.requests - free) / rate.refillPerMinute) * 60)
    } of waiting at ${rate.refillPerMinute} requests a minute`;
  log.info(`${what}: about ${e.requests} Heroku API requests${parents ? ` (over ${parents})` : ""}${unknown}; ${time}`);
}

function duration(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.ceil(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

// How one list endpoint is walked: by id (the default, any endpoint), or
// with the server-side Range its catalog row names (`server_range`: apps by
// updated_at from the bookmark; releases and builds newest first, stopping at
// the first settled record older than the bookmark), which saves requests.
// Heroku's Next-Range is exclusive (`updated_at ]<last>..`): on a field that is
// not unique (two apps updated in the same second), the items that tie with
// the last one of a page and did not fit on it would be skipped. On such a
// field the walk asks again from the last value inclusively (`updated_at
// <last>..`) and drops what the previous page already held. If a whole page
// ties (the Range would repeat), or Heroku refuses the field (416), the walk
// falls back to `id` and filters on the client: complete, only slower. A
// refusal is remembered for the run, so the other parents of the stream go
// straight to `id` instead of paying a 416 each.
import { log } from "../log.ts";
import { HerokuHttpError, RepeatedRange } from "./client.ts";
import type { HerokuClient, Page } from "./client.ts";
import type { HerokuStreamSpec } from "./definitions.ts";

export type Item = Record<string, unknown>;

export const PAGE_MAX = 1000;

/** Streams whose server-side Range Heroku refused, per client (that is, per run). */
const refusedRanges = new WeakMap<HerokuClient, Set<string>>();

export interface WalkOptions {
  /** The replication key and the value records must reach (inclusive); undefined for a full read. */
  readonly key?: string | undefined;
  readonly since?: string | undefined;
  /** Every item is needed (to fill the parent registry): never start at the bookmark. */
  readonly everything?: boolean;
  readonly signal?: AbortSignal;
}

export interface WalkPage {
  readonly items: Item[];
  /**
   * True when the walk is ascending by the replication key from the start
   * (or from the bookmark): every record up to the newest one seen so far has
   * been read, so the bookmark may advance after this page.
   */
  readonly ordered: boolean;
}

/** Whether this walk reads every item of the list (so it can fill the parent registry). */
export interface WalkResult {
  complete: boolean;
}

/**
 * Walks `path` for `spec`, yielding pages. `result.complete` says, once the
 * generator is done, whether every item of the list was read.
 */
export async function* walk(client: HerokuClient, spec: HerokuStreamSpec, path: string, opts: WalkOptions, result: WalkResult): AsyncGenerator<WalkPage> {
  const server = spec.server_range;
  const usable = server && (server.use === "stop" ? opts.key !== undefined : opts.key === server.field);
  result.complete = true;
  const refusedBefore = refusedRanges.get(client)?.has(spec.stream) ?? false;
  if (!server || !usable || refusedBefore) {
    yield* byId(client, spec, path, opts, refusedBefore);
    return;
  }
  const start = server.use === "start" && !opts.everything ? opts.since : undefined;
  if (start !== undefined) result.complete = false;
  const first = `${server.field} ${start ?? ""}..; max=${PAGE_MAX}${server.order === "desc" ? ", order=desc" : ""}`;
  const sinceMs = opts.since === undefined ? undefined : Date.parse(opts.since);
  let yielded = false;
  try {
    let previous = new Set<string>();
    const follow = server.unique ? undefined : inclusive;
    for await (const page of client.pages(path, first, follow)) {
      let items = page.items as Item[];
      if (!server.unique) {
        // Drop what the previous page already held (the inclusive re-request repeats the ties).
        const keys = items.map(identity);
        items = items.filter((_, i) => !previous.has(keys[i]!));
        previous = new Set(keys);
      }
      yielded = true;
      yield { items, ordered: server.use === "start" };
      if (opts.signal?.aborted) return;
      if (server.use === "stop" && sinceMs !== undefined && items.some((it) => settledBefore(it, opts.key!, sinceMs))) {
        result.complete = false;
        return;
      }
    }
  } catch (e) {
    const refused = e instanceof HerokuHttpError && e.status === 416 && !yielded;
    if (!refused && !(e instanceof RepeatedRange)) throw e;
    if (refused) {
      // Parents walked concurrently may each meet the refusal; say it once.
      const streams = refusedRanges.get(client) ?? new Set();
      if (!streams.has(spec.stream)) log.warn(`${spec.stream}: Heroku refused a Range on ${server.field} (416); reading by id for the rest of this run`);
      refusedRanges.set(client, streams.add(spec.stream));
    } else {
      log.warn(`${spec.stream}: too many items share one ${server.field} for a tie-safe Range; reading ${path} by id instead`);
    }
    result.complete = true;
    yield* byId(client, spec, path, opts, true);
  }
}

/** The default walk: by the list's first Range field, or by `id` after a server-side Range failed. */
async function* byId(client: HerokuClient, spec: HerokuStreamSpec, path: string, opts: WalkOptions, fallback = false): AsyncGenerator<WalkPage> {
  const field = fallback ? "id" : (spec.ranges[0] ?? "id");
  for await (const page of client.pages(path, `${field} ..; max=${PAGE_MAX}`)) {
    yield { items: page.items as Item[], ordered: false };
    if (opts.signal?.aborted) return;
  }
}

/** `updated_at ]2025-01-01T00:00:00Z..; max=1000` -> `updated_at 2025-01-01T00:00:00Z..; max=1000`. */
function inclusive(page: Page): string | undefined {
  const next = page.nextRange;
  if (next === undefined) return undefined;
  const m = /^(\s*[A-Za-z_][\w.]*\s+)\](.*)$/.exec(next);
  return m ? `${m[1]}${m[2]}` : next;
}

/** A record older than the bookmark that will not change any more (no longer pending). */
function settledBefore(item: Item, key: string, sinceMs: number): boolean {
  const v = item[key];
  if (typeof v !== "string") return false;
  const t = Date.parse(v);
  return Number.isFinite(t) && t < sinceMs && item.status !== "pending";
}

/** What tells two items of one list apart (their id; the whole item when there is none). */
function identity(item: Item): string {
  return typeof item.id === "string" || typeof item.id === "number" ? String(item.id) : JSON.stringify(item);
}

// Every Heroku stream, from one definition row (catalog/heroku/streams.json):
// the single `account` object, top-level lists, children of a parent (apps,
// add-ons, teams, spaces, pipelines, ...) and grandchildren (team member apps,
// test cases), the single objects of a parent (a space's NAT, an app's config
// var names), and the usage lists that take a start/end query. One generic
// implementation; no class per resource.
//
// Bookmarks (state.bookmarks[<stream>]):
//   top-level INCREMENTAL  {"replication_key": "updated_at", "replication_key_value": "<max>"}
//   child INCREMENTAL      {"replication_key": "updated_at", "replication_key_value": "<cutoff>",
//                           <refresh fields>, "done": ["<parent>", ...]}
//   child FULL_TABLE       {<refresh fields>, "done": [...]}
// A child stream reads only the parents refresh.ts picks (changed, new, or
// due by its family's interval); its refresh fields (a signal cutoff, 48
// slot times, a short `pending` list) replace the one-value-per-parent
// `partitions` map of earlier versions, which is still read (and the Meltano
// SDK's `partitions` list is read as it: fromSdkPartitions). `done` lists the
// parents finished in an unfinished pass (skipped when it resumes; cleared
// when it completes), and `version` that pass's version. A snapshot child
// (deletes.ts: every FULL_TABLE child, and the INCREMENTAL ones that are not
// history) emits every child of each parent it reads under its pass's version
// and activates the oldest slot's read time after each pass. `<parent>` is the
// parent's path parameters joined by "/" (an app id; "<team id>/<member
// email>" for team member apps).
import { z } from "zod";
import type { PartitionValue, Stream, SyncContext } from "../singer/stream.ts";
import type { Bookmark } from "../singer/state.ts";
import { getOwn, setOwn } from "../own.ts";
import { RunError, StreamSkipped } from "../errors.ts";
import type { Settings } from "../config.ts";
import { log } from "../log.ts";
import { HerokuHttpError } from "./client.ts";
import type { HerokuClient } from "./client.ts";
import type { HerokuStreamSpec } from "./definitions.ts";
import type { ParentRegistry } from "./registry.ts";
import { appFilter, checkKey, childPath, enrich, newer, partitionKey, pool } from "./records.ts";
import type { ParentRow } from "./records.ts";
import { walk } from "./walk.ts";
import type { Item } from "./walk.ts";
import { afterPass, createdSince, RefreshBookmark, signalOf, SLOTS } from "./refresh.ts";
import type { RefreshSchedule } from "./schedule.ts";
import { versioned, versionToActivate } from "./deletes.ts";
import { KeyTally, knownParents } from "./arrivals.ts";

/** How far Heroku's Date header may run ahead of the updated_at it stamps. */
const SKEW_MS = 5 * 60_000;

const datetime = z.iso.datetime({ offset: true, error: "expected an RFC 3339 date-time" });

/** The bookmark of a Heroku stream (see the shapes above). */
export const ApiBookmark = z.object({
  replication_key: z.string().optional(),
  replication_key_value: datetime.optional(),
  /** The child bookmark of earlier versions (one value per parent); read once, then replaced by the refresh fields. */
  partitions: z.record(z.string(), datetime, { error: "expected an object of parent -> RFC 3339 date-time" }).optional(),
  done: z.array(z.string(), { error: "expected a list of parents" }).optional(),
  version: z.number({ error: "expected a version number" }).int().optional(),
  ...RefreshBookmark.shape,
});
export type ApiBookmark = z.infer<typeof ApiBookmark>;

export interface HerokuDeps {
  readonly client: HerokuClient;
  readonly settings: Settings;
  readonly registry: ParentRegistry;
  /** Which parents each child stream reads this run. */
  readonly schedule: RefreshSchedule;
  /** Called when a child stream starts fanning out (the run's request estimate). */
  readonly onFanOut?: (stream: string) => Promise<void>;
  /** Whether this run's shard reads the stream at all: streams of no app belong to shard 1 (src/shard.ts). */
  readonly inShard?: (spec: HerokuStreamSpec) => boolean;
  /** Whether other shards write the stream's table too: an ACTIVATE_VERSION of one shard would drop the others' rows. */
  readonly sharesTable?: (spec: HerokuStreamSpec) => boolean;
}

export function herokuStream(spec: HerokuStreamSpec, deps: HerokuDeps): Stream {
  const key = spec.replication_key;
  return {
    id: spec.stream,
    schema: spec.schema,
    keyProperties: spec.key_properties,
    validReplicationKeys: key ? [key] : [],
    defaultReplicationMethod: key ? "INCREMENTAL" : "FULL_TABLE",
    selectedByDefault: spec.selected_by_default,
    extraMetadata: [
      {
        breadcrumb: [],
        metadata: { "heroku-endpoint": spec.path, "heroku-scope": spec.scope, ...(spec.parent ? { "heroku-parent": spec.parent } : {}) },
      },
    ],
    bookmark: ApiBookmark,
    ...(spec.parent !== null ? { fromPartitions: fromSdkPartitions } : {}),
    sync: async (ctx) => {
      if (deps.inShard && !deps.inShard(spec)) {
        log.info(`${spec.stream}: read by shard 1 (it belongs to no app); this is shard ${deps.settings.shard.index} of ${deps.settings.shard.count}`);
        return;
      }
      try {
        if (spec.single && spec.parent === null) await syncSingle(spec, deps, ctx);
        else if (spec.parent === null) await syncTop(spec, deps, ctx);
        else await syncChild(spec, deps, ctx);
      } catch (e) {
        if (e instanceof HerokuHttpError && e.status === 403) throw forbidden(spec, e);
        throw e;
      }
    },
  };
}

/**
 * The Meltano SDK's per-parent bookmarks (src/singer/sdk-state.ts) as this
 * tap's earlier child bookmark, one value per parent, which the refresh logic
 * reads as a completed pass (refresh.ts, migrate). A parent is named by its
 * context's values joined by "/", as partitionKey names ours; of the names,
 * only their count is read (the request estimate).
 */
function fromSdkPartitions(values: readonly PartitionValue[], key: string, current: Bookmark): ApiBookmark | undefined {
  if (current.slots !== undefined) return undefined; // this tap's own schedule
  const partitions: Record<string, string> = {};
  for (const { context, value } of values) {
    const name = Object.values(context).map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join("/");
    const prior = getOwn(partitions, name) as string | undefined;
    // Two partitions of one parent (the SDK itself refuses such a file): the older value, so that nothing is skipped.
    if (prior === undefined || Date.parse(String(value)) < Date.parse(prior)) setOwn(partitions, name, String(value));
  }
  return { ...(current as ApiBookmark), replication_key: key, partitions };
}

function forbidden(spec: HerokuStreamSpec, e: HerokuHttpError): StreamSkipped {
  const scope = spec.scope === "global"
    ? 'the "global" OAuth scope (heroku authorizations:create --scope global)'
    : spec.scope === "read-protected"
    ? 'the "read-protected" OAuth scope, or "global" (heroku authorizations:create --scope read-protected,identity)'
    : "access this token does not have";
  return new StreamSkipped(`Heroku refused ${e.path} (403 ${e.id}); stream ${spec.stream} needs ${scope}`);
}

/** What one stream's run reads: the replication key, and from when. */
function incremental(ctx: SyncContext): string | undefined {
  return ctx.replicationMethod === "INCREMENTAL" ? ctx.replicationKey : undefined;
}

const atOrAfter = (item: Item, key: string | undefined, sinceMs: number | undefined) => {
  if (key === undefined || sinceMs === undefined) return true;
  const v = item[key];
  if (typeof v !== "string") return true; // no value: never drop it
  const t = Date.parse(v);
  return !Number.isFinite(t) || t >= sinceMs;
};

const valueOf = (item: Item, key: string | undefined) => (key && typeof item[key] === "string" ? (item[key] as string) : undefined);

interface PageContext {
  readonly spec: HerokuStreamSpec;
  readonly deps: HerokuDeps;
  readonly ctx: SyncContext;
  readonly key: string | undefined;
  readonly sinceMs: number | undefined;
  readonly version: number | undefined;
  readonly keep: (item: Item) => boolean;
  /** Rows the registry will hold when this stream is also a parent, or undefined. */
  readonly collect: ParentRow[] | undefined;
  /** Called with every item in scope, written or not (the tally of a top-level list's ids). */
  readonly seen?: (item: Item) => void;
}

/**
 * Writes one page: each item gets its parent's keys, is kept only for the apps
 * in scope, is remembered as a parent when children need it, and is written
 * unless it is older than the bookmark. Returns the newest replication-key
 * value written so far.
 */
async function writePage(items: Item[], parent: ParentRow | undefined, p: PageContext, newest: string | undefined): Promise<string | undefined> {
  for (const item of items) {
    enrich(p.spec, item, parent);
    if (!p.keep(item)) continue;
    p.collect?.push(p.deps.registry.project(p.spec.stream, item));
    p.seen?.(item);
    if (!atOrAfter(item, p.key, p.sinceMs)) continue;
    checkKey(p.spec, item);
    await p.ctx.writeRecord(item, p.version);
    newest = newer(newest, valueOf(item, p.key));
  }
  return newest;
}

// ------------------------------------------------------------------ account

async function syncSingle(spec: HerokuStreamSpec, deps: HerokuDeps, ctx: SyncContext): Promise<void> {
  const key = incremental(ctx);
  const previous = ApiBookmark.parse(ctx.bookmark ?? {});
  const since = key ? (previous.replication_key === key ? previous.replication_key_value : undefined) ?? ctx.startDate : undefined;
  const item = enrich(spec, (await deps.client.getOnce(spec.path)) as Item, undefined);
  checkKey(spec, item);
  const version = key ? undefined : Date.now();
  if (atOrAfter(item, key, since ? Date.parse(since) : undefined)) await ctx.writeRecord(item, version);
  if (key) {
    const newest = newer(since, valueOf(item, key));
    if (newest) await ctx.saveBookmark({ replication_key: key, replication_key_value: newest });
  } else await ctx.activateVersion(version!);
}

// ------------------------------------------------------------------ top-level lists

async function syncTop(spec: HerokuStreamSpec, deps: HerokuDeps, ctx: SyncContext): Promise<void> {
  const key = incremental(ctx);
  const previous = ApiBookmark.parse(ctx.bookmark ?? {});
  const since = key ? (previous.replication_key === key ? previous.replication_key_value : undefined) ?? ctx.startDate : undefined;
  const sinceMs = since ? Date.parse(since) : undefined;
  const keep = appFilter(spec, deps.settings);
  // An INCREMENTAL list read whole has its ids tallied, so that an item that went is seen (deletes.ts); its
  // records carry the run's version, which a later swap activates. (Apps alone are read from the bookmark.)
  const tracked = key !== undefined && !spec.query && !deps.sharesTable?.(spec) ? trackTop(spec, previous) : undefined;
  const version = key ? tracked?.version : Date.now();
  const collect = deps.registry.needs(spec.stream) && !deps.registry.has(spec.stream) ? ([] as ParentRow[]) : undefined;
  let newest = since;
  const save = (value: string) => ctx.saveBookmark({ replication_key: key, replication_key_value: value, ...tracked?.fields(false) });

  const result = { complete: true };
  for (const path of withQuery(spec, spec.path, ctx)) {
    for await (const page of walk(deps.client, spec, path, { key, since, everything: collect !== undefined, signal: ctx.signal }, result)) {
      newest = await writePage(page.items, undefined, { spec, deps, ctx, key, sinceMs, version, keep, collect, seen: tracked?.seen }, newest);
      if (ctx.signal.aborted) return;
      // Ascending by the replication key: every record up to `newest` is written.
      if (key && page.ordered && newest) await save(newest);
    }
  }
  if (collect && result.complete) deps.registry.offer(spec.stream, collect);
  if (tracked && result.complete && tracked.changed()) {
    // Items went, or came without being created: every item again under a new version, then that version.
    log.info(`${spec.stream}: some records went since the last run (or came without being created); reading the list again to send it whole`);
    const swap = Date.now();
    for (const path of withQuery(spec, spec.path, ctx)) {
      for await (const page of walk(deps.client, spec, path, { key, everything: true, signal: ctx.signal }, { complete: true })) {
        newest = await writePage(page.items, undefined, { spec, deps, ctx, key, sinceMs: undefined, version: swap, keep, collect: undefined }, newest);
        if (ctx.signal.aborted) return;
      }
    }
    await ctx.activateVersion(swap);
  }
  if (key) {
    if (newest) await ctx.saveBookmark({ replication_key: key, replication_key_value: newest, ...tracked?.fields(result.complete) });
  } else await ctx.activateVersion(version!);
}

/**
 * The ids of a top-level list, tallied per slot as arrivals.ts does for parents:
 * those not created since the last run must be the ones it recorded, or
 * something went (or came without being created).
 */
function trackTop(spec: HerokuStreamSpec, previous: ApiBookmark) {
  const cutoff = previous.signal === undefined ? undefined : Date.parse(previous.signal);
  const old = new KeyTally();
  const all = new KeyTally();
  let created = cutoff;
  return {
    version: Date.now(),
    seen: (item: Item) => {
      const id = spec.key_properties.map((k) => String(item[k])).join("/");
      all.add(id);
      const row = { created_at: typeof item.created_at === "string" ? item.created_at : "" };
      if (!createdSince(row, cutoff) || row.created_at === "") old.add(id);
      const t = Date.parse(row.created_at);
      if (Number.isFinite(t) && (created === undefined || t > created)) created = t;
    },
    changed: () => previous.known !== undefined && !old.matches(previous.known),
    /** The record to keep: this run's when the walk was complete, else the last one. */
    fields: (complete: boolean) =>
      complete
        ? { known: all.encode(), ...(created !== undefined ? { signal: new Date(created).toISOString() } : {}) }
        : { ...(previous.known ? { known: previous.known } : {}), ...(previous.signal ? { signal: previous.signal } : {}) },
  };
}

// ------------------------------------------------------------------ children

async function syncChild(spec: HerokuStreamSpec, deps: HerokuDeps, ctx: SyncContext): Promise<void> {
  const key = incremental(ctx);
  const parentName = spec.parent!;
  const refresh = spec.refresh!;
  const previous = ApiBookmark.parse(ctx.bookmark ?? {});
  const sameKind = key ? previous.replication_key === key : previous.replication_key === undefined;
  const state = deps.schedule.bookmarkOf(spec, ctx.replicationMethod);
  const done = new Set(sameKind ? (previous.done ?? []) : []);
  const runS = deps.schedule.runS(state);
  // A snapshot stream: every record of the pass carries its version (kept when a stopped pass resumes).
  const versions = versioned(spec, ctx.replicationMethod);
  const version = versions ? (done.size > 0 ? previous.version : undefined) ?? runS * 1000 : undefined;
  const passS = version !== undefined ? Math.floor(version / 1000) : runS;
  const versionedFrom = state.versioned_from ?? runS;
  const keep = appFilter(spec, deps.settings);
  const collect = deps.registry.needs(spec.stream) && !deps.registry.has(spec.stream) ? ([] as ParentRow[]) : undefined;

  let parents: ParentRow[];
  try {
    parents = await deps.registry.get(parentName, ctx.signal);
  } catch (e) {
    if (e instanceof HerokuHttpError && e.status === 403) {
      throw new StreamSkipped(`Heroku refused ${e.path} (403 ${e.id}), the parent list of ${spec.stream}; it needs the scope of ${parentName}`);
    }
    if (e instanceof RunError && !e.fatal) throw new RunError(`${spec.stream}: listing its parents (${parentName}) failed: ${e.message}`);
    throw e;
  }
  if (ctx.signal.aborted) return;
  const plan = deps.schedule.todo(spec, parents);
  const keyed = parents.map((row) => ({ key: partitionKey(spec, row), row }));
  const todo = keyed.filter((p) => plan.read.has(p.key) && !done.has(p.key));
  if (plan.arrived.size > 0) {
    log.info(
      `${spec.stream}: ${plan.arrived.size} ${parentName} new to the state though created before its last pass (transferred in, or added to the apps setting)${
        plan.unclear ? ` or in ${plan.unclear} of ${SLOTS} refresh slots whose change is ambiguous` : ""
      }: their children are read in full`,
    );
  }
  if (done.size > 0) log.info(`${spec.stream}: resuming an unfinished pass: ${done.size} ${parentName} done, ${todo.length} to go`);
  else if (todo.length < parents.length) {
    log.info(`${spec.stream}: ${todo.length} of ${parents.length} ${parentName} to read (changed, new, or due for refresh)`);
  }
  await deps.onFanOut?.(spec.stream);

  // Records updated before the stream's cutoff were emitted; a parent created since the last pass, or new to
  // the state without being created (arrivals.ts), starts at start_date.
  const cutoff = state.signal ? Date.parse(state.signal) : undefined;
  const sinceFor = (pkey: string, row: ParentRow): string | undefined => {
    if (!key || versions) return undefined; // a snapshot emits every child it reads
    const isNew = createdSince(row, cutoff) || plan.arrived.has(pkey);
    return isNew ? ctx.startDate : newer(ctx.startDate, state.replication_key_value);
  };
  // Heroku's clock before the first child request (less a margin for the skew between its
  // front ends, which date responses, and its databases, which stamp updated_at); without a
  // Date header, the newest timestamp of the parent listing (older, so only more repeats).
  const watermark = deps.client.serverDateMs !== undefined ? deps.client.serverDateMs - SKEW_MS : keyed.reduce<number | undefined>((m, p) => {
    const t = signalOf(p.row, refresh);
    return t !== undefined && (m === undefined || t > m) ? t : m;
  }, undefined);
  // Parents with a child still pending: read again next run. A resumed pass keeps those its stopped part found.
  const pending = new Set<string>(sameKind ? (previous.pending ?? []).filter((k) => done.has(k)) : []);
  const unfinished = (): ApiBookmark => {
    const carried = [...new Set([...(sameKind ? (previous.pending ?? []) : []), ...pending])];
    return {
      ...(sameKind ? previous : {}),
      ...(key ? { replication_key: key } : {}),
      ...(version !== undefined ? { version, versioned_from: versionedFrom } : {}),
      done: [...done],
      ...(carried.length ? { pending: carried } : {}),
    };
  };

  const gone = new Set<string>();
  let complete = true;
  await pool(
    todo,
    deps.settings.max_concurrency,
    async ({ key: pkey, row: parent }) => {
      const path = childPath(spec, parent);
      if (path === undefined) {
        log.warn(`${spec.stream}: a ${parentName} record lacks ${Object.values(spec.params).join(", ")}; skipped`);
        return;
      }
      const since = sinceFor(pkey, parent);
      const sinceMs = since ? Date.parse(since) : undefined;
      const result = { complete: true };
      try {
        if (spec.single) {
          // A snapshot: one object of this parent (or the names of its config vars).
          await writePage(await objectOf(spec, deps, parent, path), parent, { spec, deps, ctx, key, sinceMs, version, keep, collect }, undefined);
          done.add(pkey);
          await ctx.saveBookmark(unfinished());
          return;
        }
        for (const windowed of withQuery(spec, path, ctx)) {
          for await (const page of walk(deps.client, spec, windowed, { key, since, everything: collect !== undefined, signal: ctx.signal }, result)) {
            await writePage(page.items, parent, { spec, deps, ctx, key, sinceMs, version, keep, collect }, undefined);
            // A child still pending changes again without any parent signal: read this parent next run too.
            if (page.items.some((it) => it.status === "pending")) pending.add(pkey);
            if (ctx.signal.aborted) {
              complete = false;
              return;
            }
          }
        }
      } catch (e) {
        if (e instanceof HerokuHttpError && e.status === 404) {
          // The parent vanished during the run: nothing to read, nothing to keep.
          log.info(`${spec.stream}: ${path} is gone (404 ${e.id}), deleted since ${parentName} were listed; skipped`);
          gone.add(pkey);
          done.add(pkey);
          return;
        }
        throw e;
      }
      if (!result.complete) complete = false;
      done.add(pkey);
      await ctx.saveBookmark(unfinished());
    },
    ctx.signal,
  );
  if (ctx.signal.aborted) return;

  // The pass is complete: slots read in full move on (a snapshot's to the time of its version), the cutoffs
  // advance, the next pass starts afresh.
  const listed = keyed.filter((p) => !gone.has(p.key));
  const after = afterPass(state, refresh, listed, done, [...pending], plan.credit, passS, watermark);
  if (collect && complete && gone.size === 0 && todo.length === parents.length) deps.registry.offer(spec.stream, collect);
  const fields = { ...after.fields, ...(versions ? { versioned_from: versionedFrom } : {}), known: knownParents(listed.map((p) => p.key)) };
  if (versions && !deps.sharesTable?.(spec)) {
    // Every live child was emitted at its slot's last read, so with a version at least the oldest slot's:
    // rows older than that are of children (or parents) that disappeared.
    const activate = versionToActivate(state.slots, after.fields.slots, versionedFrom);
    if (activate !== undefined) await ctx.activateVersion(activate);
  }
  if (key) await ctx.saveBookmark({ replication_key: key, ...(after.emitFrom ? { replication_key_value: after.emitFrom } : {}), ...fields });
  else await ctx.saveBookmark(fields);
}

// ------------------------------------------------------------------ one object per parent

/**
 * The records of a parent's single object: the object itself, none when the
 * parent has none (Heroku answers 404: a pipeline without review apps, a
 * space without NAT), or for `names_only` (config vars) one `{name}` per
 * name: the values are dropped here, as the answer is read, and never reach a
 * record or a log. Names that Heroku Postgres discovery already read this run
 * are reused (the client keeps the names, never the values).
 */
async function objectOf(spec: HerokuStreamSpec, deps: HerokuDeps, parent: ParentRow, path: string): Promise<Item[]> {
  if (spec.names_only) {
    const known = spec.parent === "apps"
      ? [parent.id, parent.name].map((k) => (k === undefined ? undefined : deps.client.configVarNames.get(String(k)))).find((n) => n !== undefined)
      : undefined;
    const names = known ?? (await optional(deps.client.get(path), (body) => Object.keys(body ?? {})));
    return names.map((name) => ({ name }));
  }
  return optional(deps.client.get(path), (body) => [body as Item]);
}

/** A 404 of a single object means the parent has none: no records. */
async function optional<T>(request: Promise<unknown>, read: (body: Record<string, unknown> | null) => T[]): Promise<T[]> {
  try {
    return read((await request) as Record<string, unknown> | null);
  } catch (e) {
    if (e instanceof HerokuHttpError && e.status === 404) return [];
    throw e;
  }
}

// ------------------------------------------------------------------ usage query

/**
 * The paths to read for a stream with query parameters (the usage streams:
 * `start` from start_date, `end` today). Heroku refuses a long range (422 "The
 * requested usage range is too large"), so the range is read in windows: a
 * year of days, or ten years of months, a request. Without a query: the path.
 */
function withQuery(spec: HerokuStreamSpec, path: string, ctx: SyncContext): string[] {
  if (!spec.query) return [path];
  const values: Record<string, { at: string; format: string }> = {};
  for (const [name, template] of Object.entries(spec.query)) {
    const [source, format = "YYYY-MM-DD"] = template.split(":");
    const at = source === "start_date" ? ctx.startDate : source === "now" ? new Date().toISOString() : undefined;
    if (at === undefined) {
      throw new StreamSkipped(`stream ${spec.stream} needs the start_date setting (it is sent as \`${name}\`); set start_date to read it`);
    }
    values[name] = { at, format: format! };
  }
  const query = (v: Record<string, string>) => `${path}?${new URLSearchParams(v).toString()}`;
  const text = (at: string, format: string) => (format === "YYYY-MM" ? at.slice(0, 7) : at.slice(0, 10));
  const { start, end } = values;
  if (!start || !end || start.format !== end.format) return [query(Object.fromEntries(Object.entries(values).map(([n, v]) => [n, text(v.at, v.format)])))];
  const monthly = start.format === "YYYY-MM";
  const windows: string[] = [];
  const last = new Date(text(end.at, end.format) + (monthly ? "-01" : "") + "T00:00:00Z");
  for (let from = new Date(text(start.at, start.format) + (monthly ? "-01" : "") + "T00:00:00Z"); from <= last;) {
    const to = new Date(from);
    if (monthly) to.setUTCMonth(to.getUTCMonth() + 119);
    else to.setUTCDate(to.getUTCDate() + 365);
    const until = to < last ? to : last;
    windows.push(query({ start: text(from.toISOString(), start.format), end: text(until.toISOString(), end.format) }));
    from = new Date(until);
    if (monthly) from.setUTCMonth(from.getUTCMonth() + 1);
    else from.setUTCDate(from.getUTCDate() + 1);
  }
  return windows;
}

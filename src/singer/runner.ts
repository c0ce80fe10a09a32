// The sync loop shared by every stream: read the user's selection, write
// SCHEMA, let the stream write its records, and carry state and metrics.
import { isStreamSelected, metadataAt, pickSchema, selectedProperties, StreamMetadata } from "./catalog.ts";
import type { Catalog, ReplicationMethod } from "./catalog.ts";
import type { Record_ } from "./messages.ts";
import { RawJson } from "./messages.ts";
import type { Bookmark, State } from "./state.ts";
import type { Stream, SyncContext, Unavailable } from "./stream.ts";
import type { MessageWriter } from "./writer.ts";
import { fail, ok, RunError, StreamSkipped, UsageError } from "../errors.ts";
import type { Result } from "../errors.ts";
import { Counter, log, metric } from "../log.ts";
import { formatIssue } from "../zod-issues.ts";
import { Progress, rate } from "./progress.ts";
import type { StreamSummary } from "./progress.ts";
import { setOwn } from "../own.ts";
import { adoptSdkBookmark } from "./sdk-state.ts";
import { setImmediate } from "node:timers";

export interface PlannedStream {
  readonly stream: Stream;
  readonly replicationMethod: ReplicationMethod;
  readonly replicationKey: string | undefined;
  readonly properties: ReadonlySet<string>;
}

/** The ids of the streams a catalog selects (for --test), its stream metadata checked as a sync would. */
export function selectedStreamIds(catalog: { file: string; value: Catalog }): Result<Set<string>> {
  const ids = new Set<string>();
  for (const [i, entry] of catalog.value.streams.entries()) {
    const md = StreamMetadata.safeParse(metadataAt(entry, []));
    if (!md.success) {
      return fail(new UsageError(`${catalog.file}: streams[${i}] (${entry.tap_stream_id}): ${formatIssue(md.error, "metadata", metadataAt(entry, []))}`));
    }
    if (isStreamSelected(entry)) ids.add(entry.tap_stream_id);
  }
  return ok(ids);
}

/**
 * Matches the catalog against the streams this tap has and checks the state's
 * bookmarks, so that every mistake in either file is found before any output.
 * A planned stream's bookmark written by the Meltano SDK is replaced, in the
 * state given, by what it maps onto (sdk-state.ts).
 * Without a catalog, the streams selected by default are synced.
 */
export function planSync(
  streams: readonly Stream[],
  catalog: { file: string; value: Catalog } | undefined,
  state: { file: string; value: State } | undefined,
  /** Streams, or groups of them, that cannot be read this run: a catalog that selects one skips it with the reason. */
  unavailable: readonly Unavailable[] = [],
): Result<PlannedStream[]> {
  const byId = new Map(streams.map((s) => [s.id, s]));
  const planned: PlannedStream[] = [];
  const entries = catalog?.value.streams ?? streams.map((s) => discoverEntry(s));
  const where = catalog?.file ?? "the default catalog";

  for (const [i, entry] of entries.entries()) {
    const at = `${where}: streams[${i}] (${entry.tap_stream_id})`;
    const md = StreamMetadata.safeParse(metadataAt(entry, []));
    if (!md.success) return fail(new UsageError(`${at}: ${formatIssue(md.error, "metadata", metadataAt(entry, []))}`));
    if (!isStreamSelected(entry)) continue;
    const stream = byId.get(entry.tap_stream_id);
    const id = entry.tap_stream_id;
    const away = unavailable.find((u) => u.covers(id));
    if (!stream && away) {
      // A database that cannot be reached tonight should not stop the rest of the run.
      log.warn(`${entry.tap_stream_id}: skipped: ${away.reason}`);
      continue;
    }
    if (!stream) {
      return fail(new UsageError(`${at}: the stream is selected but this tap has no such stream; run --discover for the current list`));
    }
    const method = md.data["replication-method"] ?? entry.replication_method ?? stream.defaultReplicationMethod;
    if (method === "LOG_BASED") {
      return fail(new UsageError(`${at}: replication-method LOG_BASED is not supported (Heroku grants no logical replication); use INCREMENTAL or FULL_TABLE`));
    }
    let key: string | undefined;
    if (method === "INCREMENTAL") {
      if (stream.validReplicationKeys.length === 0) {
        return fail(new UsageError(`${at}: replication-method INCREMENTAL is impossible for this stream (it has no replication key); use FULL_TABLE`));
      }
      key = md.data["replication-key"] ?? entry.replication_key ?? stream.validReplicationKeys[0];
      if (!key || !stream.validReplicationKeys.includes(key)) {
        return fail(
          new UsageError(`${at}: replication-key "${key}" is not one of the stream's valid replication keys (${stream.validReplicationKeys.join(", ")})`),
        );
      }
    }
    const automatic = [...stream.keyProperties, ...(key && !stream.computedProperties?.includes(key) ? [key] : [])];
    const properties = selectedProperties({ ...entry, schema: stream.schema }, automatic);
    // A catalog that deselects a column still names it; one it does not name is kept.
    planned.push({ stream, replicationMethod: method, replicationKey: key, properties: restrictTo(entry, properties) });
  }

  // The tap's own order (parents before children), whatever order the catalog lists them in.
  const order = new Map(streams.map((s, i) => [s.id, i]));
  planned.sort((a, b) => order.get(a.stream.id)! - order.get(b.stream.id)!);

  for (const p of planned) {
    const raw = state?.value.bookmarks[p.stream.id];
    if (raw === undefined) continue;
    const at = `bookmarks.${p.stream.id}`;
    // A bookmark the Meltano SDK wrote is read as this tap's own, in the state the run goes on from.
    const adopted = adoptSdkBookmark(raw, at, p.stream, p.replicationMethod === "INCREMENTAL" ? p.replicationKey : undefined);
    if (!adopted.ok) return fail(new UsageError(`${state!.file}: ${adopted.error.message}`));
    const { bookmark, ignored, read } = adopted.value;
    if (ignored) log.warn(`${state!.file}: ${at}: ${ignored}`);
    if (read) log.info(`${state!.file}: ${at}: ${read}`);
    const parsed = p.stream.bookmark.safeParse(bookmark);
    if (!parsed.success) {
      return fail(new UsageError(`${state!.file}: ${formatIssue(parsed.error, at, bookmark)}`));
    }
    if (bookmark !== raw) setOwn(state!.value.bookmarks, p.stream.id, bookmark);
  }
  return ok(planned);
}

/** Properties the catalog's own schema leaves out are not emitted. */
function restrictTo(entry: Catalog["streams"][number], properties: Set<string>): Set<string> {
  const listed = entry.schema.properties;
  if (!listed) return properties;
  return new Set([...properties].filter((p) => p in listed));
}

/** The catalog entry discovery publishes for a stream. */
export function discoverEntry(stream: Stream): Catalog["streams"][number] {
  const incremental = stream.validReplicationKeys.length > 0;
  const streamMd: Record<string, unknown> = {
    inclusion: "available",
    "selected-by-default": stream.selectedByDefault,
    "table-key-properties": [...stream.keyProperties],
    "valid-replication-keys": [...stream.validReplicationKeys],
    "replication-method": stream.defaultReplicationMethod,
  };
  if (!incremental) streamMd["forced-replication-method"] = "FULL_TABLE";
  if (stream.defaultReplicationMethod === "INCREMENTAL") streamMd["replication-key"] = stream.validReplicationKeys[0];

  const extra = stream.extraMetadata ?? [];
  const extraAt = (b: string[]) => extra.find((m) => m.breadcrumb.join("/") === b.join("/"))?.metadata ?? {};
  // The replication key is automatic only where it is in use by default; on a
  // FULL_TABLE stream a user may still deselect that column.
  const byDefault = stream.defaultReplicationMethod === "INCREMENTAL" ? stream.validReplicationKeys.slice(0, 1) : [];
  const automatic = new Set([...stream.keyProperties, ...byDefault]);
  const metadata = [
    { breadcrumb: [], metadata: { ...streamMd, ...extraAt([]) } },
    ...Object.keys(stream.schema.properties ?? {}).map((name) => ({
      breadcrumb: ["properties", name],
      metadata: {
        inclusion: automatic.has(name) ? "automatic" : "available",
        "selected-by-default": true,
        ...extraAt(["properties", name]),
      },
    })),
  ];
  return {
    tap_stream_id: stream.id,
    stream: stream.id,
    ...stream.extraEntry,
    key_properties: [...stream.keyProperties],
    schema: stream.schema,
    metadata,
  };
}

export interface RunOptions {
  readonly writer: MessageWriter;
  readonly state: State;
  readonly startDate: string | undefined;
  readonly signal: AbortSignal;
  /** A STATE line is written when a bookmark is saved and this many records or seconds have passed. */
  readonly stateEvery?: { records: number; seconds: number };
  readonly progress?: Progress;
}

/**
 * Syncs the planned streams in order, resuming an interrupted one first.
 * Consecutive streams that may run in parallel (a database's tables) are
 * synced together: up to `parallel` of a group at once, the groups beside
 * each other. The writer serialises their messages; each stream's own
 * messages stay in order.
 */
export async function runSync(plan: readonly PlannedStream[], opts: RunOptions): Promise<StreamSummary[]> {
  const ordered = resumeFirst(plan, opts.state.currently_syncing);
  const run: RunScope = {
    ...opts,
    every: opts.stateEvery ?? { records: 10_000, seconds: 30 },
    progress: opts.progress ?? new Progress(),
    running: [],
  };
  const summaries: StreamSummary[] = [];
  for (let i = 0; i < ordered.length && !opts.signal.aborted;) {
    let j = i;
    while (j < ordered.length && isParallel(ordered[j]!)) j++;
    if (j === i) {
      summaries.push(await syncStream(ordered[i]!, run));
      i++;
    } else {
      summaries.push(...(await syncTogether(ordered.slice(i, j), run)));
      i = j;
    }
  }
  await opts.writer.flush();
  return summaries;
}

const isParallel = (p: PlannedStream) => p.stream.group !== undefined && (p.stream.parallel ?? 0) >= 1;

interface RunScope extends Omit<RunOptions, "stateEvery" | "progress"> {
  readonly every: { records: number; seconds: number };
  readonly progress: Progress;
  /** Streams under way, in the order they started: the first is currently_syncing. */
  readonly running: string[];
  /** With others running beside it, a stream lets the event loop turn every this many records. */
  readonly yieldEvery?: number;
}

/**
 * A stream whose rows arrive faster than they are encoded (a near server)
 * would keep the event loop to itself: libuv reads a ready socket many times
 * before it looks at the others, so the other tables' sessions wait hundreds
 * of milliseconds for a reply. Handing the turn over every 1,000 records
 * (a promise the reader waits for) costs a few microseconds.
 */
const YIELD_EVERY = 1000;
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/**
 * Streams of several groups at once: one worker per session of each group's
 * budget takes the group's next stream. A fatal error stops the others (as a
 * stop would: they save their place) and is thrown once all have ended.
 */
async function syncTogether(streams: readonly PlannedStream[], run: RunScope): Promise<StreamSummary[]> {
  const stop = new AbortController();
  const onStop = () => stop.abort();
  run.signal.addEventListener("abort", onStop, { once: true });
  if (run.signal.aborted) stop.abort();
  const groups = new Map<string, number[]>();
  streams.forEach((p, i) => groups.set(p.stream.group!, [...(groups.get(p.stream.group!) ?? []), i]));
  const widths = [...groups.values()].map((g) => Math.min(g.length, streams[g[0]!]!.stream.parallel!));
  const alone = widths.reduce((a, b) => a + b, 0) === 1;
  const scope: RunScope = { ...run, signal: stop.signal };
  const out: (StreamSummary | undefined)[] = streams.map(() => undefined);
  let fatal: { e: unknown } | undefined;
  const worker = async (queue: number[]) => {
    for (let i = queue.shift(); i !== undefined && !stop.signal.aborted; i = queue.shift()) {
      try {
        // Several streams at once share no live progress line: each logs its own every 30 s.
        out[i] = await syncStream(streams[i]!, alone ? scope : { ...scope, progress: new Progress(30, false), yieldEvery: YIELD_EVERY });
      } catch (e) {
        fatal ??= { e };
        stop.abort();
      }
    }
  };
  try {
    await Promise.all([...groups.values()].flatMap((queue, g) => Array.from({ length: widths[g]! }, () => worker(queue))));
  } finally {
    run.signal.removeEventListener("abort", onStop);
  }
  if (fatal) throw fatal.e;
  return out.filter((s): s is StreamSummary => s !== undefined);
}

/** One stream: SCHEMA, its records through the stream's sync, its bookmarks, and STATE. */
async function syncStream(p: PlannedStream, run: RunScope): Promise<StreamSummary> {
  const { writer, state, every, progress } = run;
  const id = p.stream.id;
  const started = Date.now();
  let records = 0;
  let sinceState = 0;
  let lastState = started;
  const timeExtracted = new Date().toISOString();
  const props = p.properties;
  const all = Object.keys(p.stream.schema.properties ?? {}).every((k) => props.has(k));

  run.running.push(id);
  state.currently_syncing = run.running[0]!;
  progress.start(id);
  await writer.schema({
    stream: id,
    schema: pickSchema(p.stream.schema, props),
    key_properties: [...p.stream.keyProperties],
    ...(p.replicationKey ? { bookmark_properties: [p.replicationKey] } : {}),
  });

  const counted = new Counter("record_count", { stream: id });
  const writeState = async () => {
    await writer.state(state);
    counted.add(sinceState);
    counted.tick();
    sinceState = 0;
    lastState = Date.now();
  };

  const ctx: SyncContext = {
    replicationMethod: p.replicationMethod,
    replicationKey: p.replicationKey,
    properties: props,
    bookmark: state.bookmarks[id],
    startDate: run.startDate,
    signal: run.signal,
    writeRecord(record: Record_, version?: number) {
      records++;
      sinceState++;
      progress.record();
      const out = all || record instanceof RawJson ? record : pick(record, props);
      const written = writer.record(id, out, timeExtracted, version);
      return run.yieldEvery && records % run.yieldEvery === 0 ? written.then(nextTurn) : written;
    },
    async saveBookmark(bookmark: Bookmark, opts?: { now?: boolean }) {
      state.bookmarks[id] = bookmark;
      const due = sinceState >= every.records || Date.now() - lastState >= every.seconds * 1000;
      if (opts?.now || (due && writer.stateOutweighed())) await writeState();
    },
    activateVersion(version: number) {
      return writer.activateVersion({ stream: id, version });
    },
    progress(detail: string) {
      progress.setDetail(detail);
      progress.maybeShow();
    },
  };

  let outcome: StreamSummary["outcome"] = "done";
  let message: string | undefined;
  try {
    await p.stream.sync(ctx);
    if (run.signal.aborted) outcome = "stopped";
  } catch (e) {
    if (run.signal.aborted && ((e instanceof RunError && !e.fatal) || e instanceof StreamSkipped)) {
      // Cut short by the stop (a cancelled request, a reconnect given up): stopped, not failed.
      outcome = "stopped";
    } else if (e instanceof StreamSkipped) {
      outcome = "skipped";
      message = e.message;
      log.warn(`${id}: skipped: ${e.message}`);
    } else if (e instanceof RunError && !e.fatal) {
      outcome = "failed";
      message = e.message;
      log.error(`${id}: failed: ${e.message}`);
    } else {
      await writer.state(state).catch(() => undefined);
      throw e;
    }
  }
  // A stopped stream stays listed, so currently_syncing names one that did not finish.
  if (outcome !== "stopped") {
    run.running.splice(run.running.indexOf(id), 1);
    state.currently_syncing = run.running[0] ?? null;
  }
  await writeState();
  counted.flush();
  progress.end();
  const seconds = (Date.now() - started) / 1000;
  metric("timer", "sync_duration", seconds, { stream: id, status: outcome === "done" ? "succeeded" : outcome });
  log.info(`${id}: ${records} records in ${seconds.toFixed(1)} s (${rate(records, seconds)} records/s)${outcome === "done" ? "" : `, ${outcome}`}`);
  return { stream: id, records, seconds, outcome, ...(message ? { message } : {}) };
}

function resumeFirst(plan: readonly PlannedStream[], current: string | null | undefined): PlannedStream[] {
  const i = plan.findIndex((p) => p.stream.id === current);
  return i <= 0 ? [...plan] : [plan[i]!, ...plan.slice(0, i), ...plan.slice(i + 1)];
}

function pick(record: Record<string, unknown>, keep: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keep) if (Object.hasOwn(record, k)) setOwn(out, k, record[k]);
  return out;
}

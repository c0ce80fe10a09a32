// Shared by the Heroku API tests: catalogs that select streams, messages by
// type, the stream definitions, and the request arithmetic of a minimal walk.
import { readFileSync } from "node:fs";
import type { Message } from "../../src/singer/messages.ts";
import type { StreamDefinition } from "../../src/heroku/definitions.ts";
import type { Simulator } from "../../simulator/index.ts";
import { runTap, tempFiles } from "../helpers/tap.ts";
import type { RunOptions, RuntimeName } from "../helpers/tap.ts";

export const DEFINITIONS: StreamDefinition[] = JSON.parse(readFileSync(new URL("../../catalog/heroku/streams.json", import.meta.url), "utf8"));
export const BY_NAME = new Map(DEFINITIONS.map((d) => [d.stream, d]));
export const GLOBAL = DEFINITIONS.filter((d) => d.scope === "global").map((d) => d.stream);
export const USAGE = DEFINITIONS.filter((d) => d.query !== null).map((d) => d.stream);

export type Catalog = { streams: Array<{ tap_stream_id: string; metadata: Array<{ breadcrumb: string[]; metadata: Record<string, unknown> }> }> };
export type Rec = Record<string, unknown>;

/** The catalog with exactly `ids` selected, and a replication method and key for the streams named in `methods` and `keys`. */
export function selecting(catalog: Catalog, ids: readonly string[], methods: Record<string, string> = {}, keys: Record<string, string> = {}): Catalog {
  return {
    streams: catalog.streams.map((s) => ({
      ...s,
      metadata: s.metadata.map((m) =>
        m.breadcrumb.length === 0
          ? {
            ...m,
            metadata: {
              ...m.metadata,
              selected: ids.includes(s.tap_stream_id),
              ...(methods[s.tap_stream_id] ? { "replication-method": methods[s.tap_stream_id] } : {}),
              ...(keys[s.tap_stream_id] ? { "replication-key": keys[s.tap_stream_id] } : {}),
            },
          }
          : m
      ),
    })),
  };
}

export const byType = <T extends Message["type"]>(messages: Message[], type: T) => messages.filter((m): m is Extract<Message, { type: T }> => m.type === type);

export function recordsOf(messages: Message[]): Map<string, Rec[]> {
  const out = new Map<string, Rec[]>();
  for (const m of byType(messages, "RECORD")) {
    const list = out.get(m.stream) ?? [];
    list.push(m.record as Rec);
    out.set(m.stream, list);
  }
  return out;
}

export function lastState(messages: Message[]): { bookmarks: Record<string, Rec>; currently_syncing?: unknown } {
  return byType(messages, "STATE").at(-1)!.value as { bookmarks: Record<string, Rec> };
}

export const keyOf = (stream: string, r: Rec) => BY_NAME.get(stream)!.key_properties.map((k) => String(r[k])).join("|");

/** Discovers once with the given config; returns the catalog. */
export async function discover(config: string): Promise<Catalog> {
  const run = await runTap(["--config", config, "--discover"]);
  if (run.code !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as Catalog;
}

/** Runs a sync of `ids` with the given config (and state); returns the run. */
export async function sync(
  config: string,
  catalog: Catalog,
  ids: readonly string[],
  opts: { state?: unknown; runtime?: RuntimeName; methods?: Record<string, string>; onSpawn?: RunOptions["onSpawn"]; timeoutMs?: number } = {},
) {
  const f = tempFiles({ "catalog.json": selecting(catalog, ids, opts.methods), ...(opts.state ? { "state.json": opts.state } : {}) });
  const args = ["--config", config, "--catalog", f["catalog.json"]!, ...(opts.state ? ["--state", f["state.json"]!] : [])];
  return runTap(args, { runtime: opts.runtime ?? "node", onSpawn: opts.onSpawn, timeoutMs: opts.timeoutMs ?? 110_000 });
}

// ---------------------------------------------------------------- request arithmetic

const compiled = DEFINITIONS.map((d) => ({ d, parts: d.path.split("/").filter(Boolean) }));

/** The stream definition and path parameters of a concrete request path. */
export function matchPath(path: string): { d: StreamDefinition; params: Record<string, string> } | undefined {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  // literal segments first (/teams/permissions before /teams/{team})
  const candidates = compiled
    .filter((c) => c.parts.length === parts.length)
    .sort((a, b) => b.parts.filter((p) => !p.startsWith("{")).length - a.parts.filter((p) => !p.startsWith("{")).length);
  outer: for (const c of candidates) {
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i++) {
      const seg = c.parts[i]!;
      if (seg.startsWith("{")) params[seg.slice(1, -1)] = parts[i]!;
      else if (seg !== parts[i]) continue outer;
    }
    return { d: c.d, params };
  }
  return undefined;
}

export { pagesOf } from "../helpers/minimum.ts";

/** The simulator's item count behind one request path (with the usage query). */
export function servedCount(sim: Simulator, path: string, query: Record<string, string>): number {
  const m = matchPath(path);
  if (!m) throw new Error(`no stream for ${path}`);
  return sim.count(m.d.path, { ...m.params, ...query });
}

export function configFile(values: Record<string, unknown>): string {
  return tempFiles({ "config.json": { token: "test-token", postgres: { enabled: false }, retry_backoff_s: 0.01, ...values } })["config.json"]!;
}

/**
 * Bookmarks without what the tap's own clock writes (when each refresh slot
 * was read, when the run was, since when records carry versions, the share carried over): two runs at different
 * times that read the same data agree on everything else.
 */
export function serverSide(bookmarks: Record<string, Rec>): Record<string, Rec> {
  const out: Record<string, Rec> = {};
  for (const [stream, b] of Object.entries(bookmarks)) {
    const { ran_at: _r, credit: _c, versioned_from: _v, slots, ...rest } = b as Rec & { slots?: [number, number][] };
    out[stream] = slots ? { ...rest, slots: slots.map((s) => s[1]) } : rest;
  }
  return out;
}

/** refresh_hours that make every run read every parent's children (tests of per-parent mechanics). */
export const EVERY_RUN = { refresh_hours: { volatile: 0, activity: 0, daily: 0 } };

// What every Heroku record goes through, whatever its stream: parent and
// derived keys filled in, the `apps` setting applied, and its key checked.
import { RunError } from "../errors.ts";
import type { Settings } from "../config.ts";
import type { HerokuStreamSpec } from "./definitions.ts";
import type { Item } from "./walk.ts";
import { inShard } from "../shard.ts";

/** The few fields of a parent record its children need (ids, names, emails). */
export type ParentRow = Readonly<Record<string, string | number>>;

/** Adds parent_keys (from the parent row) and derived_keys (from nested fields) the payload lacks. */
export function enrich(spec: HerokuStreamSpec, item: Item, parent: ParentRow | undefined): Item {
  if (parent) {
    for (const [field, from] of Object.entries(spec.parent_keys)) {
      if (item[field] === undefined || item[field] === null) item[field] = parent[from] ?? null;
    }
  }
  for (const [field, path] of Object.entries(spec.derived_keys)) {
    if (item[field] === undefined || item[field] === null) item[field] = dig(item, path) ?? null;
  }
  return item;
}

/** A record without its key cannot be upserted by a target: fail the stream, naming the field. */
export function checkKey(spec: HerokuStreamSpec, item: Item): void {
  for (const k of spec.key_properties) {
    const v = item[k];
    if (v === undefined || v === null || v === "") {
      throw new RunError(`${spec.stream}: Heroku returned a record without its key property "${k}" (key: ${spec.key_properties.join(", ")})`);
    }
  }
}

function dig(item: Item, path: string): unknown {
  let v: unknown = item;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Streams whose records are apps themselves (filtered on id / name). */
const APP_RECORDS = new Set(["apps", "team_apps", "team_member_apps"]);
/** Pipeline-scoped streams whose `app` is the pipeline's own (review app), not a limit. */
const NOT_APP_SCOPED = new Set(["review_apps"]);

/**
 * The `apps` setting (names or ids) limits every app-scoped stream: apps and
 * team apps by their id / name, account- and pipeline-level lists by their
 * `app` reference, and children of apps through the parent registry (which
 * only holds the wanted apps).
 */
export function appFilter(spec: HerokuStreamSpec, settings: Settings): (item: Item) => boolean {
  const limited = settings.apps !== undefined && settings.apps.length > 0;
  const sharded = settings.shard.count > 1;
  if (!limited && !sharded) return () => true;
  const wanted = new Set(settings.apps ?? []);
  // An app in scope: named by the apps setting (when given) and in this run's shard (see src/shard.ts).
  const match = (ref: unknown) => {
    if (!ref || typeof ref !== "object") return false;
    const r = ref as Record<string, unknown>;
    return (!limited || wanted.has(String(r.id)) || wanted.has(String(r.name))) && inShard(r.id, settings.shard);
  };
  if (APP_RECORDS.has(spec.stream)) return match;
  if (spec.parent === "apps" || !refersToApp(spec)) return () => true;
  // A record of no app (an add-on billed to none) is the account's: shard 1 reads it.
  return (item) => (item.app === null || item.app === undefined ? inShard(undefined, settings.shard) : match(item.app));
}

const refersToApp = (spec: HerokuStreamSpec) => !NOT_APP_SCOPED.has(spec.stream) && spec.schema.properties !== undefined && "app" in spec.schema.properties;

/**
 * Whether a stream's records belong to apps (apps themselves, records that
 * name their app, or children of apps at any depth): the shards split them.
 * Every other stream belongs to the account and is read by shard 1 alone.
 */
export function isAppScoped(spec: HerokuStreamSpec, specs: ReadonlyMap<string, HerokuStreamSpec>): boolean {
  if (APP_RECORDS.has(spec.stream) || refersToApp(spec)) return true;
  const parent = spec.parent === null ? undefined : specs.get(spec.parent);
  return spec.parent === "apps" || (parent !== undefined && isAppScoped(parent, specs));
}

/** The child's path for one parent, or undefined when the parent lacks a placeholder's field. */
export function childPath(spec: HerokuStreamSpec, parent: ParentRow): string | undefined {
  let missing = false;
  const path = spec.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = parent[spec.params[name] ?? ""];
    if (v === undefined || v === "") missing = true;
    return encodeURIComponent(String(v));
  });
  return missing ? undefined : path;
}

/** A parent's name in a child stream's bookmark: its path parameters joined. */
export function partitionKey(spec: HerokuStreamSpec, parent: ParentRow): string {
  return Object.values(spec.params)
    .map((field) => String(parent[field] ?? ""))
    .join("/");
}

/** Runs `fn` over `items` with at most `n` at once; the first error stops new work and is thrown. */
export async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (!failed && !signal?.aborted && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        failed ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  if (failed) throw failed.error;
}

/** Newer of two RFC 3339 values (either may be missing). */
export function newer(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

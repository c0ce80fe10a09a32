// A Heroku list endpoint as a Singer stream, built from one definition row.
import { z } from "zod";
import type { Stream, SyncContext } from "../singer/stream.ts";
import { StreamSkipped } from "../errors.ts";
import type { Settings } from "../config.ts";
import { HerokuHttpError } from "./client.ts";
import type { HerokuClient } from "./client.ts";
import type { HerokuStreamSpec } from "./definitions.ts";

/** The bookmark of an incremental Heroku stream. */
export const ApiBookmark = z.object({
  replication_key: z.string().optional(),
  replication_key_value: z.iso.datetime({ offset: true, error: "expected an RFC 3339 date-time" }).optional(),
});

export function herokuStream(spec: HerokuStreamSpec, client: HerokuClient, settings: Settings): Stream {
  const key = spec.replication_key;
  return {
    id: spec.stream,
    schema: spec.schema,
    keyProperties: spec.key_properties,
    validReplicationKeys: key ? [key] : [],
    defaultReplicationMethod: key ? "INCREMENTAL" : "FULL_TABLE",
    selectedByDefault: spec.selected_by_default,
    extraMetadata: [{ breadcrumb: [], metadata: { "heroku-endpoint": spec.path, "heroku-scope": spec.scope } }],
    bookmark: ApiBookmark,
    sync: (ctx) => syncList(spec, client, settings, ctx),
  };
}

async function syncList(spec: HerokuStreamSpec, client: HerokuClient, settings: Settings, ctx: SyncContext) {
  const key = ctx.replicationMethod === "INCREMENTAL" ? ctx.replicationKey : undefined;
  const previous = ApiBookmark.parse(ctx.bookmark ?? {});
  const since = key ? (previous.replication_key === key ? previous.replication_key_value : undefined) ?? ctx.startDate : undefined;
  const sinceMs = since ? Date.parse(since) : undefined;
  const keep = appFilter(spec, settings);
  let newest = since;

  try {
    for await (const page of client.pages(spec.path)) {
      for (const item of page.items as Record<string, unknown>[]) {
        if (!keep(item)) continue;
        const value = key ? item[key] : undefined;
        if (sinceMs !== undefined && typeof value === "string" && Date.parse(value) < sinceMs) continue;
        await ctx.writeRecord(item);
        if (typeof value === "string" && (!newest || Date.parse(value) > Date.parse(newest))) newest = value;
      }
      // The list is not ordered by the replication key, so no bookmark is
      // safe before the walk ends; stopping here repeats this walk next run.
      if (ctx.signal.aborted) return;
    }
  } catch (e) {
    if (e instanceof HerokuHttpError && e.status === 403) {
      const scope = spec.scope === "global" ? "the global scope (heroku authorizations:create --scope global)" : "access to this resource";
      throw new StreamSkipped(`Heroku refused ${spec.path} (403 ${e.id}); this stream needs ${scope}`);
    }
    throw e;
  }
  if (key && newest) await ctx.saveBookmark({ replication_key: key, replication_key_value: newest });
}

/** The `apps` setting limits the apps stream to the named apps (by name or id). */
function appFilter(spec: HerokuStreamSpec, settings: Settings): (item: Record<string, unknown>) => boolean {
  if (!settings.apps || spec.stream !== "apps") return () => true;
  const wanted = new Set(settings.apps);
  return (item) => wanted.has(String(item.id)) || wanted.has(String(item.name));
}

// The Heroku streams are rows of data, generated from Heroku's official
// schema into catalog/heroku/ (scripts/generate-catalog.ts). This module reads
// them; a stream that differs from another only in path, parent and keys is a
// row there, never a class here.
import { z } from "zod";
import type { JSONSchema7 } from "json-schema";
import { readPackageFile } from "../package-files.ts";

/**
 * How an incremental run walks a list with a server-side Range instead of by id
 * (catalog/heroku/README.md, `server_range`):
 * - use "start": ascending by the replication key, starting at the bookmark;
 * - use "stop": newest first, stopping at the first settled record older than the bookmark.
 * `unique` says whether the field's values are unique within the list; if not, the walk
 * re-requests each page boundary inclusively, since Heroku's Next-Range is exclusive.
 */
export const ServerRange = z.object({
  field: z.string(),
  order: z.enum(["asc", "desc"]),
  unique: z.boolean(),
  use: z.enum(["start", "stop"]),
});
export type ServerRange = z.infer<typeof ServerRange>;

/** Refresh families: each has an interval setting (`refresh_hours.<family>`). */
export const REFRESH_FAMILIES = ["volatile", "activity", "daily"] as const;

/**
 * When a child stream re-reads a parent's children (src/heroku/refresh.ts):
 * when one of the parent's `signals` moved past the stream's cutoff, else
 * when the parent's turn in the rotation of its `family` comes.
 */
export const Refresh = z.object({
  family: z.enum(REFRESH_FAMILIES),
  signals: z.array(z.string()),
  source: z.string(),
});
export type Refresh = z.infer<typeof Refresh>;

/** One row of catalog/heroku/streams.json: the only declaration of a stream row (the generator writes this type). */
export const StreamDefinition = z.object({
  /** snake_case plural stream name */
  stream: z.string(),
  /** name of the schema definition that holds the GET link (as in list-endpoints.json) */
  resource: z.string(),
  /** href with placeholders shortened to the keys of `params` */
  path: z.string(),
  /** stream whose (enriched) records fill the placeholders; null for top-level streams */
  parent: z.string().nullable(),
  /** placeholder -> field of the enriched parent record */
  params: z.record(z.string(), z.string()),
  /** child field -> parent field, added to each child record when the payload lacks it */
  parent_keys: z.record(z.string(), z.string()),
  /** Top-level fields copied from nested ones (e.g. user_id from user.id) where a key needs them: field -> dot path. */
  derived_keys: z.record(z.string(), z.string()),
  key_properties: z.array(z.string()),
  replication_key: z.string().nullable(),
  /** Range header fields known to be accepted (the first one is the safe default); [] = no Range */
  ranges: z.array(z.string()),
  /** a Range that saves requests in incremental runs; null = walk by id */
  server_range: ServerRange.nullable(),
  /** child streams: when a parent's children are re-read; null for top-level streams */
  refresh: Refresh.nullable(),
  scope: z.enum(["read", "global", "read-protected"]),
  stability: z.string(),
  /** required query parameters -> "<source>:<format>" (see README) */
  query: z.record(z.string(), z.string()).nullable(),
  selected_by_default: z.boolean(),
  /** the endpoint returns one object, not an array (`account`, and the snapshots of one object per parent) */
  single: z.boolean(),
  /** The body is an object of name -> secret value: each name is a record, the values are dropped at once. */
  names_only: z.boolean(),
  note: z.string().nullable(),
});
export type StreamDefinition = z.infer<typeof StreamDefinition>;

export interface HerokuStreamSpec extends StreamDefinition {
  readonly schema: JSONSchema7;
}

/** Every Heroku stream definition (the rows of catalog/heroku/streams.json), in catalog order. */
export function streamDefinitions(): StreamDefinition[] {
  return z.array(StreamDefinition).parse(JSON.parse(readPackageFile("catalog/heroku/streams.json")));
}

/** Every Heroku stream definition with its JSON Schema, in catalog order. */
export async function loadDefinitions(): Promise<HerokuStreamSpec[]> {
  return streamDefinitions().map((row) => ({
    ...row,
    schema: JSON.parse(readPackageFile(`catalog/heroku/schemas/${row.stream}.json`)) as JSONSchema7,
  }));
}

// Loads the two Heroku data files the simulator is generated from.
//
// The files are vendored into the repository at catalog/heroku/source/; a
// checkout without that copy falls back to ../shared/heroku next to it. Paths are
// resolved from import.meta.url, never from the current directory, so it runs
// the same under vitest, Node and Deno.

import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

/** Repository root: this file lives at <root>/simulator/source.ts. */
const repoRoot = fileURLToPath(new URL("../", import.meta.url));

/** Absolute path of a Heroku source file: the repo copy if present, else ../shared/heroku. */
export function sourcePath(name: string): string {
  const vendored = path.join(repoRoot, "catalog", "heroku", "source", name);
  if (existsSync(vendored)) return vendored;
  return path.join(repoRoot, "..", "shared", "heroku", name);
}

/** A JSON-schema node of the hyper-schema (only the keys the generator reads). */
export interface SchemaNode {
  $ref?: string;
  type?: string | string[];
  format?: string;
  example?: unknown;
  enum?: unknown[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  definitions?: Record<string, SchemaNode>;
}

export interface HyperSchema {
  definitions: Record<string, SchemaNode>;
}

/** One entry of list-endpoints.json (see /work/shared/heroku/SOURCE.md). */
export interface ListEndpoint {
  resource: string;
  title: string;
  href: string;
  href_readable: string;
  parents: string[];
  parent_placeholders: { placeholder: string; pointer: string; resource: string; attribute: string }[];
  target_schema_items_ref: string | null;
  properties_from: string;
  range_attributes_in_schema: string[] | null;
  range_attributes_devcenter_2014?: string[];
  /** Free text whose first word is the field, e.g. `version (heroku/cli uses ...)`. */
  range_attributes_seen_in_heroku_cli?: string;
  has_id: boolean;
  has_updated_at: boolean;
  primary_key_suggestion: string[];
  query_schema?: { required?: string[] };
  note?: string;
}

let cache: { schema: HyperSchema; endpoints: ListEndpoint[] } | undefined;

/** Reads (once per process) the schema and the list endpoints. */
export function loadSources(): { schema: HyperSchema; endpoints: ListEndpoint[] } {
  if (!cache) {
    const schema = JSON.parse(readFileSync(sourcePath("platform-api-schema.json"), "utf8")) as HyperSchema;
    const endpoints = JSON.parse(readFileSync(sourcePath("list-endpoints.json"), "utf8")) as ListEndpoint[];
    cache = { schema, endpoints };
  }
  return cache;
}

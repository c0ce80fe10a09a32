// The Singer catalog: its zod schema, the metadata a stream publishes in
// discovery, and how a user's selection is read back.
import { z } from "zod";
import type { JSONSchema7 } from "json-schema";
import { JsonSchema } from "./messages.ts";

export const REPLICATION_METHODS = ["FULL_TABLE", "INCREMENTAL", "LOG_BASED"] as const;
export type ReplicationMethod = (typeof REPLICATION_METHODS)[number];

const bool = (what: string) => z.boolean({ error: `${what} must be true or false` });

/** Stream-level metadata (breadcrumb []); unknown keys are kept. */
export const StreamMetadata = z.looseObject({
  selected: bool("selected").optional(),
  "selected-by-default": bool("selected-by-default").optional(),
  inclusion: z.enum(["available", "automatic", "unsupported"]).optional(),
  "replication-method": z
    .enum(REPLICATION_METHODS, { error: `replication-method must be one of ${REPLICATION_METHODS.join(", ")}` })
    .optional(),
  "forced-replication-method": z.enum(REPLICATION_METHODS).optional(),
  "replication-key": z.string({ error: "replication-key must be a property name" }).nullable().optional(),
  "valid-replication-keys": z.array(z.string()).optional(),
  "table-key-properties": z.array(z.string()).optional(),
});

export const PropertyMetadata = z.looseObject({
  selected: bool("selected").optional(),
  "selected-by-default": bool("selected-by-default").optional(),
  inclusion: z.enum(["available", "automatic", "unsupported"]).optional(),
});

export const MetadataEntry = z.object({
  breadcrumb: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
});
export type MetadataEntry = z.infer<typeof MetadataEntry>;

export const CatalogEntry = z.looseObject({
  tap_stream_id: z.string().min(1, "tap_stream_id must not be empty"),
  stream: z.string().min(1, "stream must not be empty"),
  schema: JsonSchema,
  metadata: z.array(MetadataEntry).default([]),
  key_properties: z.array(z.string()).optional(),
  replication_key: z.string().optional(),
  replication_method: z.enum(REPLICATION_METHODS).optional(),
});
export type CatalogEntry = z.infer<typeof CatalogEntry>;

export const Catalog = z.object({ streams: z.array(CatalogEntry, { error: "streams must be a list" }) });
export type Catalog = z.infer<typeof Catalog>;

/** The metadata of one breadcrumb, or {} when the catalog has none. */
export function metadataAt(entry: CatalogEntry, breadcrumb: string[]): Record<string, unknown> {
  const key = breadcrumb.join("\u0000");
  return entry.metadata.find((m) => m.breadcrumb.join("\u0000") === key)?.metadata ?? {};
}

/** Singer selection with Meltano SDK precedence: selected, then the legacy schema flag, then selected-by-default. */
export function isStreamSelected(entry: CatalogEntry): boolean {
  const md = StreamMetadata.parse(metadataAt(entry, []));
  if (md.inclusion === "unsupported") return false;
  const legacy = (entry.schema as { selected?: unknown }).selected;
  return md.selected ?? (typeof legacy === "boolean" ? legacy : undefined) ?? md["selected-by-default"] ?? false;
}

/**
 * The selected top-level properties. Key and replication-key properties are
 * automatic and always kept; a property without its own choice follows the
 * stream (the Meltano SDK's rule), so an unannotated catalog selects all.
 */
export function selectedProperties(entry: CatalogEntry, automatic: readonly string[]): Set<string> {
  const props = Object.keys(entry.schema.properties ?? {});
  const chosen = new Set<string>();
  for (const name of props) {
    const md = PropertyMetadata.parse(metadataAt(entry, ["properties", name]));
    const legacy = (entry.schema.properties?.[name] as { selected?: unknown } | undefined)?.selected;
    const keep = automatic.includes(name) ||
      md.inclusion === "automatic" ||
      (md.inclusion !== "unsupported" &&
        (md.selected ?? (typeof legacy === "boolean" ? legacy : undefined) ?? md["selected-by-default"] ?? true));
    if (keep) chosen.add(name);
  }
  return chosen;
}

/** The schema with only the selected top-level properties. */
export function pickSchema(schema: JSONSchema7, keep: ReadonlySet<string>): JSONSchema7 {
  const properties = Object.fromEntries(Object.entries(schema.properties ?? {}).filter(([k]) => keep.has(k)));
  return { ...schema, properties };
}

// The four Singer messages, as zod schemas. The tap writes them and the tests
// read them back through the same schemas, so both sides agree by
// construction.
import { z } from "zod";
import type { JSONSchema7 } from "json-schema";

export const JsonSchema = z.custom<JSONSchema7>(
  (v) => typeof v === "object" && v !== null && !Array.isArray(v),
  "expected a JSON Schema object",
);

export const SchemaMessage = z.object({
  type: z.literal("SCHEMA"),
  stream: z.string().min(1),
  schema: JsonSchema,
  key_properties: z.array(z.string()),
  bookmark_properties: z.array(z.string()).optional(),
});

export const RecordMessage = z.object({
  type: z.literal("RECORD"),
  stream: z.string().min(1),
  record: z.record(z.string(), z.unknown()),
  time_extracted: z.string().optional(),
  version: z.number().int().optional(),
});

export const StateMessage = z.object({
  type: z.literal("STATE"),
  value: z.record(z.string(), z.unknown()),
});

export const ActivateVersionMessage = z.object({
  type: z.literal("ACTIVATE_VERSION"),
  stream: z.string().min(1),
  version: z.number().int(),
});

/** The Meltano SDK's BATCH message: records in files, listed by URL in the manifest. */
export const BatchMessage = z.object({
  type: z.literal("BATCH"),
  stream: z.string().min(1),
  encoding: z.object({ format: z.string(), compression: z.string().nullable().optional() }),
  manifest: z.array(z.string()).min(1),
});

export const Message = z.discriminatedUnion("type", [
  SchemaMessage,
  RecordMessage,
  StateMessage,
  ActivateVersionMessage,
  BatchMessage,
]);

export type SchemaMessage = z.infer<typeof SchemaMessage>;
export type RecordMessage = z.infer<typeof RecordMessage>;
export type StateMessage = z.infer<typeof StateMessage>;
export type ActivateVersionMessage = z.infer<typeof ActivateVersionMessage>;
export type BatchMessage = z.infer<typeof BatchMessage>;
export type Message = z.infer<typeof Message>;

/**
 * JSON text that is written as it is. Database values such as int8, numeric
 * and jsonb with big numbers arrive as exact text; passing them through a JS
 * number would round them, so a stream can hand the writer a record already
 * encoded as JSON.
 */
export class RawJson {
  constructor(readonly json: string) {}
}

export type Record_ = Record<string, unknown> | RawJson;

/** Encodes one RECORD line without a trailing newline. */
export function encodeRecord(
  stream: string,
  record: Record_,
  timeExtracted: string,
  version?: number,
): string {
  const body = record instanceof RawJson ? record.json : JSON.stringify(record);
  const v = version === undefined ? "" : `,"version":${version}`;
  return `{"type":"RECORD","stream":${JSON.stringify(stream)},"record":${body}${v},"time_extracted":"${timeExtracted}"}`;
}

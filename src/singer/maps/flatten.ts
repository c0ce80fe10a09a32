// Schema flattening as the Meltano SDK does it (singer_sdk/helpers/_flattening.py):
// nested object properties become top-level columns joined by the separator
// ("__") down to max depth; arrays, and objects at the depth limit, become
// JSON text; keys too long are shortened by the SDK's abbreviation rule.
import type { JSONSchema7 } from "json-schema";
import { setOwn } from "../../own.ts";
import { isPlainDict } from "./python.ts";

export interface FlatteningOptions {
  readonly maxDepth: number;
  readonly separator: string;
  readonly maxKeyLength: number;
}

/** inflection.camelize: the first letter and each letter after "_" upper-cased, those "_" removed. */
const camelize = (word: string) => word.replace(/(?:^|_)(.)/g, (_, c: string) => c.toUpperCase());

/**
 * The flattened name of `key` under `parents`. While the joined name is at
 * least maxKeyLength long, each part in turn (outermost first) is replaced by
 * its capitals after camelizing (or its first three characters when that
 * leaves one letter or none), lower-cased.
 */
export function flattenKey(key: string, parents: readonly string[], separator: string, maxKeyLength: number): string {
  const parts = [...parents, key];
  for (let i = 0; parts.join(separator).length >= maxKeyLength && i < parts.length; i++) {
    const reduced = camelize(parts[i]!).replace(/[a-z]/g, "");
    parts[i] = (reduced.length > 1 ? reduced : parts[i]!.slice(0, 3)).toLowerCase();
  }
  return parts.join(separator);
}

/** Python's `x in schema["type"]`: a list holds it, or a string contains it. */
const hasType = (type: unknown, name: string) => (typeof type === "string" || Array.isArray(type) ? (type as string | string[]).includes(name) : false);

export function flattenSchema(schema: JSONSchema7, o: FlatteningOptions): JSONSchema7 {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) if (k !== "properties") setOwn(out, k, v);
  out.properties = flattenProperties(schema, [], 0, o);
  return out as JSONSchema7;
}

function flattenProperties(node: JSONSchema7, parents: string[], level: number, o: FlatteningOptions): Record<string, JSONSchema7> {
  const items: [string, JSONSchema7][] = [];
  if (!node.properties) return {};
  for (const [name, field] of Object.entries(node.properties)) {
    if (typeof field === "boolean") continue;
    const key = flattenKey(name, parents, o.separator, o.maxKeyLength);
    if ("type" in field) {
      if (hasType(field.type, "object") && field.properties && level < o.maxDepth) {
        items.push(...Object.entries(flattenProperties(field, [...parents, name], level + 1, o)));
      } else if (hasType(field.type, "array") || (hasType(field.type, "object") && o.maxDepth > 0)) {
        items.push([key, { type: hasType(field.type, "null") ? ["string", "null"] : "string" }]);
      } else items.push([key, field]);
      continue;
    }
    // anyOf / oneOf: the SDK looks at the first value of the property's schema and its first element.
    const composite = Object.values(field)[0];
    const first: unknown = Array.isArray(composite) ? composite[0] : undefined;
    if (first && (typeof first !== "object" || Object.keys(first).length > 0)) {
      const type = (first as JSONSchema7).type;
      if (type === "string" || type === "array" || type === "object") items.push([key, { ...(first as JSONSchema7), type: ["null", type] }]);
      // any other first type: the SDK leaves the property out of the flattened schema
    } else items.push([key, { type: ["null", "string"] }]); // a typeless property ({}): JSON text
  }
  const seen = new Set<string>();
  for (const [k] of items) {
    if (seen.has(k)) throw new FlattenError(`flattening makes two columns named "${k}"`);
    seen.add(k);
  }
  return Object.fromEntries(items);
}

export class FlattenError extends Error {}

/**
 * Flattens a record the way its schema was flattened: an object is opened
 * while its flattened name is not a column and the depth allows; anything
 * else that is an object or array is written as compact JSON text.
 */
export function flattenRecord(
  record: Record<string, unknown>,
  flatSchema: JSONSchema7,
  o: FlatteningOptions,
  toJson: (v: unknown) => string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const columns = flatSchema.properties ?? {};
  const walk = (node: Record<string, unknown>, parents: string[], level: number) => {
    for (const [k, v] of Object.entries(node)) {
      const key = flattenKey(k, parents, o.separator, o.maxKeyLength);
      if (isPlainDict(v) && !Object.hasOwn(columns, key) && level < o.maxDepth) walk(v, [...parents, k], level + 1);
      else setOwn(out, key, isPlainDict(v) || Array.isArray(v) ? toJson(v) : v);
    }
  };
  walk(record, [], 0);
  return out;
}

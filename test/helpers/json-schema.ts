// A minimal JSON Schema validator for the subset that the generated catalogs use:
// type (incl. "integer"), properties, additionalProperties (boolean or schema), items (one schema),
// enum, anyOf, and the formats date-time, date, uuid and email (other formats are accepted as-is).
// Enough to check records against catalog/*/schemas without a dependency; not a general validator.
import type { JSONSchema7, JSONSchema7Definition } from "json-schema";

const FORMATS: Record<string, RegExp> = {
  "date-time": /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/,
  date: /^\d{4}-\d{2}-\d{2}$/,
  uuid: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  email: /^[^\s@]+@[^\s@]+$/,
};

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value; // "string" | "number" | "boolean" | "object" | ...
}

function matchesType(value: unknown, type: string): boolean {
  if (type === "integer") return typeof value === "number" && Number.isInteger(value);
  return typeOf(value) === type;
}

/**
 * Validates `value` against `schema`. Returns one message per error, each starting with the JSON path
 * of the offending value (`$`, `$.app.id`, `$.items[2]`); an empty array means valid.
 */
export function validate(schema: JSONSchema7Definition, value: unknown, path = "$"): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: no value is allowed here`];
  const errors: string[] = [];
  if (schema.$ref !== undefined) errors.push(`${path}: $ref is not supported (${schema.$ref})`);

  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => matchesType(value, t))) {
      return [`${path}: expected ${types.join(" or ")}, got ${typeOf(value)}`];
    }
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${path}: not one of ${JSON.stringify(schema.enum)}`);
  }
  if (schema.anyOf !== undefined && !schema.anyOf.some((s) => validate(s, value, path).length === 0)) {
    errors.push(`${path}: matches none of anyOf`);
  }
  if (typeof value === "string" && schema.format !== undefined) {
    const re = FORMATS[schema.format];
    if (re !== undefined && !re.test(value)) errors.push(`${path}: not a valid ${schema.format}: ${JSON.stringify(value)}`);
  }
  if (typeOf(value) === "object") {
    const record = value as Record<string, unknown>;
    const properties = schema.properties ?? {};
    for (const [name, child] of Object.entries(record)) {
      const sub = properties[name];
      if (sub !== undefined) errors.push(...validate(sub, child, `${path}.${name}`));
      else if (schema.additionalProperties !== undefined) {
        errors.push(...validate(schema.additionalProperties, child, `${path}.${name}`));
      }
    }
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    if (Array.isArray(schema.items)) errors.push(`${path}: tuple items are not supported`);
    else {
      const items = schema.items;
      value.forEach((item, i) => errors.push(...validate(items, item, `${path}[${i}]`)));
    }
  }
  return errors;
}

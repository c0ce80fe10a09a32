// A minimal JSON Schema validator for the subset that the generated catalogs use:
// type (incl. "integer"), properties, additionalProperties (boolean or schema), items (one schema),
// enum, const, anyOf, minimum/maximum, minLength/maxLength (in code points, as JSON Schema counts), and the formats
// date-time, date, uuid and email (other formats are accepted as-is).
// Enough to check records against catalog/*/schemas without a dependency; not a general validator.
import type { JSONSchema7Definition } from "json-schema";

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
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value)) errors.push(`${path}: not ${JSON.stringify(schema.const)}`);
  if (schema.anyOf !== undefined && !schema.anyOf.some((s) => validate(s, value, path).length === 0)) {
    errors.push(`${path}: matches none of anyOf`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: below the minimum ${schema.minimum}: ${value}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${path}: above the maximum ${schema.maximum}: ${value}`);
  }
  if (typeof value === "string" && schema.minLength !== undefined && [...value].length < schema.minLength) {
    errors.push(`${path}: shorter than minLength ${schema.minLength}`);
  }
  if (typeof value === "string" && schema.maxLength !== undefined && [...value].length > schema.maxLength) {
    errors.push(`${path}: longer than maxLength ${schema.maxLength}`);
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

const JSON_TYPES = new Set(["null", "boolean", "object", "array", "number", "integer", "string"]);

/**
 * Checks that a schema is a well-formed JSON Schema (draft 7) in the keywords the tap uses, as the
 * SDK's schema_is_valid test does with the meta-schema: types are JSON Schema types, properties,
 * items and additionalProperties are schemas, numbers are numbers. Returns one message per problem.
 */
export function checkSchema(schema: JSONSchema7Definition, path = "$"): string[] {
  if (typeof schema === "boolean") return [];
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return [`${path}: a schema must be an object or a boolean`];
  const errors: string[] = [];
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  for (const t of types) if (!JSON_TYPES.has(t)) errors.push(`${path}: unknown type ${JSON.stringify(t)}`);
  if (Array.isArray(schema.type) && new Set(schema.type).size !== schema.type.length) errors.push(`${path}: repeated types`);
  for (const k of ["minimum", "maximum", "maxLength", "minLength"] as const) {
    if (schema[k] !== undefined && typeof schema[k] !== "number") errors.push(`${path}: ${k} must be a number`);
  }
  if (schema.format !== undefined && typeof schema.format !== "string") errors.push(`${path}: format must be a string`);
  if (schema.required !== undefined && (!Array.isArray(schema.required) || schema.required.some((r) => typeof r !== "string"))) {
    errors.push(`${path}: required must be a list of names`);
  }
  if (schema.properties !== undefined) {
    if (typeof schema.properties !== "object" || Array.isArray(schema.properties)) errors.push(`${path}: properties must be an object`);
    else for (const [name, sub] of Object.entries(schema.properties)) errors.push(...checkSchema(sub, `${path}.properties.${name}`));
  }
  if (schema.items !== undefined) {
    for (const [i, sub] of (Array.isArray(schema.items) ? schema.items : [schema.items]).entries()) {
      errors.push(...checkSchema(sub, `${path}.items${Array.isArray(schema.items) ? `[${i}]` : ""}`));
    }
  }
  if (schema.additionalProperties !== undefined) errors.push(...checkSchema(schema.additionalProperties, `${path}.additionalProperties`));
  for (const sub of schema.anyOf ?? []) errors.push(...checkSchema(sub, `${path}.anyOf`));
  return errors;
}

// Stream maps with the Meltano SDK's semantics (docs/stream_maps.md and
// singer_sdk/mapper.py): each source stream becomes zero or more output
// streams (aliased, filtered, duplicated by __source__, removed by null),
// each with its own SCHEMA, key properties and record transform; flattening
// runs last. Everything that can be checked is checked when a stream is
// registered, which the CLI does for every planned stream before any output.
import type { JSONSchema7 } from "json-schema";
import { ExpressionSyntaxError, parseExpression } from "./expression.ts";
import type { Node } from "./expression.ts";
import { evaluate, freeNames, isBuiltin, NameNotDefined, SDK_VARIABLES } from "./evaluate.ts";
import { FlattenError, flattenRecord, flattenSchema } from "./flatten.ts";
import type { FlatteningOptions } from "./flatten.ts";
import { MapError, str, toRecordValue, truthy } from "./python.ts";
import { stringifyExact } from "./exact-json.ts";
import { setOwn } from "../../own.ts";

export const NULL_STRING = "__NULL__";
const ELSE = "__else__";
const FILTER = "__filter__";
const SOURCE = "__source__";
const ALIAS = "__alias__";
const KEYS = "__key_properties__";
const STREAM_OPTIONS = new Set([FILTER, SOURCE, ALIAS, KEYS, ELSE]);

/** The settings this module reads (the SDK's names). */
export interface MapSettings {
  readonly stream_maps?: Record<string, unknown> | undefined;
  readonly stream_map_config?: Record<string, unknown> | undefined;
  readonly flattening_enabled?: boolean | undefined;
  readonly flattening_max_depth?: number | undefined;
  readonly flattening_max_key_length?: number | undefined;
  readonly flattening_separator?: string | undefined;
}

/** A stream_maps setting the tap cannot use; `path` is under stream_maps. */
export class MapConfigError extends Error {
  constructor(
    readonly path: string[],
    message: string,
  ) {
    super(message);
  }
  /** One line naming the setting. */
  get line(): string {
    return `stream_maps${this.path.map((p) => `.${p}`).join("")}: ${this.message}`;
  }
}

/** A map expression that failed on a record: the stream fails with this message. */
export class MapRuntimeError extends Error {}

const isNull = (v: unknown) => v === null || v === NULL_STRING;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Parses an expression or throws a MapConfigError that names where it is and what is wrong. */
function parse(expr: string, path: string[]): Node {
  try {
    return parseExpression(expr);
  } catch (e) {
    if (e instanceof ExpressionSyntaxError) throw new MapConfigError(path, `the expression ${JSON.stringify(expr)} does not parse: ${e.message}`);
    throw e;
  }
}

/**
 * Checks the shape of stream_maps and parses every expression, without any
 * stream: what the settings validation reports before the tap starts.
 */
export function checkStreamMaps(maps: unknown): MapConfigError | undefined {
  try {
    if (!isObject(maps)) throw new MapConfigError([], "expected an object of stream names");
    for (const [stream, def] of Object.entries(maps)) {
      if (stream === ELSE) {
        if (!isNull(def)) throw new MapConfigError([stream], `only null or "${NULL_STRING}" is supported (it removes the streams not named)`);
        continue;
      }
      if (stream.startsWith("__")) throw new MapConfigError([stream], `"${stream}" is not an option of stream_maps (only ${ELSE} is)`);
      if (isNull(def)) continue;
      if (!isObject(def)) throw new MapConfigError([stream], `expected an object of property maps, or null / "${NULL_STRING}" to remove the stream`);
      checkStreamDef(stream, def);
    }
    return undefined;
  } catch (e) {
    if (e instanceof MapConfigError) return e;
    throw e;
  }
}

function checkStreamDef(stream: string, def: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(def)) {
    const path = [stream, key];
    if (key === SOURCE || key === ALIAS) {
      if (typeof value !== "string" || value === "") throw new MapConfigError(path, "expected a stream name (a string)");
      if (key === ALIAS) parse(value, path);
    } else if (key === FILTER) {
      if (typeof value !== "string") throw new MapConfigError(path, "expected an expression (a string) that is true for the records to keep");
      parse(value, path);
    } else if (key === KEYS) {
      if (value !== null && !(Array.isArray(value) && value.every((k) => typeof k === "string"))) {
        throw new MapConfigError(path, "expected a list of property names, or null for none");
      }
    } else if (key === ELSE) {
      if (!isNull(value)) throw new MapConfigError(path, `only null or "${NULL_STRING}" is supported (it removes the properties not named)`);
    } else if (isNull(value)) continue;
    else if (typeof value !== "string") throw new MapConfigError(path, `expected an expression (a string), or null / "${NULL_STRING}" to remove the property`);
    else parse(value, path);
  }
  if (SOURCE in def && ALIAS in def) {
    throw new MapConfigError([stream], `give ${SOURCE} (a new stream named "${stream}") or ${ALIAS} (rename "${stream}"), not both`);
  }
}

/** One output stream of a source stream. */
export interface OutputStream {
  readonly alias: string;
  readonly schema: JSONSchema7;
  readonly keyProperties: string[];
  readonly bookmarkProperties: string[] | undefined;
  /** True when records pass through unchanged (no map, no flattening, same name). */
  readonly identity: boolean;
  /** The mapped record, or null when the filter drops it. Throws MapRuntimeError. */
  transform(record: Record<string, unknown>): Record<string, unknown> | null;
}

/** Python's fnmatch on POSIX: * ? [seq] [!seq], case-sensitive. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let set = glob.slice(i + 1, end);
        if (set.startsWith("!")) set = "^" + set.slice(1);
        else if (set.startsWith("^")) set = "\\" + set;
        re += `[${set.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

interface PropertyOp {
  readonly name: string;
  /** Undefined: remove the property. */
  readonly node: Node | undefined;
  readonly where: string;
}

export class StreamMapper {
  private readonly maps: [string, unknown][];
  private readonly removeByDefault: boolean;
  private readonly flattening: FlatteningOptions | undefined;
  private readonly config: Record<string, unknown>;

  constructor(settings: MapSettings) {
    const maps = settings.stream_maps ?? {};
    const problem = checkStreamMaps(maps);
    if (problem) throw problem;
    this.removeByDefault = Object.hasOwn(maps, ELSE);
    this.maps = Object.entries(maps).filter(([k]) => k !== ELSE);
    this.config = settings.stream_map_config ?? {};
    const depth = settings.flattening_max_depth ?? 0;
    this.flattening = settings.flattening_enabled && depth > 0
      ? { maxDepth: depth, separator: settings.flattening_separator ?? "__", maxKeyLength: settings.flattening_max_key_length ?? 255 }
      : undefined;
  }

  /** True when the settings change nothing: the writer can be skipped altogether. */
  get inactive(): boolean {
    return this.maps.length === 0 && !this.removeByDefault && !this.flattening;
  }

  /**
   * The output streams of one source stream, given the SCHEMA the tap would
   * write for it; an empty list means the stream is removed. Throws
   * MapConfigError when the maps do not fit this stream.
   */
  register(stream: string, schema: JSONSchema7, keyProperties: readonly string[], bookmarkProperties?: readonly string[]): OutputStream[] {
    const outputs: (OutputStream | null)[] = [this.removeByDefault ? null : this.same(stream, schema, keyProperties, bookmarkProperties)];
    for (const [key, def] of this.maps) {
      let source = key;
      let alias = key;
      let primary = true;
      if (isObject(def)) {
        if (Object.hasOwn(def, SOURCE)) {
          source = def[SOURCE] as string;
          primary = false;
        } else if (Object.hasOwn(def, ALIAS)) alias = evalAlias(def[ALIAS] as string, stream, [key, ALIAS]);
      }
      if (stream !== source) {
        if (!globToRegExp(source).test(stream)) continue;
        if (alias === source) alias = stream;
        source = stream;
      }
      const output = isNull(def) ? null : this.custom(key, stream, alias, def as Record<string, unknown>, schema, keyProperties, bookmarkProperties);
      if (primary) outputs[0] = output;
      else outputs.push(output);
    }
    return outputs.filter((o): o is OutputStream => o !== null);
  }

  private same(stream: string, schema: JSONSchema7, keys: readonly string[], bookmarks: readonly string[] | undefined): OutputStream {
    const flat = this.flattening;
    if (!flat) return { alias: stream, schema, keyProperties: [...keys], bookmarkProperties: bookmarks && [...bookmarks], identity: true, transform: (r) => r };
    const flatSchema = this.flatten(stream, schema);
    return {
      alias: stream,
      schema: flatSchema,
      keyProperties: [...keys],
      bookmarkProperties: keep(bookmarks, flatSchema),
      identity: false,
      transform: (r) => flattenRecord(r, flatSchema, flat, encodeJson),
    };
  }

  private flatten(stream: string, schema: JSONSchema7): JSONSchema7 {
    try {
      return flattenSchema(schema, this.flattening!);
    } catch (e) {
      if (e instanceof FlattenError) throw new MapConfigError([], `flattening stream ${stream}: ${e.message}`);
      throw e;
    }
  }

  private custom(
    key: string,
    stream: string,
    alias: string,
    def: Record<string, unknown>,
    raw: JSONSchema7,
    rawKeys: readonly string[],
    bookmarks: readonly string[] | undefined,
  ): OutputStream {
    const filterText = typeof def[FILTER] === "string" ? def[FILTER] : undefined;
    const filter = filterText === undefined ? undefined : parse(filterText, [key, FILTER]);
    const keys = Object.hasOwn(def, KEYS) ? [...((def[KEYS] as string[] | null) ?? [])] : [...rawKeys];
    const includeByDefault = !Object.hasOwn(def, ELSE);
    const rawProps = (raw.properties ?? {}) as Record<string, JSONSchema7>;

    const props: Record<string, JSONSchema7> = {};
    let required: string[] | undefined;
    let schema: Record<string, unknown>;
    if (includeByDefault) {
      schema = { ...raw };
      for (const [k, v] of Object.entries(rawProps)) setOwn(props, k, v);
      required = raw.required ? [...raw.required] : undefined;
    } else {
      schema = { type: "object" };
      // The docs keep the key properties with __else__: null; so does the schema here.
      for (const k of keys) if (Object.hasOwn(rawProps, k)) setOwn(props, k, rawProps[k]!);
    }

    const ops: PropertyOp[] = [];
    const declared = new Set(Object.keys(rawProps));
    for (const [name, value] of Object.entries(def)) {
      if (STREAM_OPTIONS.has(name)) continue;
      const where = `${key}.${name}`;
      if (isNull(value)) {
        if (keys.includes(name)) {
          throw new MapConfigError(
            [key, name],
            `removing the key property "${name}" of ${stream} is not allowed; set ${KEYS} to the new key (or null for none)`,
          );
        }
        delete props[name];
        if (required) required = required.filter((r) => r !== name);
        ops.push({ name, node: undefined, where });
        continue;
      }
      const expr = value as string;
      const node = parse(expr, [key, name]);
      checkNames(node, declared, [key, name], stream);
      const existing = nonEmpty(Object.hasOwn(props, name) ? props[name] : undefined) ?? nonEmpty(Object.hasOwn(rawProps, expr) ? rawProps[expr] : undefined);
      setOwn(props, name, appendNull(detectType(expr, existing ?? { type: ["string"] }, raw)));
      ops.push({ name, node, where });
    }
    if (filter) checkNames(filter, declared, [key, FILTER], stream);

    for (const k of keys) {
      if (!Object.hasOwn(props, k)) throw new MapConfigError([key], `the key property "${k}" of ${alias} is not in the mapped stream; map it, or set ${KEYS}`);
    }
    schema.properties = props;
    if (required) schema.required = required;
    else delete schema.required;
    const flat = this.flattening;
    const outSchema = flat ? this.flatten(alias, schema as JSONSchema7) : (schema as JSONSchema7);

    const vars = { config: this.config, __stream_name__: alias, __original_stream_name__: stream };
    const run = (node: Node, record: Record<string, unknown>, self: string | undefined, where: string): unknown => {
      const scopeVars: Record<string, unknown> = { ...vars, record, _: record };
      if (self !== undefined && Object.hasOwn(record, self)) scopeVars.self = record[self];
      try {
        return evaluate(node, { record, vars: scopeVars, declared });
      } catch (e) {
        if (e instanceof MapError) throw new MapRuntimeError(`stream_maps.${where}: ${e.message}`);
        throw e;
      }
    };

    const removed = new Set(ops.filter((op) => !op.node).map((op) => op.name));
    const computed = ops.filter((op) => op.node);
    return {
      alias,
      schema: outSchema,
      keyProperties: keys,
      bookmarkProperties: keep(bookmarks, outSchema),
      identity: false,
      transform: (record) => {
        if (filter && !truthy(run(filter, record, undefined, `${key}.${FILTER}`))) return null;
        // Built without delete, which would leave V8 a slow dictionary object for every row.
        const out: Record<string, unknown> = {};
        if (includeByDefault) {
          for (const k of Object.keys(record)) if (!removed.has(k)) put(out, k, record[k]);
        } else for (const k of keys) if (Object.hasOwn(record, k) && !removed.has(k)) put(out, k, record[k]);
        for (const op of computed) put(out, op.name, toRecordValue(run(op.node!, record, op.name, op.where)));
        return flat ? flattenRecord(out, outSchema, flat, encodeJson) : out;
      },
    };
  }
}

/** Bookmark properties that the mapped schema still has (a target may reject one it does not). */
function keep(bookmarks: readonly string[] | undefined, schema: JSONSchema7): string[] | undefined {
  if (!bookmarks) return undefined;
  const props = schema.properties ?? {};
  return bookmarks.every((b) => Object.hasOwn(props, b)) ? [...bookmarks] : undefined;
}

const encodeJson = (v: unknown) => stringifyExact(toRecordValue(v));

/** Plain assignment is fast; only "__proto__" needs defining as an own property. */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") setOwn(target, key, value);
  else target[key] = value;
}

/** The alias: an expression over __stream_name__, or the text itself when it names nothing known (as the SDK does). */
function evalAlias(expr: string, stream: string, path: string[]): string {
  const node = parse(expr, path);
  let value: unknown;
  try {
    value = evaluate(node, { record: {}, vars: { __stream_name__: stream } });
  } catch (e) {
    if (e instanceof NameNotDefined) return expr;
    if (e instanceof MapError) throw new MapConfigError(path, `the alias ${JSON.stringify(expr)} fails for ${stream}: ${e.message}`);
    throw e;
  }
  if (typeof value !== "string" || value === "") {
    throw new MapConfigError(path, `the alias ${JSON.stringify(expr)} gives ${str(value)} for ${stream}; expected a stream name`);
  }
  return value;
}

/** Names an expression reads must exist: a misspelled property fails at startup, not at the first record. */
function checkNames(node: Node, declared: ReadonlySet<string>, path: string[], stream: string): void {
  for (const name of freeNames(node)) {
    if (declared.has(name) || isBuiltin(name) || (SDK_VARIABLES as readonly string[]).includes(name)) continue;
    if (name === "fake") throw new MapConfigError(path, "fake (Faker) is not available in tap-heroku; use md5() or sha256() to mask values");
    throw new MapConfigError(path, `name "${name}" is neither a property of ${stream} (selected in the catalog) nor a builtin`);
  }
}

function nonEmpty(s: JSONSchema7 | undefined): JSONSchema7 | undefined {
  return s && typeof s === "object" && Object.keys(s).length > 0 ? s : undefined;
}

/**
 * The SDK's static type detection: a leading str( float( int( bool( names the
 * type, json.dumps( is a string, datetime.date / datetime.datetime a date or
 * date-time, a single-quoted literal a string, "record" the stream's schema;
 * otherwise the existing property's schema, else string.
 */
export function detectType(expr: string, fallback: JSONSchema7, raw: JSONSchema7): JSONSchema7 {
  if (expr === "record") return raw;
  if (expr.startsWith("float(")) return { type: ["number"] };
  if (expr.startsWith("int(")) return { type: ["integer"] };
  if (expr.startsWith("str(")) return { type: ["string"] };
  if (expr.startsWith("bool(")) return { type: ["boolean"] };
  if (expr.startsWith("json.dumps(")) return { type: ["string"] };
  if (expr.startsWith("datetime.date.") || expr.startsWith("datetime.date(") || expr.endsWith(".date()")) return { type: ["string"], format: "date" };
  if (expr.startsWith("datetime.datetime.") || expr.startsWith("datetime.datetime(")) return { type: ["string"], format: "date-time" };
  if (expr.length > 1 && expr.startsWith("'") && expr.endsWith("'")) return { type: ["string"] };
  return fallback;
}

/** A mapped property may be null (the SDK's Property.to_dict); anyOf/oneOf get a null branch. */
export function appendNull(s: JSONSchema7): JSONSchema7 {
  const out = structuredClone(s) as JSONSchema7;
  if (out.anyOf) {
    if (!out.anyOf.some((b) => typeof b === "object" && b.type === "null")) out.anyOf.push({ type: "null" });
  } else if (out.oneOf) out.oneOf.push({ type: "null" });
  else if (out.type !== undefined) {
    const types = Array.isArray(out.type) ? out.type : [out.type];
    if (!types.includes("null")) out.type = [...types, "null"];
  }
  return out;
}

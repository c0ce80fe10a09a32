// PostgreSQL types → JSON Schema, and encoders from the server's text
// rendering of a value to JSON text. One table, data over code: a type is
// found by the name of its base type (domains are read as their base type),
// and whatever the table does not name is emitted as the server's text.
//
// Every value arrives as text (see connect.ts: no value is parsed by the
// driver), in a session with DateStyle=ISO, TimeZone=UTC,
// IntervalStyle=iso_8601, extra_float_digits=1 and bytea_output=hex, so
// the text is the exact value and the encoders only reshape it.
import type { JSONSchema7 } from "json-schema";

/** A type as introspect.ts reads it from pg_type. */
export interface PgType {
  readonly oid: number;
  readonly name: string;
  readonly schema: string;
  /** b base, c composite, d domain, e enum, p pseudo, r range, m multirange */
  readonly typtype: string;
  readonly category: string;
  /** Element type of an array type, 0 otherwise. */
  readonly elem: number;
  /** Base type of a domain, 0 otherwise. */
  readonly base: number;
  /** Array element delimiter (',' for all but box). */
  readonly delim: string;
}

export type TypeLookup = (oid: number) => PgType | undefined;

/**
 * Turns the server's text of a non-NULL value into JSON text. `lost` is
 * called when the value cannot be expressed (NaN, ±Infinity, dates that RFC
 * 3339 cannot write) and null is emitted in its place.
 */
export type Encoder = (text: string) => string;

interface Rule {
  /** Schema of a non-null value; null is added by `columnSchema`. */
  readonly schema: JSONSchema7;
  /** Builds the encoder; `lost` counts values replaced by null. */
  readonly encoder: (lost: () => void) => Encoder;
  /** The select expression, when the column must be converted on the server. */
  readonly select?: (quoted: string) => string;
  /** Has a btree order that makes sense for `key >= bookmark`. */
  readonly orderable?: boolean;
}

const raw = (): Encoder => (s) => s;
const str = (): Encoder => (s) => JSON.stringify(s);
const bool = (): Encoder => (s) => (s === "t" ? "true" : "false");

/** numeric and floats: NaN and ±Infinity are not JSON numbers. */
const number = (lost: () => void): Encoder => (s) => {
  const c = s.charCodeAt(s.length - 1);
  // Every finite rendering ends in a digit; NaN, Infinity and -Infinity end in a letter.
  if (c >= 48 && c <= 57) return s;
  lost();
  return "null";
};

/** json keeps its input text, which may hold line breaks between tokens (never inside strings). */
const json = (): Encoder => (s) => (s.includes("\n") || s.includes("\r") ? s.replace(/[\r\n]+/g, " ") : s);

/**
 * A date is "YYYY-MM-DD" for years 1 to 9999; "infinity", "-infinity",
 * BC dates ("0044-03-15 BC") and years after 9999 have no RFC 3339 form.
 */
function plainDate(s: string): boolean {
  return s.length >= 10 && s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45 && !s.endsWith(" BC") && s.charCodeAt(0) !== 45;
}

const date = (lost: () => void): Encoder => (s) => {
  if (s.length === 10 && plainDate(s) && s !== "0000-00-00") return `"${s}"`;
  lost();
  return "null";
};

/**
 * "2024-01-02 03:04:05.123456" (timestamp) or "...+00" (timestamptz in a
 * UTC session) → "2024-01-02T03:04:05.123456Z": always six fraction digits.
 */
const timestamp = (lost: () => void): Encoder => (s) => {
  if (!plainDate(s) || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58) {
    lost();
    return "null";
  }
  let end = s.length;
  const plus = s.indexOf("+", 19);
  if (plus > 0) end = plus;
  const frac = s.charCodeAt(19) === 46 ? s.slice(20, end) : "";
  return `"${s.slice(0, 10)}T${s.slice(11, 19)}.${frac}${ZEROS.slice(frac.length)}Z"`;
};
const ZEROS = "000000";

/** hstore: `"k"=>"v", "k2"=>NULL` → {"k":"v","k2":null}. */
const hstore = (): Encoder => (s) => {
  let out = "{";
  let i = 0;
  const n = s.length;
  const quoted = (): string => {
    // at a '"'
    let j = i + 1;
    let v = "";
    while (j < n) {
      const c = s[j]!;
      if (c === "\\") {
        v += s[j + 1] ?? "";
        j += 2;
      } else if (c === '"') break;
      else {
        v += c;
        j++;
      }
    }
    i = j + 1;
    return v;
  };
  let first = true;
  while (i < n) {
    while (i < n && (s[i] === " " || s[i] === ",")) i++;
    if (i >= n) break;
    const k = quoted();
    i += 2; // =>
    let v: string | null;
    if (s[i] === '"') v = quoted();
    else {
      i += 4; // NULL
      v = null;
    }
    out += (first ? "" : ",") + JSON.stringify(k) + ":" + (v === null ? "null" : JSON.stringify(v));
    first = false;
  }
  return out + "}";
};

const STRING: JSONSchema7 = { type: "string" };
const stringRule: Rule = { schema: STRING, encoder: str };
const ordString: Rule = { schema: STRING, encoder: str, orderable: true };
/**
 * Integers carry what SQL targets size their column by: the Meltano SDK's
 * x-sql-datatype (MeltanoLabs target-postgres maps smallint/integer/bigint) and
 * bounds (pipelinewise-target-postgres picks smallint/integer/bigint from
 * `maximum`). int8's bounds are left out: beyond 2^53 they do not survive JSON.
 */
const integer = (sql: string, bounds?: [number, number]): Rule => ({
  schema: { type: "integer", "x-sql-datatype": sql, ...(bounds ? { minimum: bounds[0], maximum: bounds[1] } : {}) } as JSONSchema7,
  encoder: raw,
  orderable: true,
});
const decimal: Rule = { schema: { type: "number" }, encoder: number, orderable: true };
/**
 * json and jsonb: any JSON value. A `type` list, not {}, because
 * pipelinewise-target-postgres creates no column for a property without one;
 * "object" makes it jsonb there, and JSONB wins the type list in SDK targets.
 */
const ANY_JSON: JSONSchema7 = { type: ["object", "array", "string", "number", "boolean"] };
/** use_singer_decimal (the Meltano SDK's setting): decimals as exact strings; NaN and ±Infinity keep their names. */
const singerDecimal: Rule = { schema: { type: "string", format: "x-singer.decimal" }, encoder: str, orderable: true };
const DECIMALS = new Set(["numeric", "float4", "float8", "money"]);

/** The table: base type name → rule. Names not listed fall back to their category, then to text. */
export const RULES: Readonly<Record<string, Rule>> = {
  int2: integer("smallint", [-32768, 32767]),
  int4: integer("integer", [-2147483648, 2147483647]),
  int8: integer("bigint"),
  oid: integer("bigint", [0, 4294967295]),
  xid: { schema: { type: "integer", minimum: 0, maximum: 4294967295 }, encoder: raw },
  xid8: { schema: { type: "integer" }, encoder: raw },
  numeric: decimal,
  float4: decimal,
  float8: decimal,
  money: { schema: { type: "number" }, encoder: number, select: (c) => `${c}::numeric`, orderable: true },
  bool: { schema: { type: "boolean" }, encoder: bool, orderable: true },
  text: ordString,
  varchar: ordString,
  bpchar: ordString,
  name: ordString,
  char: ordString,
  citext: ordString,
  uuid: { schema: { type: "string", format: "uuid" }, encoder: str, orderable: true },
  json: { schema: ANY_JSON, encoder: json },
  jsonb: { schema: ANY_JSON, encoder: raw },
  date: { schema: { type: "string", format: "date" }, encoder: date, orderable: true },
  timestamp: { schema: { type: "string", format: "date-time" }, encoder: timestamp, orderable: true },
  timestamptz: { schema: { type: "string", format: "date-time" }, encoder: timestamp, orderable: true },
  time: { schema: { type: "string", format: "time" }, encoder: str, orderable: true },
  timetz: ordString,
  interval: ordString,
  bytea: stringRule,
  inet: ordString,
  cidr: ordString,
  macaddr: ordString,
  macaddr8: ordString,
  bit: ordString,
  varbit: ordString,
  pg_lsn: ordString,
  hstore: { schema: { type: "object", additionalProperties: { type: ["null", "string"] } }, encoder: hstore },
};

/** What the tap knows about one column's type. */
export interface ColumnType {
  /** JSON Schema of the column, nullable. */
  readonly schema: JSONSchema7;
  /** Server text → JSON text, for a non-NULL value. */
  makeEncoder(lost: () => void): Encoder;
  /** SELECT expression for the quoted column name. */
  select(quoted: string): string;
  readonly orderable: boolean;
  /** The base type's name, e.g. for a bookmark cast. */
  readonly baseName: string;
}

export interface TypeOptions {
  /** The Meltano SDK's use_singer_decimal: numeric, floats and money as exact strings (format x-singer.decimal). */
  readonly singerDecimal?: boolean;
}

/** Resolves a column type (domains to their base, arrays to their element). */
export function columnType(oid: number, lookup: TypeLookup, dims = 0, options: TypeOptions = {}): ColumnType {
  const t = resolve(oid, lookup);
  if (t && t.category === "A" && t.elem !== 0) {
    const el = columnType(t.elem, lookup, 0, options);
    const delim = t.delim || ",";
    let items = withNull(el.schema);
    for (let d = 1; d < dims; d++) items = { type: ["null", "array"], items };
    return {
      schema: { type: ["null", "array"], items },
      makeEncoder: (lost) => arrayEncoder(el.makeEncoder(lost), delim),
      // money[] cannot be cast element-wise in the select; its elements come as money text.
      select: (q) => (el.baseName === "money" ? `${q}::numeric[]` : q),
      orderable: false,
      baseName: `${el.baseName}[]`,
    };
  }
  const name = t?.name ?? "unknown";
  const listed = options.singerDecimal && DECIMALS.has(name) ? { ...singerDecimal, select: RULES[name]!.select } : RULES[name];
  const rule = listed ?? (t?.typtype === "e" ? ordString : stringRule);
  return {
    schema: withNull(rule.schema),
    makeEncoder: rule.encoder,
    select: rule.select ?? ((q) => q),
    orderable: rule.orderable ?? t?.typtype === "e",
    baseName: name,
  };
}

function resolve(oid: number, lookup: TypeLookup): PgType | undefined {
  let t = lookup(oid);
  for (let i = 0; t && t.typtype === "d" && i < 32; i++) t = lookup(t.base);
  return t;
}

function withNull(schema: JSONSchema7): JSONSchema7 {
  if (schema.type === undefined) return schema; // {} already admits null
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return { ...schema, type: types.includes("null") ? types : ["null", ...types] };
}

/**
 * An array literal ({1,2,NULL}, {{"a b",c},{d,e}}, [0:1]={1,2}) → nested
 * JSON arrays, each element through the element encoder.
 */
export function arrayEncoder(element: Encoder, delim = ","): Encoder {
  const d = delim.charCodeAt(0);
  return (s) => {
    let i = 0;
    if (s.charCodeAt(0) === 91) i = s.indexOf("=") + 1; // explicit bounds: [1:2]={...}
    const n = s.length;
    let out = "";
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c === 123) out += "["; // {
      else if (c === 125) out += "]"; // }
      else if (c === d) out += ",";
      else if (c === 32) continue;
      else if (c === 34) {
        // "quoted", with backslash escapes
        let v = "";
        let j = i + 1;
        let from = j;
        for (; j < n; j++) {
          const q = s.charCodeAt(j);
          if (q === 92) {
            v += s.slice(from, j) + s[j + 1];
            j++;
            from = j + 1;
          } else if (q === 34) break;
        }
        v += s.slice(from, j);
        out += element(v);
        i = j;
      } else {
        let j = i;
        while (j < n) {
          const q = s.charCodeAt(j);
          if (q === d || q === 125) break;
          j++;
        }
        const v = s.slice(i, j).trimEnd();
        out += v === "NULL" ? "null" : element(v);
        i = j - 1;
      }
    }
    return out;
  };
}

/** A PostgreSQL boolean as pg hands it over: true, or its text ("t" raw, "true" cast with ::text). */
export const isTrue = (v: unknown): boolean => v === true || v === "t" || v === "true";

/** Quotes an identifier for SQL: "a ""b""". */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

// Python's value semantics on JavaScript values, as far as map expressions
// need them: None is null, bool is boolean, int is number (bigint beyond
// 2^53), float is number, str is string, list and tuple are arrays, and dict
// is a plain object (records, string keys) or a PyDict (any hashable key).
// Truthiness, ==, ordering, arithmetic, indexing and str()/repr() follow
// Python, so `int(x) if x else None` means what it means in the SDK.
import { ExactNumber } from "./exact-json.ts";
import { MapError, PyDate, PyDateTime, PyTimedelta, PyTimezone } from "./datetime.ts";
import { setOwn } from "../../own.ts";

export { MapError };

/** A dict built by an expression: keys may be ints, strings, None, bools or tuples. */
export class PyDict {
  private readonly map = new Map<string, [unknown, unknown]>();
  static from(entries: Iterable<[unknown, unknown]>): PyDict {
    const d = new PyDict();
    for (const [k, v] of entries) d.set(k, v);
    return d;
  }
  set(key: unknown, value: unknown): void {
    const h = hashKey(key);
    const prior = this.map.get(h);
    this.map.set(h, [prior ? prior[0] : key, value]); // Python keeps the first key object
  }
  has(key: unknown): boolean {
    return this.map.has(hashKey(key));
  }
  get(key: unknown): unknown {
    return this.map.get(hashKey(key))?.[1];
  }
  entries(): [unknown, unknown][] {
    return [...this.map.values()];
  }
  get size(): number {
    return this.map.size;
  }
}

/** Equal Python keys (1, 1.0 and True) hash alike. */
function hashKey(key: unknown): string {
  if (key === null) return "None";
  if (typeof key === "boolean") return `n${key ? 1 : 0}`;
  if (typeof key === "number" || typeof key === "bigint") return `n${String(key)}`;
  if (key instanceof ExactNumber) return `n${Number(key.text)}`;
  if (typeof key === "string") return `s${key}`;
  if (Array.isArray(key)) return `t(${key.map(hashKey).join(",")})`;
  if (key instanceof PyDateTime) return `dt${key.instantUs}`;
  if (key instanceof PyDate) return `d${key.wall}`;
  throw new MapError(`unhashable type: '${typeName(key)}'`);
}

export const isPlainDict = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
export const isDict = (v: unknown): v is PyDict | Record<string, unknown> => v instanceof PyDict || isPlainDict(v);

/** A dict's (key, value) pairs, whichever representation it has. */
export function dictEntries(d: PyDict | Record<string, unknown>): [unknown, unknown][] {
  return d instanceof PyDict ? d.entries() : Object.entries(d);
}

export function dictGet(d: PyDict | Record<string, unknown>, key: unknown): { found: boolean; value: unknown } {
  if (d instanceof PyDict) return d.has(key) ? { found: true, value: d.get(key) } : { found: false, value: undefined };
  return typeof key === "string" && Object.hasOwn(d, key) ? { found: true, value: d[key] } : { found: false, value: undefined };
}

export function typeName(v: unknown): string {
  if (v === null || v === undefined) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "bigint") return "int";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (v instanceof ExactNumber) return "float";
  if (typeof v === "string") return "str";
  if (Array.isArray(v)) return "list";
  if (isDict(v)) return "dict";
  if (v instanceof PyDateTime) return "datetime";
  if (v instanceof PyDate) return "date";
  if (v instanceof PyTimedelta) return "timedelta";
  if (v instanceof PyTimezone) return "timezone";
  return "function";
}

export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "" || v === 0n) return false;
  if (v instanceof ExactNumber) return Number(v.text) !== 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof PyDict) return v.size > 0;
  if (isPlainDict(v)) return Object.keys(v).length > 0;
  if (v instanceof PyTimedelta) return v.us !== 0;
  return true;
}

const isNum = (v: unknown): v is number | bigint | boolean | ExactNumber =>
  typeof v === "number" || typeof v === "bigint" || typeof v === "boolean" || v instanceof ExactNumber;

/** A Python number as a JS number or bigint (True is 1). */
function num(v: number | bigint | boolean | ExactNumber): number | bigint {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof ExactNumber) return v.toNumber();
  return v;
}

/** Back to a number when a bigint result fits a double exactly. */
export function normInt(v: bigint): number | bigint {
  return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

const bothInts = (a: number | bigint, b: number | bigint) => (typeof a === "bigint" || Number.isInteger(a)) && (typeof b === "bigint" || Number.isInteger(b));
const toBig = (v: number | bigint) => (typeof v === "bigint" ? v : BigInt(v));
const toNum = (v: number | bigint) => (typeof v === "bigint" ? Number(v) : v);

export function equals(a: unknown, b: unknown): boolean {
  if (isNum(a) && isNum(b)) {
    const x = num(a);
    const y = num(b);
    if (typeof x === "bigint" || typeof y === "bigint") return bothInts(x, y) ? toBig(x) === toBig(y) : toNum(x) === toNum(y);
    return x === y;
  }
  if (a === null || a === undefined) return b === null || b === undefined;
  if (typeof a === "string") return a === b;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => equals(v, b[i]));
  if (isDict(a)) {
    if (!isDict(b)) return false;
    const ea = dictEntries(a);
    const eb = dictEntries(b);
    return ea.length === eb.length && ea.every(([k, v]) => {
      const other = dictGet(b, k);
      return other.found && equals(v, other.value);
    });
  }
  if (a instanceof PyDateTime) return b instanceof PyDateTime && a.instantUs === b.instantUs;
  if (a instanceof PyDate) return b instanceof PyDate && a.wall === b.wall;
  if (a instanceof PyTimedelta) return b instanceof PyTimedelta && a.us === b.us;
  return a === b;
}

/** <0, 0, >0 as Python orders them; a TypeError for values Python does not order. */
export function compare(a: unknown, b: unknown, op: string): number {
  if (isNum(a) && isNum(b)) {
    const x = num(a);
    const y = num(b);
    if (typeof x === "bigint" || typeof y === "bigint") {
      if (bothInts(x, y)) return toBig(x) < toBig(y) ? -1 : toBig(x) > toBig(y) ? 1 : 0;
    }
    const p = toNum(x);
    const q = toNum(y);
    return p < q ? -1 : p > q ? 1 : p === q ? 0 : NaN;
  }
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!equals(a[i], b[i])) return compare(a[i], b[i], op);
    }
    return a.length - b.length;
  }
  if (a instanceof PyDateTime && b instanceof PyDateTime) return Math.sign(a.instantUs - b.instantUs);
  if (a instanceof PyDate && b instanceof PyDate) return Math.sign(a.wall - b.wall);
  if (a instanceof PyTimedelta && b instanceof PyTimedelta) return Math.sign(a.us - b.us);
  throw new MapError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

/** Longest string a map may build (simpleeval's limit), so a map cannot exhaust memory. */
const MAX_STRING = 100_000;

export function binary(op: string, a: unknown, b: unknown): unknown {
  if (isNum(a) && isNum(b)) return arithmetic(op, num(a), num(b));
  const unsupported = () => new MapError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
  if (op === "+") {
    if (typeof a === "string" && typeof b === "string") return limit(a + b);
    if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
    if (a instanceof PyDateTime && b instanceof PyTimedelta) return a.plus(b.us);
    if (a instanceof PyTimedelta && b instanceof PyDateTime) return b.plus(a.us);
    if (a instanceof PyDate && b instanceof PyTimedelta) return new PyDate(a.wall + Math.floor(b.us / 86_400e6) * 86_400_000);
    if (a instanceof PyTimedelta && b instanceof PyTimedelta) return new PyTimedelta(a.us + b.us);
    throw unsupported();
  }
  if (op === "-") {
    if (a instanceof PyDateTime && b instanceof PyTimedelta) return a.plus(-b.us);
    if (a instanceof PyDateTime && b instanceof PyDateTime) {
      if ((a.offset === null) !== (b.offset === null)) throw new MapError("can't subtract offset-naive and offset-aware datetimes");
      return new PyTimedelta(a.instantUs - b.instantUs);
    }
    if (a instanceof PyDate && b instanceof PyDate && !(a instanceof PyDateTime)) return new PyTimedelta((a.wall - b.wall) * 1000);
    if (a instanceof PyDate && b instanceof PyTimedelta) return new PyDate(a.wall - Math.floor(b.us / 86_400e6) * 86_400_000);
    if (a instanceof PyTimedelta && b instanceof PyTimedelta) return new PyTimedelta(a.us - b.us);
    throw unsupported();
  }
  if (op === "*") {
    const [seq, n] = isNum(a) ? [b, a] : [a, b];
    if (isNum(n) && (typeof seq === "string" || Array.isArray(seq))) {
      const times = Math.max(0, toNum(num(n)));
      if (!Number.isInteger(times)) throw new MapError(`can't multiply sequence by non-int of type 'float'`);
      if (typeof seq === "string") return limit(seq.repeat(Math.min(times, MAX_STRING + 1)));
      if (seq.length * times > MAX_STRING) throw new MapError("list too long");
      return Array.from({ length: times }, () => seq).flat();
    }
    if (a instanceof PyTimedelta && isNum(b)) return new PyTimedelta(Math.round(a.us * toNum(num(b))));
    throw unsupported();
  }
  if (op === "%" && typeof a === "string") throw new MapError("string formatting with % is not supported (use + and str())");
  throw unsupported();
}

function limit(s: string): string {
  if (s.length > MAX_STRING) throw new MapError(`a string longer than ${MAX_STRING} characters`);
  return s;
}

function arithmetic(op: string, x: number | bigint, y: number | bigint): number | bigint {
  if (typeof x === "bigint" || typeof y === "bigint") {
    if (bothInts(x, y) && op !== "/") {
      const a = toBig(x);
      const b = toBig(y);
      if ((op === "//" || op === "%") && b === 0n) throw new MapError("integer division or modulo by zero");
      switch (op) {
        case "+":
          return normInt(a + b);
        case "-":
          return normInt(a - b);
        case "*":
          return normInt(a * b);
        case "//":
          return normInt(a / b - ((a % b !== 0n && (a < 0n) !== (b < 0n)) ? 1n : 0n));
        case "%": {
          const r = a % b;
          return normInt(r !== 0n && (r < 0n) !== (b < 0n) ? r + b : r);
        }
        case "**":
          if (b < 0n) return Number(a) ** Number(b);
          if (b > 10_000n) throw new MapError("exponent too large");
          return normInt(a ** b);
      }
    }
    return arithmetic(op, toNum(x), toNum(y));
  }
  switch (op) {
    case "+":
      return intOrBig(x + y, x, y, (a, b) => a + b);
    case "-":
      return intOrBig(x - y, x, y, (a, b) => a - b);
    case "*":
      return intOrBig(x * y, x, y, (a, b) => a * b);
    case "/":
      if (y === 0) throw new MapError("division by zero");
      return x / y;
    case "//":
      if (y === 0) throw new MapError("integer division or modulo by zero");
      return Math.floor(x / y);
    case "%": {
      if (y === 0) throw new MapError("integer division or modulo by zero");
      const r = x % y;
      return r !== 0 && r < 0 !== y < 0 ? r + y : r;
    }
    case "**":
      if (Number.isInteger(x) && Number.isInteger(y) && y >= 0) {
        if (y > 10_000) throw new MapError("exponent too large");
        return normInt(BigInt(x) ** BigInt(y));
      }
      return x ** y;
  }
  throw new MapError(`unsupported operator ${op}`);
}

/** Integer results beyond 2^53 are redone exactly, as Python's ints never round. */
function intOrBig(result: number, x: number, y: number, exact: (a: bigint, b: bigint) => bigint): number | bigint {
  if (Number.isSafeInteger(result) || !Number.isInteger(x) || !Number.isInteger(y)) return result;
  return normInt(exact(BigInt(x), BigInt(y)));
}

export function negate(v: unknown): unknown {
  if (!isNum(v)) {
    if (v instanceof PyTimedelta) return new PyTimedelta(-v.us);
    throw new MapError(`bad operand type for unary -: '${typeName(v)}'`);
  }
  const n = num(v);
  return typeof n === "bigint" ? normInt(-n) : -n;
}

export function plus(v: unknown): unknown {
  if (!isNum(v)) throw new MapError(`bad operand type for unary +: '${typeName(v)}'`);
  return num(v);
}

export function contains(container: unknown, item: unknown): boolean {
  if (typeof container === "string") {
    if (typeof item !== "string") throw new MapError(`'in <string>' requires string as left operand, not ${typeName(item)}`);
    return container.includes(item);
  }
  if (Array.isArray(container)) return container.some((v) => equals(v, item));
  if (isDict(container)) return dictGet(container, item).found;
  throw new MapError(`argument of type '${typeName(container)}' is not iterable`);
}

/** Python's float repr: shortest digits that round-trip, exponent outside 1e-4..1e16. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return String(x); // indistinguishable from an int here
  const abs = Math.abs(x);
  if (abs >= 1e-4 && abs < 1e16) return String(x);
  const [mantissa, exp] = x.toExponential().split("e") as [string, string];
  const e = Number(exp);
  return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
}

export function repr(v: unknown): string {
  if (typeof v === "string") {
    const quote = v.includes("'") && !v.includes('"') ? '"' : "'";
    const body = v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t");
    return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
  }
  if (v instanceof PyDateTime) return `datetime.datetime.fromisoformat('${v.isoformat()}')`;
  if (v instanceof PyDate) return `datetime.date.fromisoformat('${v.isoformat()}')`;
  return str(v);
}

export function str(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return floatRepr(v);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof ExactNumber) return v.text;
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return `[${v.map(repr).join(", ")}]`;
  if (isDict(v)) return `{${dictEntries(v).map(([k, x]) => `${repr(k)}: ${repr(x)}`).join(", ")}}`;
  if (v instanceof PyDateTime || v instanceof PyDate || v instanceof PyTimedelta || v instanceof PyTimezone) return v.toString();
  return "<function>";
}

/** The items a for loop visits: list items, string characters, dict keys. */
export function iterate(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === "string") return [...v];
  if (isDict(v)) return dictEntries(v).map(([k]) => k);
  throw new MapError(`'${typeName(v)}' object is not iterable`);
}

function toIndex(i: unknown, what: string): number {
  if (typeof i === "boolean") return i ? 1 : 0;
  if (typeof i === "number" && Number.isInteger(i)) return i;
  if (typeof i === "bigint") return Number(i);
  throw new MapError(`${what} indices must be integers or slices, not ${typeName(i)}`);
}

export function index(object: unknown, key: unknown): unknown {
  if (Array.isArray(object) || typeof object === "string") {
    const seq = typeof object === "string" ? [...object] : object;
    let i = toIndex(key, typeof object === "string" ? "string" : "list");
    if (i < 0) i += seq.length;
    if (i < 0 || i >= seq.length) throw new MapError(`${typeof object === "string" ? "string" : "list"} index out of range`);
    return seq[i];
  }
  if (isDict(object)) {
    const r = dictGet(object, key);
    if (!r.found) throw new MapError(`KeyError: ${repr(key)}`);
    return r.value;
  }
  if (object === null || object === undefined) throw new MapError("'NoneType' object is not subscriptable");
  throw new MapError(`'${typeName(object)}' object is not subscriptable`);
}

export function slice(object: unknown, lower: unknown, upper: unknown, step: unknown): unknown {
  if (!(Array.isArray(object) || typeof object === "string")) throw new MapError(`'${typeName(object)}' object is not subscriptable`);
  const seq = typeof object === "string" ? [...object] : object;
  const n = seq.length;
  const s = step === null || step === undefined ? 1 : toIndex(step, "slice");
  if (s === 0) throw new MapError("slice step cannot be zero");
  const bound = (v: unknown, dflt: number) => {
    if (v === null || v === undefined) return dflt;
    let i = toIndex(v, "slice");
    if (i < 0) i += n;
    return s > 0 ? Math.min(Math.max(i, 0), n) : Math.min(Math.max(i, -1), n - 1);
  };
  const start = bound(lower, s > 0 ? 0 : n - 1);
  const stop = bound(upper, s > 0 ? n : -1);
  const out: unknown[] = [];
  for (let i = start; s > 0 ? i < stop : i > stop; i += s) out.push(seq[i]);
  return typeof object === "string" ? out.join("") : out;
}

/** A value fit for a record: dicts become plain objects with str keys, dates their ISO text (the SDK's JSON encoder). */
export function toRecordValue(v: unknown): unknown {
  if (v instanceof PyDict) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v.entries()) setOwn(out, jsonKey(k), toRecordValue(x));
    return out;
  }
  if (Array.isArray(v)) return v.map(toRecordValue);
  if (isPlainDict(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) setOwn(out, k, toRecordValue(x));
    return out;
  }
  if (v instanceof PyDateTime) return v.isoformat("T");
  if (v instanceof PyDate || v instanceof PyTimedelta || v instanceof PyTimezone) return v.toString();
  if (typeof v === "number" && !Number.isFinite(v)) return null;
  if (typeof v === "function") throw new MapError("a map expression returned a function; call it");
  return v;
}

/** json.dumps turns keys into strings this way. */
export function jsonKey(k: unknown): string {
  if (typeof k === "string") return k;
  if (k === null) return "null";
  if (typeof k === "boolean") return k ? "true" : "false";
  if (typeof k === "number" || typeof k === "bigint" || k instanceof ExactNumber) return str(k);
  throw new MapError(`keys must be str, int, float, bool or None, not ${typeName(k)}`);
}

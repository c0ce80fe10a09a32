// The functions, modules and methods a map expression may call: the SDK's
// (int, float, str, bool, list, tuple, dict, md5, sha256, datetime, json),
// a few more builtins (len, min, max, round, abs, sorted, sum), and the
// read-only methods of str, list, dict and the datetime values. Nothing else
// is reachable: no attribute lookup falls through to JavaScript objects.
import { createHash } from "node:crypto";
import { ExactNumber, parseExact } from "./exact-json.ts";
import { dateFromIso, datetimeFromIso, now, PyDate, PyDateTime, PyTimedelta, PyTimezone, UTC } from "./datetime.ts";
import {
  compare,
  contains,
  dictEntries,
  dictGet,
  equals,
  floatRepr,
  isDict,
  iterate,
  jsonKey,
  MapError,
  normInt,
  PyDict,
  repr,
  str,
  toRecordValue,
  truthy,
  typeName,
} from "./python.ts";

type Kwargs = Record<string, unknown>;

export class PyFunction {
  constructor(
    readonly name: string,
    readonly call: (args: unknown[], kwargs: Kwargs) => unknown,
  ) {}
}

export class PyModule {
  constructor(
    readonly name: string,
    readonly attrs: Record<string, unknown>,
  ) {}
}

const fn = (name: string, call: (args: unknown[], kwargs: Kwargs) => unknown) => new PyFunction(name, call);

function arity(name: string, args: unknown[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    throw new MapError(`${name}() takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? "" : "s"} (${args.length} given)`);
  }
}

function noKwargs(name: string, kwargs: Kwargs, allowed: string[] = []): void {
  const extra = Object.keys(kwargs).find((k) => !allowed.includes(k));
  if (extra) throw new MapError(`${name}() got an unexpected keyword argument '${extra}'`);
}

function toInt(v: unknown): number | bigint {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "bigint") return v;
  if (v instanceof ExactNumber) v = v.toNumber();
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new MapError(`cannot convert float ${floatRepr(v)} to integer`);
    const t = Math.trunc(v);
    return Number.isSafeInteger(t) ? t : BigInt(t);
  }
  if (typeof v === "string") {
    const s = v.trim().replace(/_/g, "");
    if (!/^[+-]?\d+$/.test(s)) throw new MapError(`invalid literal for int() with base 10: ${repr(v)}`);
    return normInt(BigInt(s));
  }
  throw new MapError(`int() argument must be a string or a number, not '${typeName(v)}'`);
}

function toFloat(v: unknown): number {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof ExactNumber) return v.toNumber();
  if (typeof v === "string") {
    const s = v.trim().toLowerCase().replace(/_/g, "");
    if (/^[+-]?(inf|infinity)$/.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
    if (/^[+-]?nan$/.test(s)) return NaN;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(s)) throw new MapError(`could not convert string to float: ${repr(v)}`);
    return Number(s);
  }
  throw new MapError(`float() argument must be a string or a real number, not '${typeName(v)}'`);
}

function pythonRound(x: number, digits: number | undefined): number {
  if (digits === undefined) {
    const r = Math.round(x);
    return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r; // half to even
  }
  if (!Number.isFinite(x)) return x;
  return Number(x.toFixed(Math.max(0, Math.min(100, digits))));
}

function md5(args: unknown[]): string {
  arity("md5", args, 1);
  if (typeof args[0] !== "string") throw new MapError(`md5() needs a string, not ${typeName(args[0])} (wrap it in str())`);
  return createHash("md5").update(args[0], "utf8").digest("hex");
}

function sha256(args: unknown[]): string {
  arity("sha256", args, 1);
  if (typeof args[0] !== "string") throw new MapError(`sha256() needs a string, not ${typeName(args[0])} (wrap it in str())`);
  return createHash("sha256").update(args[0], "utf8").digest("hex");
}

function sortKey(items: unknown[], reverse: boolean): unknown[] {
  const out = [...items].sort((a, b) => compare(a, b, "<"));
  return reverse ? out.reverse() : out;
}

function extreme(name: "min" | "max", args: unknown[], kwargs: Kwargs): unknown {
  noKwargs(name, kwargs, ["default"]);
  const items = args.length === 1 ? iterate(args[0]) : args;
  if (items.length === 0) {
    if ("default" in kwargs) return kwargs.default;
    throw new MapError(`${name}() arg is an empty sequence`);
  }
  return items.reduce((best, v) => (compare(v, best, "<") * (name === "min" ? 1 : -1) < 0 ? v : best));
}

/** json.dumps with Python's defaults: ", " and ": " separators, non-ASCII escaped. */
function jsonDumps(args: unknown[], kwargs: Kwargs): string {
  arity("json.dumps", args, 1);
  noKwargs("json.dumps", kwargs, ["default", "sort_keys", "indent", "separators", "ensure_ascii"]);
  const sortKeys = truthy(kwargs.sort_keys ?? false);
  const asciiOnly = kwargs.ensure_ascii === undefined ? true : truthy(kwargs.ensure_ascii);
  const indent = kwargs.indent === undefined || kwargs.indent === null
    ? undefined
    : typeof kwargs.indent === "string"
    ? kwargs.indent
    : " ".repeat(Number(kwargs.indent));
  const seps = Array.isArray(kwargs.separators) ? (kwargs.separators as string[]) : indent !== undefined ? [",", ": "] : [", ", ": "];
  const dflt = kwargs.default;
  const quote = (s: string) => {
    const q = JSON.stringify(s);
    return asciiOnly ? q.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) : q;
  };
  const enc = (v: unknown, depth: number): string => {
    if (v === null || v === undefined) return "null";
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "number") return Number.isFinite(v) ? floatRepr(v) : Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
    if (typeof v === "bigint") return v.toString();
    if (v instanceof ExactNumber) return v.text;
    if (typeof v === "string") return quote(v);
    const nl = indent === undefined ? "" : "\n" + indent.repeat(depth + 1);
    const end = indent === undefined ? "" : "\n" + indent.repeat(depth);
    if (Array.isArray(v)) return v.length ? `[${nl}${v.map((x) => enc(x, depth + 1)).join(seps[0]! + nl)}${end}]` : "[]";
    if (isDict(v)) {
      let entries = dictEntries(v).map(([k, x]) => [jsonKey(k), x] as const);
      if (sortKeys) entries = [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      return entries.length ? `{${nl}${entries.map(([k, x]) => `${quote(k)}${seps[1]}${enc(x, depth + 1)}`).join(seps[0]! + nl)}${end}}` : "{}";
    }
    if (dflt instanceof PyFunction) return enc(dflt.call([v], {}), depth);
    throw new MapError(`Object of type ${typeName(v)} is not JSON serializable (pass default=str)`);
  };
  return enc(args[0], 0);
}

function jsonLoads(args: unknown[], kwargs: Kwargs): unknown {
  arity("json.loads", args, 1);
  noKwargs("json.loads", kwargs);
  if (typeof args[0] !== "string") throw new MapError(`the JSON object must be str, not ${typeName(args[0])}`);
  try {
    return parseExact(args[0]);
  } catch (e) {
    throw new MapError(`json.loads: ${(e as Error).message}`);
  }
}

const numberArgs = (kwargs: Kwargs) => Object.fromEntries(Object.entries(kwargs).map(([k, v]) => [k, typeof v === "number" ? v : Number(toFloat(v))]));

const DATETIME = new PyModule("datetime", {
  datetime: new PyModule("datetime.datetime", {
    now: fn("now", (a, k) => now(a[0] ?? k.tz)),
    utcnow: fn("utcnow", () => now(undefined)),
    fromisoformat: fn("fromisoformat", (a) => datetimeFromIso(a[0])),
    fromtimestamp: fn("fromtimestamp", (a, k) => {
      const tz = a[1] ?? k.tz;
      const offset = tz instanceof PyTimezone ? tz.offset : null;
      return PyDateTime.fromUs(Math.round(toFloat(a[0]) * 1e6), offset);
    }),
  }),
  date: new PyModule("datetime.date", {
    fromisoformat: fn("fromisoformat", (a) => dateFromIso(a[0])),
    today: fn("today", () => now(undefined).date()),
  }),
  timedelta: fn("timedelta", (a, k) => {
    const names = ["days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks"];
    const kw: Record<string, number> = numberArgs(k);
    a.forEach((v, i) => (kw[names[i]!] = toFloat(v)));
    return PyTimedelta.of(kw);
  }),
  timezone: new PyModule("datetime.timezone", { utc: UTC }),
});

const JSON_MODULE = new PyModule("json", { dumps: fn("dumps", jsonDumps), loads: fn("loads", jsonLoads) });

/** The names every expression sees unless the record has a property of that name. */
export const BUILTINS: Record<string, unknown> = {
  int: fn("int", (a, k) => {
    noKwargs("int", k);
    arity("int", a, 0, 1);
    return a.length ? toInt(a[0]) : 0;
  }),
  float: fn("float", (a) => (arity("float", a, 0, 1), a.length ? toFloat(a[0]) : 0)),
  str: fn("str", (a) => (arity("str", a, 0, 1), a.length ? str(a[0]) : "")),
  bool: fn("bool", (a) => (arity("bool", a, 0, 1), a.length ? truthy(a[0]) : false)),
  list: fn("list", (a) => (arity("list", a, 0, 1), a.length ? [...iterate(a[0])] : [])),
  tuple: fn("tuple", (a) => (arity("tuple", a, 0, 1), a.length ? [...iterate(a[0])] : [])),
  dict: fn("dict", (a, k) => {
    arity("dict", a, 0, 1);
    const d = new PyDict();
    if (a.length) {
      if (isDict(a[0])) { for (const [key, v] of dictEntries(a[0])) d.set(key, v); }
      else {
        for (const pair of iterate(a[0])) {
          const kv = iterate(pair);
          if (kv.length !== 2) throw new MapError(`dictionary update sequence element has length ${kv.length}; 2 is required`);
          d.set(kv[0], kv[1]);
        }
      }
    }
    for (const [key, v] of Object.entries(k)) d.set(key, v);
    return d;
  }),
  len: fn("len", (a) => {
    arity("len", a, 1);
    const v = a[0];
    if (typeof v === "string") return [...v].length;
    if (Array.isArray(v)) return v.length;
    if (isDict(v)) return dictEntries(v).length;
    throw new MapError(`object of type '${typeName(v)}' has no len()`);
  }),
  min: fn("min", (a, k) => extreme("min", a, k)),
  max: fn("max", (a, k) => extreme("max", a, k)),
  abs: fn("abs", (a) => {
    arity("abs", a, 1);
    const v = a[0];
    if (typeof v === "bigint") return v < 0n ? normInt(-v) : v;
    return Math.abs(toFloat(v));
  }),
  round: fn("round", (a) => {
    arity("round", a, 1, 2);
    const digits = a[1] === undefined || a[1] === null ? undefined : Number(toInt(a[1]));
    if (typeof a[0] === "bigint" && (digits === undefined || digits >= 0)) return a[0];
    return pythonRound(toFloat(a[0]), digits);
  }),
  sorted: fn("sorted", (a, k) => {
    arity("sorted", a, 1);
    noKwargs("sorted", k, ["reverse"]);
    return sortKey(iterate(a[0]), truthy(k.reverse ?? false));
  }),
  sum: fn("sum", (a) => {
    arity("sum", a, 1, 2);
    let total: unknown = a[1] ?? 0;
    for (const v of iterate(a[0])) total = binaryAdd(total, v);
    return total;
  }),
  md5: fn("md5", md5),
  sha256: fn("sha256", sha256),
  datetime: DATETIME,
  json: JSON_MODULE,
};

let binaryAdd: (a: unknown, b: unknown) => unknown = () => {
  throw new MapError("sum() is not ready");
};
/** evaluate.ts hands over its + so sum() adds exactly as + does, without an import cycle. */
export function setAdd(add: (a: unknown, b: unknown) => unknown): void {
  binaryAdd = add;
}

const WHITESPACE = /^[\s]+|[\s]+$/g;

function stripChars(s: string, chars: unknown, side: "both" | "left" | "right"): string {
  if (chars === undefined || chars === null) {
    if (side === "both") return s.replace(WHITESPACE, "");
    return side === "left" ? s.replace(/^\s+/, "") : s.replace(/\s+$/, "");
  }
  if (typeof chars !== "string") throw new MapError("strip arg must be None or str");
  const set = new Set(chars);
  const cs = [...s];
  let i = 0;
  let j = cs.length;
  if (side !== "right") { while (i < j && set.has(cs[i]!)) i++; }
  if (side !== "left") { while (j > i && set.has(cs[j - 1]!)) j--; }
  return cs.slice(i, j).join("");
}

function split(s: string, sep: unknown, maxsplit: number, fromRight: boolean): string[] {
  if (sep === undefined || sep === null) {
    const words = s.trim().split(/\s+/).filter(Boolean);
    if (maxsplit < 0 || words.length <= maxsplit + 1) return words;
    if (!fromRight) {
      const head = words.slice(0, maxsplit);
      let rest = s.trimStart();
      for (const w of head) rest = rest.slice(rest.indexOf(w) + w.length).trimStart();
      return [...head, rest];
    }
    const tail = words.slice(words.length - maxsplit);
    let rest = s.trimEnd();
    for (const w of [...tail].reverse()) rest = rest.slice(0, rest.lastIndexOf(w)).trimEnd();
    return [rest, ...tail];
  }
  if (typeof sep !== "string") throw new MapError(`must be str or None, not ${typeName(sep)}`);
  if (sep === "") throw new MapError("empty separator");
  const parts = s.split(sep);
  if (maxsplit < 0 || parts.length <= maxsplit + 1) return parts;
  return fromRight
    ? [parts.slice(0, parts.length - maxsplit).join(sep), ...parts.slice(parts.length - maxsplit)]
    : [...parts.slice(0, maxsplit), parts.slice(maxsplit).join(sep)];
}

function strMethod(s: string, name: string): PyFunction | undefined {
  const m = (call: (a: unknown[], k: Kwargs) => unknown) => fn(name, call);
  const needStr = (v: unknown, what = name) => {
    if (typeof v !== "string") throw new MapError(`${what}() argument must be str, not ${typeName(v)}`);
    return v;
  };
  const prefixes = (v: unknown) => (Array.isArray(v) ? v.map((x) => needStr(x)) : [needStr(v)]);
  switch (name) {
    case "lower":
      return m(() => s.toLowerCase());
    case "upper":
      return m(() => s.toUpperCase());
    case "strip":
      return m((a) => stripChars(s, a[0], "both"));
    case "lstrip":
      return m((a) => stripChars(s, a[0], "left"));
    case "rstrip":
      return m((a) => stripChars(s, a[0], "right"));
    case "split":
    case "rsplit":
      return m((a, k) => split(s, a[0] ?? k.sep, Number(a[1] ?? k.maxsplit ?? -1), name === "rsplit"));
    case "splitlines":
      return m(() => s.split(/\r\n|\r|\n/).filter((x, i, all) => i < all.length - 1 || x !== ""));
    case "replace":
      return m((a) => {
        const [old, repl] = [needStr(a[0]), needStr(a[1])];
        const count = a[2] === undefined ? -1 : Number(a[2]);
        if (count < 0) return s.split(old).join(repl);
        const parts = s.split(old);
        return parts.slice(0, count + 1).join(repl) + (parts.length > count + 1 ? old + parts.slice(count + 1).join(old) : "");
      });
    case "startswith":
      return m((a) => prefixes(a[0]).some((p) => s.startsWith(p)));
    case "endswith":
      return m((a) => prefixes(a[0]).some((p) => s.endsWith(p)));
    case "join":
      return m((a) => iterate(a[0]).map((x, i) => needStr(x, `sequence item ${i}: join`)).join(s));
    case "find":
      return m((a) => s.indexOf(needStr(a[0])));
    case "rfind":
      return m((a) => s.lastIndexOf(needStr(a[0])));
    case "index":
      return m((a) => {
        const i = s.indexOf(needStr(a[0]));
        if (i < 0) throw new MapError("substring not found");
        return i;
      });
    case "count":
      return m((a) => {
        const sub = needStr(a[0]);
        return sub === "" ? [...s].length + 1 : s.split(sub).length - 1;
      });
    case "title":
      return m(() => s.toLowerCase().replace(/(^|[^a-zA-Z])([a-z])/g, (_, p: string, c: string) => p + c.toUpperCase()));
    case "capitalize":
      return m(() => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase());
    case "isdigit":
    case "isnumeric":
    case "isdecimal":
      return m(() => s.length > 0 && /^\d+$/.test(s));
    case "isalpha":
      return m(() => s.length > 0 && /^\p{L}+$/u.test(s));
    case "isalnum":
      return m(() => s.length > 0 && /^[\p{L}\d]+$/u.test(s));
    case "isspace":
      return m(() => s.length > 0 && /^\s+$/.test(s));
    case "islower":
      return m(() => /[a-z]/.test(s) && s === s.toLowerCase());
    case "isupper":
      return m(() => /[A-Z]/.test(s) && s === s.toUpperCase());
    case "zfill":
      return m((a) => {
        const width = Number(toInt(a[0]));
        const sign = /^[+-]/.test(s) ? s[0]! : "";
        return sign + s.slice(sign.length).padStart(width - sign.length, "0");
      });
    case "ljust":
      return m((a) => s.padEnd(Number(toInt(a[0])), typeof a[1] === "string" ? a[1] : " "));
    case "rjust":
      return m((a) => s.padStart(Number(toInt(a[0])), typeof a[1] === "string" ? a[1] : " "));
    case "removeprefix":
      return m((a) => (s.startsWith(needStr(a[0])) ? s.slice((a[0] as string).length) : s));
    case "removesuffix":
      return m((a) => (a[0] !== "" && s.endsWith(needStr(a[0])) ? s.slice(0, s.length - (a[0] as string).length) : s));
    case "partition":
      return m((a) => {
        const sep = needStr(a[0]);
        const i = s.indexOf(sep);
        return i < 0 ? [s, "", ""] : [s.slice(0, i), sep, s.slice(i + sep.length)];
      });
  }
  return undefined;
}

function listMethod(list: unknown[], name: string): PyFunction | undefined {
  switch (name) {
    case "index":
      return fn(name, (a) => {
        const i = list.findIndex((v) => equals(v, a[0]));
        if (i < 0) throw new MapError(`${repr(a[0])} is not in list`);
        return i;
      });
    case "count":
      return fn(name, (a) => list.filter((v) => equals(v, a[0])).length);
    case "copy":
      return fn(name, () => [...list]);
  }
  return undefined;
}

function dictMethod(d: PyDict | Record<string, unknown>, name: string): PyFunction | undefined {
  switch (name) {
    case "get":
      return fn(name, (a) => {
        arity("get", a, 1, 2);
        const r = dictGet(d, a[0]);
        return r.found ? r.value : (a[1] ?? null);
      });
    case "keys":
      return fn(name, () => dictEntries(d).map(([k]) => k));
    case "values":
      return fn(name, () => dictEntries(d).map(([, v]) => v));
    case "items":
      return fn(name, () => dictEntries(d).map(([k, v]) => [k, v]));
    case "copy":
      return fn(name, () => PyDict.from(dictEntries(d)));
  }
  return undefined;
}

function datetimeAttr(v: PyDateTime | PyDate | PyTimedelta, name: string): unknown {
  const fields: Record<string, string[]> = {
    datetime: ["year", "month", "day", "hour", "minute", "second", "microsecond"],
    date: ["year", "month", "day"],
    timedelta: ["days", "seconds", "microseconds"],
  };
  const methods: Record<string, string[]> = {
    datetime: ["timestamp", "date", "isoformat", "strftime", "weekday"],
    date: ["isoformat", "strftime", "weekday"],
    timedelta: ["total_seconds"],
  };
  const kind = typeName(v);
  if (fields[kind]!.includes(name)) return (v as unknown as Record<string, unknown>)[name];
  if (methods[kind]!.includes(name)) {
    return fn(name, (a) => (v as unknown as Record<string, (...x: unknown[]) => unknown>)[name]!(...a));
  }
  if (v instanceof PyDateTime && name === "tzinfo") return v.offset === null ? null : v.offset === 0 ? UTC : new PyTimezone(v.offset);
  return undefined;
}

/** `object.name`: module members and the methods above; anything else is an error. */
export function getAttribute(object: unknown, name: string): unknown {
  if (name.startsWith("_")) throw new MapError(`access to the attribute "${name}" is not allowed`);
  let found: unknown;
  if (object instanceof PyModule) found = Object.hasOwn(object.attrs, name) ? object.attrs[name] : undefined;
  else if (typeof object === "string") found = strMethod(object, name);
  else if (Array.isArray(object)) found = listMethod(object, name);
  else if (isDict(object)) found = dictMethod(object, name);
  else if (object instanceof PyDateTime || object instanceof PyDate || object instanceof PyTimedelta) found = datetimeAttr(object, name);
  if (found === undefined) {
    const what = object instanceof PyModule ? `module '${object.name}'` : `'${typeName(object)}' object`;
    throw new MapError(`${what} has no attribute '${name}'${object === null ? " (the value is None)" : ""}`);
  }
  return found;
}

export { contains, toRecordValue };

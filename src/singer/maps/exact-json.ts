// JSON in and out without rounding. Table streams hand over records as JSON
// text whose numbers may not fit a double (int8 beyond 2^53, numeric with 20
// digits); a map that touches such a record must not round what it passes
// through. Integers beyond 2^53 become bigint, decimals with more than 15
// significant digits an ExactNumber holding their text, and both are written
// back as the same digits.
import { setOwn } from "../../own.ts";

const LONG_NUMBER = /[\d.]{16}/;

/** A JSON number a double would round, kept as its text. */
export class ExactNumber {
  constructor(readonly text: string) {}
  /** For arithmetic, which rounds: a map that computes with it gets a double. */
  toNumber(): number {
    return Number(this.text);
  }
  /** JSON.stringify cannot write it exactly: refuse, so stringifyExact takes its own path. */
  toJSON(): never {
    throw new TypeError("ExactNumber");
  }
}

/**
 * Parses JSON text, keeping every number exact. Text with no run of 16 digits
 * and dots has no number a double would change, so JSON.parse (ten times
 * faster) reads it; the rest is read here.
 */
export function parseExact(text: string): unknown {
  if (!LONG_NUMBER.test(text)) return JSON.parse(text);
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out: Record<string, unknown> = {};
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        const key = string();
        ws();
        if (text[i++] !== ":") throw new SyntaxError(`JSON: expected ":" at ${i}`);
        setOwn(out, key, value());
        ws();
        const sep = text[i++];
        if (sep === "}") return out;
        if (sep !== ",") throw new SyntaxError(`JSON: expected "," or "}" at ${i}`);
      }
    }
    if (c === "[") {
      i++;
      const out: unknown[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        const sep = text[i++];
        if (sep === "]") return out;
        if (sep !== ",") throw new SyntaxError(`JSON: expected "," or "]" at ${i}`);
      }
    }
    if (c === '"') return string();
    if (text.startsWith("true", i)) return (i += 4), true;
    if (text.startsWith("false", i)) return (i += 5), false;
    if (text.startsWith("null", i)) return (i += 4), null;
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 1100));
    if (!m) throw new SyntaxError(`JSON: unexpected character at ${i}`);
    i += m[0].length;
    return exactNumber(m[0], m[1] === undefined && m[2] === undefined);
  };
  const string = (): string => {
    if (text[i] !== '"') throw new SyntaxError(`JSON: expected a string at ${i}`);
    let j = i + 1;
    while (text[j] !== '"') {
      if (j >= text.length) throw new SyntaxError("JSON: unterminated string");
      j += text[j] === "\\" ? 2 : 1;
    }
    const s = JSON.parse(text.slice(i, j + 1)) as string;
    i = j + 1;
    return s;
  };
  const out = value();
  ws();
  if (i !== text.length) throw new SyntaxError(`JSON: unexpected text at ${i}`);
  return out;
}

function exactNumber(lit: string, integer: boolean): number | bigint | ExactNumber {
  if (integer) {
    const n = Number(lit);
    return Number.isSafeInteger(n) ? n : BigInt(lit);
  }
  const digits = lit.replace(/^-/, "").replace(/[eE].*$/, "").replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
  return digits.length <= 15 ? Number(lit) : new ExactNumber(lit);
}

/**
 * JSON text of a value that may hold bigint and ExactNumber (written as their
 * digits); `extra` encodes anything else that is not JSON (dates), or throws.
 */
export function stringifyExact(value: unknown, extra?: (v: unknown) => unknown): string {
  if (!extra) {
    // JSON.stringify is several times faster and throws on what it cannot write exactly (bigint, ExactNumber).
    try {
      return JSON.stringify(value) ?? "null";
    } catch {
      return stringifySlow(value, () => undefined);
    }
  }
  return stringifySlow(value, extra);
}

function stringifySlow(value: unknown, extra: (v: unknown) => unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null"; // NaN and Infinity: null, as the SDK's ignore_nan
    case "bigint":
      return value.toString();
  }
  if (value instanceof ExactNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map((v) => stringifySlow(v, extra)).join(",")}]`;
  const replaced = extra(value);
  if (replaced !== undefined) return stringifySlow(replaced, extra);
  if (typeof value === "object") {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value as object)) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${stringifySlow(v, extra)}`);
    return `{${parts.join(",")}}`;
  }
  throw new TypeError(`cannot encode a ${typeof value} as JSON`);
}

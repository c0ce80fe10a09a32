// Heroku's Range pagination: parse the request header, cut one page, and
// format Content-Range / Next-Range.
//
//   Range: <field> [<start>]..[<end>][; max=<n>][, order=asc|desc]
//
// A `]` before the start makes it exclusive (that is how Next-Range continues
// after the last value it returned); a `[` after the end makes the end
// exclusive. Parameters after the `;` are comma separated (`max=10,
// order=desc`); a trailing `;` is allowed, a second `;` is not (Heroku answers
// 400 to `max=10; order=desc`). Page size: 200 by default, at most 1000
// (larger values are clamped). Values are compared as numbers for numeric
// fields (release versions) and as plain strings otherwise, ties broken by
// the item's id, like a stable sort on (field, id).

export const DEFAULT_MAX = 200;
export const MAX_MAX = 1000;

export interface RangeSpec {
  field: string;
  start: string | undefined;
  startExclusive: boolean;
  end: string | undefined;
  endExclusive: boolean;
  max: number;
  order: "asc" | "desc";
}

/** A Range header the API refuses: 400 (syntax) or 416 (field not sortable). */
export class RangeProblem extends Error {
  constructor(
    readonly status: 400 | 416,
    message: string,
    /** the endpoint's Accept-Ranges, sent along with a 416 */
    readonly acceptRanges?: string,
  ) {
    super(message);
  }
}

const INVALID = "Invalid `Range` header. Please use format like `id ..; max=10, order=desc`.";

export function parseRange(header: string | undefined, defaultField: string): RangeSpec {
  const spec: RangeSpec = { field: defaultField, start: undefined, startExclusive: false, end: undefined, endExclusive: false, max: DEFAULT_MAX, order: "asc" };
  if (header === undefined || header.trim() === "") return spec;
  const raw = header.trim();
  const semi = raw.indexOf(";");
  const head = (semi < 0 ? raw : raw.slice(0, semi)).trim();
  const tail = semi < 0 ? "" : raw.slice(semi + 1);

  let bounds = "..";
  if (head !== "" && !head.startsWith("..") && !head.startsWith("]")) {
    const m = /^([A-Za-z_][\w.]*)(?:\s+(\S+))?$/.exec(head);
    if (!m) throw new RangeProblem(400, INVALID);
    spec.field = m[1] ?? defaultField;
    bounds = m[2] ?? "..";
  } else if (head !== "") {
    bounds = head; // field omitted: "]abc..; max=10"
  }
  const dots = bounds.indexOf("..");
  if (dots < 0) throw new RangeProblem(400, INVALID);
  let start = bounds.slice(0, dots);
  let end = bounds.slice(dots + 2);
  if (start.startsWith("]")) {
    spec.startExclusive = true;
    start = start.slice(1);
  }
  if (end.endsWith("[")) {
    spec.endExclusive = true;
    end = end.slice(0, -1);
  }
  spec.start = start === "" ? undefined : start;
  spec.end = end === "" ? undefined : end;

  const params = tail.trim().replace(/;\s*$/, "");
  if (params.includes(";")) throw new RangeProblem(400, INVALID);
  for (const part of params.split(",")) {
    const [k = "", v = ""] = part.split("=").map((s) => s.trim());
    if (k === "") continue;
    if (k === "max") {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new RangeProblem(400, INVALID);
      spec.max = Math.min(Number(v), MAX_MAX);
    } else if (k === "order") {
      if (v !== "asc" && v !== "desc") throw new RangeProblem(400, INVALID);
      spec.order = v;
    } // other keys are ignored
  }
  return spec;
}

export type Value = string | number | null;

/** null first, numbers numerically, everything else as plain strings (code unit order). */
export function compareValues(a: Value, b: Value): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export interface Sorted<T> {
  items: T[];
  values: Value[];
}

/** Stable ascending sort on (value, tie). */
export function sortBy<T>(items: readonly T[], value: (item: T) => Value, tie: (item: T) => string): Sorted<T> {
  const rows = items.map((item) => ({ item, v: value(item), t: tie(item) }));
  rows.sort((a, b) => compareValues(a.v, b.v) || (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  return { items: rows.map((r) => r.item), values: rows.map((r) => r.v) };
}

export interface Page<T> {
  items: T[];
  status: 200 | 206;
  contentRange: string;
  nextRange: string | undefined;
}

function fmt(v: Value): string {
  return v === null ? "" : String(v);
}

/** Cuts the page described by `spec` out of an ascending-sorted list. */
export function paginate<T>(sorted: Sorted<T>, spec: RangeSpec): Page<T> {
  const n = sorted.items.length;
  const numeric = sorted.values.some((v) => typeof v === "number");
  const bound = (s: string | undefined): Value | undefined => {
    if (s === undefined) return undefined;
    if (!numeric) return s;
    const num = Number(s);
    if (!Number.isFinite(num)) throw new RangeProblem(400, INVALID);
    return num;
  };
  const start = bound(spec.start);
  const end = bound(spec.end);
  const desc = spec.order === "desc";
  // position k in walking order -> index in the ascending arrays
  const at = (k: number) => (desc ? n - 1 - k : k);
  // > 0 when `v` comes after `b` in walking order
  const ahead = (v: Value, b: Value) => (desc ? compareValues(b, v) : compareValues(v, b));

  // first position inside the start bound (binary search: `ahead` is monotonic along the walk)
  let lo = 0;
  if (start !== undefined) {
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = ahead(sorted.values[at(mid)] ?? null, start);
      if (spec.startExclusive ? c > 0 : c >= 0) hi = mid;
      else lo = mid + 1;
    }
  }
  const inEnd = (k: number) => {
    if (end === undefined) return true;
    const c = ahead(sorted.values[at(k)] ?? null, end);
    return spec.endExclusive ? c < 0 : c <= 0;
  };

  const items: T[] = [];
  let k = lo;
  for (; k < n && items.length < spec.max && inEnd(k); k++) items.push(sorted.items[at(k)] as T);
  const more = k < n && inEnd(k);

  const suffix = `; max=${spec.max}${desc ? ", order=desc" : ""}`;
  const first = items.length > 0 ? fmt(sorted.values[at(lo)] ?? null) : "";
  const last = items.length > 0 ? fmt(sorted.values[at(k - 1)] ?? null) : "";
  const endText = spec.end === undefined ? "" : `${spec.end}${spec.endExclusive ? "[" : ""}`;
  return {
    items,
    status: more ? 206 : 200,
    contentRange: `${spec.field} ${first}..${last}${suffix}`,
    nextRange: more ? `${spec.field} ]${last}..${endText}${suffix}` : undefined,
  };
}

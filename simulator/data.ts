// Deterministic object generation from Heroku's JSON hyper-schema.
//
// Every simulated object is built by walking its schema definition: `example`
// values where the schema has them, deterministic uuids/dates/emails where an
// example would repeat across items, and *bindings* for references to other
// resources. A binding is how parents stay consistent: a dyno's `app` property
// is `{id: {$ref: "#/definitions/app/definitions/id"}, name: {$ref: ".../app/definitions/name"}}`,
// so when the caller binds `app` to the real app object, the dyno gets that
// app's id and name. Binding a resource to `null` makes nullable references to
// it null (a personal app's `team`). The per-resource semantics (release
// versions, Postgres attachments, ...) live in stores.ts, on top of this.
//
// All randomness comes from a hash of (seed, item key), never from generation
// order, so an object is the same whichever request happened to create it.

import type { HyperSchema, SchemaNode } from "./source.ts";

export type Item = Record<string, unknown>;
/** resource name (e.g. "app", "add-on-service") -> the object to copy attributes from, or null */
export type Bindings = Record<string, Item | null | undefined>;

// ---------------------------------------------------------------- hashing

/** cyrb53's two 32-bit lanes: a fast, well-mixed 64-bit string hash. */
function lanes(str: string, seed: number): [number, number] {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/** cyrb53: a 53-bit string hash. */
export function hash53(str: string, seed = 0): number {
  const [h1, h2] = lanes(str, seed);
  return 4294967296 * (2097151 & h2) + h1;
}

export function hash32(str: string, seed = 0): number {
  return hash53(str, seed) >>> 0;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex8(n: number): string {
  return (HEX[(n >>> 24) & 255] ?? "") + (HEX[(n >>> 16) & 255] ?? "") + (HEX[(n >>> 8) & 255] ?? "") + (HEX[n & 255] ?? "");
}

/** A uuid-v4-shaped id from a key: 128 hash bits from two seeded passes (collisions: never in practice). */
export function uuidFrom(key: string): string {
  const [a, b] = lanes(key, 11);
  const [c, d] = lanes(key, 12);
  const h = hex8(a) + hex8(b) + hex8(c) + hex8(d);
  const variant = "89ab"[parseInt(h[16] ?? "0", 16) & 3];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Short lowercase hex from a key (for fake tokens, hosts, shas). */
export function hexFrom(key: string, length: number): string {
  let out = "";
  for (let i = 0; out.length < length; i++) out += hex8(hash32(key, 100 + i));
  return out.slice(0, length);
}

/** mulberry32: a tiny deterministic PRNG. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

// ---------------------------------------------------------------- time

export const YEAR_START = Date.UTC(2025, 0, 1);
export const DAY_MS = 86_400_000;

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** Heroku formats times without milliseconds: 2012-01-01T12:00:00Z. (Hand-rolled: this is the generator's hot path.) */
export function herokuTime(ms: number): string {
  const secs = Math.floor(ms / 1000);
  const days = Math.floor(secs / 86_400);
  const rem = secs - days * 86_400;
  // days since 1970-01-01 -> civil date (H. Hinnant's algorithm)
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const hh = Math.floor(rem / 3600);
  const mm = Math.floor((rem % 3600) / 60);
  return `${y}-${pad2(m)}-${pad2(d)}T${pad2(hh)}:${pad2(mm)}:${pad2(rem % 60)}Z`;
}

/** A time in 2025, deterministic from `r` in [0,1). Leaves December free for updated_at drift. */
export function timeIn2025(r: number): number {
  return YEAR_START + Math.floor(r * 330 * 86_400) * 1000;
}

// ---------------------------------------------------------------- generator

/** Top-level properties that always describe the item itself, never a bound resource. */
const OWN = new Set(["id", "name", "email", "created_at", "updated_at"]);
/** Nullable timestamps that are normally set (others, like archived_at or suspended_at, stay null). */
const SET_NULLABLE_TIMES = new Set(["released_at", "last_login", "started_at", "expires_at", "next_attempt_at"]);
const MAX_DEPTH = 4;

const REF_ATTR = /^#\/definitions\/([^/]+)\/definitions\/([^/]+)$/;
const REF_DEF = /^#\/definitions\/([^/]+)$/;

interface RefInfo {
  kind: "attr" | "def" | "other";
  resource: string;
  target: string;
  node: SchemaNode;
}

interface Walk {
  key: string;
  rng: Rng;
  bind: Bindings;
  self: string;
}

function types(node: SchemaNode): string[] {
  const t = node.type;
  return t === undefined ? [] : Array.isArray(t) ? t : [t];
}

/** Deep copy of JSON data (schema examples, bound values), so served objects never share structure. */
function clone<T>(v: T): T {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(clone) as T;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = clone(x);
  return out as T;
}

export class Generator {
  private readonly refs = new Map<string, SchemaNode>();
  private readonly refInfos = new Map<string, RefInfo>();

  constructor(
    private readonly schema: HyperSchema,
    private readonly seed: number,
  ) {}

  /** Resolves a JSON pointer like `#/definitions/app/definitions/id`. */
  resolve(ref: string): SchemaNode {
    let node = this.refs.get(ref);
    if (node) return node;
    let cur: unknown = this.schema;
    for (const part of ref.replace(/^#\//, "").split("/")) {
      cur = (cur as Record<string, unknown> | undefined)?.[decodeURIComponent(part).replace(/~1/g, "/").replace(/~0/g, "~")];
    }
    if (!cur || typeof cur !== "object") throw new Error(`simulator: cannot resolve ${ref}`);
    node = cur as SchemaNode;
    this.refs.set(ref, node);
    return node;
  }

  /** Top-level property names of a definition (through `$ref`). */
  propertyNames(defRef: string): string[] {
    let node = this.resolve(defRef);
    while (node.$ref) node = this.resolve(node.$ref);
    return Object.keys(node.properties ?? {});
  }

  /** Deterministic PRNG for an item key (used by stores for their own choices). */
  rng(key: string): Rng {
    return new Rng(hash32(key, this.seed));
  }

  /**
   * Builds one object of definition `defRef` (e.g. `#/definitions/dyno`).
   * `key` identifies the object (same key => same object); `bind` ties
   * references to real parents.
   */
  item(defRef: string, key: string, bind: Bindings = {}): Item {
    const self = /^#\/definitions\/([^/]+)/.exec(defRef)?.[1] ?? "";
    const walk: Walk = { key, rng: this.rng(key), bind, self };
    const out = this.node(this.resolve(defRef), walk, "", 0, "", true);
    const item = (out && typeof out === "object" ? out : {}) as Item;
    // created_at <= updated_at, both in 2025, like real data that is edited after creation.
    if (typeof item.created_at === "string" && "updated_at" in item && typeof item.updated_at === "string") {
      const created = timeIn2025(walk.rng.next());
      item.created_at = herokuTime(created);
      item.updated_at = herokuTime(created + Math.floor(walk.rng.next() * 30 * 86_400) * 1000);
    }
    return item;
  }

  /**
   * Reshapes `source` (e.g. an app) as definition `defRef` (e.g. team-app):
   * properties the source has are copied (nested objects trimmed to the target
   * shape), the rest are generated. Used for endpoints that serve another
   * resource's objects in a different schema.
   */
  project(defRef: string, source: Item, key: string, bind: Bindings = {}): Item {
    const generated = this.item(defRef, key, bind);
    let node = this.resolve(defRef);
    while (node.$ref) node = this.resolve(node.$ref);
    const out: Item = {};
    for (const [prop, schema] of Object.entries(node.properties ?? {})) {
      out[prop] = prop in source ? this.shape(source[prop], schema, 0) : generated[prop];
    }
    return out;
  }

  private shape(value: unknown, schema: SchemaNode, depth: number): unknown {
    while (schema.$ref) schema = this.resolve(schema.$ref);
    if (depth > MAX_DEPTH || !schema.properties || !value || typeof value !== "object" || Array.isArray(value)) return clone(value);
    const src = value as Item;
    const out: Item = {};
    for (const [k, s] of Object.entries(schema.properties)) if (k in src) out[k] = this.shape(src[k], s, depth + 1);
    return out;
  }

  private node(node: SchemaNode, w: Walk, path: string, depth: number, attr: string, top: boolean): unknown {
    if (node.$ref) return this.ref(node.$ref, w, path, depth, attr, top);
    const alt = node.anyOf ?? node.oneOf;
    if (alt && alt[0]) return this.node(alt[0], w, path, depth, attr, top);

    const t = types(node);
    if (node.properties && (t.includes("object") || t.length === 0)) {
      if (t.includes("null") && this.boundToNull(node, w)) return null;
      if (depth > MAX_DEPTH) return t.includes("null") ? null : {};
      const obj: Item = {};
      for (const [k, v] of Object.entries(node.properties)) obj[k] = this.node(v, w, `${path}.${k}`, depth + 1, k, top && depth === 0);
      return obj;
    }
    if (t.includes("array")) {
      const items = node.items;
      if (items && (items.properties || items.$ref) && depth <= MAX_DEPTH) return [this.node(items, w, `${path}[]`, depth + 1, attr, false)];
      if (Array.isArray(node.example)) return clone(node.example);
      if (items) return [this.node(items, w, `${path}[]`, depth + 1, attr, false)];
      return t.includes("null") ? null : [];
    }
    if (t.includes("object")) return node.example !== undefined ? clone(node.example) : t.includes("null") ? null : {};
    return this.scalar(node, w, path, attr, t);
  }

  private ref(ref: string, w: Walk, path: string, depth: number, attr: string, top: boolean): unknown {
    const info = this.refInfo(ref);
    if (info.kind === "attr") {
      // A reference to another resource's attribute: copy it from the bound object.
      if (info.resource !== w.self && !(top && depth <= 1 && OWN.has(attr))) {
        const bound = w.bind[info.resource];
        if (bound && bound[info.target] !== undefined) return clone(bound[info.target]);
      }
      return this.node(info.node, w, path, depth, attr, top);
    }
    if (info.kind === "def") {
      // A whole embedded resource (e.g. add-on-region-capability.region): the bound object itself.
      const bound = w.bind[info.resource];
      if (bound) return clone(bound);
      if (bound === null) return null;
      if (depth >= MAX_DEPTH) return null;
      return this.node(info.node, { ...w, self: info.resource }, path, depth + 1, attr, false);
    }
    return this.node(info.node, w, path, depth, attr, top);
  }

  /** What a `$ref` points at, parsed once. */
  private refInfo(ref: string): RefInfo {
    let info = this.refInfos.get(ref);
    if (!info) {
      const m = REF_ATTR.exec(ref);
      const whole = REF_DEF.exec(ref);
      const node = this.resolve(ref);
      info = m
        ? { kind: "attr", resource: m[1] ?? "", target: m[2] ?? "", node }
        : whole
        ? { kind: "def", resource: whole[1] ?? "", target: "", node }
        : { kind: "other", resource: "", target: "", node };
      this.refInfos.set(ref, info);
    }
    return info;
  }

  /** Whether a nullable nested object refers to a resource explicitly bound to null. */
  private boundToNull(node: SchemaNode, w: Walk): boolean {
    const props = node.properties ?? {};
    const first = props.id?.$ref ?? Object.values(props).find((p) => p.$ref)?.$ref;
    const resource = first ? REF_ATTR.exec(first)?.[1] : undefined;
    return resource !== undefined && resource !== w.self && w.bind[resource] === null;
  }

  private scalar(node: SchemaNode, w: Walk, path: string, attr: string, t: string[]): unknown {
    const ex = node.example;
    const nullable = t.includes("null");
    const fmt = node.format;
    if (fmt === "uuid" || ((attr === "id" || attr.endsWith("_id")) && (ex === undefined || isUuid(ex)))) {
      return uuidFrom(`${w.key}|${path}`);
    }
    if (fmt === "date-time" || (ex === undefined && attr.endsWith("_at"))) {
      if (nullable && !SET_NULLABLE_TIMES.has(attr)) return null;
      return herokuTime(timeIn2025(w.rng.next()));
    }
    if (fmt === "email" || attr === "email" || attr.endsWith("_email")) {
      const local = typeof ex === "string" && ex.includes("@") ? ex.split("@")[0] : "user";
      return `${local}-${hexFrom(`${w.key}|${path}`, 6)}@example.com`;
    }
    if (ex !== undefined) return clone(ex);
    if (node.enum && node.enum.length > 0) return clone(node.enum[0]);
    if (nullable) return null;
    if (t.includes("integer") || t.includes("number")) return 0;
    if (t.includes("boolean")) return false;
    if (attr.includes("url")) return `https://example.com/${attr}/${hexFrom(`${w.key}|${path}`, 8)}`;
    return `${attr || "value"}-${hexFrom(`${w.key}|${path}`, 6)}`;
  }
}

function isUuid(v: unknown): boolean {
  return typeof v === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
}

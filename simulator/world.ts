// The simulated account: every object the API serves, organised in stores.
//
// A store holds one kind of object, in buckets per parent (dynos per app,
// members per team, ...; root stores have a single bucket). Buckets are
// generated lazily on first use and then kept, so a 2,000-app account only
// pays for the lists that are actually requested, and every later request
// (and touch/add) sees the same objects. Endpoints that aggregate or filter
// (`/addons`, `/teams/{team}/apps`, `/pipelines/{p}/latest-releases`) are
// views over these stores (routes.ts), so the same add-on object appears in
// `/addons` and in `/apps/{app}/addons`.

import { DAY_MS, Generator, herokuTime, hexFrom, YEAR_START } from "./data.ts";
import type { Bindings, Item } from "./data.ts";
import type { HyperSchema } from "./source.ts";
import { STORES } from "./stores.ts";

export interface WorldOptions {
  seed: number;
  apps: number;
  perParent: number;
  sizes: Record<string, number>;
  postgresApps: number;
  postgresPerApp: number;
  configVars: Record<string, Record<string, string>>;
  /** Longest daily usage range accepted (longer: 422 "The requested usage range is too large."). */
  usageMaxDays?: number;
}

export interface FixContext {
  w: World;
  parent: Item | null;
  /** index of the item in its bucket */
  i: number;
  /** bucket size being generated (for "is this the last one") */
  n: number;
  /** the item's generation key (stable; use it to derive more deterministic values) */
  key: string;
}

export interface StoreSpec {
  /** schema definition of the items, e.g. `#/definitions/dyno` */
  def: string;
  /** name of the parent store (per-parent buckets); absent for root stores */
  parent?: string;
  /** endpoint path template whose `sizes` entry sets the bucket size */
  path?: string;
  /** bucket size; default `sizes[path] ?? perParent` */
  count?: (w: World, parent: Item | null) => number;
  /** resources that references in the item should point at */
  bind?: (w: World, parent: Item | null, i: number) => Bindings;
  /** per-resource semantics applied after schema generation */
  fix?: (item: Item, c: FixContext) => void;
  /** buckets computed from other stores instead of counted (attachments, couplings) */
  derive?: (w: World, parent: Item | null) => Item[];
  /** created_at grows with the index (releases, builds, test runs) */
  ordered?: boolean;
  /** keep the generated top-level `name` instead of suffixing it with the index */
  keepName?: boolean;
  /** values the item can be looked up by; default id and name */
  keys?: (item: Item) => unknown[];
  /** called by add() after the new item is appended */
  afterAdd?: (item: Item, bucket: Item[], w: World) => void;
}

interface Meta {
  store: string;
  index: number;
  parent: Item | null;
}

export class Store {
  private readonly buckets = new Map<Item | null, Item[]>();
  /** Items removed from each bucket: add() must not generate a removed item's key (and id) again. */
  private readonly removed = new Map<Item | null, number>();
  private index: Map<string, Item> | undefined;
  private indexVersion = -1;

  constructor(
    readonly name: string,
    readonly spec: StoreSpec,
    private readonly w: World,
  ) {}

  /** The items of one parent (null for root stores), generated on first use. */
  bucket(parent: Item | null): Item[] {
    let b = this.buckets.get(parent);
    if (b) return b;
    if (this.spec.derive) {
      b = this.spec.derive(this.w, parent);
      b.forEach((item, i) => this.w.meta.set(item, { store: this.name, index: i, parent }));
    } else {
      const n = Math.max(0, Math.floor(this.spec.count ? this.spec.count(this.w, parent) : this.w.size(this.spec.path, this.w.opts.perParent)));
      b = [];
      for (let i = 0; i < n; i++) b.push(this.make(parent, i, n));
    }
    this.buckets.set(parent, b);
    return b;
  }

  /** Every item of the store, over every parent (generates all buckets). */
  all(): Item[] {
    if (!this.spec.parent) return this.bucket(null);
    const out: Item[] = [];
    for (const p of this.w.store(this.spec.parent).all()) for (const item of this.bucket(p)) out.push(item);
    return out;
  }

  /** Lookup by id / name (or the store's keys). */
  find(key: string): Item | undefined {
    const hit = this.index?.get(key);
    if (hit) return hit;
    // (Re)build on a miss when the world changed since: add() may have created parents
    // (a new app) whose children this index has never seen.
    if (!this.index || this.indexVersion !== this.w.version) {
      this.index = new Map();
      this.indexVersion = this.w.version;
      for (const item of this.all()) this.indexItem(item);
    }
    return this.index.get(key);
  }

  private indexItem(item: Item): void {
    const keys = this.spec.keys ? this.spec.keys(item) : [item.id, item.name];
    for (const k of keys) if ((typeof k === "string" || typeof k === "number") && !this.index?.has(String(k))) this.index?.set(String(k), item);
  }

  /** Generates item `i` of a bucket. */
  make(parent: Item | null, i: number, n: number): Item {
    const key = `${this.name}|${parent ? String(parent.id ?? parent.name) : ""}|${i}`;
    const item = this.w.gen.item(this.spec.def, key, this.spec.bind ? this.spec.bind(this.w, parent, i) : {});
    // Example names repeat ("example"); make them unique within the bucket.
    if (!this.spec.keepName && typeof item.name === "string") item.name = `${item.name}-${i + 1}`;
    if (this.spec.ordered && typeof item.created_at === "string") {
      const created = YEAR_START + Math.floor(((i + 1) / (n + 1)) * 330 * DAY_MS);
      item.created_at = herokuTime(created);
      if (typeof item.updated_at === "string") item.updated_at = herokuTime(created + 60_000);
    }
    this.spec.fix?.(item, { w: this.w, parent, i, n, key });
    this.w.meta.set(item, { store: this.name, index: i, parent });
    return item;
  }

  /** Appends a new item (created/updated now), as if it was just created on Heroku. */
  add(parent: Item | null, at?: Date): Item {
    const b = this.bucket(parent);
    const made = b.length + (this.removed.get(parent) ?? 0);
    const item = this.make(parent, made, made + 1);
    const t = this.w.tick(at);
    if ("created_at" in item) item.created_at = t;
    if ("updated_at" in item) item.updated_at = t;
    b.push(item);
    this.w.meta.set(item, { store: this.name, index: b.length - 1, parent });
    if (this.index) this.indexItem(item);
    this.spec.afterAdd?.(item, b, this.w);
    this.w.version++;
    return item;
  }

  /**
   * Takes an item out of its bucket, as if it was deleted on Heroku. Its
   * children stay in their buckets but nothing reaches them any more: every
   * view walks the parents that remain, and lookups 404.
   */
  remove(key: string): Item {
    const item = this.find(key);
    if (!item) throw new Error(`simulator: remove: no ${this.name} item ${key}`);
    const parent = this.w.parentOf(item);
    const b = this.bucket(parent);
    b.splice(b.indexOf(item), 1);
    this.removed.set(parent, (this.removed.get(parent) ?? 0) + 1);
    return item;
  }

  /** Drops the lookup index; the next find() rebuilds it from what remains. */
  forget(): void {
    this.index = undefined;
  }

  /** Whether the bucket of this parent was generated already. */
  has(parent: Item | null): boolean {
    return this.buckets.has(parent);
  }
}

export class World {
  readonly gen: Generator;
  readonly meta = new WeakMap<Item, Meta>();
  /** bumped on every mutation so response caches can tell they are stale */
  version = 0;
  private readonly stores = new Map<string, Store>();
  private clockMs = Date.UTC(2026, 0, 15, 12, 0, 0);
  private readonly configOverrides = new Map<Item, Record<string, string>>();

  constructor(
    readonly opts: WorldOptions,
    schema: HyperSchema,
  ) {
    this.gen = new Generator(schema, opts.seed);
    for (const [name, spec] of Object.entries(STORES)) this.stores.set(name, new Store(name, spec, this));
  }

  store(name: string): Store {
    const s = this.stores.get(name);
    if (!s) throw new Error(`simulator: no store ${name}`);
    return s;
  }

  /** Bucket size for an endpoint path template: `sizes[path]` or the default. */
  size(path: string | undefined, dflt: number): number {
    const v = path === undefined ? undefined : this.opts.sizes[path];
    return v === undefined ? dflt : v;
  }

  list(store: string, parent: Item | null = null): Item[] {
    return this.store(store).bucket(parent);
  }

  all(store: string): Item[] {
    return this.store(store).all();
  }

  account(): Item {
    const a = this.list("account")[0];
    if (!a) throw new Error("simulator: no account");
    return a;
  }

  parentOf(item: Item): Item | null {
    return this.meta.get(item)?.parent ?? null;
  }

  indexOf(item: Item): number {
    return this.meta.get(item)?.index ?? 0;
  }

  // ------------------------------------------------------------ clock

  now(): Date {
    return new Date(this.clockMs);
  }

  setClock(d: Date): void {
    this.clockMs = d.getTime();
  }

  /** The time of a touch/add: `at` or now; the clock then moves one second on. */
  tick(at?: Date): string {
    const t = at ? at.getTime() : this.clockMs;
    this.clockMs += 1000;
    return herokuTime(t);
  }

  // ------------------------------------------------------------ mutations

  touch(store: string, key: string, at?: Date): Item {
    const item = this.store(store).find(key);
    if (!item) throw new Error(`simulator: touch: no ${store} item ${key}`);
    if (!("updated_at" in item)) throw new Error(`simulator: touch: ${store} items have no updated_at`);
    item.updated_at = this.tick(at);
    this.version++;
    return item;
  }

  /** Deletes an object (and so, for the API, everything under it). */
  remove(store: string, key: string): Item {
    const item = this.store(store).remove(key);
    // Every index may hold the object or one of its children (an app's add-ons): a stale hit would still resolve them.
    for (const s of this.stores.values()) s.forget();
    this.version++;
    return item;
  }

  // ------------------------------------------------------------ config vars

  /** GET /apps/{app}/config-vars: generated add-on URLs, then options.configVars, then setConfigVars. */
  configVars(app: Item): Record<string, string> {
    const out: Record<string, string> = {};
    for (const att of this.list("attachments", app)) {
      const addon = att.addon as Item | undefined;
      const url = addon ? addonUrl(this, addon) : undefined;
      if (url) out[`${String(att.name)}_URL`] = url;
    }
    const fromOpts = this.opts.configVars[String(app.name)] ?? this.opts.configVars[String(app.id)];
    Object.assign(out, fromOpts, this.configOverrides.get(app));
    return out;
  }

  setConfigVars(appKey: string, vars: Record<string, string>): void {
    const app = this.store("apps").find(appKey);
    if (!app) throw new Error(`simulator: setConfigVars: no app ${appKey}`);
    this.configOverrides.set(app, { ...vars });
    this.version++;
  }
}

/**
 * The connection URL an add-on exposes through its attachments (fake, deterministic).
 * Database URLs point at a closed port on loopback (127.0.0.1:9), so a client that
 * tries to connect is refused at once, without a DNS query or a packet leaving the
 * machine; other add-ons' URLs use the reserved `.invalid` TLD and are never dialled.
 * Tests that need a real database override the variable with `configVars` /
 * setConfigVars().
 */
export function addonUrl(w: World, addon: Item): string | undefined {
  const full = w.store("addons").find(String(addon.id));
  const service = String((full?.addon_service as Item | undefined)?.name ?? "");
  const h = (n: number) => hexFrom(`url|${w.opts.seed}|${String(addon.id)}|${n}`, 12);
  if (service === "heroku-postgresql") {
    return `postgres://u${h(1)}:p${h(2)}${h(3)}@127.0.0.1:9/d${h(4)}`;
  }
  if (service === "heroku-redis") return `rediss://:p${h(2)}@ec2-${ip(w, addon)}.compute-1.amazonaws.invalid:6380`;
  return `https://${service || "addon"}.addons.invalid/${h(1)}`;
}

function ip(w: World, addon: Item): string {
  const r = w.gen.rng(`ip|${String(addon.id)}`);
  return [3, 1 + r.int(254), 1 + r.int(254), 1 + r.int(254)].join("-");
}

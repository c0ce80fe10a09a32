// Parents are listed once per run. The registry holds, for each parent stream
// (apps, add-ons, teams, team members, spaces, pipelines, test runs,
// enterprise accounts, add-on services), the few fields its children need:
// those named in the children's `params` and `parent_keys` (ids, names,
// emails). Memory is therefore proportional to the number of parents times
// a few short strings, never to records.
//
// The rows come from the parent stream's own walk when it is synced in the
// same run and reads every item (streams are ordered parents first, see
// plan.ts); otherwise the registry walks the parent list itself, once, and
// every child stream shares the result (or the error).
import type { Settings } from "../config.ts";
import { log } from "../log.ts";
import { HerokuHttpError } from "./client.ts";
import type { HerokuClient } from "./client.ts";
import type { HerokuStreamSpec } from "./definitions.ts";
import { appFilter, childPath, enrich, pool } from "./records.ts";
import type { ParentRow } from "./records.ts";
import { walk } from "./walk.ts";

export class ParentRegistry {
  private readonly rows = new Map<string, Promise<ParentRow[]>>();
  private readonly fields = new Map<string, string[]>();
  /** Parent streams some planned child stream needs; undefined = not told, assume all. */
  private demanded: Set<string> | undefined;

  constructor(
    private readonly specs: ReadonlyMap<string, HerokuStreamSpec>,
    private readonly client: HerokuClient,
    private readonly settings: Settings,
  ) {
    for (const child of specs.values()) {
      if (!child.parent) continue;
      const f = this.fields.get(child.parent) ?? [];
      // The refresh signals (created_at, updated_at, released_at) decide which parents' children are re-read.
      for (const v of [...Object.values(child.params), ...Object.values(child.parent_keys), ...(child.refresh?.signals ?? [])]) if (!f.includes(v)) f.push(v);
      this.fields.set(child.parent, f);
    }
  }

  /** The streams of this run, so that only parents of planned children count as needed. */
  plan(streams: readonly string[]): void {
    this.demanded = new Set();
    for (const id of streams) {
      for (let s = this.specs.get(id); s?.parent; s = this.specs.get(s.parent)) this.demanded.add(s.parent);
    }
  }

  /** Whether some child stream of this run needs the rows of `parent`. */
  needs(parent: string): boolean {
    if (!this.fields.has(parent)) return false;
    return this.demanded === undefined || this.demanded.has(parent);
  }

  /** Whether the rows of `parent` are known (listed or being listed). */
  has(parent: string): boolean {
    return this.rows.has(parent);
  }

  /** Number of parents, once known. */
  async count(parent: string): Promise<number | undefined> {
    const p = this.rows.get(parent);
    return p ? (await p.catch(() => [])).length : undefined;
  }

  /** The projection of a parent record that its children need. */
  project(parent: string, record: Record<string, unknown>): ParentRow {
    const row: Record<string, string | number> = {};
    for (const f of this.fields.get(parent) ?? []) {
      const v = record[f];
      if (typeof v === "string" || typeof v === "number") row[f] = v;
    }
    return row;
  }

  /** Rows gathered by the parent stream's own complete walk. */
  offer(parent: string, rows: ParentRow[]): void {
    if (!this.rows.has(parent)) this.rows.set(parent, Promise.resolve(rows));
  }

  /** The rows of `parent`, listed on first use. */
  get(parent: string, signal?: AbortSignal): Promise<ParentRow[]> {
    let p = this.rows.get(parent);
    if (!p) {
      p = this.list(parent, signal);
      p.catch(() => undefined); // shared: every child stream that asks gets the same error
      this.rows.set(parent, p);
    }
    return p;
  }

  private async list(parent: string, signal?: AbortSignal): Promise<ParentRow[]> {
    const spec = this.specs.get(parent);
    if (!spec) throw new Error(`no stream ${parent}`);
    const keep = appFilter(spec, this.settings);
    const out: ParentRow[] = [];
    const read = async (path: string, grand: ParentRow | undefined) => {
      const result = { complete: true };
      for await (const page of walk(this.client, spec, path, { everything: true, signal }, result)) {
        for (const item of page.items) {
          enrich(spec, item, grand);
          if (keep(item)) out.push(this.project(parent, item));
        }
      }
    };
    if (spec.single) {
      // `account`: one object, asked once per run (the token check already has it).
      const item = enrich(spec, (await this.client.getOnce(spec.path)) as Record<string, unknown>, undefined);
      if (keep(item)) out.push(this.project(parent, item));
    } else if (!spec.parent) {
      await read(spec.path, undefined);
    } else {
      const grands = await this.get(spec.parent, signal);
      await pool(
        grands,
        this.settings.max_concurrency,
        async (g) => {
          const path = childPath(spec, g);
          if (path === undefined) return;
          try {
            await read(path, g);
          } catch (e) {
            if (e instanceof HerokuHttpError && e.status === 404) {
              log.info(`${parent}: ${path} is gone (404 ${e.id}), deleted since ${spec.parent} were listed; its children are skipped`);
              return;
            }
            throw e;
          }
        },
        signal,
      );
    }
    log.info(`${parent}: ${out.length} listed for the child streams`);
    return out;
  }
}

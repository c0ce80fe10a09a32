// The fewest Heroku requests a sync can take, counted from the simulator's own
// data: the oracle the tests and benchmarks hold the tap's request count to.
import { readFileSync } from "node:fs";
import type { Simulator } from "../../simulator/index.ts";

interface Def {
  stream: string;
  path: string;
  parent: string | null;
  params: Record<string, string>;
  single: boolean;
  names_only: boolean;
  selected_by_default: boolean;
}

const DEFS: Def[] = JSON.parse(readFileSync(new URL("../../catalog/heroku/streams.json", import.meta.url), "utf8"));
const BY_NAME = new Map(DEFS.map((d) => [d.stream, d]));

/**
 * Requests of one walk of a list of `n` items in pages of 1,000. Walks on a
 * non-unique range field (apps by updated_at, builds by started_at) re-ask from
 * the last value inclusively, so each later page holds one item already seen.
 */
export function pagesOf(stream: string, n: number): number {
  if (n <= 1000) return 1;
  if (stream === "apps" || stream === "builds") return 1 + Math.ceil((n - 1000) / 999);
  return Math.ceil(n / 1000);
}

/**
 * One walk of each default-selected list endpoint per parent (children of
 * top-level parents only), one request per parent for a single object. The
 * config var names of the apps in `configVarsRead` (ids or names: those whose
 * config vars Heroku Postgres discovery read) cost nothing: the run reuses them.
 */
export function minimumDefaultRequests(sim: Simulator, configVarsRead: ReadonlySet<string> = new Set()): number {
  let total = 0;
  for (const d of DEFS.filter((x) => x.selected_by_default)) {
    if (d.single && !d.parent) total += 1;
    else if (!d.parent) total += pagesOf(d.stream, sim.count(d.path));
    else {
      const parent = BY_NAME.get(d.parent)!;
      if (parent.parent) throw new Error(`${d.stream}: grandchild streams are not in the default selection`);
      for (const p of sim.items(parent.path) as Record<string, unknown>[]) {
        if (d.names_only && (configVarsRead.has(String(p.id)) || configVarsRead.has(String(p.name)))) continue;
        const params = Object.fromEntries(Object.entries(d.params).map(([k, field]) => [k, String(p[field])]));
        total += d.single ? 1 : pagesOf(d.stream, sim.count(d.path, params));
      }
    }
  }
  return total;
}

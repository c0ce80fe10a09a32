// The run's refresh plan: for every planned child stream, which parents it
// reads (refresh.ts decides per stream; this module shares the run's request
// budget between them). The budget counts every request of the run: what the
// listing and the changed parents take comes first (never cut); the refresh
// by interval gets the rest. The children of one parent stream (every child of
// apps) are planned together when that parent is first listed, so their slots
// compete stalest first; parent streams are planned in the order the run
// reaches them.
import type { Settings } from "../config.ts";
import { log } from "../log.ts";
import type { State } from "../singer/state.ts";
import type { HerokuStreamSpec } from "./definitions.ts";
import { partitionKey } from "./records.ts";
import type { ParentRow } from "./records.ts";
import { allocate, createdSince, migrate, planStream, slotOf, SLOTS } from "./refresh.ts";
import { arrivals } from "./arrivals.ts";
import type { RefreshState, StreamPlan } from "./refresh.ts";

/** The bucket Heroku gives an account. */
export const BUCKET = 4500;

/** `rate_limit.max_requests_per_run`, or what refills in one run interval (at most the bucket above the reserve): requests of the whole run. */
export function runBudget(settings: Settings): number {
  const r = settings.rate_limit;
  return r.max_requests_per_run ?? Math.floor(Math.min(BUCKET - r.reserve, r.refill_per_minute * r.run_interval_min));
}

export interface StreamTodo {
  /** Parent keys to read this run. */
  readonly read: Set<string>;
  /** Credit for the next run (refresh.ts). */
  readonly credit: number;
  /** Requests this plan costs (one per parent to read). */
  readonly requests: number;
  /** Parents new to the state though not created since its last pass (arrivals.ts): read with their children's whole history. */
  readonly arrived: Set<string>;
  /** Slots whose change could not be told apart: every parent of them is in `arrived`. */
  readonly unclear: number;
}

export class RefreshSchedule {
  private readonly todos = new Map<string, StreamTodo>();
  private readonly budget: number;
  /** Requests made before the first plan (the top-level lists), and those planned since. */
  private base: number | undefined;
  private committed = 0;
  private planned: { id: string; method: string }[] = [];
  private state: State | undefined;
  readonly nowS = Math.floor(Date.now() / 1000);

  constructor(
    private readonly specs: ReadonlyMap<string, HerokuStreamSpec>,
    private readonly settings: Settings,
    private readonly requestsSoFar: () => number = () => 0,
  ) {
    this.budget = runBudget(settings);
  }

  /** The run's streams (with their replication methods) and its input state. */
  setRun(planned: { id: string; method: string }[], state: State | undefined): void {
    this.planned = planned;
    this.state = state;
  }

  /** This run's time for a stream: after its last run's, even within the same second (slot times and versions compare them). */
  runS(b: RefreshState): number {
    return Math.max(this.nowS, (b.ran_at ?? -1) + 1);
  }

  /** A stream's bookmark as the refresh logic reads it (old shapes migrated), or {} when it is of another kind. */
  bookmarkOf(spec: HerokuStreamSpec, method: string): RefreshState {
    const b = (this.state?.bookmarks[spec.stream] ?? {}) as RefreshState & { replication_key?: string; version?: number };
    const incremental = method === "INCREMENTAL";
    // A bookmark written under the other replication method says nothing about this one.
    if (incremental ? b.replication_key === undefined : b.replication_key !== undefined) return {};
    return migrate(b, this.nowS);
  }

  /** What `spec` reads this run; plans every planned sibling (same parent) on first use. */
  todo(spec: HerokuStreamSpec, parents: readonly ParentRow[]): StreamTodo {
    const known = this.todos.get(spec.stream);
    if (known) return known;
    const siblings = this.planned.filter((p) => this.specs.get(p.id)?.parent === spec.parent && this.specs.get(p.id)?.refresh);
    if (!siblings.some((p) => p.id === spec.stream)) siblings.push({ id: spec.stream, method: spec.replication_key ? "INCREMENTAL" : "FULL_TABLE" });
    const plans = new Map<string, { plan: StreamPlan; keyed: { key: string; row: ParentRow }[]; arrived: ReturnType<typeof arrivals> }>();
    for (const s of siblings) {
      const sp = this.specs.get(s.id)!;
      const keyed = parents.map((row) => ({ key: partitionKey(sp, row), row }));
      const interval = this.settings.refresh_hours[sp.refresh!.family];
      const b = this.bookmarkOf(sp, s.method);
      const cutoff = b.signal === undefined ? undefined : Date.parse(b.signal);
      const arrived = arrivals(b.known, keyed.filter((p) => !createdSince(p.row, cutoff)).map((p) => p.key));
      plans.set(s.id, { plan: planStream(s.id, sp.refresh!, keyed, b, interval, this.runS(b), arrived.keys), keyed, arrived });
    }
    this.base ??= this.requestsSoFar();
    const mandatory = [...plans.values()].reduce((n, p) => n + p.plan.signalled.size, 0);
    const available = Math.max(0, this.budget - this.base - this.committed - mandatory);
    const { chosen, left, spent } = allocate([...plans.values()].flatMap((p) => p.plan.candidates), available);
    this.committed += mandatory + spent;
    const overdue = left.filter((c) => c.overdue);
    if (overdue.length) {
      const streams = [...new Set(overdue.map((c) => c.stream))].join(", ");
      log.warn(
        `refresh: the run's request budget (rate_limit.max_requests_per_run ${
          runBudget(this.settings)
        }) leaves ${overdue.length} overdue slots of ${streams} for later runs`,
      );
    }
    for (const [id, { plan, keyed, arrived }] of plans) {
      const slots = new Set(chosen.filter((c) => c.stream === id).map((c) => c.slot));
      const read = new Set(plan.signalled);
      for (const p of keyed) if (slots.has(slotOf(p.key))) read.add(p.key);
      this.todos.set(id, { read, credit: plan.credit, requests: read.size, arrived: arrived.keys, unclear: arrived.unclear });
    }
    return this.todos.get(spec.stream)!;
  }

  /**
   * Before its parents are listed: the requests a stream is expected to make
   * over `n` parents: all of them without a state, else the pending ones and
   * the share of slots due (parents that changed come on top).
   */
  expected(spec: HerokuStreamSpec, n: number): number {
    const method = this.planned.find((p) => p.id === spec.stream)?.method ?? (spec.replication_key ? "INCREMENTAL" : "FULL_TABLE");
    const b = this.bookmarkOf(spec, method);
    if (!b.slots || !spec.refresh) return n;
    const plan = planStream(spec.stream, spec.refresh, [], b, this.settings.refresh_hours[spec.refresh.family], this.runS(b));
    return Math.ceil((plan.candidates.length / SLOTS) * n) + (b.pending?.length ?? 0);
  }

  /** Requests planned so far for a stream, or undefined before its parents are listed. */
  plannedRequests(stream: string): number | undefined {
    return this.todos.get(stream)?.requests;
  }
}

// Which parents a child stream re-reads in a run, and the compact state that
// decides it. Three reasons to read a parent's children:
//   1. a signal: one of the parent's `refresh.signals` fields (catalog data:
//      created_at, updated_at, and e.g. an app's released_at for releases and
//      dynos) is newer than the stream's `signal` cutoff, or the parent is in
//      `pending` (a child was still pending last time). A new parent always has
//      a new created_at. Always read, whatever the budget.
//   2. its turn: parents are spread over SLOTS slots by a hash of their key;
//      each slot remembers when it was last read in full. A run reads the
//      stalest slots: every slot older than the family's interval, and a share
//      proportional to the time since the last run (so the work spreads evenly
//      over the interval instead of arriving all at once), within the run's
//      request budget.
//   3. no state yet: every parent (a full run).
// State per child stream (one cutoff, one small array, a short exception list;
// never a map over parents):
//   signal                 newest parent signal seen by the last complete pass
//   replication_key_value  records updated before it were all emitted (the
//                          oldest slot's server watermark); the emit filter
//   slots                  SLOTS × [read at (tap clock, epoch s), server watermark (epoch s)]
//   credit, ran_at         the fractional share carried over, the last run's time
//   pending                parents to read next run whatever their signals
//   version                snapshot streams (deletes.ts): the version of an unfinished pass
//   versioned_from         snapshot streams: since when (epoch s) every record carries its pass's version
//   known                  per slot, how many parents the last pass listed and a hash of their keys
//                          (arrivals.ts: parents that appear without being created)
// Times of records are compared only with Heroku's own times (the server
// watermark is the newest timestamp of the parent listing, read before any
// child), so the tap's clock never decides what is emitted.
import { z } from "zod";
import type { Refresh } from "./definitions.ts";
import type { ParentRow } from "./records.ts";

export const SLOTS = 48;

const datetime = z.iso.datetime({ offset: true, error: "expected an RFC 3339 date-time" });

/** The refresh fields of a child stream's bookmark (see above); all optional, so old states parse. */
export const RefreshBookmark = z.object({
  signal: datetime.optional(),
  slots: z.array(z.tuple([z.number().int().min(0), z.number().int().min(0)]), { error: "expected a list of [read at, watermark] pairs" }).length(SLOTS)
    .optional(),
  credit: z.number().min(0).optional(),
  ran_at: z.number().int().min(0).optional(),
  pending: z.array(z.string(), { error: "expected a list of parents" }).optional(),
  parents: z.number().int().min(0).optional(),
  versioned_from: z.number().int().min(0).optional(),
  known: z.string().regex(/^[A-Za-z0-9_-]*$/, { error: "expected base64url" }).optional(),
});
export type RefreshBookmark = z.infer<typeof RefreshBookmark>;

/** What a child stream's bookmark holds that the refresh logic reads. */
export interface RefreshState extends RefreshBookmark {
  replication_key_value?: string | undefined;
  /** The bookmark of tap-heroku before refresh rules: one newest value per parent. */
  partitions?: Record<string, string> | undefined;
}

/** FNV-1a: a parent's slot, stable across runs and runtimes. */
export function slotOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % SLOTS;
}

const ms = (v: unknown): number | undefined => {
  if (typeof v !== "string") return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
};

/** Whether a parent was created after the cutoff (epoch ms), or has no creation time: new by its own record. */
export function createdSince(row: ParentRow, cutoffMs: number | undefined): boolean {
  const created = ms(row.created_at);
  return cutoffMs === undefined || created === undefined || created > cutoffMs;
}

/** The newest of a parent's signal fields (epoch ms), or undefined when it has none. */
export function signalOf(row: ParentRow, refresh: Refresh): number | undefined {
  let best: number | undefined;
  for (const f of refresh.signals) {
    const t = ms(row[f]);
    if (t !== undefined && (best === undefined || t > best)) best = t;
  }
  return best;
}

/**
 * An old bookmark (one `partitions` value per parent) read as the new shape:
 * a complete pass at `nowS` whose watermark is the oldest partition value
 * (every record older was emitted) and whose signal cutoff is the newest.
 */
export function migrate(b: RefreshState, nowS: number): RefreshState {
  if (!b.partitions || b.slots) return b;
  const values = Object.values(b.partitions).map(ms).filter((t): t is number => t !== undefined);
  if (values.length === 0) return { ...b, partitions: undefined };
  const oldest = Math.min(...values);
  return {
    ...b,
    partitions: undefined,
    replication_key_value: b.replication_key_value ?? new Date(oldest).toISOString(),
    signal: new Date(Math.max(...values)).toISOString(),
    slots: Array.from({ length: SLOTS }, () => [nowS, Math.floor(oldest / 1000)] as [number, number]),
    ran_at: nowS,
    parents: Object.keys(b.partitions).length,
  };
}

export interface SlotCandidate {
  readonly stream: string;
  readonly slot: number;
  /** Seconds since the slot was read, over the interval: > 1 is overdue. */
  readonly staleness: number;
  readonly overdue: boolean;
  /** Within the proportional share of this run (read when the budget allows). */
  readonly share: boolean;
  /** Requests: the slot's parents that are not read for a signal anyway. */
  readonly cost: number;
}

export interface StreamPlan {
  /** Parent keys read for a signal (or because there is no state). */
  readonly signalled: Set<string>;
  readonly candidates: SlotCandidate[];
  /** Credit carried to the next run. */
  readonly credit: number;
}

/** Parents to read for a signal (or because they `arrived`), and the slots due by the interval, for one child stream. */
export function planStream(
  stream: string,
  refresh: Refresh,
  parents: readonly { key: string; row: ParentRow }[],
  b: RefreshState,
  intervalH: number,
  nowS: number,
  arrived: ReadonlySet<string> = new Set(),
): StreamPlan {
  const cutoff = ms(b.signal);
  const pending = new Set(b.pending ?? []);
  const signalled = new Set<string>();
  const perSlot = new Array<number>(SLOTS).fill(0);
  for (const p of parents) {
    const sig = signalOf(p.row, refresh);
    if (!b.slots || cutoff === undefined || sig === undefined || sig > cutoff || pending.has(p.key) || arrived.has(p.key)) signalled.add(p.key);
    else perSlot[slotOf(p.key)]!++;
  }
  const slots = b.slots ?? [];
  const intervalS = intervalH * 3600;
  const elapsed = b.ran_at !== undefined ? Math.max(0, nowS - b.ran_at) : 0;
  const share = intervalS <= 0 ? SLOTS : (b.credit ?? 0) + (SLOTS * elapsed) / intervalS;
  const take = Math.min(SLOTS, Math.floor(share));
  const order = Array.from({ length: SLOTS }, (_, i) => i).sort((x, y) => (slots[x]?.[0] ?? 0) - (slots[y]?.[0] ?? 0) || x - y);
  const candidates: SlotCandidate[] = [];
  order.forEach((slot, rank) => {
    const at = slots[slot]?.[0] ?? 0;
    const age = nowS - at;
    const overdue = !b.slots || intervalS <= 0 || age >= intervalS;
    if (overdue || rank < take) {
      candidates.push({ stream, slot, staleness: intervalS <= 0 ? Infinity : age / intervalS, overdue, share: rank < take, cost: perSlot[slot]! });
    }
  });
  return { signalled, candidates, credit: intervalS <= 0 ? 0 : Math.min(share - take, 1) };
}

/**
 * Chooses slots across streams, stalest first (overdue before the share),
 * until the budget is spent. A slot whose parents are all read for a signal
 * costs nothing and is always taken.
 */
export function allocate(candidates: readonly SlotCandidate[], budget: number): { chosen: SlotCandidate[]; left: SlotCandidate[]; spent: number } {
  const sorted = [...candidates].sort((a, b) =>
    Number(b.overdue) - Number(a.overdue) || b.staleness - a.staleness || a.stream.localeCompare(b.stream) || a.slot - b.slot
  );
  const chosen: SlotCandidate[] = [];
  const left: SlotCandidate[] = [];
  let spent = 0;
  for (const c of sorted) {
    if (spent + c.cost <= budget) {
      chosen.push(c);
      spent += c.cost;
    } else left.push(c);
  }
  return { chosen, left, spent };
}

/**
 * The refresh fields after a complete pass: slots whose every parent was read
 * get this run's times; the signal cutoff moves to the newest signal listed;
 * the emit filter to the oldest slot's watermark.
 */
export function afterPass(
  b: RefreshState,
  refresh: Refresh,
  parents: readonly { key: string; row: ParentRow }[],
  read: ReadonlySet<string>,
  pending: readonly string[],
  credit: number,
  nowS: number,
  watermarkMs: number | undefined,
): { fields: RefreshBookmark & { slots: [number, number][] }; emitFrom: string | undefined } {
  const slots: [number, number][] = Array.from({ length: SLOTS }, (_, i) => (b.slots?.[i] ? [b.slots[i][0], b.slots[i][1]] : [0, 0]));
  const complete = new Array<boolean>(SLOTS).fill(true);
  let newest = ms(b.signal);
  for (const p of parents) {
    if (!read.has(p.key)) complete[slotOf(p.key)] = false;
    const sig = signalOf(p.row, refresh);
    if (sig !== undefined && (newest === undefined || sig > newest)) newest = sig;
  }
  const h = watermarkMs === undefined ? 0 : Math.floor(watermarkMs / 1000);
  complete.forEach((ok, i) => {
    if (ok) slots[i] = [nowS, h];
  });
  const oldest = Math.min(...slots.map((s) => s[1]));
  return {
    fields: {
      ...(newest !== undefined ? { signal: new Date(newest).toISOString() } : {}),
      slots,
      credit: Number(credit.toFixed(4)),
      ran_at: nowS,
      ...(pending.length ? { pending: [...pending] } : {}),
      parents: parents.length,
    },
    emitFrom: oldest > 0 ? new Date(oldest * 1000).toISOString() : undefined,
  };
}

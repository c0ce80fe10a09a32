// Delete detection (issue 13) for INCREMENTAL tables with a primary key: a
// key-only read of the table in the order of its primary key index, merged
// with the keys the state kept from the last run (key-set.ts); a key that was
// there and is gone comes out as a RECORD of the key columns and
// _sdc_deleted_at, which SDK targets soft-delete. Memory holds the state's
// keys, never the table's rows.
//
// Where keys do not fit in detect_deletes_max_kb (wide or random keys on a
// large table), the table falls back to a FULL_TABLE pass under a new version
// with ACTIVATE_VERSION every detect_deletes_full_table_every_h hours, and its
// incremental records carry the version of the last such pass, so the target
// drops at the next pass the rows that have gone.
import { z } from "zod";
import type { SyncContext } from "../singer/stream.ts";
import type { Bookmark } from "../singer/state.ts";
import { RawJson } from "../singer/messages.ts";
import { log } from "../log.ts";
import { copyFields, quoteLiteral } from "./copy.ts";
import { chunkTargetMs } from "./statement-bound.ts";
import type { ReadLimits, Statements } from "./statement-bound.ts";
import type { Column, Table } from "./introspect.ts";
import type { ColumnType } from "./types.ts";
import { quoteIdent } from "./types.ts";
import { IntRangeReader, IntRangeWriter, verbatimId, verbatimKey, VerbatimWriter } from "./key-set.ts";

/** The Meltano SDK's soft-delete column. */
export const DELETED_AT = "_sdc_deleted_at";
export const DELETED_AT_SCHEMA = { type: ["null", "string"], format: "date-time" } as const;

/** The bookmark's `deletes` field. */
export const DeletesBookmark = z.object({
  /** The primary key the keys were read for: another key starts the record over. */
  key: z.array(z.string()),
  /** One integer key column: its keys as ranges (key-set.ts). */
  ranges: z.string().regex(/^(-?[0-9a-z]+\.[0-9a-z]+(,[0-9a-z]+\.[0-9a-z]+)*)?$/, "expected integer key ranges such as 1.2r,2.2q").optional(),
  /** Any other key: each key as PostgreSQL's text (a list for a composite key). */
  keys: z.array(z.union([z.string(), z.array(z.string())])).optional(),
  /**
   * The fallback: the keys did not fit. `version` is the table version of the
   * last FULL_TABLE pass (none yet: one is due now); `pass` the bookmark of a
   * pass under way, which the next run resumes.
   */
  full_table: z.object({ version: z.number().int().optional(), pass: z.looseObject({}).optional() }).optional(),
});
export type DeletesBookmark = z.infer<typeof DeletesBookmark>;

/** What streams.ts sets on a table's plan when delete detection applies to it. */
export interface DeleteSettings {
  /** The most bytes the kept keys may take in the state. */
  readonly maxBytes: number;
  /** Hours between FULL_TABLE passes for a table whose keys do not fit. */
  readonly fullTableEveryH: number;
}

/** The parts of a table's plan (sync.ts) that detection reads. */
export interface KeyedTable {
  readonly stream: string;
  readonly table: Table;
  readonly types: ReadonlyMap<string, ColumnType>;
  readonly deletes?: DeleteSettings | undefined;
}

const INTEGER_TYPES = new Set(["int2", "int4", "int8"]);
const sameKey = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((k, i) => k === b[i]);

/**
 * The hook: finds the rows deleted since the keys in `prior` were read, emits
 * a tombstone for each through `ctx`, and returns the field to save in their
 * place. It runs inside the read's REPEATABLE READ transaction, before the
 * incremental rows, so the keys it keeps are those of the very snapshot the
 * rows come from. Any other snapshot loses deletes: a row inserted after the
 * keys' snapshot and emitted by the incremental read would be in neither this
 * run's keys nor the last run's, so its delete would never be seen (and a key
 * set read later than the rows misses a row inserted in between and deleted
 * before the next run in the same way). In one snapshot a tombstone and a
 * record never name the same key, so their order in the output does not
 * matter. The caller saves the returned field, and a STATE with it, before
 * it writes any row: the target must never hold a row whose key the state's
 * set lacks.
 *
 * No prior keys (the first run, or a key that changed): the keys are
 * recorded and no tombstone is sent. A prior field in the fallback is
 * returned as it is: afterPass decides about its FULL_TABLE pass.
 */
export async function detectDeletes(
  statements: Statements,
  plan: KeyedTable,
  ctx: SyncContext,
  prior: DeletesBookmark | undefined,
  limits: ReadLimits,
): Promise<DeletesBookmark> {
  const { table } = plan;
  const pk = table.primaryKey;
  const maxBytes = plan.deletes?.maxBytes ?? 1024 * 1024;
  if (prior?.full_table && sameKey(prior.key, pk)) return prior;
  const pkCols = pk.map((k) => table.columns.find((c) => c.name === k)!);
  const ints = pk.length === 1 && INTEGER_TYPES.has(plan.types.get(pk[0]!)!.baseName);
  const usable = prior !== undefined && sameKey(prior.key, pk) && (ints ? prior.ranges !== undefined : prior.keys !== undefined);
  if (prior !== undefined && !usable) {
    log.warn(`${plan.stream}: the kept keys are for another primary key; they are read again and no deletes are sent this run`);
  }

  const deletedAt = JSON.stringify(new Date().toISOString());
  const encoders = pkCols.map((c) => plan.types.get(c.name)!.makeEncoder(() => undefined));
  const names = pk.map((k) => JSON.stringify(k));
  let tombstones = 0;
  const tombstone = (values: readonly string[]): Promise<void> => {
    tombstones++;
    let s = "{";
    for (let i = 0; i < values.length; i++) s += `${names[i]}:${encoders[i]!(values[i]!)},`;
    return ctx.writeRecord(new RawJson(`${s}${JSON.stringify(DELETED_AT)}:${deletedAt}}`));
  };

  ctx.progress("looking for deleted rows");
  const started = performance.now();
  let overflow = false;
  let seen = 0;
  let result: DeletesBookmark;
  if (ints) {
    const before = usable ? new IntRangeReader(prior!.ranges!) : undefined;
    const now = new IntRangeWriter();
    const keep = (k: bigint) => {
      if (before?.current === k) before.advance();
      if (overflow) return;
      now.add(k);
      if (now.size > maxBytes) overflow = true;
    };
    const gone = async (k: bigint) => {
      while (before!.current !== undefined && before!.current < k) {
        const d = before!.current;
        before!.advance();
        await tombstone([d.toString()]);
      }
      keep(k);
    };
    const read = { decode: intKey, text: (k: bigint) => [k.toString()] };
    await readKeys(statements, plan, pkCols, ctx.signal, limits, () => overflow && !usable, read, (k) => {
      seen++;
      // Rows come in ascending key order: kept keys below this one are gone.
      if (before !== undefined && before.current !== undefined && before.current < k) return gone(k);
      keep(k);
    });
    if (before !== undefined) {
      for (; before.current !== undefined; before.advance()) await tombstone([before.current.toString()]);
    }
    result = { key: [...pk], ranges: now.finish() };
  } else {
    // Other keys are compared by equality only, never by order in JS: PostgreSQL
    // orders text by its collation. The kept keys take what the state takes.
    const before = usable ? new Set(prior!.keys!.map((k) => verbatimId(verbatimKey(k)))) : undefined;
    const now = new VerbatimWriter();
    const read = { decode: (buf: Buffer) => copyFields(buf, pkCols.length) as string[], text: (k: string[]) => k };
    await readKeys(statements, plan, pkCols, ctx.signal, limits, () => overflow && !usable, read, (key) => {
      seen++;
      before?.delete(verbatimId(key));
      if (overflow) return;
      now.add(key);
      if (now.size > maxBytes) overflow = true;
    });
    if (before !== undefined) { for (const id of before) await tombstone(JSON.parse(id) as string[]); }
    result = { key: [...pk], keys: now.keys };
  }
  if (overflow) {
    log.warn(
      `${plan.stream}: the primary keys take more than ${Math.round(maxBytes / 1024)} KB of state (the setting detect_deletes_max_kb); ` +
        `deletes are now found by a FULL_TABLE pass with ACTIVATE_VERSION every ${plan.deletes?.fullTableEveryH ?? 24} h instead`,
    );
    result = { key: [...pk], full_table: {} };
  }
  const took = ((performance.now() - started) / 1000).toFixed(2);
  log.info(`${plan.stream}: delete detection read ${seen} keys in ${took} s${usable ? `, ${tombstones} deleted` : " (the first time: no deletes sent)"}`);
  return result;
}

/**
 * Streams the key columns in the primary key's order, in keyset chunks (one
 * COPY each, no server sort: the session has enable_sort off), so no statement
 * reads the whole table. `enough` ends the read after a chunk; `read.decode`
 * turns a COPY row into a key at once (the buffer is pg's, reused), and
 * `read.text` gives a key's values back as text for the next chunk's start.
 */
async function readKeys<K>(
  statements: Statements,
  plan: KeyedTable,
  pkCols: readonly Column[],
  signal: AbortSignal,
  limits: ReadLimits,
  enough: () => boolean,
  read: { decode: (row: Buffer) => K; text: (key: K) => string[] },
  row: (key: K) => Promise<void> | void,
): Promise<void> {
  const keyList = pkCols.map((c) => quoteIdent(c.name)).join(", ");
  const select = pkCols.map((c) => plan.types.get(c.name)!.select(quoteIdent(c.name))).join(", ");
  const from = `${quoteIdent(plan.table.schema)}.${quoteIdent(plan.table.name)}`;
  const targetMs = chunkTargetMs(limits);
  // Keys are narrow: chunks start larger than row chunks and grow while quick.
  let rows = limits.batchSize * 10;
  let last: K | undefined;
  for (;;) {
    const lastText = last === undefined ? undefined : read.text(last);
    const where = lastText ? ` WHERE (${keyList}) > (${lastText.map((v, i) => `${quoteLiteral(v)}::${pkCols[i]!.castType}`).join(", ")})` : "";
    const text = `COPY (SELECT ${select} FROM ${from}${where} ORDER BY ${keyList} LIMIT ${rows}) TO STDOUT`;
    const started = performance.now();
    let n = 0;
    // A chunk cut at max_statement_s (a slow target holding up the tombstones) goes on after the last key handed over.
    const got = await statements.copyDecoded(signal, text, read.decode, (key) => {
      last = key;
      n++;
      return row(key);
    });
    if (got.cut) rows = Math.max(1, Math.floor(rows / 2));
    else if (n < rows) return;
    if (enough()) return;
    if (got.cut) continue;
    const ms = performance.now() - started;
    if (ms > targetMs * 2) rows = Math.max(limits.batchSize, Math.floor(rows / 2));
    else if (ms < targetMs / 2) rows = Math.min(2_000_000, rows * 4);
  }
}

/**
 * An integer key's COPY text ("-12\n") read from its bytes: up to 15 digits
 * fit a double exactly, and skip a string per row (ten times faster on a
 * million keys than Buffer.toString); longer ones go through BigInt's parser.
 */
export function intKey(buf: Buffer): bigint {
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 10) end--;
  const neg = buf[0] === 45;
  const from = neg ? 1 : 0;
  if (end - from > 15) return BigInt(buf.toString("latin1", 0, end));
  let n = 0;
  for (let i = from; i < end; i++) n = n * 10 + (buf[i]! - 48);
  return BigInt(neg ? -n : n);
}

/**
 * Delete detection around one INCREMENTAL read: `ctx` is the context the read
 * writes through (its bookmarks keep the `deletes` field; in the fallback its
 * records carry the version of the last FULL_TABLE pass), `beforeRows` the
 * hook to call inside its transaction, `afterPass` the FULL_TABLE pass the
 * fallback runs when one is due.
 */
export class DeleteTracking {
  readonly ctx: SyncContext;
  private field: DeletesBookmark | undefined;
  /** The read's own bookmark, as last saved (without `deletes`). */
  private last: Bookmark;

  private constructor(
    private readonly plan: KeyedTable & { deletes: DeleteSettings },
    private readonly outer: SyncContext,
    private readonly limits: ReadLimits,
  ) {
    const { deletes, ...own } = outer.bookmark ?? {};
    const parsed = DeletesBookmark.safeParse(deletes);
    this.field = parsed.success ? parsed.data : undefined;
    this.last = own;
    this.ctx = {
      ...outer,
      writeRecord: (record, version) => outer.writeRecord(record, version ?? this.field?.full_table?.version),
      saveBookmark: (b, opts) => {
        this.last = b;
        return outer.saveBookmark(this.bookmark(), opts);
      },
    };
  }

  /** Tracking for this read, or undefined when detection does not apply (off, no key, or _sdc_deleted_at not selected). */
  static for(plan: KeyedTable, ctx: SyncContext, limits: ReadLimits): DeleteTracking | undefined {
    const { deletes } = plan;
    if (deletes === undefined || ctx.replicationMethod !== "INCREMENTAL") return undefined;
    if (!ctx.properties.has(DELETED_AT)) {
      log.warn(
        `${plan.stream}: detect_deletes is on but the catalog does not select ${DELETED_AT}; no deletes are sent (discover the catalog again, e.g. meltano run --refresh-catalog, or select it)`,
      );
      return undefined;
    }
    return new DeleteTracking({ ...plan, deletes }, ctx, limits);
  }

  private bookmark(): Bookmark {
    return this.field === undefined ? { ...this.last } : { ...this.last, deletes: this.field };
  }

  /** The hook the read calls in its transaction before its rows (see detectDeletes). */
  readonly beforeRows = async (statements: Statements): Promise<void> => {
    this.field = await detectDeletes(statements, this.plan, this.outer, this.field, this.limits);
    // Written now: a row of this snapshot may reach the target only under a state that holds its keys.
    await this.outer.saveBookmark(this.bookmark(), { now: true });
  };

  /**
   * After the read: the fallback's FULL_TABLE pass, when one is due or under
   * way. A pass that starts and ends in this run keeps the keys it wrote: they
   * are exactly what the target holds once ACTIVATE_VERSION has dropped the
   * rest, so when they fit the table goes back to tombstones. A pass resumed
   * from an earlier run knows only part of its keys, and stays in the fallback.
   */
  async afterPass(fullTable: FullTablePass): Promise<void> {
    const ft = this.field?.full_table;
    if (ft === undefined || this.outer.signal.aborted) return;
    const everyMs = this.plan.deletes.fullTableEveryH * 3_600_000;
    if (ft.pass === undefined && ft.version !== undefined && Date.now() - ft.version < everyMs) return;
    log.info(`${this.plan.stream}: the FULL_TABLE pass that finds deleted rows (its keys do not fit in the state)`);
    await this.fullPass(fullTable);
  }

  /**
   * A FULL_TABLE pass under a new version with ACTIVATE_VERSION (or the one
   * under way), its keys kept when they fit. The fallback's pass; also what a
   * read that must start over (an xmin bookmark that cannot be trusted) runs,
   * so the kept keys match what the target holds afterwards.
   */
  async fullPass(fullTable: FullTablePass): Promise<void> {
    const ft = this.field?.full_table ?? {};
    const field: DeletesBookmark = { key: [...this.plan.table.primaryKey], full_table: ft };
    let pass: Bookmark = ft.pass ?? {};
    const keys = ft.pass === undefined ? new KeyCollector(this.plan) : undefined;
    await fullTable(
      {
        ...this.outer,
        replicationMethod: "FULL_TABLE",
        replicationKey: undefined,
        bookmark: pass,
        saveBookmark: (b, opts) => {
          pass = b;
          this.field = { ...field, full_table: { ...ft, pass: b } };
          return this.outer.saveBookmark(this.bookmark(), opts);
        },
      },
      keys && ((k) => keys.add(k)),
    );
    if (this.outer.signal.aborted) return; // the pass resumes next run from its bookmark
    const version = pass.version;
    if (typeof version !== "number" || "last_pk_fetched" in pass || "last_ctid" in pass) return;
    const kept = keys?.result();
    if (kept) log.info(`${this.plan.stream}: the keys fit in the state again; deletes are found from them, as tombstones, from the next run`);
    this.field = kept ?? { key: field.key, full_table: { version } };
    await this.outer.saveBookmark(this.bookmark());
  }
}

/** Runs fullTable (sync.ts) with this context; `onKey` is given each written row's key. */
export type FullTablePass = (ctx: SyncContext, onKey?: (key: string[]) => void) => Promise<void>;

/** The keys a FULL_TABLE pass writes, in key order, as long as they fit. */
class KeyCollector {
  private readonly ints: IntRangeWriter | undefined;
  private readonly verbatim: VerbatimWriter | undefined;
  private overflow = false;

  constructor(private readonly plan: KeyedTable & { deletes: DeleteSettings }) {
    const pk = plan.table.primaryKey;
    if (pk.length === 1 && INTEGER_TYPES.has(plan.types.get(pk[0]!)!.baseName)) this.ints = new IntRangeWriter();
    else this.verbatim = new VerbatimWriter();
  }

  add(key: string[]): void {
    if (this.overflow) return;
    if (this.ints) this.ints.add(BigInt(key[0]!));
    else this.verbatim!.add(key);
    if ((this.ints ?? this.verbatim!).size > this.plan.deletes.maxBytes) this.overflow = true;
  }

  result(): DeletesBookmark | undefined {
    if (this.overflow) return undefined;
    const key = [...this.plan.table.primaryKey];
    return this.ints ? { key, ranges: this.ints.finish() } : { key, keys: this.verbatim!.keys };
  }
}

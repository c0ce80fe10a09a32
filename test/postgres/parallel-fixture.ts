// Shared by the parallel tests: five keyed tables and one without a key of
// different sizes, a view that fails part way, and the checks of what a run
// wrote (order per stream, STATE never ahead of the records, exact rows).
import { expect } from "vitest";
import type { Message } from "../../src/singer/messages.ts";
import type { State } from "../../src/singer/state.ts";

/** Rows per keyed table t1..t5; nokey (read in ctid ranges) has 10,000. */
export const SIZES = [20_000, 15_000, 12_000, 9_000, 6_000];
export const SCRIPT = SIZES.map((n, i) =>
  `CREATE TABLE t${i + 1} (id bigint PRIMARY KEY, label text);
   INSERT INTO t${i + 1} SELECT g, 't${i + 1} row ' || g FROM generate_series(1, ${n}) g;`
).join("\n") + `
CREATE TABLE nokey (n int, label text);
INSERT INTO nokey SELECT g, 'nokey row ' || g FROM generate_series(1, 10000) g;
CREATE VIEW bad AS SELECT (1 / (g - 700))::int AS x FROM generate_series(1, 1000) g;`;

export const TABLES = [...SIZES.map((n, i) => ({ name: `t${i + 1}`, n })), { name: "nokey", n: 10_000 }];

export type Rec = Extract<Message, { type: "RECORD" }>;

/**
 * Checks what a run wrote, in order: each stream's SCHEMA before its records, records in key
 * order, at most one ACTIVATE_VERSION and after them; every STATE claims only rows already
 * written (last_pk_fetched at most the last id written; a bookmark without a place, only after
 * ACTIVATE_VERSION). Returns the most streams open at once (between SCHEMA and ACTIVATE_VERSION).
 */
export function checkOrder(messages: Message[], streams: string[], input?: State): number {
  const schema = new Set<string>();
  const fresh = input === undefined;
  // A resumed run starts from the places its input state holds.
  const lastId = new Map<string, number>();
  for (const [s, b] of Object.entries(input?.bookmarks ?? {})) {
    const pk = (b as { last_pk_fetched?: { id: string } }).last_pk_fetched;
    if (pk) lastId.set(s, Number(pk.id));
  }
  const activated = new Set<string>();
  let openNow = 0;
  let most = 0;
  for (const m of messages) {
    if (m.type === "SCHEMA" && streams.includes(m.stream)) {
      expect(schema.has(m.stream), `${m.stream}: one SCHEMA`).toBe(false);
      schema.add(m.stream);
      most = Math.max(most, ++openNow);
    } else if (m.type === "RECORD" && streams.includes(m.stream)) {
      expect(schema.has(m.stream), `${m.stream}: SCHEMA before records`).toBe(true);
      expect(activated.has(m.stream), `${m.stream}: no record after ACTIVATE_VERSION`).toBe(false);
      const n = Number((m.record as { id?: number; n?: number }).id ?? (m.record as { n: number }).n);
      if (!m.stream.endsWith("-public-nokey")) {
        expect(n, `${m.stream}: key order`).toBeGreaterThan(lastId.get(m.stream) ?? 0);
      }
      lastId.set(m.stream, n);
    } else if (m.type === "ACTIVATE_VERSION" && streams.includes(m.stream)) {
      expect(activated.has(m.stream)).toBe(false);
      activated.add(m.stream);
      openNow--;
    } else if (m.type === "STATE") {
      const bookmarks = (m.value as State).bookmarks;
      for (const s of streams) {
        const b = bookmarks[s] as { version?: number; last_pk_fetched?: { id: string }; last_ctid?: string; replication_key_value?: string } | undefined;
        if (!b) continue;
        if (b.last_pk_fetched) expect(Number(b.last_pk_fetched.id), `${s}: STATE claims a row not written`).toBeLessThanOrEqual(lastId.get(s) ?? 0);
        else if (b.replication_key_value !== undefined) {
          expect(Number(b.replication_key_value), `${s}: STATE claims a key not written`).toBeLessThanOrEqual(lastId.get(s) ?? 0);
        } else if (b.last_ctid) expect(lastId.has(s), `${s}: STATE claims a ctid before any row`).toBe(true);
        else if (fresh) expect(activated.has(s), `${s}: STATE says the pass is complete before ACTIVATE_VERSION`).toBe(true);
      }
    }
  }
  return most;
}

export const records = (ms: Message[], stream: string) => ms.filter((m): m is Rec => m.type === "RECORD" && m.stream === stream);
export const expected = (name: string, n: number) =>
  Array.from({ length: n }, (_, i) => name === "nokey" ? { n: i + 1, label: `nokey row ${i + 1}` } : { id: i + 1, label: `${name} row ${i + 1}` });
export const byKey = (rs: Rec[]) => rs.map((r) => r.record as Record<string, unknown>).sort((a, b) => Number(a.id ?? a.n) - Number(b.id ?? b.n));

// Parents that appear without being created: an app transferred into the
// account, or added to the `apps` setting, has an old created_at, so nothing
// says its children were never read. The state cannot list every parent (5,000
// apps' ids are 180 KB, per child stream), so each child stream keeps, per
// refresh slot (refresh.ts), the number of parents and the XOR of a 32-bit hash
// of their keys: 5 bytes a slot (the count modulo 256, the hash), 320 base64url
// characters a stream. A run compares the parents a slot holds now that were
// not created since the last pass with that record:
//   same count and hash     nothing appeared
//   one more, and one parent's hash is the difference
//                           that parent appeared
//   fewer (by up to 128)    parents went (an app deleted); none is taken as new
//   anything else           (one went and one came, or several came) every
//                           parent of the slot is taken as new: reading
//                           history again costs requests, never records lost
// A parent taken as new is read now, whatever the budget, with its children's
// whole history, and joins the stream's cutoff at the next pass. The same
// tally tells a top-level list that an item went (streams.ts, trackTop).
import { slotOf, SLOTS } from "./refresh.ts";

/** Bytes a slot: its count modulo 256, then the XOR of its parents' key hashes. */
const WIDTH = 5;

/** The known-parents record: SLOTS × WIDTH bytes in base64url. */
export const KNOWN_PATTERN = new RegExp(`^[A-Za-z0-9_-]{${(SLOTS * WIDTH * 4) / 3}}$`);

/** 32-bit FNV-1a from another offset than slotOf's, then a finalizer, so the bits do not follow the slot. */
function hashOf(key: string): number {
  let h = 0x01000193 ^ 0x9e3779b9;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

interface Tally {
  count: number;
  xor: number;
}

/** Keys tallied one at a time (a list walked page by page keeps no key), then encoded as the known-parents record. */
export class KeyTally {
  readonly slots: Tally[] = Array.from({ length: SLOTS }, () => ({ count: 0, xor: 0 }));

  add(key: string): void {
    const t = this.slots[slotOf(key)]!;
    t.count++;
    t.xor = (t.xor ^ hashOf(key)) >>> 0;
  }

  encode(): string {
    let bytes = "";
    for (const t of this.slots) {
      bytes += String.fromCharCode(t.count & 0xff, t.xor >>> 24, (t.xor >>> 16) & 0xff, (t.xor >>> 8) & 0xff, t.xor & 0xff);
    }
    return btoa(bytes).replace(/\+/g, "-").replace(/\//g, "_");
  }

  /** Whether these keys are exactly the ones `known` recorded (as far as a count and a hash per slot tell). */
  matches(known: string): boolean {
    const before = parse(known);
    return this.slots.every((t, i) => (t.count & 0xff) === before[i]!.count && t.xor === before[i]!.xor);
  }
}

function tally(keys: Iterable<string>): Tally[] {
  const t = new KeyTally();
  for (const k of keys) t.add(k);
  return t.slots;
}

/** The record of the parents a pass listed. */
export function knownParents(keys: Iterable<string>): string {
  const t = new KeyTally();
  for (const k of keys) t.add(k);
  return t.encode();
}

function parse(known: string): Tally[] {
  const bytes = atob(known.replace(/-/g, "+").replace(/_/g, "/"));
  const at = (i: number) => bytes.charCodeAt(i);
  return Array.from({ length: SLOTS }, (_, s) => {
    const i = s * WIDTH;
    return { count: at(i), xor: ((at(i + 1) << 24) | (at(i + 2) << 16) | (at(i + 3) << 8) | at(i + 4)) >>> 0 };
  });
}

/**
 * The parents (keys) that appeared since the pass that wrote `known`, among
 * `old`: the parents listed now that were not created since that pass.
 */
export function arrivals(known: string | undefined, old: readonly string[]): { keys: Set<string>; unclear: number } {
  const keys = new Set<string>();
  if (known === undefined || !KNOWN_PATTERN.test(known)) return { keys, unclear: 0 };
  const before = parse(known);
  const now = tally(old);
  const bySlot = new Map<number, string[]>();
  for (const k of old) {
    const s = slotOf(k);
    bySlot.set(s, [...(bySlot.get(s) ?? []), k]);
  }
  let unclear = 0;
  now.forEach((t, slot) => {
    const b = before[slot]!;
    const more = (t.count - b.count) & 0xff; // counts are kept modulo 256
    if (more === 0 && t.xor === b.xor) return;
    if (more >= 128) return; // parents went
    const members = bySlot.get(slot) ?? [];
    const diff = (t.xor ^ b.xor) >>> 0;
    const one = more === 1 ? members.find((k) => hashOf(k) === diff) : undefined;
    if (one !== undefined) keys.add(one);
    else {
      unclear++;
      for (const k of members) keys.add(k);
    }
  });
  return { keys, unclear };
}

// The compact key record of delete detection (src/postgres/key-set.ts), in
// process: exact round trips (int8 at both ends), the size the issue bounds
// (1,000,000 integer keys with 1 % deleted: at most 1 MB), order enforced;
// and integer keys decoded from COPY bytes exactly.
import { describe, expect, it } from "vitest";
import { Buffer } from "node:buffer";
import { intKeys, IntRangeReader, IntRangeWriter, parse36, verbatimKey, VerbatimWriter } from "../../src/postgres/key-set.ts";
import { intKey } from "../../src/postgres/deletes.ts";
import { random } from "../helpers/random.ts";

const encode = (keys: Iterable<bigint>) => {
  const w = new IntRangeWriter();
  for (const k of keys) w.add(k);
  return w.finish();
};

describe("integer key ranges", () => {
  it("round-trip exactly, int8 at both ends and across zero", () => {
    const keys = [-(2n ** 63n), -(2n ** 63n) + 1n, -5n, -4n, -1n, 0n, 1n, 3n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 2n, 2n ** 63n - 1n];
    const text = encode(keys);
    expect([...intKeys(text)]).toEqual(keys);
    expect(encode([])).toBe("");
    expect([...intKeys("")]).toEqual([]);
  });

  it("are ranges: 1..100 and 102..200 take two short entries", () => {
    const keys = [...Array.from({ length: 100 }, (_, i) => BigInt(i + 1)), ...Array.from({ length: 99 }, (_, i) => BigInt(i + 102))];
    expect(encode(keys)).toBe(`1.${(99).toString(36)},2.${(98).toString(36)}`);
  });

  it("refuse keys out of order, which would make the merge wrong", () => {
    const w = new IntRangeWriter();
    w.add(5n);
    expect(() => w.add(5n)).toThrow(/out of order/);
    expect(() => w.add(3n)).toThrow(/out of order/);
  });

  it("hold 1,000,000 keys with 1 % deleted at random in well under 1 MB, and read back the same keys", () => {
    const next = random(13);
    const kept: bigint[] = [];
    for (let i = 1; i <= 1_000_000; i++) if (next() >= 0.01) kept.push(BigInt(i));
    const text = encode(kept);
    const bytes = new TextEncoder().encode(JSON.stringify(text)).length;
    expect(bytes).toBeLessThanOrEqual(1_000_000);
    expect(bytes).toBeLessThan(80_000); // about 9,900 ranges of 5-6 characters
    const r = new IntRangeReader(text);
    let n = 0;
    for (const k of kept) {
      if (r.current !== k) throw new Error(`read ${r.current}, expected ${k}`);
      r.advance();
      n++;
    }
    expect(n).toBe(kept.length);
    expect(r.current).toBeUndefined();
  });

  it("parse base 36 exactly beyond 2^53", () => {
    for (const n of [0n, 35n, 36n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 36n ** 10n, 36n ** 10n - 1n, 36n ** 20n + 7n]) {
      expect(parse36(n.toString(36))).toBe(n);
    }
    expect(() => parse36("1.2")).toThrow(/base-36/);
  });
});

describe("verbatim keys", () => {
  it("keep one-column keys as text and composite keys as lists, sized as the state's JSON", () => {
    const w = new VerbatimWriter();
    w.add(["a"]);
    w.add(["x", "1"]);
    expect(w.keys).toEqual(["a", ["x", "1"]]);
    expect(w.size).toBe(JSON.stringify(w.keys).length + 1);
    expect(w.keys.map(verbatimKey)).toEqual([["a"], ["x", "1"]]);
  });
});

describe("integer keys read from COPY bytes", () => {
  it("are exact on both sides of 15 digits and at the ends of int8", () => {
    const cases = [
      "0",
      "-5",
      "7",
      "999999999999999",
      "-999999999999999",
      "1000000000000000",
      "9007199254740993",
      "-9223372036854775808",
      "9223372036854775807",
    ];
    for (const c of cases) expect(intKey(Buffer.from(`${c}\n`, "latin1")), c).toBe(BigInt(c));
    expect(intKey(Buffer.from("42", "latin1"))).toBe(42n);
  });
});

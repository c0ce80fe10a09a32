// The stream-map expression language: the Python subset the Meltano SDK's
// docs (docs/stream_maps.md) and tests (tests/core/test_mapper.py) use,
// parsed once and evaluated with Python's semantics, and nothing else.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ExpressionSyntaxError, parseExpression } from "../src/singer/maps/expression.ts";
import { evaluate } from "../src/singer/maps/evaluate.ts";
import { ExactNumber, parseExact, stringifyExact } from "../src/singer/maps/exact-json.ts";
import { toRecordValue } from "../src/singer/maps/python.ts";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

/** Evaluates like the SDK's _eval: record properties, record/_, config, the stream names, self. */
function run(expr: string, record: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): unknown {
  const vars = {
    record,
    _: record,
    config: { hash_seed: "super_secret_hash_seed" },
    __stream_name__: "mystream",
    __original_stream_name__: "mystream",
    ...extra,
  };
  return toRecordValue(evaluate(parseExpression(expr), { record, vars }));
}

const customFields = [
  { id: 1, value: "abc" },
  { id: 2, value: 1212 },
  { id: 3, value: null },
];

describe("expressions from the SDK docs and tests", () => {
  const repo = { name: "tap-something", owner_email: "sample1@example.com", description: "Comment A", create_date: "2019-01-01" };
  it.each([
    ["_['name']", repo, "tap-something"],
    ["owner_email.split('@')[1]", repo, "example.com"],
    ["owner_email.split('@')[-1]", repo, "example.com"],
    ["md5(config['hash_seed'] + owner_email)", repo, md5("super_secret_hash_seed" + "sample1@example.com")],
    ["'[masked]'", repo, "[masked]"],
    ["str('[masked]')", repo, "[masked]"],
    ["int(datetime.date.fromisoformat(create_date).year)", repo, 2019],
    ["int('0')", repo, 0],
    ["'tap-' in name or 'target-' in name", repo, true],
    ['"client-123"', repo, "client-123"],
    ["customer_id.lower()", { customer_id: "ABC" }, "abc"],
    ["record['customer_id'].lower()", { customer_id: "ABC" }, "abc"],
    ["email.endswith('@example.com')", { email: "a@example.com" }, true],
    ["int(count - 1)", { count: 21 }, 20],
    ["int(count-1)", { count: 21 }, 20],
    ["count < 20", { count: 21 }, false],
    ["bool(count < 20)", { count: 13 }, true],
    ["bool(status_value) if status_value else None", { status_value: "" }, null],
    ["bool(status_value) if status_value else None", { status_value: "x" }, true],
    ['dict([(x["id"], x["value"]) for x in custom_fields]).get(1)', { custom_fields: customFields }, "abc"],
    ['int(dict([(x["id"], x["value"]) for x in custom_fields]).get(2)) if dict([(x["id"], x["value"]) for x in custom_fields]).get(2) else None', {
      custom_fields: customFields,
    }, 1212],
    ['bool(dict([(x["id"], x["value"]) for x in custom_fields]).get(3)) if dict([(x["id"], x["value"]) for x in custom_fields]).get(3) else None', {
      custom_fields: customFields,
    }, null],
    ["[f for f in fields if f['key'] != 'age']", { fields: [{ key: "age" }, { key: "name" }] }, [{ key: "name" }]],
    ["[x + 1 for x in [1,2,3]]", {}, [2, 3, 4]],
    ["float(datetime.datetime.fromisoformat(joined_at).timestamp())", { joined_at: "2022-01-01T00:00:00Z" }, 1640995200],
    ["datetime.datetime.fromisoformat(joined_at).date()", { joined_at: "2022-01-01T00:00:00Z" }, "2022-01-01"],
    ["datetime.datetime.fromisoformat(config['some_date_string'])", {}, "2024-10-10T10:10:10+00:00", { config: { some_date_string: "2024-10-10T10:10:10Z" } }],
    ["__stream_name__", {}, "mystream"],
    ["'aliased_' + __stream_name__", {}, "aliased_mystream"],
    ["__stream_name__.upper()", {}, "MYSTREAM"],
    ["__stream_name__ + '_v2'", {}, "mystream_v2"],
    ["self.upper()", { email: "alice@example.com" }, "ALICE@EXAMPLE.COM", { self: "alice@example.com" }],
    ["_['email'].upper()", { email: "alice@example.com" }, "ALICE@EXAMPLE.COM"],
    ["sha256(email)", { email: "alice@example.com" }, "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976"],
    ["md5(email)", { email: "alice@example.com" }, "c160f8cc69a4f0bf2b0362752353d060"],
  ] as [string, Record<string, unknown>, unknown, Record<string, unknown>?][])("%s", (expr, record, expected, extra) => {
    expect(run(expr, record, extra)).toEqual(expected);
  });

  it("json.dumps(user, default=str) writes Python's separators, as the SDK's json_dumps snapshot", () => {
    const user = { id: 1, sub: { num: 1, custom_obj: "obj-hello" }, some_numbers: ["3.14", "2.718"] };
    expect(run("json.dumps(user, default=str)", { user })).toBe('{"id": 1, "sub": {"num": 1, "custom_obj": "obj-hello"}, "some_numbers": ["3.14", "2.718"]}');
    expect(run("json.dumps({'é': [1.5, None, True]})")).toBe('{"\\u00e9": [1.5, null, true]}');
    expect(run("json.loads('{\"a\": [1, 2]}')['a']")).toEqual([1, 2]);
  });
});

describe("Python semantics", () => {
  it.each([
    ["7 / 2", 3.5],
    ["7 // 2", 3],
    ["-7 // 2", -4],
    ["-7 % 3", 2],
    ["2 ** 10", 1024],
    ["1 < 2 < 3", true],
    ["3 > 2 > 2", false],
    ["'a' * 3", "aaa"],
    ["[1, 2] + [3]", [1, 2, 3]],
    ["not ''", true],
    ["0 or 'x'", "x"],
    ["1 and 0", 0],
    ["'b' in 'abc'", true],
    ["2 not in [1, 3]", true],
    ["'k' in {'k': 1}", true],
    ["None is None", true],
    ["1 if [] else 2", 2],
    ["'abcdef'[1:4]", "bcd"],
    ["'abcdef'[::-1]", "fedcba"],
    ["[1,2,3,4][-2:]", [3, 4]],
    ["' a  b '.split()", ["a", "b"]],
    ["'a,b,c'.split(',', 1)", ["a", "b,c"]],
    ["'-'.join(['a', 'b'])", "a-b"],
    ["'  x '.strip()", "x"],
    ["'xxhixx'.strip('x')", "hi"],
    ["'hello'.replace('l', 'L')", "heLLo"],
    ["'hello world'.title()", "Hello World"],
    ["str(None)", "None"],
    ["str(True)", "True"],
    ["str(1.5)", "1.5"],
    ["str([1, 'a'])", "[1, 'a']"],
    ["str({'a': None})", "{'a': None}"],
    ["int('  42 ')", 42],
    ["int(3.9)", 3],
    ["int(-3.9)", -3],
    ["float('1e3')", 1000],
    ["round(2.5)", 2],
    ["round(3.5)", 4],
    ["round(2.675, 2)", 2.67],
    ["abs(-3)", 3],
    ["len('héllo')", 5],
    ["len({'a': 1})", 1],
    ["min([3, 1, 2])", 1],
    ["max(3, 1, 2)", 3],
    ["sorted([3, 1, 2], reverse=True)", [3, 2, 1]],
    ["sum([1, 2, 3])", 6],
    ["{k: v for k, v in {'a': 1, 'b': 2}.items() if v > 1}", { b: 2 }],
    ["list({'a': 1, 'b': 2}.keys())", ["a", "b"]],
    ["list({'a': 1}.values())", [1]],
    ["{'a': 1}.get('b', 'none')", "none"],
    ["dict(a=1)['a']", 1],
    ["(1, 2)[0]", 1],
    ["[x * y for x in [1, 2] for y in [10, 100]]", [10, 100, 20, 200]],
    ["''.join(c for c in 'a1b2' if c.isdigit())", "12"],
    ["(datetime.datetime.fromisoformat('2024-01-02T00:00:00+00:00') - datetime.timedelta(days=1)).isoformat()", "2024-01-01T00:00:00+00:00"],
    ["datetime.datetime.fromisoformat('2024-03-05T06:07:08.5').strftime('%Y/%m/%d %H:%M:%S.%f')", "2024/03/05 06:07:08.500000"],
    ["datetime.date.fromisoformat('2024-02-29').isoformat()", "2024-02-29"],
    // weekday() reads the wall clock, not UTC: 23:30 at -05:00 on Sunday 10 March is still Sunday (6).
    ["[datetime.date.fromisoformat('2024-03-10').weekday(), datetime.datetime.fromisoformat('2024-03-10T23:30:00-05:00').weekday()]", [6, 6]],
    ["(datetime.date.fromisoformat('2024-03-01') - datetime.date.fromisoformat('2024-02-01')).days", 29],
    ["datetime.timedelta(hours=36).total_seconds()", 129600],
    ["str(datetime.timedelta(days=1, seconds=5))", "1 day, 0:00:05"],
    ["datetime.datetime.now() > datetime.datetime.fromisoformat('2020-01-01')", true],
    ["datetime.datetime.now(datetime.timezone.utc).year >= 2024", true],
  ])("%s", (expr, expected) => {
    expect(run(expr)).toEqual(expected);
  });

  it("raises Python's errors, as messages", () => {
    expect(() => run("None.split('@')")).toThrow(/'NoneType' object has no attribute 'split'/);
    expect(() => run("missing")).toThrow(/name 'missing' is not defined/);
    expect(() => run("{'a': 1}['b']")).toThrow(/KeyError: 'b'/);
    expect(() => run("1 / 0")).toThrow(/division by zero/);
    expect(() => run("'a' + 1")).toThrow(/unsupported operand type\(s\) for \+: 'str' and 'int'/);
    expect(() => run("None < 1")).toThrow(/'<' not supported between instances of 'NoneType' and 'int'/);
    expect(() => run("int('3.5')")).toThrow(/invalid literal for int\(\)/);
    expect(() => run("[1][3]")).toThrow(/list index out of range/);
  });

  it("big integers stay exact: parsed from a row, computed, compared and written back", () => {
    const row = parseExact('{"id":9007199254740993,"n":12345678901234567890.123456789,"small":1.5}') as Record<string, unknown>;
    expect(row.id).toBe(9007199254740993n);
    expect(row.n).toBeInstanceOf(ExactNumber);
    expect(stringifyExact(row)).toBe('{"id":9007199254740993,"n":12345678901234567890.123456789,"small":1.5}');
    expect(run("id + 1", row)).toBe(9007199254740994n);
    expect(run("str(id)", row)).toBe("9007199254740993");
    expect(run("str(n)", row)).toBe("12345678901234567890.123456789");
    expect(run("id == 9007199254740993", row)).toBe(true);
    expect(run("id > 9007199254740992", row)).toBe(true);
    expect(run("int('123456789012345678901234567890')")).toBe(123456789012345678901234567890n);
    expect(run("2 ** 64")).toBe(18446744073709551616n);
    expect(run("9007199254740991 + 2")).toBe(9007199254740993n);
  });
});

describe("what is refused", () => {
  const position = (expr: string) => {
    try {
      parseExpression(expr);
    } catch (e) {
      if (e instanceof ExpressionSyntaxError) return [e.reason, e.at] as const;
      throw e;
    }
    return undefined;
  };

  it.each([
    ["this should raise an er!ror", 6],
    ["lambda x: x", 1],
    ["x = 1", 3],
    ["f'{x}'", 1],
    ["a | b", 3],
    ["[1, 2", 6],
    ["(", 2],
    ["", 1],
    ["import os", 1],
    ["x if y", 7],
  ])("%s does not parse, at position %i", (expr, at) => {
    expect(position(expr)?.[1]).toBe(at);
  });

  it("reaches no JavaScript object: dunder attributes and unknown attributes fail", () => {
    expect(() => run("''.__class__")).toThrow(/not allowed/);
    expect(() => run("record.constructor", { a: 1 })).toThrow(/has no attribute 'constructor'/);
    expect(() => run("'x'.constructor")).toThrow(/has no attribute 'constructor'/);
    expect(() => run("json.parse('{}')")).toThrow(/module 'json' has no attribute 'parse'/);
    expect(() => run("datetime.datetime.__proto__")).toThrow(/not allowed/);
    expect(() => run("toString")).toThrow(/name 'toString' is not defined/);
    expect(() => run("__proto__")).toThrow(/name '__proto__' is not defined/);
    expect(() => run("md5.call")).toThrow(/has no attribute/);
  });

  it("stops a runaway expression", () => {
    expect(() => run("[[x for x in 'a' * 50000] for y in 'b' * 100]")).toThrow(/too many steps/);
    expect(() => run("'x' * 200000")).toThrow(/longer than/);
  });

  it("reads a property named like a builtin before the builtin, as the SDK's names do", () => {
    expect(run("str", { str: "a property" })).toBe("a property");
  });
});

// Schema flattening with the Meltano SDK's rules: the doctests of
// singer_sdk/helpers/_flattening.py and the cases of tests/core/test_flattening.py,
// against the tap's flatten.ts.
import { describe, expect, it } from "vitest";
import type { JSONSchema7 } from "json-schema";
import { flattenKey, flattenRecord, flattenSchema } from "../src/singer/maps/flatten.ts";
import type { FlatteningOptions } from "../src/singer/maps/flatten.ts";
import { stringifyExact } from "../src/singer/maps/exact-json.ts";

const opts = (maxDepth: number, extra: Partial<FlatteningOptions> = {}): FlatteningOptions => ({ maxDepth, separator: "__", maxKeyLength: 255, ...extra });
const toJson = (v: unknown) => stringifyExact(v);

describe("flatten_key", () => {
  it("joins parents and key (doctests)", () => {
    expect(flattenKey("foo", ["bar", "baz"], "__", 255)).toBe("bar__baz__foo");
    expect(flattenKey("foo", ["bar", "baz"], ".", 255)).toBe("bar.baz.foo");
  });

  it("abbreviates parents, outermost first, while the name is too long", () => {
    // camelize + drop lower case: parent_object_name -> PON -> pon; child_object -> co; then 28 < 30.
    expect(flattenKey("some_very_long_name", ["parent_object_name", "child_object"], "__", 30)).toBe("pon__co__some_very_long_name");
    // A part that camelizes to one capital keeps its first three characters.
    expect(flattenKey("k", ["identifier", "x"], "__", 5)).toBe("ide__x__k");
  });

  it("test_flatten_key_with_long_names: under the limit, every separator kept", () => {
    const key = "very_long_key_name_that_contains_many_characters";
    const parents = ["first", "second", "third", "fourth", "fifth"].map((w) => `${w}_extremely_long_parent_key_name_with_many_words`);
    for (const [sep, max] of [["__", 255], [".", 255], ["__", 100]] as const) {
      const result = flattenKey(key, parents, sep, max);
      expect(result.length).toBeLessThan(max);
      expect(result.split(sep).length - 1).toBe(parents.length);
    }
  });
});

const nested: JSONSchema7 = {
  type: "object",
  properties: {
    id: { type: "string" },
    foo: { type: "object", properties: { bar: { type: "object", properties: { baz: { type: "object", properties: { qux: { type: "string" } } } } } } },
  },
};
const nullable: JSONSchema7 = {
  type: "object",
  properties: {
    id: { type: "string" },
    foo: {
      type: ["object", "null"],
      properties: { bar: { type: ["object", "null"], properties: { baz: { type: ["object", "null"], properties: { qux: { type: "string" } } } } } },
    },
  },
};

describe("flatten_schema (doctests)", () => {
  it("depth 0 leaves the schema as it is", () => {
    expect(flattenSchema(nested, opts(0))).toEqual(nested);
    expect(flattenSchema(nullable, opts(0))).toEqual(nullable);
  });

  it.each([
    [1, "foo__bar"],
    [2, "foo__bar__baz"],
  ])("depth %i: the object at the limit becomes a string", (depth, key) => {
    expect(flattenSchema(nested, opts(depth))).toEqual({ type: "object", properties: { id: { type: "string" }, [key]: { type: "string" } } });
    expect(flattenSchema(nullable, opts(depth))).toEqual({ type: "object", properties: { id: { type: "string" }, [key]: { type: ["string", "null"] } } });
  });

  it("depth 3 reaches the leaf", () => {
    expect(flattenSchema(nested, opts(3))).toEqual({ type: "object", properties: { id: { type: "string" }, foo__bar__baz__qux: { type: "string" } } });
  });
});

describe("tests/core/test_flattening.py", () => {
  const record = { key_1: 1, key_2: { key_3: "value", key_4: { key_5: 1, key_6: ["a", "b"] } } };

  it("test_flatten_record: flattened schema limiting the max level", () => {
    const schema: JSONSchema7 = {
      properties: { key_1: { type: ["null", "integer"] }, key_2__key_3: { type: ["null", "string"] }, key_2__key_4: { type: ["null", "object"] } },
    };
    expect(flattenRecord(record, schema, opts(99), toJson)).toEqual({ key_1: 1, key_2__key_3: "value", key_2__key_4: '{"key_5":1,"key_6":["a","b"]}' });
  });

  it("test_flatten_record: flattened schema not limiting the max level", () => {
    const schema: JSONSchema7 = { properties: { key_1: {}, key_2__key_3: {}, key_2__key_4__key_5: {}, key_2__key_4__key_6: {} } };
    expect(flattenRecord(record, schema, opts(99), toJson)).toEqual({
      key_1: 1,
      key_2__key_3: "value",
      key_2__key_4__key_5: 1,
      key_2__key_4__key_6: '["a","b"]',
    });
  });

  it("test_flatten_record: max level limiting flattened schema", () => {
    const schema: JSONSchema7 = { properties: { key_1: {}, key_2__key_3: {}, key_2__key_4__key_5: {}, key_2__key_4__key_6: {} } };
    expect(flattenRecord(record, schema, opts(1), toJson)).toEqual({ key_1: 1, key_2__key_3: "value", key_2__key_4: '{"key_5":1,"key_6":["a","b"]}' });
  });

  it("test_get_flattening_options_*: checked by the settings (tested in the CLI and config tests)", () => {
    expect(opts(5, { maxKeyLength: 30, separator: "." })).toEqual({ maxDepth: 5, maxKeyLength: 30, separator: "." });
  });

  const typeless: JSONSchema7 = {
    type: "object",
    properties: { id: { type: "string" }, changes: { type: "object", properties: { field: { type: "string" }, OldValue: {}, NewValue: {} } } },
  };

  it("test_flatten_schema_with_typeless_properties", () => {
    const flat = flattenSchema(typeless, opts(1));
    expect(flat.properties!.changes__OldValue).toEqual({ type: ["null", "string"] });
    expect(flat.properties!.changes__NewValue).toEqual({ type: ["null", "string"] });
    expect(flat.properties!.changes__field).toEqual({ type: "string" });
  });

  it("test_flatten_record_with_typeless_property_values", () => {
    const flat = flattenSchema(typeless, opts(1));
    const rec = { id: "123", changes: { field: "status", OldValue: { nested: "object", with: ["array", "values"] }, NewValue: "simple string" } };
    expect(flattenRecord(rec, flat, opts(1), toJson)).toEqual({
      id: "123",
      changes__field: "status",
      changes__OldValue: '{"nested":"object","with":["array","values"]}',
      changes__NewValue: "simple string",
    });
  });

  it("test_flatten_combined_schemas: the first branch of oneOf/anyOf/allOf decides; an integer first branch drops the property", () => {
    const address = {
      type: "object",
      properties: { street: { type: "string" }, city: { type: "string" }, state: { type: "string" }, zip: { type: "string" } },
    } as JSONSchema7;
    const phones = { type: "array", items: { type: "object", properties: { type: { type: "string" }, number: { type: "string" } } } } as JSONSchema7;
    const schema: JSONSchema7 = {
      type: "object",
      properties: {
        name: { oneOf: [{ type: "string" }, { type: "object", properties: { first_name: { type: "string" }, last_name: { type: "string" } } }] },
        address: { anyOf: [address] },
        phones: { allOf: [phones] },
        id: { oneOf: [{ type: "integer" }, { type: "string", format: "uuid" }] },
      },
    };
    expect(flattenSchema(schema, opts(1))).toEqual({
      type: "object",
      properties: { name: { type: ["null", "string"] }, address: { ...address, type: ["null", "object"] }, phones: { ...phones, type: ["null", "array"] } },
    });
  });

  it("test_flatten_schema_no_properties", () => {
    expect(flattenSchema({ type: "object" }, opts(1))).toEqual({ type: "object", properties: {} });
  });

  it("test_flatten_schema_duplicate_key", () => {
    const schema: JSONSchema7 = { type: "object", properties: { a__b: { type: "string" }, a: { type: "object", properties: { b: { type: "string" } } } } };
    expect(() => flattenSchema(schema, opts(1))).toThrow('flattening makes two columns named "a__b"');
  });

  it("test_flatten_schema_long_key_abbreviation, test_flatten_record_long_key_abbreviation", () => {
    const k = "a".repeat(20);
    const schema: JSONSchema7 = { type: "object", properties: { [k]: { type: "object", properties: { [k]: { type: "string" } } } } };
    const flat = flattenSchema(schema, opts(1, { maxKeyLength: 30 }));
    const names = Object.keys(flat.properties!);
    expect(names).toHaveLength(1);
    expect(names[0]!.length).toBeLessThan(30);
    expect(Object.keys(flattenRecord({ [k]: { [k]: "v" } }, flat, opts(1, { maxKeyLength: 30 }), toJson))).toEqual(names);
  });
});

describe("the tap's schemas", () => {
  it("a json/jsonb column (type null, object, array) becomes JSON text, and its value stays exact", () => {
    const schema: JSONSchema7 = { type: "object", properties: { id: { type: "integer" }, doc: { type: ["null", "object", "array"] } } };
    const flat = flattenSchema(schema, opts(1));
    expect(flat.properties!.doc).toEqual({ type: ["string", "null"] });
    expect(flattenRecord({ id: 1, doc: { big: 12345678901234567890n } }, flat, opts(1), toJson)).toEqual({ id: 1, doc: '{"big":12345678901234567890}' });
  });

  it("a name that is special to JavaScript objects flattens like any other", () => {
    const schema: JSONSchema7 = {
      type: "object",
      properties: JSON.parse('{"__proto__": {"type": "object", "properties": {"constructor": {"type": "string"}}}}'),
    };
    const flat = flattenSchema(schema, opts(1));
    expect(Object.keys(flat.properties!)).toEqual(["__proto____constructor"]);
    const rec = flattenRecord(JSON.parse('{"__proto__": {"constructor": "x"}}'), flat, opts(1), toJson);
    expect(Object.keys(rec)).toEqual(["__proto____constructor"]);
  });
});

// Stream maps with the Meltano SDK's semantics: every case of its
// tests/core/test_mapper.py (the transform, clone/alias, filter and wildcard
// cases, and each test_mapped_stream snapshot) and the examples of its
// docs/stream_maps.md, run through the tap's mapper and writer.
//
// Out of scope, and why: fake_credit_card_number, fake_email_seed_instance and
// fake_email_seed_class need Faker (a Python library; a map naming `fake`
// fails at startup, tested below); aliased_stream_batch snapshots a BATCH
// message for a file its test stream pretends to have written (maps with the
// tap's real BATCH files are tested on the writer below).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JSONSchema7 } from "json-schema";
import { MapConfigError, StreamMapper } from "../src/singer/maps/mapper.ts";
import type { MapSettings } from "../src/singer/maps/mapper.ts";
import { MappedWriter } from "../src/singer/maps/writer.ts";
import { RawJson } from "../src/singer/messages.ts";
import { BatchConfig, BatchFiles } from "../src/singer/batch.ts";
import { startSimulator } from "../simulator/index.ts";
import type { Simulator } from "../simulator/index.ts";
import { runTap, RUNTIMES, tempFiles } from "./helpers/tap.ts";
import { tempDir } from "./helpers/temp.ts";
import { validate } from "./helpers/json-schema.ts";
import { loadSettings } from "../src/config.ts";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");
const S = (type: string, extra: JSONSchema7 = {}): JSONSchema7 => ({ type: [type, "null"], ...extra } as JSONSchema7);
const props = (p: Record<string, JSONSchema7>): JSONSchema7 => ({ type: "object", properties: p });

interface Source {
  schema: JSONSchema7;
  keys?: string[];
  bookmarks?: string[];
  records: Record<string, unknown>[];
}

/** What the SDK's _run_transform collects: each output stream's schema, keys and records. */
function run(settings: MapSettings, sources: Record<string, Source>) {
  const mapper = new StreamMapper(settings);
  const schemas: Record<string, JSONSchema7> = {};
  const keys: Record<string, string[]> = {};
  const records: Record<string, Record<string, unknown>[]> = {};
  for (const [name, s] of Object.entries(sources)) {
    for (const out of mapper.register(name, s.schema, s.keys ?? [], s.bookmarks)) {
      schemas[out.alias] = out.schema;
      keys[out.alias] = out.keyProperties;
      records[out.alias] = s.records.map((r) => out.transform(r)).filter((r): r is Record<string, unknown> => r !== null);
    }
  }
  return { schemas, keys, records };
}

// test_mapper.py's sample catalog and stream
const repositories = [
  { name: "tap-something", owner_email: "sample1@example.com", description: "Comment A", create_date: "2019-01-01" },
  { name: "my-tap-something", owner_email: "sample2@example.com", description: "Comment B", create_date: "2020-01-01" },
  { name: "target-something", owner_email: "sample3@example.com", description: "Comment C", create_date: "2021-01-01" },
  { name: "not-atap", owner_email: "sample4@example.com", description: "Comment D", create_date: "2022-01-01" },
];
const jellybeanSchema = props({
  id: S("integer"),
  custom_fields: S("array", {
    items: { type: ["object", "null"], properties: { id: S("integer"), value: { anyOf: [S("string"), S("integer"), S("boolean")] } } },
  }),
});
const sample = (): Record<string, Source> => ({
  repositories: { schema: props({ name: S("string"), owner_email: S("string"), description: S("string"), create_date: S("string") }), records: repositories },
  foobars: { schema: props({ the: S("string"), brown: S("string") }), records: [{ the: "quick" }, { brown: "fox" }] },
  singular: { schema: props({ foo: S("string") }), records: [{ foo: "bar" }] },
  nested_jellybean: {
    schema: jellybeanSchema,
    records: [
      { id: 123, custom_fields: [{ id: 1, value: "abc" }, { id: 2, value: 1212 }, { id: 3, value: null }] },
      { id: 124, custom_fields: [{ id: 1, value: "foo" }, { id: 2, value: 9009 }, { id: 3, value: true }] },
    ],
  },
});
const seed = "super_secret_hash_seed";
const cf = (n: number) => `dict([(x["id"], x["value"]) for x in custom_fields]).get(${n})`;

describe("tests/core/test_mapper.py", () => {
  it("test_map_transforms", () => {
    const out = run(
      {
        stream_maps: {
          repositories: {
            repo_name: "_['name']",
            email_domain: "owner_email.split('@')[1]",
            email_hash: "md5(config['hash_seed'] + owner_email)",
            description: "'[masked]'",
            description2: "str('[masked]')",
            create_year: "int(datetime.date.fromisoformat(create_date).year)",
            int_test: "int('0')",
            __else__: null,
          },
          nested_jellybean: {
            custom_fields: "__NULL__",
            custom_field_1: cf(1),
            custom_field_2: `int(${cf(2)}) if ${cf(2)} else None`,
            custom_field_3: `bool(${cf(3)}) if ${cf(3)} else None`,
          },
        },
        stream_map_config: { hash_seed: seed },
      },
      sample(),
    );
    expect(out.records.repositories).toEqual(
      repositories.map((r) => ({
        repo_name: r.name,
        email_domain: "example.com",
        email_hash: md5(seed + r.owner_email),
        description: "[masked]",
        description2: "[masked]",
        create_year: Number(r.create_date.slice(0, 4)),
        int_test: 0,
      })),
    );
    expect(out.schemas.repositories).toEqual(
      props({
        repo_name: S("string"),
        email_domain: S("string"),
        email_hash: S("string"),
        description: S("string"),
        description2: S("string"),
        create_year: S("integer"),
        int_test: S("integer"),
      }),
    );
    expect(out.records.foobars).toEqual([{ the: "quick" }, { brown: "fox" }]);
    expect(out.records.singular).toEqual([{ foo: "bar" }]);
    expect(out.records.nested_jellybean).toEqual([
      { id: 123, custom_field_1: "abc", custom_field_2: 1212, custom_field_3: null },
      { id: 124, custom_field_1: "foo", custom_field_2: 9009, custom_field_3: true },
    ]);
    expect(out.schemas.nested_jellybean).toEqual(
      props({ id: S("integer"), custom_field_1: S("string"), custom_field_2: S("integer"), custom_field_3: S("boolean") }),
    );
  });

  it("test_clone_and_alias_transforms", () => {
    const out = run(
      {
        stream_maps: {
          repositories: { __alias__: "repositories_aliased" },
          repositories_clone_1: { __source__: "repositories" },
          repositories_clone_2: { __source__: "repositories" },
          __else__: null,
        },
      },
      sample(),
    );
    expect(Object.keys(out.schemas).sort()).toEqual(["repositories_aliased", "repositories_clone_1", "repositories_clone_2"]);
    for (const name of Object.keys(out.schemas)) {
      expect(out.records[name]).toEqual(repositories);
      expect(out.schemas[name]).toEqual(sample().repositories!.schema);
    }
  });

  it("test_filter_transforms", () => {
    const out = run(
      { stream_maps: { repositories: { __filter__: "'tap-' in name or 'target-' in name", name: "_['name']", __else__: null }, __else__: null } },
      sample(),
    );
    expect(out.records).toEqual({ repositories: [{ name: "tap-something" }, { name: "my-tap-something" }, { name: "target-something" }] });
    expect(out.schemas).toEqual({ repositories: props({ name: S("string") }) });
  });

  it("test_filter_transforms_w_error: the expression fails at startup, naming where", () => {
    const settings = { stream_maps: { repositories: { __filter__: "this should raise an er!ror", name: "_['name']", __else__: null }, __else__: null } };
    expect(() => new StreamMapper(settings)).toThrow(MapConfigError);
    expect(() => new StreamMapper(settings)).toThrow(/does not parse: unexpected "should" at position 6/);
    try {
      new StreamMapper(settings);
    } catch (e) {
      expect((e as MapConfigError).line).toMatch(/^stream_maps\.repositories\.__filter__: /);
    }
  });

  it("test_wildcard_transforms", () => {
    const out = run({ stream_maps: { "*s": { db_name: "'database'" } } }, sample());
    expect(out.records.repositories).toEqual(repositories.map((r) => ({ ...r, db_name: "database" })));
    expect(out.records.foobars).toEqual([{ the: "quick", db_name: "database" }, { brown: "fox", db_name: "database" }]);
    expect(out.records.singular).toEqual([{ foo: "bar" }]);
    expect(out.schemas.foobars).toEqual(props({ the: S("string"), brown: S("string"), db_name: S("string") }));
    expect(out.schemas.nested_jellybean).toEqual(jellybeanSchema);
  });

  it("test_deselected_stream_with_key_properties_and_map", () => {
    const out = run({ stream_maps: { mystream: { email_hash: "md5(email)" } } }, {
      mystream: { schema: props({ email: S("string") }), keys: ["email"], records: [] },
    });
    expect(out.keys.mystream).toEqual(["email"]);
  });
});

// test_mapped_stream's MappedStream: three records, one nested object and an array of decimals.
const mystreamSchema: JSONSchema7 = {
  type: "object",
  required: ["email"],
  properties: {
    email: { type: ["string"] },
    count: S("integer"),
    user: S("object", {
      additionalProperties: true,
      properties: {
        id: S("integer"),
        sub: S("object", { additionalProperties: true, properties: { num: S("integer"), custom_obj: S("string") } }),
        some_numbers: S("array", { items: { type: ["number"] } }),
      },
    }),
    joined_at: S("string", { format: "date-time" }),
  },
};
const users = [
  ["alice", 21, 1, "obj-hello", [3.14, 2.718]],
  ["bob", 13, 2, "obj-world", [10.32, 1.618]],
  ["charlie", 19, 3, "obj-hello", [1.414, 1.732]],
] as const;
const mystream = users.map(([n, count, id, obj, nums]) => ({
  email: `${n}@example.com`,
  count,
  user: { id, sub: { num: id, custom_obj: obj }, some_numbers: [...nums] },
  joined_at: "2022-01-01T00:00:00Z",
}));
const mapped = (settings: MapSettings) => run(settings, { mystream: { schema: mystreamSchema, records: mystream } });
const hashes = ["c160f8cc69a4f0bf2b0362752353d060", "4b9bb80620f03eb3719e0a061c14283d", "426b189df1e2f359efe6ee90f2d2030f"];

describe("test_mapped_stream snapshots (tests/snapshots/mapped_stream)", () => {
  it("no_map, flatten_depth_0: unchanged", () => {
    for (const s of [{}, { flattening_enabled: true, flattening_max_depth: 0 }]) {
      const out = mapped(s);
      expect(out.records.mystream).toEqual(mystream);
      expect(out.schemas.mystream).toEqual(mystreamSchema);
    }
  });

  it("keep_all_fields", () => {
    const out = mapped({ stream_maps: { mystream: { email_hash: "md5(email)" } } });
    expect(out.records.mystream).toEqual(mystream.map((r, i) => ({ ...r, email_hash: hashes[i] })));
    expect(out.schemas.mystream!.properties!.email_hash).toEqual(S("string"));
    expect(Object.keys(out.schemas.mystream!.properties!)).toEqual(["email", "count", "user", "joined_at", "email_hash"]);
    expect(out.schemas.mystream!.required).toEqual(["email"]);
  });

  it("only_mapped_fields, only_mapped_fields_null_string", () => {
    for (const __else__ of [null, "__NULL__"]) {
      const out = mapped({
        stream_maps: { mystream: { email_hash: "md5(email)", email_hash_sha256: "sha256(email)", fixed_count: "int(count-1)", __else__ } },
      });
      expect(out.records.mystream![0]).toEqual({
        email_hash: hashes[0],
        email_hash_sha256: "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976",
        fixed_count: 20,
      });
      expect(out.records.mystream!.map((r) => r.fixed_count)).toEqual([20, 12, 18]);
      expect(out.schemas.mystream).toEqual(props({ email_hash: S("string"), email_hash_sha256: S("string"), fixed_count: S("integer") }));
    }
  });

  it("changed_key_properties", () => {
    const out = mapped({ stream_maps: { mystream: { email_hash: "md5(email)", __key_properties__: ["email_hash"], __else__: null } } });
    expect(out.records.mystream).toEqual(hashes.map((h) => ({ email_hash: h })));
    expect(out.schemas.mystream).toEqual(props({ email_hash: S("string") }));
    expect(out.keys.mystream).toEqual(["email_hash"]);
  });

  it("sourced_stream_1, sourced_stream_1_null_string, sourced_stream_2", () => {
    for (
      const maps of [
        { mystream: null, sourced_stream_1: { __source__: "mystream" } },
        { mystream: "__NULL__", sourced_stream_1: { __source__: "mystream" } },
        { sourced_stream_2: { __source__: "mystream" }, __else__: null },
      ]
    ) {
      const out = mapped({ stream_maps: maps });
      const name = Object.keys(maps).find((k) => k.startsWith("sourced"))!;
      expect(Object.keys(out.records)).toEqual([name]);
      expect(out.records[name]).toEqual(mystream);
      expect(out.schemas[name]).toEqual(mystreamSchema);
    }
  });

  it.each([
    ["aliased_stream", "aliased_stream", "aliased_stream"],
    ["aliased_stream_not_expr", "aliased.stream", "aliased.stream"],
    ["aliased_stream_quoted", "'__stream_name__'", "__stream_name__"],
    ["builtin_variable_stream_name_alias", "'aliased_' + __stream_name__", "aliased_mystream"],
    ["builtin_variable_stream_name_alias_expr", "__stream_name__.upper()", "MYSTREAM"],
  ])("%s", (_, alias, expected) => {
    const out = mapped({ stream_maps: { mystream: { __alias__: alias } } });
    expect(Object.keys(out.records)).toEqual([expected]);
    expect(out.records[expected]).toEqual(mystream);
  });

  it("builtin_variable_stream_name", () => {
    const out = mapped({ stream_maps: { mystream: { source_table: "__stream_name__" } } });
    expect(out.records.mystream!.map((r) => r.source_table)).toEqual(["mystream", "mystream", "mystream"]);
  });

  it("builtin_variable_original_stream_name_alias, _no_alias", () => {
    const aliased = mapped({
      stream_maps: { mystream: { __alias__: "'aliased'", stream_name: "__stream_name__", original_stream_name: "__original_stream_name__" } },
    });
    expect(aliased.records.aliased![0]).toMatchObject({ stream_name: "aliased", original_stream_name: "mystream" });
    const plain = mapped({ stream_maps: { mystream: { stream_name: "__stream_name__", original_stream_name: "__original_stream_name__" } } });
    expect(plain.records.mystream![0]).toMatchObject({ stream_name: "mystream", original_stream_name: "mystream" });
  });

  it("builtin_variable_self, builtin_variable_underscore", () => {
    for (const expr of ["self.upper()", "_['email'].upper()"]) {
      const out = mapped({ stream_maps: { mystream: { email: expr, __else__: null } } });
      expect(out.records.mystream).toEqual([{ email: "ALICE@EXAMPLE.COM" }, { email: "BOB@EXAMPLE.COM" }, { email: "CHARLIE@EXAMPLE.COM" }]);
      expect(out.schemas.mystream).toEqual(props({ email: S("string") }));
    }
  });

  it("flatten_depth_1", () => {
    const out = mapped({ flattening_enabled: true, flattening_max_depth: 1 });
    expect(out.schemas.mystream!.properties).toEqual({
      email: { type: ["string"] },
      count: S("integer"),
      user__id: S("integer"),
      user__sub: { type: ["string", "null"] },
      user__some_numbers: { type: ["string", "null"] },
      joined_at: S("string", { format: "date-time" }),
    });
    expect(out.records.mystream![0]).toEqual({
      email: "alice@example.com",
      count: 21,
      user__id: 1,
      user__sub: '{"num":1,"custom_obj":"obj-hello"}',
      user__some_numbers: "[3.14,2.718]",
      joined_at: "2022-01-01T00:00:00Z",
    });
  });

  it("flatten_all, flatten_all_with_dot_separator", () => {
    for (const [sep, extra] of [["__", {}], [".", { flattening_separator: "." }]] as const) {
      const out = mapped({ flattening_enabled: true, flattening_max_depth: 2, ...extra });
      expect(Object.keys(out.schemas.mystream!.properties!)).toEqual([
        "email",
        "count",
        `user${sep}id`,
        `user${sep}sub${sep}num`,
        `user${sep}sub${sep}custom_obj`,
        `user${sep}some_numbers`,
        "joined_at",
      ]);
      expect(out.records.mystream![1]).toEqual({
        email: "bob@example.com",
        count: 13,
        [`user${sep}id`]: 2,
        [`user${sep}sub${sep}num`]: 2,
        [`user${sep}sub${sep}custom_obj`]: "obj-world",
        [`user${sep}some_numbers`]: "[10.32,1.618]",
        joined_at: "2022-01-01T00:00:00Z",
      });
    }
  });

  it("map_and_flatten", () => {
    const out = mapped({
      stream_maps: { mystream: { email_hash: "md5(email)", __key_properties__: ["email_hash"] } },
      flattening_enabled: true,
      flattening_max_depth: 10,
    });
    expect(Object.keys(out.schemas.mystream!.properties!)).toEqual([
      "email",
      "count",
      "user__id",
      "user__sub__num",
      "user__sub__custom_obj",
      "user__some_numbers",
      "joined_at",
      "email_hash",
    ]);
    expect(out.keys.mystream).toEqual(["email_hash"]);
    expect(out.records.mystream![2]).toMatchObject({ user__sub__custom_obj: "obj-hello", email_hash: hashes[2] });
  });

  it("drop_property, drop_property_null_string", () => {
    for (const email of [null, "__NULL__"]) {
      const out = mapped({ stream_maps: { mystream: { email } } });
      expect(out.records.mystream).toEqual(mystream.map(({ email: _, ...rest }) => rest));
      expect(Object.keys(out.schemas.mystream!.properties!)).toEqual(["count", "user", "joined_at"]);
      expect(out.schemas.mystream!.required).toEqual([]);
    }
  });

  it("non_pk_passthrough", () => {
    const out = mapped({ stream_maps: { mystream: { count: "count", __else__: null } } });
    expect(out.records.mystream).toEqual([{ count: 21 }, { count: 13 }, { count: 19 }]);
    expect(out.schemas.mystream).toEqual(props({ count: S("integer") }));
  });

  it("record_to_column", () => {
    const out = mapped({ stream_maps: { mystream: { _data: "record", __else__: null } } });
    expect(out.records.mystream).toEqual(mystream.map((r) => ({ _data: r })));
    expect(out.schemas.mystream!.properties!._data).toEqual({ ...mystreamSchema, type: ["object", "null"] });
  });

  it("dates", () => {
    const out = mapped({
      stream_maps: {
        mystream: {
          joined_date: "datetime.datetime.fromisoformat(joined_at).date()",
          joined_timestamp: "float(datetime.datetime.fromisoformat(joined_at).timestamp())",
          some_datetime: "datetime.datetime.fromisoformat(config['some_date_string'])",
        },
      },
      stream_map_config: { some_date_string: "2024-10-10T10:10:10Z" },
    });
    expect(out.records.mystream![0]).toMatchObject({ joined_date: "2022-01-01", joined_timestamp: 1640995200, some_datetime: "2024-10-10T10:10:10+00:00" });
    const p = out.schemas.mystream!.properties!;
    expect([p.joined_date, p.joined_timestamp, p.some_datetime]).toEqual([S("string", { format: "date" }), S("number"), S("string", { format: "date-time" })]);
  });

  it("json_dumps", () => {
    const out = mapped({ stream_maps: { mystream: { user: "json.dumps(user, default=str)" } } });
    expect(out.records.mystream![0]!.user).toBe('{"id": 1, "sub": {"num": 1, "custom_obj": "obj-hello"}, "some_numbers": [3.14, 2.718]}');
    expect(out.schemas.mystream!.properties!.user).toEqual(S("string"));
  });

  it("filter_records, filter_records_cast_to_bool", () => {
    for (const f of ["count < 20", "bool(count < 20)"]) {
      const out = mapped({ stream_maps: { mystream: { __filter__: f } } });
      expect(out.records.mystream!.map((r) => r.email)).toEqual(["bob@example.com", "charlie@example.com"]);
    }
  });

  it("remove_stream", () => {
    expect(mapped({ stream_maps: { mystream: "__NULL__" } }).records).toEqual({});
  });

  it("fake_credit_card_number, fake_email_seed_instance: Faker is not available, and says so at startup", () => {
    const mapper = new StreamMapper({ stream_maps: { mystream: { cc: "fake.credit_card_number()", __else__: null } } });
    expect(() => mapper.register("mystream", mystreamSchema, [])).toThrow(/fake \(Faker\) is not available/);
  });
});

describe("docs/stream_maps.md examples", () => {
  const customers = {
    schema: props({ customer_id: S("string"), email: S("string"), full_name: S("string"), owner_email: S("string"), first_name: S("string") }),
    keys: ["customer_id"],
    records: [{ customer_id: "C1", email: "ann@example.com", full_name: "Ann Lee", owner_email: "boss@corp.io", first_name: "Ann" }, {
      customer_id: "C2",
      email: "bo@other.org",
      full_name: "Bo Chan",
      owner_email: "x@y.z",
      first_name: "Bo",
    }],
  };
  const addresses = { schema: props({ id: S("integer") }), keys: ["id"], records: [{ id: 1 }] };
  const both = () => ({ customers, addresses });

  it("the customers example: drop email, add email_domain and email_hash (phone_number needs Faker and is left out)", () => {
    const out = run({
      stream_maps: { customers: { email: null, email_domain: "owner_email.split('@')[-1]", email_hash: "md5(config['hash_seed'] + owner_email)" } },
      stream_map_config: { hash_seed: "01AWZh7A6DzGm6iJZZ2T" },
    }, both());
    expect(out.records.customers![0]).toMatchObject({ email_domain: "corp.io", email_hash: md5("01AWZh7A6DzGm6iJZZ2T" + "boss@corp.io") });
    expect(out.records.customers![0]).not.toHaveProperty("email");
    expect(out.schemas.customers!.properties).not.toHaveProperty("email");
  });

  it("removing a stream: addresses: __NULL__", () => {
    expect(Object.keys(run({ stream_maps: { addresses: "__NULL__" } }, both()).records)).toEqual(["customers"]);
  });

  it("removing all streams but customers: customers: {}, __else__: __NULL__", () => {
    expect(Object.keys(run({ stream_maps: { customers: {}, __else__: "__NULL__" } }, both()).records)).toEqual(["customers"]);
  });

  it("keeping only customer_id: the key stays, in the record and in the schema", () => {
    const out = run({ stream_maps: { customers: { customer_id: "customer_id", __else__: null } } }, both());
    expect(out.records.customers).toEqual([{ customer_id: "C1" }, { customer_id: "C2" }]);
    expect(out.schemas.customers).toEqual(props({ customer_id: S("string") }));
    // Undeclared, the key is still kept (the docs: "the primary key properties of the stream will still be included").
    const undeclared = run({ stream_maps: { customers: { email: "email", __else__: null } } }, both());
    expect(undeclared.records.customers![0]).toEqual({ customer_id: "C1", email: "ann@example.com" });
    expect(Object.keys(undeclared.schemas.customers!.properties!)).toEqual(["customer_id", "email"]);
  });

  it("__key_properties__: a hashed key replaces customer_id; removing a key without it is refused", () => {
    const out = run(
      { stream_maps: { customers: { customer_id: null, customer_id_hashed: "md5(customer_id)", __key_properties__: ["customer_id_hashed"] } } },
      both(),
    );
    expect(out.keys.customers).toEqual(["customer_id_hashed"]);
    expect(out.records.customers![0]).toMatchObject({ customer_id_hashed: md5("C1") });
    expect(out.records.customers![0]).not.toHaveProperty("customer_id");
    expect(() => run({ stream_maps: { customers: { customer_id: null } } }, both())).toThrow(
      /removing the key property "customer_id" of customers is not allowed/,
    );
    expect(run({ stream_maps: { customers: { __key_properties__: null } } }, both()).keys.customers).toEqual([]);
    expect(() => run({ stream_maps: { customers: { __key_properties__: ["nope"] } } }, both())).toThrow(
      /the key property "nope" of customers is not in the mapped stream/,
    );
  });

  it("a string literal: a_new_field: '\"client-123\"'", () => {
    expect(run({ stream_maps: { customers: { a_new_field: '"client-123"' } } }, both()).records.customers![0]!.a_new_field).toBe("client-123");
  });

  it("__alias__: customers_v2", () => {
    expect(Object.keys(run({ stream_maps: { customers: { __alias__: "customers_v2" } } }, both()).records)).toEqual(["customers_v2", "addresses"]);
  });

  it("__source__: customers_pii split from customers", () => {
    const out = run(
      {
        stream_maps: {
          customers: { email: null, full_name: null },
          customers_pii: { __source__: "customers", customer_id: "customer_id", email: "email", full_name: "full_name", __else__: null },
        },
      },
      both(),
    );
    expect(out.records.customers_pii![0]).toEqual({ customer_id: "C1", email: "ann@example.com", full_name: "Ann Lee" });
    expect(out.records.customers![0]).not.toHaveProperty("email");
    expect(out.keys.customers_pii).toEqual(["customer_id"]);
  });

  it("__filter__: email.endswith('@example.com')", () => {
    expect(run({ stream_maps: { customers: { __filter__: "email.endswith('@example.com')" } } }, both()).records.customers!.map((r) => r.customer_id)).toEqual([
      "C1",
    ]);
  });

  it("aliasing a property: new_field: old_field, old_field: __NULL__ (keeps the type)", () => {
    const out = run({ stream_maps: { customers: { name: "full_name", full_name: "__NULL__" } } }, both());
    expect(out.records.customers![0]).toMatchObject({ name: "Ann Lee" });
    expect(out.records.customers![0]).not.toHaveProperty("full_name");
    expect(out.schemas.customers!.properties!.name).toEqual(S("string"));
  });

  it('"*": the same map on every stream that has the property; a stream without it fails at startup', () => {
    const out = run({ stream_maps: { "*": { name: "first_name", first_name: "__NULL__" } } }, { customers });
    expect(out.records.customers![0]).toMatchObject({ name: "Ann" });
    expect(() => run({ stream_maps: { "*": { name: "first_name" } } }, both())).toThrow(/name "first_name" is neither a property of addresses/);
  });

  it('"*": __alias__: "__stream_name__ + \'_v2\'"', () => {
    expect(Object.keys(run({ stream_maps: { "*": { __alias__: "__stream_name__ + '_v2'" } } }, both()).records)).toEqual(["customers_v2", "addresses_v2"]);
  });

  it("type casting examples: int(), float(), str(), bool() if … else None", () => {
    const s = {
      schema: props({ count: S("integer"), status_value: S("string"), create_date: S("string"), joined_at: S("string") }),
      records: [{ count: 3, status_value: "on", create_date: "2021-05-06", joined_at: "2022-01-01T00:00:00+00:00" }],
    };
    const out = run(
      {
        stream_maps: {
          mystream: {
            int_test: "int('0')",
            fixed_count: "int(count - 1)",
            create_year: "int(datetime.date.fromisoformat(create_date).year)",
            joined_timestamp: "float(datetime.datetime.fromisoformat(joined_at).timestamp())",
            description: "str('[masked]')",
            is_active: "bool(status_value) if status_value else None",
          },
        },
      },
      { mystream: s },
    );
    expect(out.records.mystream![0]).toMatchObject({
      int_test: 0,
      fixed_count: 2,
      create_year: 2021,
      joined_timestamp: 1640995200,
      description: "[masked]",
      is_active: true,
    });
    const p = out.schemas.mystream!.properties!;
    expect([p.int_test, p.joined_timestamp, p.description, p.is_active]).toEqual([S("integer"), S("number"), S("string"), S("boolean")]);
  });
});

describe("the mapper's own rules", () => {
  it("bookmark_properties follow the map: kept when the replication key survives, left out when it is removed", () => {
    const mapper = new StreamMapper({ stream_maps: { a: { x: "str(id)" }, b: { updated_at: null } } });
    const schema = props({ id: S("integer"), updated_at: S("string") });
    expect(mapper.register("a", schema, ["id"], ["updated_at"])[0]!.bookmarkProperties).toEqual(["updated_at"]);
    expect(mapper.register("b", schema, ["id"], ["updated_at"])[0]!.bookmarkProperties).toBeUndefined();
  });

  it("a property called __proto__ is mapped like any other", () => {
    const mapper = new StreamMapper({ stream_maps: JSON.parse('{"s": {"__proto__": "str(id)", "copy": "_[\'__proto__\']"}}') });
    const schema: JSONSchema7 = { type: "object", properties: JSON.parse('{"id": {"type": "integer"}, "__proto__": {"type": "string"}}') };
    const [out] = mapper.register("s", schema, []);
    const rec = out!.transform(JSON.parse('{"id": 7, "__proto__": "p"}'))!;
    expect(Object.keys(rec)).toEqual(["id", "__proto__", "copy"]);
    expect(Object.getOwnPropertyDescriptor(rec, "__proto__")!.value).toBe("7");
    expect(rec.copy).toBe("p");
  });

  it("a property declared in the schema but absent from a record reads as None", () => {
    const mapper = new StreamMapper({ stream_maps: { s: { n: "name or 'unnamed'" } } });
    const [out] = mapper.register("s", props({ id: S("integer"), name: S("string") }), []);
    expect(out!.transform({ id: 1 })).toEqual({ id: 1, n: "unnamed" });
  });

  it("a failing expression names the stream and the property", () => {
    const mapper = new StreamMapper({ stream_maps: { s: { d: "name.split('@')[1]" } } });
    const [out] = mapper.register("s", props({ name: S("string") }), []);
    expect(() => out!.transform({ name: null })).toThrow("stream_maps.s.d: 'NoneType' object has no attribute 'split' (the value is None)");
  });

  it("refuses what the SDK refuses: other top-level options, a non-null __else__, a string stream map", () => {
    expect(() => new StreamMapper({ stream_maps: { __other__: {} } })).toThrow(/not an option/);
    expect(() => new StreamMapper({ stream_maps: { __else__: "keep" } })).toThrow(/only null/);
    expect(() => new StreamMapper({ stream_maps: { s: "x" } })).toThrow(/expected an object/);
    expect(() => new StreamMapper({ stream_maps: { s: { __else__: 1 } } })).toThrow(/only null/);
  });
});

describe("the settings", () => {
  const env = (vars: Record<string, string>) => loadSettings(["ENV"], { TAP_HEROKU_TOKEN: "t", ...vars });

  it("come from TAP_HEROKU_* too: the objects as JSON", async () => {
    const r = await env({
      TAP_HEROKU_STREAM_MAPS: '{"apps": {"x": "md5(name)"}}',
      TAP_HEROKU_STREAM_MAP_CONFIG: '{"seed": "s"}',
      TAP_HEROKU_FLATTENING_ENABLED: "true",
      TAP_HEROKU_FLATTENING_MAX_DEPTH: "2",
    });
    expect(
      r.ok && [r.value.stream_maps, r.value.stream_map_config, r.value.flattening_enabled, r.value.flattening_max_depth, r.value.flattening_max_key_length],
    ).toEqual([{ apps: { x: "md5(name)" } }, { seed: "s" }, true, 2, 255]);
  });

  it.each([
    [{ TAP_HEROKU_FLATTENING_ENABLED: "true" }, 'field "flattening_max_depth": is required when flattening_enabled is true'],
    [{ TAP_HEROKU_STREAM_MAPS: '["apps"]' }, 'field "stream_maps": expected an object of stream names'],
    [
      { TAP_HEROKU_STREAM_MAPS: '{"apps": {"__key_properties__": "id"}}' },
      'field "stream_maps.apps.__key_properties__": expected a list of property names, or null for none',
    ],
    [{ TAP_HEROKU_STREAM_MAPS: '{"apps": {"__source__": "x", "__alias__": "y"}}' }, 'field "stream_maps.apps": give __source__'],
    [{ TAP_HEROKU_STREAM_MAP_CONFIG: "3" }, 'field "stream_map_config": expected an object of values'],
  ])("refuses %j with one line naming the field", async (vars, message) => {
    const r = await env(vars);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.message).toContain(message);
  });
});

describe("the writer", () => {
  async function write(settings: MapSettings, f: (w: MappedWriter) => Promise<void>) {
    const lines: string[] = [];
    const w = new MappedWriter(new StreamMapper(settings), async (b) => void lines.push(...new TextDecoder().decode(b).split("\n").filter(Boolean)));
    await f(w);
    await w.flush();
    return lines;
  }
  const schema = props({ id: S("integer"), n: S("number"), name: S("string") });

  it("maps SCHEMA, RECORD and ACTIVATE_VERSION to every output stream; STATE stays keyed by the source", async () => {
    const lines = await write({ stream_maps: { t: { __alias__: "t2", name: null }, t_copy: { __source__: "t", __filter__: "id > 1" } } }, async (w) => {
      await w.schema({ stream: "t", schema, key_properties: ["id"], bookmark_properties: ["id"] });
      await w.activateVersion({ stream: "t", version: 5 });
      await w.record("t", { id: 1, n: 1.5, name: "a" }, "2024-01-01T00:00:00.000Z", 5);
      await w.record("t", { id: 2, n: 2.5, name: "b" }, "2024-01-01T00:00:00.000Z", 5);
      await w.state({ bookmarks: { t: { replication_key_value: 2 } } });
    });
    const messages = lines.map((l) => JSON.parse(l));
    expect(messages.map((m) => `${m.type} ${m.stream ?? ""}`)).toEqual([
      "SCHEMA t2",
      "SCHEMA t_copy",
      "ACTIVATE_VERSION t2",
      "ACTIVATE_VERSION t_copy",
      "RECORD t2",
      "RECORD t2",
      "RECORD t_copy",
      "STATE ",
    ]);
    expect(messages[0]).toMatchObject({ key_properties: ["id"], bookmark_properties: ["id"] });
    expect(messages[4].record).toEqual({ id: 1, n: 1.5 });
    expect(messages[6].record).toEqual({ id: 2, n: 2.5, name: "b" });
    expect(messages[7].value).toEqual({ bookmarks: { t: { replication_key_value: 2 } } });
  });

  it("keeps big numbers of pre-encoded rows exact, mapped or passed through", async () => {
    const row = '{"id":9007199254740993,"n":123456789012345678.123456789,"name":"x"}';
    const lines = await write({ stream_maps: { t: { next: "id + 1", label: "str(n)" } } }, async (w) => {
      await w.schema({ stream: "t", schema, key_properties: ["id"] });
      await w.record("t", new RawJson(row), "2024-01-01T00:00:00.000Z");
    });
    expect(lines[1]).toContain(
      '"record":{"id":9007199254740993,"n":123456789012345678.123456789,"name":"x","next":9007199254740994,"label":"123456789012345678.123456789"}',
    );
  });

  it("writes a stream no map touches exactly as the plain writer does (its pre-encoded row untouched)", async () => {
    const row = '{"id":9007199254740993,  "n":1.50}';
    const lines = await write({ stream_maps: { other: { x: "1" } } }, async (w) => {
      await w.schema({ stream: "t", schema, key_properties: ["id"] });
      await w.record("t", new RawJson(row), "2024-01-01T00:00:00.000Z");
    });
    expect(lines[1]).toBe(`{"type":"RECORD","stream":"t","record":${row},"time_extracted":"2024-01-01T00:00:00.000Z"}`);
  });

  it("works with BATCH mode: each output stream gets its own files of mapped records", async () => {
    const root = pathToFileURL(tempDir("maps-batch")).href;
    const batches = new BatchFiles(BatchConfig.parse({ encoding: { format: "jsonl", compression: "none" }, storage: { root } }), "tap-heroku");
    const lines: string[] = [];
    const w = new MappedWriter(
      new StreamMapper({ stream_maps: { t: { __alias__: "t2", name: null }, t_big: { __source__: "t", __filter__: "id > 1", __else__: null } } }),
      async (b) => void lines.push(...new TextDecoder().decode(b).split("\n").filter(Boolean)),
      undefined,
      batches,
    );
    await w.schema({ stream: "t", schema, key_properties: ["id"] });
    await w.record("t", new RawJson('{"id":1,"n":1.5,"name":"a"}'), "2024-01-01T00:00:00.000Z");
    await w.record("t", new RawJson('{"id":9007199254740993,"n":2.5,"name":"b"}'), "2024-01-01T00:00:00.000Z");
    await w.state({ bookmarks: { t: {} } });
    await w.flush();
    const batch = lines.map((l) => JSON.parse(l)).filter((m) => m.type === "BATCH") as { stream: string; manifest: string[] }[];
    const files = Object.fromEntries(batch.map((b) => [b.stream, b.manifest.flatMap((u) => readFileSync(fileURLToPath(u), "utf8").trimEnd().split("\n"))]));
    expect(files).toEqual({ t2: ['{"id":1,"n":1.5}', '{"id":9007199254740993,"n":2.5}'], t_big: ['{"id":9007199254740993}'] });
  });

  it("a removed stream writes nothing", async () => {
    const lines = await write({ stream_maps: { t: null } }, async (w) => {
      await w.schema({ stream: "t", schema, key_properties: ["id"] });
      await w.activateVersion({ stream: "t", version: 1 });
      await w.record("t", { id: 1 }, "2024-01-01T00:00:00.000Z");
    });
    expect(lines).toEqual([]);
  });
});

describe.each(RUNTIMES)("the CLI with stream maps, on %s", (runtime) => {
  let sim: Simulator;
  let catalogFile: string;
  let plainRecords: Record<string, unknown>[];
  const config = (extra: Record<string, unknown>) =>
    tempFiles({ "c.json": { token: "test-token", api_url: sim.url, postgres: { enabled: false }, ...extra } })["c.json"]!;

  beforeAll(async () => {
    sim = await startSimulator({ apps: 40 });
    const discover = await runTap(["--config", config({}), "--discover"], { runtime });
    const catalog = JSON.parse(discover.stdout) as {
      streams: Array<{ tap_stream_id: string; metadata: Array<{ breadcrumb: string[]; metadata: Record<string, unknown> }> }>;
    };
    const selecting = {
      streams: catalog.streams.map((s) => ({
        ...s,
        metadata: s.metadata.map((m) => (m.breadcrumb.length === 0 ? { ...m, metadata: { ...m.metadata, selected: s.tap_stream_id === "apps" } } : m)),
      })),
    };
    catalogFile = tempFiles({ "catalog.json": selecting })["catalog.json"]!;
    const plain = await runTap(["--config", config({}), "--catalog", catalogFile], { runtime });
    expect(plain.code, plain.stderr).toBe(0);
    plainRecords = plain.messages().flatMap((m) => (m.type === "RECORD" ? [m.record] : []));
    expect(plainRecords.length).toBe(40);
  });
  afterAll(() => sim.close());

  it("aliases, filters, drops, adds and splits a stream, flattens it, and keeps STATE keyed by the source stream", async () => {
    const maps = {
      apps: {
        __alias__: "heroku_apps",
        __filter__: "md5(id)[0] in '01234567'",
        git_url: null,
        name_hash: "md5(name)",
        region_name: "region['name'] if region else None",
      },
      app_names: { __source__: "apps", name: "name.upper()", __else__: "__NULL__" },
    };
    const run = await runTap(["--config", config({ stream_maps: maps, flattening_enabled: true, flattening_max_depth: 1 }), "--catalog", catalogFile], {
      runtime,
    });
    expect(run.code, run.stderr).toBe(0);
    const messages = run.messages();
    const schemas = Object.fromEntries(messages.flatMap((m) => (m.type === "SCHEMA" ? [[m.stream, m]] : [])));
    expect(Object.keys(schemas)).toEqual(["heroku_apps", "app_names"]);
    expect(schemas.heroku_apps).toMatchObject({ key_properties: ["id"], bookmark_properties: ["updated_at"] });
    expect(schemas.app_names!.schema.properties).toEqual({ id: expect.anything(), name: { type: ["string", "null"] } });
    const recordsOf = (stream: string) => messages.flatMap((m) => (m.type === "RECORD" && m.stream === stream ? [m.record] : []));

    const kept = plainRecords.filter((r) => "01234567".includes(md5(String(r.id))[0]!));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(plainRecords.length);
    const apps = recordsOf("heroku_apps");
    expect(apps.map((r) => r.id)).toEqual(kept.map((r) => r.id));
    const schema = schemas.heroku_apps!.schema as JSONSchema7;
    expect(schema.properties).not.toHaveProperty("git_url");
    expect(schema.properties).not.toHaveProperty("region");
    apps.forEach((r, i) => {
      const source = kept[i]!;
      expect(r).not.toHaveProperty("git_url");
      expect(r.name_hash).toBe(md5(String(source.name)));
      expect(r.region_name).toBe((source.region as { name: string }).name);
      expect(r.region__name).toBe((source.region as { name: string }).name);
      expect(validate(schema, r)).toEqual([]);
    });
    expect(recordsOf("app_names")).toEqual(plainRecords.map((r) => ({ id: r.id, name: String(r.name).toUpperCase() })));

    const states = messages.flatMap((m) => (m.type === "STATE" ? [m.value] : []));
    expect(Object.keys((states.at(-1) as { bookmarks: object }).bookmarks)).toEqual(["apps"]);
  });

  it("a map expression that does not parse: exit 2 before any output, one line naming the stream, the property and the position", async () => {
    const run = await runTap(["--config", config({ stream_maps: { apps: { domain: "owner['email'].split('@'" } } }), "--catalog", catalogFile], { runtime });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain(
      `field "stream_maps.apps.domain": the expression "owner['email'].split('@'" does not parse: expected ")", found end of expression at position 25`,
    );
  });

  it("a name no planned stream has fails at startup, before any output", async () => {
    const run = await runTap(["--config", config({ stream_maps: { apps: { x: "nmae.upper()" } } }), "--catalog", catalogFile], { runtime });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(`stream_maps.apps.x: name "nmae" is neither a property of apps`);
  });
});

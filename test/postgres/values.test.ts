// Every value the tap emits, compared column by column with PostgreSQL's own
// rendering of the same value (to_jsonb / to_json / to_char computed by the
// server), numbers compared as exact text.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { catalogFor, createDatabase, Num, openDb, parseExact, rawFields, runInProcess } from "./helpers.ts";
import type { OpenDatabase } from "../../src/postgres/database.ts";
import { validate } from "../helpers/json-schema.ts";

const DB = "tap_pg_values";
let url: string;
let db: OpenDatabase;

const NUMBER = (c: string) => `CASE WHEN ${c}::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE to_jsonb(${c}) END`;
// json (unlike jsonb, which goes through numeric) writes a float with the type's own output function.
const FLOAT = (c: string) => `CASE WHEN ${c}::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE to_json(${c}) END`;
const DATE = (c: string) => `CASE WHEN isfinite(${c}) AND ${c} BETWEEN '0001-01-01' AND '9999-12-31' THEN to_jsonb(${c}) END`;
const TS = (c: string) =>
  `CASE WHEN isfinite(${c}) AND ${c} >= '0001-01-01' AND ${c} < '10000-01-01' THEN to_jsonb(to_char(${c}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) END`;
const TEXT = (c: string) => `to_jsonb(${c}::text)`;

/** PostgreSQL's rendering of the value the tap must emit, per column; to_jsonb(c) unless named. */
const EXPECTED: Record<string, (c: string) => string> = {
  c_numeric: NUMBER,
  c_numeric38: NUMBER,
  c_float4: FLOAT,
  c_float8: FLOAT,
  c_float8_arr: (c) => `to_json(${c})`,
  c_money: (c) => `to_jsonb(${c}::numeric)`,
  c_json: (c) => `to_json(${c})`,
  c_date: DATE,
  c_timestamp: TS,
  c_timestamptz: TS,
  c_timetz: TEXT,
  c_bytea: TEXT,
  c_composite: TEXT,
  c_oid: (c) => `to_jsonb(${c}::int8)`,
  c_money_arr: (c) => `to_jsonb(${c}::numeric[])`,
};

/** Array elements PostgreSQL renders as JSON strings where the tap emits null or another form. */
const normalize: Record<string, (v: unknown) => unknown> = {
  c_numeric_arr: (v) => mapLeaves(v, (x) => (typeof x === "string" ? null : x)),
  c_float8_arr: (v) => mapLeaves(v, (x) => (typeof x === "string" ? null : x)),
  c_date_arr: (v) => mapLeaves(v, (x) => (typeof x === "string" && !/^\d{4}-\d\d-\d\d$/.test(x) ? null : x)),
  c_tstz_arr: (v) =>
    mapLeaves(v, (x) => {
      if (typeof x !== "string") return x;
      const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?\+00:00$/.exec(x);
      return m ? `${m[1]}.${(m[2] ?? "").padEnd(6, "0")}Z` : null;
    }),
};

function mapLeaves(v: unknown, f: (x: unknown) => unknown): unknown {
  return Array.isArray(v) ? v.map((x) => mapLeaves(x, f)) : f(v);
}

beforeAll(async () => {
  url = await createDatabase(DB);
  db = await openDb(url);
});
afterAll(async () => {
  await db?.session.close();
});

describe("values", () => {
  it("emits every column of every fixture row exactly as PostgreSQL renders it", async () => {
    const stream = db.streams.find((s) => s.id === "fixture-public-all_types")!;
    expect(stream).toBeDefined();
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [stream.id]: {} }));
    const lines = run.stdout.split("\n").filter((l) => l.startsWith('{"type":"RECORD"'));
    expect(lines).toHaveLength(6);

    // _sdc_xmin is computed, not a column, and not selected by default.
    const columns = Object.keys(stream.schema.properties!).filter((c) => !stream.computedProperties?.includes(c));
    const client = new pg.Client({ connectionString: url, ssl: { rejectUnauthorized: false } });
    await client.connect();
    await client.query("SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'; SET bytea_output = 'hex'; SET extra_float_digits = 1");
    const select = columns.map((c) => `(${(EXPECTED[c] ?? ((q: string) => `to_jsonb(${q})`))(`"${c}"`)})::text AS "${c}"`).join(", ");
    const expected = (await client.query({ text: `SELECT ${select} FROM all_types ORDER BY id`, types: { getTypeParser: () => (s: string) => s } as never }))
      .rows as Record<string, string | null>[];
    await client.end();

    const mismatches: string[] = [];
    lines.forEach((line, row) => {
      const fields = rawFields(line);
      expect([...fields.keys()]).toEqual(columns);
      for (const c of columns) {
        const got = parseExact(fields.get(c)!);
        const want = (normalize[c] ?? ((v) => v))(parseExact(expected[row]![c] ?? "null"));
        try {
          expect(got).toEqual(want);
        } catch {
          mismatches.push(`row ${row + 1} ${c}: emitted ${fields.get(c)} but PostgreSQL renders ${expected[row]![c]}`);
        }
      }
      // Every record also fits the stream's JSON Schema.
      expect(validate(stream.schema, JSON.parse(line).record)).toEqual([]);
    });
    expect(mismatches).toEqual([]);
  });

  it("keeps int8 and numeric digits and big numbers inside jsonb as text", async () => {
    const stream = db.streams.find((s) => s.id === "fixture-public-all_types")!;
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [stream.id]: { columns: ["c_int8", "c_numeric", "c_jsonb", "c_int8_arr"] } }));
    const lines = run.stdout.split("\n").filter((l) => l.startsWith('{"type":"RECORD"'));
    const row2 = rawFields(lines[1]!);
    expect(row2.get("c_int8")).toBe("9223372036854775807");
    expect(row2.get("c_numeric")).toBe("12345678901234567890123456789012345678");
    expect(row2.get("c_jsonb")).toBe("12345678901234567890123456789012345678901234567890");
    const row1 = rawFields(lines[0]!);
    expect(row1.get("c_jsonb")).toContain('"big": 12345678901234567890');
    expect(row1.get("c_int8_arr")).toBe("[9223372036854775807,-9223372036854775808]");
    // Only the selected columns (and the key) are emitted.
    expect([...row1.keys()]).toEqual(["id", "c_int8", "c_numeric", "c_jsonb", "c_int8_arr"]);
  });

  it("documents lossy values: NaN, ±Infinity and dates outside years 1-9999 become null", async () => {
    const stream = db.streams.find((s) => s.id === "fixture-public-all_types")!;
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [stream.id]: { columns: ["c_float4", "c_date", "c_timestamptz"] } }));
    const recs = run.messages.filter((m) => m.type === "RECORD").map((m) => (m as { record: Record<string, unknown> }).record);
    expect(recs.map((r) => r.c_float4)).toEqual([1.1, null, null, 3.4028235e38, -0, null]);
    expect(recs.map((r) => r.c_date)).toEqual(["2024-02-29", null, null, null, "0001-01-01", "9999-12-31"]);
    expect(recs.map((r) => r.c_timestamptz)).toEqual([
      "2024-01-02T01:04:05.123456Z",
      null,
      "1901-12-13T20:45:52.000001Z",
      "0001-01-01T00:00:00.000000Z",
      "2000-01-01T00:00:00.000000Z",
      null,
    ]);
  });

  it("maps each type to the JSON Schema the README documents", () => {
    const stream = db.streams.find((s) => s.id === "fixture-public-all_types")!;
    const p = stream.schema.properties as Record<string, object>;
    // Integers carry the SDK's x-sql-datatype and, where JSON holds them exactly, their bounds.
    expect(p.c_int2).toEqual({ type: ["null", "integer"], "x-sql-datatype": "smallint", minimum: -32768, maximum: 32767 });
    expect(p.c_int4).toEqual({ type: ["null", "integer"], "x-sql-datatype": "integer", minimum: -2147483648, maximum: 2147483647 });
    expect(p.c_int8).toEqual({ type: ["null", "integer"], "x-sql-datatype": "bigint" });
    expect(p.c_oid).toEqual({ type: ["null", "integer"], "x-sql-datatype": "bigint", minimum: 0, maximum: 4294967295 });
    expect(p.c_numeric).toEqual({ type: ["null", "number"] });
    expect(p.c_money).toEqual({ type: ["null", "number"] });
    expect(p.c_domain2).toEqual(p.c_int4);
    expect(p.c_timestamptz).toEqual({ type: ["null", "string"], format: "date-time" });
    expect(p.c_date).toEqual({ type: ["null", "string"], format: "date" });
    expect(p.c_time).toEqual({ type: ["null", "string"], format: "time" });
    expect(p.c_varchar).toEqual({ type: ["null", "string"], maxLength: 20 });
    // Any JSON value, with a type list every target maps to a JSON column (pipelinewise-target-postgres needs a type).
    expect(p.c_jsonb).toEqual({ type: ["null", "object", "array", "string", "number", "boolean"] });
    expect(p.c_json).toEqual(p.c_jsonb);
    expect(p.c_uuid).toEqual({ type: ["null", "string"], format: "uuid" });
    expect(p.c_hstore).toEqual({ type: ["null", "object"], additionalProperties: { type: ["null", "string"] } });
    expect(p.c_int4_arr).toEqual({ type: ["null", "array"], items: p.c_int4 });
    expect(p.c_int4_2d).toEqual({ type: ["null", "array"], items: { type: ["null", "array"], items: p.c_int4 } });
    expect(p.c_enum).toEqual({ type: ["null", "string"] });
    expect(p.c_int4range).toEqual({ type: ["null", "string"] });
    expect(p.c_bool).toEqual({ type: ["null", "boolean"] });
  });
});

describe("use_singer_decimal (the Meltano SDK's setting)", () => {
  it("emits decimals as exact strings with format x-singer.decimal, precision and scale, NaN and ±Infinity by name", async () => {
    const dec = await openDb(url, "fixture", { use_singer_decimal: true });
    try {
      const stream = dec.streams.find((s) => s.id === "fixture-public-all_types")!;
      const p = stream.schema.properties as Record<string, object>;
      expect(p.c_numeric).toEqual({ type: ["null", "string"], format: "x-singer.decimal" });
      expect(p.c_numeric38).toEqual({ type: ["null", "string"], format: "x-singer.decimal", precision: 38, scale: 10 });
      expect(p.c_numeric_arr).toEqual({ type: ["null", "array"], items: { type: ["null", "string"], format: "x-singer.decimal" } });
      expect(p.c_int8).toEqual({ type: ["null", "integer"], "x-sql-datatype": "bigint" }); // integers stay numbers

      const cols = ["c_numeric", "c_numeric38", "c_float8", "c_money", "c_numeric_arr"];
      const run = await runInProcess(dec.streams, catalogFor(dec.streams, { [stream.id]: { columns: cols } }));
      const records = run.stdout.split("\n").filter((l) => l.startsWith('{"type":"RECORD"')).map((l) => JSON.parse(l).record as Record<string, unknown>);
      const [expected] = await sqlRows<Record<string, unknown>>(
        `SELECT json_agg(json_build_object('c_numeric', c_numeric::text, 'c_numeric38', c_numeric38::text, 'c_float8', c_float8::text,
                'c_money', c_money::numeric::text, 'c_numeric_arr', c_numeric_arr::text[]) ORDER BY id) AS rows FROM all_types`,
      );
      expect(records.map((r) => Object.fromEntries(cols.map((c) => [c, r[c]])))).toEqual(expected!.rows);
      expect(records.some((r) => r.c_numeric === "NaN")).toBe(true);
      for (const r of records) expect(validate(stream.schema, r)).toEqual([]);
    } finally {
      await dec.session.close();
    }
  });
});

async function sqlRows<T>(text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, ssl: { rejectUnauthorized: false } });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

export { Num };

// The catalog of a database: which relations become streams, their names,
// metadata and permissions; and how connections are made (TLS, timeouts,
// rotated credentials).
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogFor, createDatabase, openDb, pgSettings, readerRole, recordsOf, runInProcess, sql } from "./helpers.ts";
import { discoverEntry } from "../../src/singer/runner.ts";
import { databaseStreams } from "../../src/postgres/database.ts";
import { Unreachable } from "../../src/postgres/session.ts";
import { aliasOf } from "../../src/postgres/streams.ts";
import { quoteIdent } from "../../src/postgres/types.ts";
import { clientConfig } from "../../src/postgres/connect.ts";
import { redact } from "../../src/log.ts";

const DB = "tap_pg_catalog";
const ROLE = "tap_pg_catalog_reader";
let url: string;
let readerUrl: string;

beforeAll(async () => {
  url = await createDatabase(DB);
  readerUrl = await readerRole(DB, ROLE);
});

const md = (entry: ReturnType<typeof discoverEntry>, crumb: string[] = []) => entry.metadata.find((m) => m.breadcrumb.join("/") === crumb.join("/"))!.metadata;

describe("catalog", () => {
  let closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await Promise.all(closers.map((c) => c()));
    closers = [];
  });

  it("has one stream per table, view, materialized view and partitioned parent, never a partition", async () => {
    const db = await openDb(url);
    closers.push(() => db.session.close());
    expect(db.streams.map((s) => s.id).sort()).toEqual(
      [
        "fixture-Sales_EU-Order Items",
        "fixture-public-all_types",
        "fixture-public-items",
        "fixture-public-measurements",
        "fixture-public-mv_totals",
        "fixture-public-no_key",
        "fixture-public-partly_visible",
        "fixture-public-secret_stuff",
        "fixture-public-v_items",
      ].sort(),
    );
    const e = (id: string) => discoverEntry(db.streams.find((s) => s.id === id)!);
    const items = e("fixture-Sales_EU-Order Items");
    expect(md(items)).toMatchObject({
      "database-name": DB,
      "schema-name": "Sales-EU",
      "table-name": "Order Items",
      "is-view": false,
      "row-count": 90,
      "table-key-properties": ["Order", "Line No"],
      "heroku-app": "test-app",
      "heroku-addon": "postgresql-test-1",
      "selected-by-default": false,
      "replication-method": "FULL_TABLE",
    });
    expect(items.table_name).toBe("Order Items");
    expect(md(items, ["properties", "Order"])).toMatchObject({ inclusion: "automatic", "sql-datatype": "integer" });
    expect(md(items, ["properties", 'we"ird'])).toMatchObject({ inclusion: "available", "sql-datatype": "text" });
    expect(md(e("fixture-public-v_items"))).toMatchObject({ "is-view": true, "table-key-properties": [] });
    expect(md(e("fixture-public-mv_totals"))).toMatchObject({ "is-view": true, "table-kind": "materialized view" });
    expect(md(e("fixture-public-measurements"))).toMatchObject({
      "is-view": false,
      "row-count": 400,
      "table-key-properties": ["id", "at"],
      "table-kind": "partitioned table",
    });
    expect(md(e("fixture-public-no_key"))).toMatchObject({ "table-key-properties": [] });
    const all = e("fixture-public-all_types");
    expect(md(all, ["properties", "c_varchar"])["sql-datatype"]).toBe("character varying(20)");
    expect(md(all, ["properties", "c_numeric38"])["sql-datatype"]).toBe("numeric(38,10)");
    expect(md(all, ["properties", "c_int4_2d"])["sql-datatype"]).toBe("integer[]");
    expect(md(all, ["properties", "c_domain"])["sql-datatype"]).toBe("positive_int");
    // Orderable columns are offered as replication keys; updated_at-like names first, then the transaction id.
    expect(md(e("fixture-public-items"))["valid-replication-keys"]).toEqual(["updated_at", "_sdc_xmin", "id", "name", "amount"]);
    const keys = md(all)["valid-replication-keys"] as string[];
    expect(keys).toContain("c_timestamptz");
    expect(keys).toContain("c_enum");
    expect(keys).not.toContain("c_jsonb");
    expect(keys).not.toContain("c_int4_arr");
  });

  it("leaves out what the credential may not read, with a warning, and keeps only readable columns", async () => {
    const db = await openDb(readerUrl);
    closers.push(() => db.session.close());
    const ids = db.streams.map((s) => s.id);
    expect(ids).not.toContain("fixture-public-secret_stuff");
    const partly = db.streams.find((s) => s.id === "fixture-public-partly_visible")!;
    expect(Object.keys(partly.schema.properties!)).toEqual(["id", "visible", "_sdc_xmin"]);
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [partly.id]: {} }));
    expect(recordsOf(run.messages, partly.id).map((r) => r.record)).toEqual([{ id: 1, visible: "v" }]);
  });

  it("filters schemas with postgres.schemas and postgres.exclude_schemas", async () => {
    const only = await databaseStreams({ alias: "f" }, async () => url, pgSettings({ schemas: ["Sales-EU"] }), new Set());
    const without = await databaseStreams({ alias: "f" }, async () => url, pgSettings({ exclude_schemas: ["public"] }), new Set());
    closers.push(() => only.session.close(), () => without.session.close());
    expect(only.streams.map((s) => s.id)).toEqual(["f-Sales_EU-Order Items"]);
    expect(without.streams.map((s) => s.id)).toEqual(["f-Sales_EU-Order Items"]);
  });

  it("keeps stream names unique across databases and free of extra hyphens", async () => {
    const taken = new Set<string>(["a-public-items"]);
    const db = await databaseStreams({ alias: "a" }, async () => url, pgSettings({ schemas: ["public"] }), taken);
    closers.push(() => db.session.close());
    expect(db.streams.map((s) => s.id)).toContain("a-public-items_2");
    for (const s of db.streams) expect(s.id.split("-")).toHaveLength(3);
    expect(aliasOf("postgresql-curly-12345")).toBe("postgresql_curly_12345");
    expect(aliasOf("My DB!")).toBe("my_db");
  });

  it("quotes identifiers: spaces, capitals, reserved words and quotes round-trip", async () => {
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    const [row] = await sql<{ v: string }>(url, `SELECT ${quoteIdent('we"ird')} AS v FROM ${quoteIdent("Sales-EU")}.${quoteIdent("Order Items")} LIMIT 1`);
    expect(row!.v).toBe("w");
    const db = await openDb(url);
    closers.push(() => db.session.close());
    const id = "fixture-Sales_EU-Order Items";
    const run = await runInProcess(db.streams, catalogFor(db.streams, { [id]: {} }));
    const recs = recordsOf(run.messages, id);
    expect(recs).toHaveLength(90);
    expect(recs[0]!.record).toEqual({ Order: 1, "Line No": 1, select: "item 1/1", 'we"ird': "w" });
  });
});

describe("connections", () => {
  it("skips an unreachable database after the connect timeout, naming it without its URL", async () => {
    // A server that accepts the connection and never answers.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const dead = `postgres://someuser:s3cret-pass@127.0.0.1:${port}/db`;
    const started = Date.now();
    const err = await databaseStreams({ alias: "dead", addon: "postgresql-dead-1" }, async () => dead, pgSettings({ connect_timeout_s: 1 }), new Set()).catch((
      e,
    ) => e);
    silent.close();
    expect(err).toBeInstanceOf(Unreachable);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.message).toBe("postgresql-dead-1: cannot connect: no answer within 1 s (connect_timeout_s)");
    expect(redact(`${err.message} ${dead}`)).not.toMatch(/s3cret-pass|someuser/);
  });

  it("skips a database whose port is closed", async () => {
    const err = await databaseStreams(
      { alias: "closed", addon: "postgresql-closed-1" },
      async () => "postgres://u:closed-secret@127.0.0.1:1/db",
      pgSettings(),
      new Set(),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(Unreachable);
    expect(err.message).toBe("postgresql-closed-1: cannot connect: connection refused");
  });

  it("resolves the URL again once when authentication fails (rotated credentials)", async () => {
    const stale = new URL(readerUrl);
    stale.password = "rotated-away";
    const asked: boolean[] = [];
    const db = await databaseStreams(
      { alias: "r", addon: "postgresql-r" },
      async (fresh) => (asked.push(fresh), fresh ? readerUrl : stale.toString()),
      pgSettings(),
      new Set(),
    );
    await db.session.close();
    expect(asked).toEqual([false, true]);
    expect(db.streams.length).toBeGreaterThan(0);
  });

  it("verifies the server certificate with ssl=verify-full and a CA, and rejects a wrong CA", async () => {
    const ca = readFileSync(new URL("../fixtures/tls/ca.crt", import.meta.url), "utf8");
    const other = readFileSync(new URL("../fixtures/tls/other-ca.crt", import.meta.url), "utf8");
    const good = await databaseStreams({ alias: "v" }, async () => url, pgSettings({ ssl: "verify-full", ssl_ca: ca, schemas: ["Sales-EU"] }), new Set());
    await good.session.close();
    expect(good.streams).toHaveLength(1);
    const bad = await databaseStreams({ alias: "v" }, async () => url, pgSettings({ ssl: "verify-full", ssl_ca: other }), new Set()).catch((e) => e);
    expect(bad).toBeInstanceOf(Unreachable);
    expect(bad.message).toMatch(/certificate/i);
  });

  it("strips sslmode from the URL so the ssl setting decides, and opens read-only sessions", async () => {
    const cfg = clientConfig(`${url}?sslmode=require&sslrootcert=/x`, pgSettings());
    expect(cfg.connectionString).not.toMatch(/ssl/);
    expect(cfg.ssl).toEqual({ rejectUnauthorized: false });
    expect(cfg.application_name).toBe("tap-heroku");
    expect(cfg.options).toContain("default_transaction_read_only=on");
    expect(cfg.options).toContain("statement_timeout=600000");
    const db = await databaseStreams({ alias: "ro" }, async () => `${url}?sslmode=disable`, pgSettings({ schemas: ["Sales-EU"] }), new Set());
    const client = await db.session.open();
    const r = await client.query("SHOW default_transaction_read_only");
    expect(r.rows[0]).toEqual({ default_transaction_read_only: "on" });
    await expect(client.query("CREATE TABLE nope (i int)")).rejects.toThrow(/read-only/);
    const ssl = await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    expect(ssl.rows[0]).toEqual({ ssl: "t" });
    await db.session.close();
  });
});

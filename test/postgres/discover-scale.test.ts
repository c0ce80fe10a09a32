// Discovery at scale: a database of 5,000 tables in 3 schemas is introspected
// with the same statements as a database of 5 (a fixed handful of catalog
// queries, never one per table), counted by a proxy that sees every statement.
// The time it takes is reported in the README, measured, not asserted here.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, openDb } from "./helpers.ts";
import { startPgProxy } from "../reliability/pg-proxy.ts";
import type { PgProxy } from "../reliability/pg-proxy.ts";

const tables = (n: number) => `
CREATE SCHEMA a; CREATE SCHEMA b; CREATE SCHEMA c;
DO $$ BEGIN
  FOR i IN 1..${n} LOOP
    EXECUTE format('CREATE TABLE %I.%I (id int PRIMARY KEY, name text, at timestamptz, amount numeric(12,2))', (ARRAY['a','b','c'])[1 + i % 3], 't' || i);
  END LOOP;
END $$;`;

let proxy: PgProxy;
let big: string;
let small: string;

beforeAll(async () => {
  big = await createDatabase("tap_discover_5000", tables(5000));
  small = await createDatabase("tap_discover_5", tables(5));
  const u = new URL(big);
  proxy = await startPgProxy({ host: u.hostname, port: Number(u.port) });
}, 300_000);
afterAll(() => proxy?.close());

/** The statements one discovery sends, and the streams it finds. */
async function discover(url: string): Promise<{ statements: string[]; streams: number; ms: number }> {
  proxy.statements.length = 0;
  const started = performance.now();
  const db = await openDb(proxy.via(url), "scale", { ssl: "disable", schemas: ["a", "b", "c"] });
  const ms = performance.now() - started;
  await db.session.close();
  return { statements: [...proxy.statements], streams: db.streams.length, ms };
}

describe("discovery of 5,000 tables", () => {
  it("sends the same statements as for 5 tables: a fixed number per database, not one per table", async () => {
    const few = await discover(small);
    const many = await discover(big);
    expect(few.streams).toBe(5);
    expect(many.streams).toBe(5000);
    expect(many.statements).toEqual(few.statements);
    expect(many.statements.length).toBeLessThan(20);
    console.log(`discovery: 5,000 tables in 3 schemas in ${(many.ms / 1000).toFixed(2)} s, ${many.statements.length} statements`);
  });
});

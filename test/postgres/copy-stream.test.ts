// The COPY reader (src/postgres/copy.ts) against the real server: COPY text is
// split back into exactly the text a query returns, NULL and every escape
// included; rows are handed over one after another; a consumer that is not
// ready pauses the socket, so rows stop arriving instead of piling up in
// memory; errors reject and leave the session usable.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { copyFields, CopyOut, quoteLiteral } from "../../src/postgres/copy.ts";
import { RAW_TYPES } from "../../src/postgres/connect.ts";
import { createDatabase } from "./helpers.ts";

const DB = "tap_pg_copy_stream";
let client: pg.Client;

beforeAll(async () => {
  const url = await createDatabase(
    DB,
    `CREATE TABLE odd (id int PRIMARY KEY, t text, a text[], j jsonb, b bytea);
     INSERT INTO odd VALUES
       (1, E'tab\\there, newline\\nand CR\\r, backslash \\\\ end', ARRAY[E'a\\tb', 'c"d', NULL, E'e\\\\f'], '{"k": "v\\\\n\\u00e9"}', '\\x00ff'),
       (2, '\\N', ARRAY['\\N'], 'null', ''),
       (3, NULL, NULL, NULL, NULL),
       (4, E'\\b\\f\\v\\x01 ☃ 名前', '{}', '[1, 2.50, 12345678901234567890]', '\\x5c6e'),
       (5, '', ARRAY[''], '""', '\\x');
     CREATE TABLE wide (id int PRIMARY KEY, pad text);
     INSERT INTO wide SELECT i, repeat(md5(i::text), 32) FROM generate_series(1, 20000) i;`,
  );
  client = new pg.Client({ connectionString: url, ssl: { rejectUnauthorized: false }, types: RAW_TYPES });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
});

async function copyAll(
  text: string,
  n: number,
  onRow?: (fields: (string | null)[], copy: CopyOut<(string | null)[]>) => Promise<void> | void,
): Promise<(string | null)[][]> {
  const rows: (string | null)[][] = [];
  const copy: CopyOut<(string | null)[]> = new CopyOut(
    text,
    (buf) => copyFields(buf, n),
    (f) => {
      rows.push(f);
      return onRow?.(f, copy);
    },
  );
  void client.query(copy);
  expect(await copy.done).toBe(rows.length);
  return rows;
}

describe("COPY text", () => {
  it("splits into exactly the text a query returns: NULL, '\\N' as text, tabs, newlines, backslashes, control characters, Unicode", async () => {
    const viaQuery = (await client.query({ text: "SELECT id, t, a, j, b FROM odd ORDER BY id", rowMode: "array" })).rows as (string | null)[][];
    const viaCopy = await copyAll("COPY (SELECT id, t, a, j, b FROM odd ORDER BY id) TO STDOUT", 5);
    expect(viaCopy).toEqual(viaQuery);
    expect(viaCopy[1]![1]).toBe("\\N");
    expect(viaCopy[2]![1]).toBeNull();
  });

  it("inlines literals that round-trip any text, quotes and backslashes included", async () => {
    for (const v of ["plain", "it's", "back\\slash", "\\'; DROP TABLE odd; --", "☃"]) {
      const rows = await copyAll(`COPY (SELECT ${quoteLiteral(v)}::text) TO STDOUT`, 1);
      expect(rows).toEqual([[v]]);
    }
  });
});

describe("backpressure", () => {
  it("pauses the socket while the consumer is not ready: rows stop arriving instead of piling up", async () => {
    // 20,000 rows of 1 KB. The consumer stalls for 300 ms at row 100; on loopback the
    // server could send the whole 20 MB in that time if nothing paused the socket.
    let receivedAtStall = 0;
    let receivedDuringStall = 0;
    let paused = false;
    const stream = (client as unknown as { connection: { stream: { isPaused(): boolean } } }).connection.stream;
    const rows = await copyAll("COPY (SELECT id, pad FROM wide ORDER BY id) TO STDOUT", 2, (f, copy) => {
      if (f[0] !== "100") return;
      receivedAtStall = copy.rows;
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          paused = stream.isPaused();
          receivedDuringStall = copy.rows - receivedAtStall;
          resolve();
        }, 300)
      );
    });
    expect(rows).toHaveLength(20000);
    expect(paused).toBe(true);
    // What was already in hand when the stall began (one socket read), not the table.
    expect(receivedDuringStall).toBeLessThan(300);
    expect(stream.isPaused()).toBe(false);
  });

  it("hands rows over one after another: the next row waits for the previous row's promise", async () => {
    const events: string[] = [];
    await copyAll("COPY (SELECT id FROM wide WHERE id <= 50 ORDER BY id) TO STDOUT", 1, (f) => {
      events.push(`row ${f[0]}`);
      if (Number(f[0]) % 10 !== 0) return Promise.resolve();
      // A bookmark save that takes a while (a STATE line waiting for stdout).
      return new Promise<void>((resolve) => setTimeout(() => (events.push(`saved ${f[0]}`), resolve()), 5));
    });
    expect(events).toHaveLength(55);
    for (const n of [10, 20, 30, 40]) expect(events.indexOf(`saved ${n}`)).toBe(events.indexOf(`row ${n}`) + 1);
  });

  it("rejects with the server's error, and with the consumer's; the session stays usable", async () => {
    await expect(copyAll("COPY (SELECT 1 / (id - 3) FROM odd ORDER BY id) TO STDOUT", 1)).rejects.toThrow(/division by zero/);
    await expect(
      copyAll("COPY (SELECT id FROM wide ORDER BY id) TO STDOUT", 1, (f) => {
        if (f[0] === "10") throw new Error("consumer failed");
      }),
    ).rejects.toThrow(/consumer failed/);
    expect((await client.query("SELECT 42 AS x")).rows).toEqual([{ x: "42" }]);
  });
});

// A database restarted in the middle of a table (Heroku maintenance, a
// failover): the tap's session is terminated and the server refuses
// connections for a while; the tap keeps trying to reconnect, then continues
// after the last key written, under the same version, with nothing missing.
// Its own embedded PostgreSQL: the shared one cannot be restarted.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { startEmbeddedPostgres } from "../helpers/embedded-postgres.ts";
import type { RunningPostgres } from "../helpers/embedded-postgres.ts";
import { catalogFor, openDb, recordsOf, runInProcess } from "../postgres/helpers.ts";

const ROWS = 60_000;
let server: RunningPostgres;
let url: string;

beforeAll(async () => {
  server = await startEmbeddedPostgres({ password: "restart-test-superuser" });
  url = server.url;
  const c = new pg.Client({ connectionString: url, ssl: { rejectUnauthorized: false } });
  await c.connect();
  await c.query(`CREATE TABLE events (id int8 PRIMARY KEY, at timestamptz NOT NULL, note text);
    INSERT INTO events SELECT i, '2024-01-01'::timestamptz + i * interval '1 second', md5(i::text) FROM generate_series(1, ${ROWS}) i;`);
  await c.end();
});
afterAll(async () => {
  await server?.stop();
});

describe("a database restarted during a run", () => {
  it.each(["FULL_TABLE", "INCREMENTAL"] as const)(
    "%s: the tap reconnects once the server is back and continues from its last key; nothing missing",
    async (method) => {
      const db = await openDb(url, "restart", { connect_timeout_s: 5 });
      const id = "restart-public-events";
      let restarted: Promise<void> | undefined;
      try {
        const run = await runInProcess(db.streams, catalogFor(db.streams, { [id]: method === "INCREMENTAL" ? { method, key: "at" } : { method } }), undefined, {
          onFlush: async (records) => {
            // Not awaited: the tap runs on into the outage (terminated session, refused connections).
            if (records >= 15_000 && !restarted) restarted = server.restart({ downMs: 1500 });
          },
        });
        expect(restarted).toBeDefined();
        await restarted;
        const recs = recordsOf(run.messages, id);
        const ids = new Set(recs.map((r) => Number(r.record.id)));
        expect(ids.size).toBe(ROWS);
        // Resumed after the last key, not from the start: few duplicates (at most the last batch).
        expect(recs.length - ROWS).toBeLessThanOrEqual(1000);
        if (method === "FULL_TABLE") {
          const version = recs[0]!.version;
          expect(recs.every((r) => r.version === version)).toBe(true);
          expect(run.messages.some((m) => m.type === "ACTIVATE_VERSION")).toBe(true);
          expect(run.lastState?.bookmarks[id]).toEqual({ version });
        } else {
          expect(run.lastState?.bookmarks[id]).toMatchObject({ replication_key: "at" });
          expect(String((run.lastState?.bookmarks[id] as { replication_key_value: string }).replication_key_value)).toMatch(/^2024-01-01 16:40:00/);
        }
      } finally {
        await restarted?.catch(() => undefined);
        await db.session.close();
      }
    },
  );

  it("a stop during the outage ends the reconnect attempts at once: the table stopped with a resumable state", async () => {
    const db = await openDb(url, "restart", { connect_timeout_s: 5 }); // a reconnect budget of 20 s
    const id = "restart-public-events";
    const stop = new AbortController();
    let restarted: Promise<void> | undefined;
    let stoppedAt = 0;
    try {
      const run = await runInProcess(db.streams, catalogFor(db.streams, { [id]: { method: "FULL_TABLE" } }), undefined, {
        signal: stop.signal,
        onFlush: async (records) => {
          if (records >= 15_000 && !restarted) {
            restarted = server.restart({ downMs: 15_000 });
            // SIGTERM one second into the outage, while the tap is reconnecting.
            setTimeout(() => {
              stoppedAt = Date.now();
              stop.abort();
            }, 1000);
          }
        },
      });
      const returnedAt = Date.now();
      expect(stoppedAt).toBeGreaterThan(0);
      expect(returnedAt - stoppedAt).toBeLessThan(5_000); // not the rest of the 15 s outage
      const recs = recordsOf(run.messages, id);
      expect(recs.length).toBeLessThan(ROWS);
      expect(run.messages.some((m) => m.type === "ACTIVATE_VERSION")).toBe(false);
      // Stopped, not failed or skipped: the state says where to continue.
      expect(run.lastState?.currently_syncing).toBe(id);
      expect(run.lastState?.bookmarks[id]).toMatchObject({ version: recs[0]!.version });
    } finally {
      await restarted?.catch(() => undefined);
      await db.session.close();
    }
  });
});

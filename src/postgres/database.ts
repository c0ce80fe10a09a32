// One logical database → its streams: connect, introspect, name.
import type { Stream } from "../singer/stream.ts";
import { log } from "../log.ts";
import type { PostgresSettings } from "./connect.ts";
import { introspect } from "./introspect.ts";
import { SessionPool } from "./pool.ts";
import { Session } from "./session.ts";
import type { UrlSource } from "./session.ts";
import { streamIdOf, tableStreams } from "./streams.ts";
import type { DatabaseInfo } from "./streams.ts";

export interface OpenDatabase {
  readonly streams: Stream[];
  /** The session discovery used, the first of the pool. */
  readonly session: Session;
  /** The sessions the tables are read with (at most the connection budget). */
  readonly pool: SessionPool;
  /**
   * Stream ids of the relations this credential may not read, with why: a
   * catalog that still selects one (rights revoked since discovery) skips it
   * with a warning instead of refusing the whole run.
   */
  readonly denied: ReadonlyMap<string, string>;
}

/**
 * Introspects the database behind `url` and returns a stream per readable
 * relation. The session stays available to the streams (it reconnects
 * lazily); the caller closes it. Throws Unreachable when it cannot connect.
 */
export async function databaseStreams(
  info: DatabaseInfo,
  url: UrlSource,
  settings: PostgresSettings,
  taken: Set<string>,
  session = new Session(info.readFrom ?? info.addon ?? info.alias, url, settings),
  /** Sessions its tables may use at once (budget.ts); without it, the setting or 1. */
  budget = settings.max_connections ?? 1,
): Promise<OpenDatabase> {
  const client = await session.open();
  const intro = await introspect(client, { schemas: settings.schemas, exclude: settings.exclude_schemas });
  for (const name of intro.denied) {
    log.warn(`${session.label}: ${name} is left out of the catalog: permission denied for this credential`);
  }
  // Discovery is done; a sync that follows soon takes the same connection.
  session.release();
  const pool = new SessionPool(session, budget, () => new Session(session.label, url, settings));
  const streams = tableStreams(info, intro, pool, settings, taken);
  const denied = new Map<string, string>();
  for (const r of intro.deniedRelations) {
    const id = streamIdOf(info.alias, r.schema, r.name);
    if (!taken.has(id)) denied.set(id, `${session.label}: permission denied on ${r.schema}.${r.name} for this credential`);
  }
  return { streams, session, pool, denied };
}

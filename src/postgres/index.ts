// What src/tap.ts calls: the Heroku Postgres streams of a config.
import type { Settings } from "../config.ts";
import type { HerokuClient } from "../heroku/client.ts";
import { HerokuHttpError, Stopped } from "../heroku/client.ts";
import { RunError } from "../errors.ts";
import type { Stream, Unavailable } from "../singer/stream.ts";
import { log } from "../log.ts";
import { databaseStreams } from "./database.ts";
import { findCandidates, groupDatabases } from "./discover.ts";
import type { Candidate, InventoryRow } from "./discover.ts";
import { inventoryStream } from "./inventory.ts";
import { connectionBudget } from "./budget.ts";
import { aliasOf, inDatabase } from "./streams.ts";

export interface PostgresSource {
  readonly streams: Stream[];
  /**
   * Databases found through the API but not reachable in this run (groups),
   * and tables the credential may not read (rights revoked since the catalog
   * was made): a catalog that selects their streams skips them with the reason.
   */
  readonly unavailable: readonly Unavailable[];
  /** postgres_databases, the inventory of the databases found (inventory.ts); unset when discovery is off. */
  readonly inventory?: Stream;
  /** The Heroku Postgres add-ons found through the API, reachable or not: the Data API streams read these (src/heroku/data-api.ts). */
  readonly candidates?: readonly Candidate[];
  close(): Promise<void>;
}

export async function openPostgres(settings: Settings, client: HerokuClient): Promise<PostgresSource> {
  const pg = { ...settings.postgres, use_singer_decimal: settings.use_singer_decimal };
  const sessions: { close(): Promise<void> }[] = [];
  const unavailable: Unavailable[] = [];
  const streams: Stream[] = [];
  const close = async () => void (await Promise.all(sessions.map((s) => s.close())));
  if (!pg.enabled) return { streams, unavailable, close };
  let inventory: readonly InventoryRow[] = [];
  const inventoryOut = inventoryStream(() => inventory);

  let candidates;
  try {
    candidates = await findCandidates(client, settings.apps, settings.shard);
  } catch (e) {
    if (e instanceof HerokuHttpError && e.fatal) throw e;
    // No answer at all: fail rather than leave every table out of a catalog a scheduler rediscovers.
    if (!(e instanceof HerokuHttpError) && !(e instanceof Stopped) && e instanceof RunError) {
      throw new RunError(`cannot reach the Heroku API at ${settings.api_url}: ${e.message}`, { fatal: true, cause: e });
    }
    log.warn(`Heroku Postgres databases are left out: ${e instanceof Error ? e.message : String(e)}`);
    return { streams, unavailable, close, inventory: inventoryOut };
  }
  const grouped = await groupDatabases(candidates, pg);
  const { databases, unreachable } = grouped;
  inventory = grouped.inventory;
  for (const u of unreachable) unavailable.push(database(aliasOf(u.candidate.addonName), u.reason));
  const taken = new Set<string>();
  for (const db of databases) {
    const alias = aliasOf(db.named.addonName);
    sessions.push(db.session);
    const budget = connectionBudget(pg.max_connections, db.readFrom.plan, db.facts);
    log.info(`${db.readFrom.addonName}: up to ${budget.sessions} table(s) read at once, a session each (${budget.why})`);
    try {
      const opened = await databaseStreams(
        {
          alias,
          app: db.named.app,
          addon: db.named.addonName,
          ...(db.readFrom !== db.named ? { readFrom: db.readFrom.addonName } : {}),
        },
        db.readFrom.url,
        pg,
        taken,
        db.session,
        budget.sessions,
      );
      sessions.push(opened.pool);
      streams.push(...opened.streams);
      for (const [id, why] of opened.denied) unavailable.push({ kind: "stream", name: id, reason: why, covers: (x) => x === id });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      unavailable.push(database(alias, why));
      log.warn(`${why}; its tables are left out of this run`);
    }
  }
  return { streams, unavailable, close, inventory: inventoryOut, candidates };
}

/** A database that cannot be read this run: every table stream of its alias. */
function database(alias: string, reason: string): Unavailable {
  return { kind: "group", name: alias, reason, covers: (id) => inDatabase(alias, id) };
}

// Finding the Heroku Postgres databases of the apps in scope through the
// Platform API: each app's add-ons of service heroku-postgresql, their
// attachments, and the app's config vars for the URL in `<ATTACHMENT>_URL`.
// The URL is resolved on every run (Heroku rotates credentials) and can be
// resolved again mid-run. Then each database is asked what it is, so that a
// leader and its followers are recognised as one logical database.
import type { HerokuClient } from "../heroku/client.ts";
import { HerokuHttpError } from "../heroku/client.ts";
import { RunError } from "../errors.ts";
import { log } from "../log.ts";
import { registerUrl } from "./connect.ts";
import type { PostgresSettings } from "./connect.ts";
import { Session } from "./session.ts";
import type { UrlSource } from "./session.ts";
import { setOwn } from "../own.ts";
import { inShard } from "../shard.ts";
import type { Shard } from "../shard.ts";
import { isTrue } from "./types.ts";

const SERVICE = "heroku-postgresql";

/** One Heroku Postgres add-on with the URL it was reached by. */
export interface Candidate {
  readonly addonId: string;
  readonly addonName: string;
  readonly app: string;
  /** The app's id, from the add-on listing (the Data API's maintenances are listed by app id). */
  readonly appId?: string;
  readonly attachment: string;
  /** Every attachment name of the add-on on that app (DATABASE, HEROKU_POSTGRESQL_RED, ...). */
  readonly attachments: readonly string[];
  /** e.g. heroku-postgresql:essential-0, from the add-on listing. */
  readonly plan: string | undefined;
  readonly url: UrlSource;
}

/** What discovery learnt of one add-on, for the postgres_databases stream (inventory.ts). */
export interface InventoryRow {
  readonly candidate: Candidate;
  /** Unset when the database could not be reached (then `reason` says why). */
  readonly facts?: DatabaseFacts;
  readonly reason?: string;
  readonly role?: "leader" | "follower";
  /** The leader's add-on, for a follower whose leader was found too. */
  readonly leader?: Candidate;
  /** The add-on the logical database's tables are read from. */
  readonly readFrom?: boolean;
}

/** A logical database: a leader and its followers, or a lone follower. */
export interface LogicalDatabase {
  /** The add-on the stream names come from (the leader when known). */
  readonly named: Candidate;
  /** The add-on the tables are read from. */
  readonly readFrom: Candidate;
  readonly session: Session;
  /** What the add-on read from said of itself (its connection limits set the budget). */
  readonly facts: DatabaseFacts;
}

interface Named {
  id?: string;
  name?: string;
}
interface Addon extends Named {
  addon_service?: Named;
  plan?: Named;
  app?: Named;
}
interface Attachment extends Named {
  addon?: Named & { app?: Named };
  app?: Named;
  namespace?: string | null;
}

export const SCOPE_HINT =
  'reading config vars needs the token scope "read-protected" (or "global"): heroku authorizations:create --scope read-protected,identity';

/**
 * Add-ons of service heroku-postgresql of the apps in scope, deduplicated by add-on id.
 * Without the `apps` setting, one walk of the account's /addons finds them all (a few
 * requests, not one per app); attachments and config vars are then read only for the
 * apps that own a Postgres add-on.
 */
export async function findCandidates(client: HerokuClient, apps: readonly string[] | undefined, shard: Shard = { index: 1, count: 1 }): Promise<Candidate[]> {
  const byApp = new Map<string, Addon[]>();
  const add = (app: string, addon: Addon) => byApp.set(app, [...(byApp.get(app) ?? []), addon]);
  if (apps) {
    for (const app of apps) {
      for (const a of await listAll<Addon>(client, `/apps/${encodeURIComponent(app)}/addons`)) if (isPostgres(a) && inShard(a.app?.id, shard)) add(app, a);
    }
  } else {
    for await (const page of client.pages("/addons")) {
      for (const a of page.items as Addon[]) if (isPostgres(a) && inShard(a.app?.id, shard)) add(String(a.app?.name ?? a.app?.id), a);
    }
  }
  const found = new Map<string, Candidate>();
  for (const [app, addons] of byApp) {
    const path = `/apps/${encodeURIComponent(app)}`;
    const ids = new Set(addons.map((a) => String(a.id)));
    const attachments = (await listAll<Attachment>(client, `${path}/addon-attachments`)).filter((a) => ids.has(String(a.addon?.id)));
    let vars: Record<string, string>;
    try {
      vars = await configVars(client, app);
    } catch (e) {
      if (e instanceof HerokuHttpError && e.status === 403) {
        log.warn(`Heroku Postgres databases are left out: Heroku refused GET /apps/{app}/config-vars (403 ${e.id}); ${SCOPE_HINT}`);
        break;
      }
      throw e;
    }
    for (const addon of addons) {
      const id = String(addon.id);
      if (found.has(id)) continue; // an add-on attached to several apps is one database
      const att = pickAttachment(attachments.filter((a) => String(a.addon?.id) === id), vars);
      if (!att) {
        log.warn(`${addon.name}: no config var of app ${app} holds its URL; it is left out`);
        continue;
      }
      const varName = `${att.name}_URL`;
      let known: string | undefined = vars[varName];
      registerUrl(known!);
      found.set(id, {
        addonId: id,
        addonName: String(addon.name),
        app,
        ...(addon.app?.id !== undefined ? { appId: String(addon.app.id) } : {}),
        attachment: String(att.name),
        attachments: attachments.filter((a) => String(a.addon?.id) === id).map((a) => String(a.name)).sort(),
        plan: addon.plan?.name,
        url: async (fresh) => {
          if (fresh || known === undefined) {
            const again = (await configVars(client, app))[varName];
            if (!again) throw new RunError(`${addon.name}: config var ${varName} of app ${app} is gone`);
            registerUrl(again);
            known = again;
          }
          return known;
        },
      });
    }
  }
  return [...found.values()];
}

function isPostgres(a: Addon): boolean {
  return a.addon_service?.name === SERVICE || String(a.plan?.name ?? "").startsWith(`${SERVICE}:`);
}

/** DATABASE first, then any attachment whose URL is set; connection-pool and namespaced attachments last. */
function pickAttachment(atts: Attachment[], vars: Record<string, string>): Attachment | undefined {
  const rank = (a: Attachment) => (a.name === "DATABASE" ? 0 : 1) + (a.namespace ? 4 : 0) + (/CONNECTION_POOL/.test(String(a.name)) ? 8 : 0);
  return atts.filter((a) => vars[`${a.name}_URL`]).sort((x, y) => rank(x) - rank(y))[0];
}

async function configVars(client: HerokuClient, app: string): Promise<Record<string, string>> {
  const body = (await client.get(`/apps/${encodeURIComponent(app)}/config-vars`)) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body ?? {})) {
    if (typeof v !== "string") continue;
    setOwn(out, k, v); // a config var may be called __proto__
    if (/^postgres(ql)?:\/\//i.test(v)) registerUrl(v);
  }
  return out;
}

async function listAll<T>(client: HerokuClient, path: string): Promise<T[]> {
  const out: T[] = [];
  for await (const page of client.pages(path)) out.push(...(page.items as T[]));
  return out;
}

interface Identity {
  readonly follower: boolean;
  /** Same for a leader and its physical followers. */
  readonly key: string;
  /** What the database says of itself, for the postgres_databases stream. */
  readonly facts: DatabaseFacts;
}

/** One cheap query's answers (text, as the server renders them: sizes stay exact). */
export interface DatabaseFacts {
  readonly version: string;
  readonly size_bytes: string;
  readonly connections: string;
  readonly max_connections: string;
  readonly lag_s: string | null;
  readonly tables: string;
  // What the connection budget (budget.ts) is capped by:
  readonly superuser_reserved: string;
  /** reserved_connections (PostgreSQL 16+), "0" before. */
  readonly reserved: string;
  /** Client backends of the whole server. */
  readonly backends: string;
  /** CONNECTION LIMIT of the tap's role and of the database (-1: none), and the role's backends. */
  readonly role_limit: string | null;
  readonly role_backends: string;
  readonly db_limit: string | null;
}

/**
 * Connects to each candidate, tells leaders from followers and groups them by
 * cluster identity, so that each logical database is read once: from a
 * follower when one exists and prefer_follower is set.
 */
export async function groupDatabases(
  candidates: readonly Candidate[],
  settings: PostgresSettings,
): Promise<{ databases: LogicalDatabase[]; unreachable: { candidate: Candidate; reason: string }[]; inventory: InventoryRow[] }> {
  const probed: { c: Candidate; session: Session; id: Identity }[] = [];
  const unreachable: { candidate: Candidate; reason: string }[] = [];
  await Promise.all(
    candidates.map(async (c) => {
      const session = new Session(c.addonName, c.url, settings);
      try {
        // The session stays open: the one read from is introspected next on the
        // same connection (a connection costs 5–6 round trips, 0.3 s at 60 ms), the others are closed below.
        const id = await identify(session);
        probed.push({ c, session, id });
      } catch (e) {
        await session.reset();
        const reason = e instanceof Error ? e.message : String(e);
        unreachable.push({ candidate: c, reason });
        log.warn(`${reason}; its tables are left out of this run`);
      }
    }),
  );
  probed.sort((a, b) => a.c.addonName.localeCompare(b.c.addonName));
  const groups = new Map<string, typeof probed>();
  for (const p of probed) groups.set(p.id.key, [...(groups.get(p.id.key) ?? []), p]);
  const out: LogicalDatabase[] = [];
  const inventory: InventoryRow[] = [];
  for (const members of groups.values()) {
    const leader = members.find((m) => !m.id.follower);
    const follower = members.find((m) => m.id.follower);
    const named = leader ?? members[0]!;
    const read = settings.prefer_follower ? (follower ?? named) : (leader ?? named);
    for (const m of members) if (m !== read) await m.session.close();
    if (members.length > 1) {
      log.info(
        `${named.c.addonName}: ${members.length - 1} more add-on(s) serve the same database (${
          members.filter((m) => m !== named).map((m) => m.c.addonName).join(", ")
        }); reading from ${read.c.addonName}`,
      );
    }
    out.push({ named: named.c, readFrom: read.c, session: read.session, facts: read.id.facts });
    for (const m of members) {
      inventory.push({
        candidate: m.c,
        facts: m.id.facts,
        role: m.id.follower ? "follower" : "leader",
        leader: leader && m !== leader ? leader.c : undefined,
        readFrom: m === read,
      });
    }
  }
  for (const u of unreachable) inventory.push({ candidate: u.candidate, reason: u.reason });
  inventory.sort((a, b) => a.candidate.addonName.localeCompare(b.candidate.addonName));
  return { databases: out.sort((a, b) => a.named.addonName.localeCompare(b.named.addonName)), unreachable, inventory };
}

async function identify(session: Session): Promise<Identity> {
  const client = await session.open();
  const r = await client.query<{ follower: string; db: string; dboid: string; system_readable: string } & DatabaseFacts>(
    `SELECT pg_is_in_recovery()::text AS follower,
            pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')::text AS system_readable, current_database() AS db,
            (SELECT oid::text FROM pg_catalog.pg_database WHERE datname = current_database()) AS dboid,
            current_setting('server_version') AS version,
            pg_catalog.pg_database_size(current_database())::text AS size_bytes,
            (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE datname = current_database())::text AS connections,
            current_setting('max_connections') AS max_connections,
            CASE WHEN pg_is_in_recovery() THEN round(extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp()), 3)::text END AS lag_s,
            (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%')::text AS tables,
            current_setting('superuser_reserved_connections') AS superuser_reserved,
            coalesce(current_setting('reserved_connections', true), '0') AS reserved,
            (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend')::text AS backends,
            (SELECT rolconnlimit::text FROM pg_catalog.pg_roles WHERE rolname = current_user) AS role_limit,
            (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE usename = current_user AND backend_type = 'client backend')::text AS role_backends,
            (SELECT datconnlimit::text FROM pg_catalog.pg_database WHERE datname = current_database()) AS db_limit`,
  );
  const row = r.rows[0]!;
  const facts: DatabaseFacts = {
    version: row.version,
    size_bytes: row.size_bytes,
    connections: row.connections,
    max_connections: row.max_connections,
    lag_s: row.lag_s,
    tables: row.tables,
    superuser_reserved: row.superuser_reserved,
    reserved: row.reserved,
    backends: row.backends,
    role_limit: row.role_limit,
    role_backends: row.role_backends,
    db_limit: row.db_limit,
  };
  let system = "";
  // Asked only where the credential may: a refused query would cost a round trip for nothing.
  if (isTrue(row.system_readable)) {
    try {
      // A physical follower shares the leader's system identifier; reading it may need pg_monitor.
      const s = await client.query<{ id: string }>("SELECT system_identifier::text AS id FROM pg_catalog.pg_control_system()");
      system = s.rows[0]?.id ?? "";
    } catch {
      // Heroku database names are random and a follower keeps its leader's: name and oid suffice.
    }
  }
  return { follower: isTrue(row.follower), key: `${system}/${row.db}/${row.dboid}`, facts };
}

// --test: can this config do its job? One line per check, so a person (or
// Meltano's `config --test`) sees at once what is missing and how to fix it.
// A missing optional scope is a warning; what the run needs is a failure.
import type { Settings } from "./config.ts";
import { HerokuHttpError } from "./heroku/client.ts";
import type { HerokuClient } from "./heroku/client.ts";
import { loadDefinitions } from "./heroku/definitions.ts";
import type { Source } from "./tap.ts";
import { dataApiCheck, metricsApiCheck } from "./heroku/host-checks.ts";

export interface Check {
  readonly outcome: "ok" | "warn" | "fail";
  readonly subject: string;
  readonly detail: string;
}

/** What the checks read of the source they open. */
type OpenedSource = Pick<Source, "streams" | "unavailable" | "databases" | "close">;

/**
 * Runs every check. The source (with its database discovery) is opened only once
 * the token is known to work. `selected` (from a catalog) narrows the checks to
 * what a sync of that catalog needs: a scope or a database no selected stream
 * uses is a warning, not a failure.
 */
export async function runChecks(
  settings: Settings,
  client: HerokuClient,
  open: () => Promise<OpenedSource>,
  selected?: ReadonlySet<string>,
): Promise<Check[]> {
  const checks: Check[] = [];
  const status = async (path: string) => {
    try {
      await client.get(path);
      return 200;
    } catch (e) {
      if (e instanceof HerokuHttpError) return e.status;
      throw e;
    }
  };

  let account: number;
  try {
    account = await status("/account");
  } catch (e) {
    // No answer at all (after the retries): nothing else can be checked.
    return [{ outcome: "fail", subject: "api", detail: `cannot reach ${settings.api_url}: ${e instanceof Error ? e.message : String(e)}` }];
  }
  if (account === 401) {
    return [{
      outcome: "fail",
      subject: "token",
      detail: "rejected by Heroku (401): invalid, expired or revoked; create one with heroku authorizations:create",
    }];
  }
  checks.push({ outcome: "ok", subject: "token", detail: `accepted by ${settings.api_url}` });

  const global = await status("/account/keys");
  if (global === 200) {
    checks.push({ outcome: "ok", subject: "scope global", detail: "granted: every stream can be read" });
  } else {
    const needing = (await loadDefinitions()).filter((d) => d.scope === "global" && (selected?.has(d.stream) ?? true)).map((d) => d.stream);
    checks.push(
      needing.length === 0 ? { outcome: "ok", subject: "scope global", detail: `not granted (${global}), and no selected stream needs it` } : {
        outcome: "warn",
        subject: "scope global",
        detail: `not granted (${global}): ${needing.length} streams will be skipped (${
          needing.join(", ")
        }); add it with heroku authorizations:create --scope global`,
      },
    );
  }

  // read-protected (implied by global): config vars, which config_vars and database discovery read.
  if (global !== 200) checks.push(await readProtected(client, settings, selected));

  // The other hosts (the Data API, the metrics API): a line each when a selected stream reads them.
  const hosts = async (databases: Source["databases"]) => {
    for (const c of [await dataApiCheck(settings, client, databases ?? [], selected), await metricsApiCheck(settings, client, selected)]) if (c) checks.push(c);
  };
  if (!settings.postgres.enabled) {
    checks.push({ outcome: "ok", subject: "databases", detail: "Heroku Postgres discovery is off (postgres.enabled=false)" });
    await hosts(undefined);
    return checks;
  }
  const source = await open();
  await source.close();
  // Tables are the streams of a group (a database); the API streams have none.
  const tables = new Map<string, number>();
  for (const s of source.streams) if (s.group !== undefined) tables.set(s.group, (tables.get(s.group) ?? 0) + 1);
  for (const [alias, n] of tables) checks.push({ outcome: "ok", subject: `database ${alias}`, detail: `reachable, ${n} tables and views readable` });
  const unavailable = source.unavailable ?? [];
  for (const u of unavailable) {
    if (u.kind === "stream") {
      // One table the credential may not read: a sync skips it with a warning.
      checks.push({ outcome: "warn", subject: `table ${u.name}`, detail: `${u.reason}; a sync skips it` });
      continue;
    }
    const needed = selected === undefined || [...selected].some((id) => u.covers(id));
    const subject = `database ${u.name}`;
    checks.push(needed ? { outcome: "fail", subject, detail: u.reason } : { outcome: "warn", subject, detail: `${u.reason} (no selected stream reads it)` });
  }
  if (tables.size === 0 && unavailable.length === 0) {
    checks.push({
      outcome: "warn",
      subject: "databases",
      detail: "no Heroku Postgres database found (none attached, or config vars not readable: see the warnings above)",
    });
  }
  await hosts(source.databases);
  return checks;
}

/** Tries one app's config vars: 403 means the token lacks read-protected. */
async function readProtected(client: HerokuClient, settings: Settings, selected: ReadonlySet<string> | undefined): Promise<Check> {
  const subject = "scope read-protected";
  const apps = (await client.get("/apps").catch(() => [])) as { id?: string }[];
  const app = settings.apps?.[0] ?? apps[0]?.id;
  if (app === undefined) return { outcome: "ok", subject, detail: "no app to try it on" };
  try {
    await client.get(`/apps/${encodeURIComponent(app)}/config-vars`);
    return { outcome: "ok", subject, detail: "granted: config var names and Heroku Postgres databases can be read" };
  } catch (e) {
    if (!(e instanceof HerokuHttpError) || e.status !== 403) throw e;
    const needing = (await loadDefinitions()).filter((d) => d.scope === "read-protected" && (selected?.has(d.stream) ?? true)).map((d) => d.stream);
    const what = [...needing, ...(settings.postgres.enabled ? ["Heroku Postgres discovery"] : [])];
    if (what.length === 0) return { outcome: "ok", subject, detail: `not granted (403), and no selected stream needs it` };
    return {
      outcome: "warn",
      subject,
      detail: `not granted (403): ${what.join(", ")} will be skipped; add it with heroku authorizations:create --scope read-protected,identity`,
    };
  }
}

export function formatCheck(c: Check): string {
  return `${c.outcome.padEnd(4)}  ${c.subject}: ${c.detail}`;
}

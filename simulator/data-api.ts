// The Heroku Data API, as the simulator serves it on a host of its own
// (sim.dataUrl): the read routes the tap uses, shaped after
// heroku/typescript-api-schema src/data/routes.ts and its generated types
// (TransferListByAppResult, TransferScheduleListResult, DatabaseInfoResult,
// MaintenanceInfoByAppResult). Databases are the world's Heroku Postgres
// add-ons; what each one is on the Data API's side is set per add-on id
// (DataApiSeed): a follower, an Essential plan, one this token may not read.
//
// Secrets are planted where Heroku puts them, so a test can prove the tap
// drops them: a transfer's from_url is the database URL and its to_url a signed
// storage URL, database info carries resource_url, database_user and
// database_password, and a follower's "Following" entry the leader's URL.
import { hexFrom } from "./data.ts";
import type { Item } from "./data.ts";
import { HttpProblem } from "./routes.ts";
import { addonUrl } from "./world.ts";
import type { World } from "./world.ts";

export interface DataApiSeed {
  /** follower add-on id -> its leader's add-on id */
  followerOf?: Record<string, string>;
  /** add-on ids on an Essential plan: no backup schedules (422), no maintenance */
  essential?: string[];
  /** add-on ids this token may not read (403 on every route that names them or their app) */
  denied?: string[];
  /** backups of each leader that is not Essential; default 3 (the newest still running) */
  backupsPerDatabase?: number;
}

interface Db {
  readonly addon: Item;
  readonly app: Item;
}

const DAY = 86_400_000;

/** The world's Heroku Postgres add-ons with their apps. */
function databases(w: World): Db[] {
  return w.all("apps").flatMap((app) =>
    w.list("addons", app).filter((a) => (a.addon_service as Item | undefined)?.name === "heroku-postgresql").map((addon) => ({ addon, app }))
  );
}

/** Answers a Data API GET, or undefined when the path is not one of its routes (then 404). */
export function serveDataApi(w: World, seed: DataApiSeed, path: string): { status: number; body: unknown } | undefined {
  const dbs = databases(w);
  const denied = new Set(seed.denied ?? []);
  const essential = new Set(seed.essential ?? []);
  const followers = seed.followerOf ?? {};
  const byAddon = (id: string) => {
    const db = dbs.find((d) => d.addon.id === id || d.addon.name === id);
    if (!db) throw new HttpProblem(404, "not_found", "Couldn't find that database.");
    if (denied.has(String(db.addon.id))) throw new HttpProblem(403, "forbidden", "You do not have access to this database.");
    return db;
  };
  const ofApp = (key: string, field: "id" | "name") => {
    const app = w.all("apps").find((a) => a[field] === key || a.id === key);
    if (!app) throw new HttpProblem(404, "not_found", "Couldn't find that app.");
    const mine = dbs.filter((d) => d.app === app);
    if (mine.some((d) => denied.has(String(d.addon.id)))) throw new HttpProblem(403, "forbidden", "You do not have access to the databases of this app.");
    return { app, mine };
  };
  const seg = path.split("/").slice(1).map(decodeURIComponent);
  let m: string[] | undefined;
  if ((m = match(seg, ["client", "v11", "apps", "*", "transfers"]))) {
    const { mine } = ofApp(m[0]!, "name");
    return ok(mine.flatMap((d) => (followers[String(d.addon.id)] || essential.has(String(d.addon.id)) ? [] : transfers(w, d, seed.backupsPerDatabase ?? 3))));
  }
  if ((m = match(seg, ["client", "v11", "databases", "*", "transfer-schedules"]))) {
    const d = byAddon(m[0]!);
    if (essential.has(String(d.addon.id))) throw new HttpProblem(422, "unprocessable_entity", "Backup schedules are not available on this plan.");
    if (followers[String(d.addon.id)]) return ok([]);
    return ok([{
      uuid: uuid(`schedule|${d.addon.id}`),
      name: "DATABASE_URL",
      callback_url: `https://postgres-api.heroku.invalid/client/v11/databases/${d.addon.id}/transfer-schedules/callback?token=${
        hexFrom(`cb|${d.addon.id}`, 24)
      }`,
      days: ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
      hour: 2,
      timezone: "UTC",
      retain_weeks: 4,
      retain_months: 0,
    }]);
  }
  if ((m = match(seg, ["client", "v11", "databases", "*"]))) return ok(info(w, byAddon(m[0]!), dbs, followers, essential));
  if ((m = match(seg, ["data", "maintenances", "v1", "apps", "*"]))) {
    const { app, mine } = ofApp(m[0]!, "id");
    return ok({ maintenances: mine.map((d) => maintenance(w, d, app, essential.has(String(d.addon.id)))) });
  }
  return undefined;
}

function match(seg: string[], pattern: string[]): string[] | undefined {
  if (seg.length !== pattern.length) return undefined;
  const out: string[] = [];
  for (const [i, p] of pattern.entries()) {
    if (p === "*") out.push(seg[i]!);
    else if (p !== seg[i]) return undefined;
  }
  return out;
}

const ok = (body: unknown) => ({ status: 200, body });
const uuid = (key: string) => {
  const h = hexFrom(key, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
const at = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** Daily backups ending now: the newest still running, the one before it failed, every other one scheduled. */
function transfers(w: World, d: Db, n: number): unknown[] {
  const now = w.now().getTime();
  return Array.from({ length: n }, (_, i) => {
    const started = now - (n - 1 - i) * DAY - 3_600_000;
    const running = i === n - 1;
    const bytes = 1_000_000 + (Number.parseInt(hexFrom(`size|${d.addon.id}|${i}`, 6), 16) % 9_000_000);
    return {
      uuid: uuid(`transfer|${d.addon.id}|${i}`),
      num: i + 1,
      from_name: "DATABASE",
      from_uuid: d.addon.id,
      from_type: "pg_dump",
      from_url: addonUrl(w, d.addon),
      to_name: "BACKUP",
      to_uuid: uuid(`bucket|${d.addon.id}|${i}`),
      to_type: "gof3r",
      to_url: `https://xfrtu.s3.amazonaws.invalid/${d.addon.id}/${i}?X-Amz-Signature=${hexFrom(`sig|${d.addon.id}|${i}`, 40)}`,
      options: {},
      source_bytes: bytes * 3,
      processed_bytes: running ? Math.floor(bytes / 2) : bytes,
      succeeded: running ? null : i !== n - 2,
      warnings: 0,
      created_at: at(started - 60_000),
      started_at: at(started),
      canceled_at: null,
      updated_at: at(running ? now : started + 600_000),
      finished_at: running ? null : at(started + 600_000),
      deleted_at: null,
      purged_at: null,
      num_keep: 7,
      schedule: i % 2 === 0 ? { uuid: uuid(`schedule|${d.addon.id}`) } : null,
      logs: [{ created_at: at(started), level: "info", message: `pg_dump of ${addonUrl(w, d.addon)} started` }],
    };
  });
}

function info(w: World, d: Db, dbs: Db[], followers: Record<string, string>, essential: Set<string>): unknown {
  const url = addonUrl(w, d.addon) ?? "";
  const leader = dbs.find((x) => x.addon.id === followers[String(d.addon.id)]);
  const tables = Number.parseInt(hexFrom(`tables|${d.addon.id}`, 2), 16) % 40;
  const bytes = 8_000_000 + (Number.parseInt(hexFrom(`bytes|${d.addon.id}`, 6), 16) % 100_000_000);
  const plan = String((d.addon.plan as Item | undefined)?.name ?? "").replace(/^heroku-postgresql:/, "");
  const entries: { name: string; values: (string | number)[]; resolve_db_name?: boolean }[] = [
    { name: "Plan", values: [essential.has(String(d.addon.id)) ? "Essential 0" : plan] },
    { name: "Status", values: ["Available"] },
    { name: "Data Size", values: [`${(bytes / 1_048_576).toFixed(1)} MB`] },
    { name: "Tables", values: [tables] },
    { name: "PG Version", values: ["16.4"] },
    { name: "Connections", values: ["3/500"] },
    ...(leader ? [{ name: "Following", values: [addonUrl(w, leader.addon) ?? ""], resolve_db_name: true }] : []),
  ];
  return {
    addon_id: d.addon.id,
    name: d.addon.name,
    heroku_resource_id: d.addon.id,
    created_at: String(d.addon.created_at),
    plan,
    port: 5432,
    database_name: url.split("/").pop(),
    database_user: /\/\/([^:]+):/.exec(url)?.[1] ?? null,
    database_password: /:([^:@]+)@/.exec(url)?.[1],
    resource_url: url,
    available_for_ingress: true,
    "waiting?": false,
    credentials: 1,
    leader: null,
    info: entries,
    num_bytes: bytes,
  };
}

function maintenance(w: World, d: Db, app: Item, essential: boolean): unknown {
  const window = essential ? null : "Thursdays 22:00 to Fridays 02:00 UTC";
  const scheduled = essential ? null : at(w.now().getTime() + 3 * DAY);
  return {
    addon: {
      uuid: d.addon.id,
      name: d.addon.name,
      attachments: ["DATABASE"],
      kind: "heroku-postgresql",
      plan: (d.addon.plan as Item | undefined)?.name,
      window,
    },
    app: { name: app.name, uuid: app.id },
    window,
    status: essential ? "none" : "scheduled",
    required_by: scheduled === null ? null : at(w.now().getTime() + 14 * DAY),
    scheduled_for: scheduled,
    method: essential ? null : "changeover",
    addon_description: essential ? null : "Operating system and PostgreSQL minor version updates",
    started_at: null,
    completed_at: null,
    duration_seconds: null,
    reason: essential ? null : "routine",
    server_created_at: null,
  };
}

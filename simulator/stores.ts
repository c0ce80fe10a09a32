// What the simulated account contains, store by store.
//
// Each entry says which schema definition the objects follow, what they
// belong to (`parent`), how many there are (`path` => `sizes[path]`, default
// `perParent`), which real objects their references point at (`bind`), and
// the few semantics the schema cannot express (`fix`): release versions
// count up, an app's first add-on can be Heroku Postgres with DATABASE and
// HEROKU_POSTGRESQL_<COLOR> attachments, dyno names follow their type, etc.
//
// Shape of the account (defaults; `sizes` overrides any counted store):
//   account 1 · regions 2 · stacks 3 · generations 2 · dyno sizes 4
//   add-on services 4 (heroku-postgresql first) · plans perParent per service
//   enterprise accounts 1 · teams 2 (in enterprise account i % E)
//   spaces = teams (space i in team i % T) · pipelines 2
//   apps `apps`: app i is personal when i % (T+1) == 0, else in team (i % (T+1)) - 1;
//     team apps with i % 4 == 1 run in their team's first space;
//     even apps are coupled to pipeline (i/2) % P
//   per app: add-ons perParent, the first `postgresPerApp` of them Heroku Postgres on the
//     first `postgresApps` apps; attachments derived from add-ons; every other child list perParent
//   per add-on / team / space / pipeline / test run / enterprise account: perParent
//
// What changes together (add()/touch() follow it, so the tap's refresh rules
// are tested against the same model; README, "Heroku API streams"):
//   a new release  sets its app's released_at ("when app was released", Platform
//                  API schema; a release is created by every deploy, config var
//                  and add-on change: Dev Center, Releases) and restarts the app's
//                  dynos: each gets the release and new created_at/updated_at
//                  (Dev Center, Dyno Restarts). The app's updated_at stays.
//   a new build    that succeeded is released: a new release as above.
//   anything else  (a domain, collaborator, feature, buildpack, drain, webhook,
//                  formation, add-on, team or space child added or touched)
//                  changes no field of its parent: Heroku documents no such tie.

import { DAY_MS, hash32, herokuTime, hexFrom, timeIn2025, YEAR_START } from "./data.ts";
import type { Item } from "./data.ts";
import type { StoreSpec, World } from "./world.ts";

const PG = "heroku-postgresql";
const COLORS = [
  "AMBER",
  "BLUE",
  "BRONZE",
  "CHARCOAL",
  "COBALT",
  "COPPER",
  "CRIMSON",
  "GOLD",
  "GRAY",
  "GREEN",
  "IVORY",
  "JADE",
  "MAROON",
  "NAVY",
  "OLIVE",
  "ONYX",
  "ORANGE",
  "PINK",
  "PUCE",
  "PURPLE",
  "RED",
  "ROSE",
  "SILVER",
  "TEAL",
  "WHITE",
  "YELLOW",
];
const ADJECTIVES = [
  "ancient",
  "bold",
  "calm",
  "damp",
  "eager",
  "frozen",
  "gentle",
  "hidden",
  "icy",
  "jolly",
  "lively",
  "misty",
  "noble",
  "polar",
  "quiet",
  "rapid",
  "shy",
  "tranquil",
  "vast",
  "young",
];
const NOUNS = [
  "brook",
  "cloud",
  "dawn",
  "falls",
  "forest",
  "glade",
  "harbor",
  "island",
  "lake",
  "meadow",
  "ocean",
  "peak",
  "river",
  "shore",
  "sky",
  "stream",
  "summit",
  "valley",
  "wave",
  "woods",
];

const SERVICES: [string, string][] = [
  [PG, "Heroku Postgres"],
  ["heroku-redis", "Heroku Key-Value Store"],
  ["papertrail", "Papertrail"],
  ["scheduler", "Heroku Scheduler"],
  ["sendgrid", "Twilio SendGrid"],
  ["heroku-kafka", "Apache Kafka on Heroku"],
  ["mailgun", "Mailgun"],
  ["bucketeer", "Bucketeer"],
];
const PG_PLANS = ["essential-0", "essential-1", "essential-2", "standard-0", "standard-2", "premium-0"];
const PLANS = ["basic", "standard", "premium", "enterprise"];

/** `list[i]` or `${fallback}-${i + 1}` past its end: real-looking names for the first few. */
function named(list: readonly string[], i: number, fallback: string): string {
  return list[i] ?? `${fallback}-${i + 1}`;
}

function pick(item: Item | null | undefined, ...keys: string[]): Item | null {
  if (!item) return null;
  const out: Item = {};
  for (const k of keys) out[k] = item[k] ?? null;
  return out;
}

function word(list: readonly string[], key: string, seed: number): string {
  return list[hash32(key, seed) % list.length] ?? "x";
}

// -------------------------------------------------------------- relationships

/** The team of app number i (null = personal app). */
function teamOfApp(w: World, i: number): Item | null {
  const teams = w.list("teams");
  const slot = i % (teams.length + 1);
  return slot === 0 ? null : (teams[slot - 1] ?? null);
}

function spaceOfApp(w: World, i: number, team: Item | null): Item | null {
  if (!team || i % 4 !== 1) return null;
  return w.list("spaces").find((s) => (s.team as Item | null)?.id === team.id) ?? null;
}

/** The pipeline app number i is coupled to, and its stage. */
function couplingOfApp(w: World, i: number): { pipeline: Item; stage: string } | null {
  const pipelines = w.list("pipelines");
  if (i % 2 !== 0 || pipelines.length === 0) return null;
  const pipeline = pipelines[(i / 2) % pipelines.length];
  if (!pipeline) return null;
  const stages = ["production", "staging", "development", "review"];
  return { pipeline, stage: stages[Math.floor(i / 2 / pipelines.length) % stages.length] ?? "production" };
}

function servicePlans(w: World, service: Item | undefined): Item[] {
  return service ? w.list("plans", service) : [];
}

function postgresCount(w: World, app: Item): number {
  return w.indexOf(app) < w.opts.postgresApps ? w.opts.postgresPerApp : 0;
}

/**
 * An app's add-on number i: its service (Heroku Postgres for the first
 * `postgresPerApp` on the first `postgresApps` apps, then the other services in
 * turn) and how many add-ons of that service the app has before it. Pure
 * arithmetic on the index, so an add-on and its attachments can be generated
 * independently and in any order.
 */
function addonSlot(w: World, app: Item, i: number): { service: Item | undefined; ordinal: number } {
  const services = w.list("services");
  const pgService = services.find((s) => s.name === PG);
  const pgCount = pgService ? postgresCount(w, app) : 0;
  const others = services.filter((s) => s !== pgService);
  if (i < pgCount || others.length === 0) return { service: pgService, ordinal: i };
  const k = i - pgCount;
  return { service: others[k % others.length], ordinal: Math.floor(k / others.length) };
}

/** Attachment names of an app's add-on i: Postgres gets HEROKU_POSTGRESQL_<COLOR> (+ DATABASE for the first). */
function attachmentNames(w: World, app: Item, i: number): string[] {
  const { service, ordinal } = addonSlot(w, app, i);
  const name = String(service?.name ?? "addon");
  if (name === PG) {
    const color = COLORS[(hash32(String(app.id), 7) + ordinal) % COLORS.length] ?? "ONYX";
    const colored = `HEROKU_POSTGRESQL_${ordinal < COLORS.length ? color : `${color}_${ordinal}`}`;
    return ordinal === 0 ? ["DATABASE", colored] : [colored];
  }
  const base = name.replace(/^heroku-/, "").replace(/[^a-z0-9]+/gi, "_").toUpperCase();
  return [ordinal === 0 ? base : `${base}_${ordinal + 1}`];
}

function attachment(w: World, app: Item, addon: Item, name: string): Item {
  const item = w.gen.item("#/definitions/add-on-attachment", `attachments|${String(addon.id)}|${name}`, { app, "add-on": addon });
  item.name = name;
  item.namespace = null;
  item.web_url = addon.web_url ?? null;
  item.log_input_url = null;
  return item;
}

// -------------------------------------------------------------- stores

const perApp = (def: string, path: string, extra: Partial<StoreSpec> = {}): StoreSpec => ({
  def,
  parent: "apps",
  path,
  bind: (_w, app) => ({ app }),
  ...extra,
});

export const STORES: Record<string, StoreSpec> = {
  // ---------------------------------------------------------- account-level
  account: {
    def: "#/definitions/account",
    count: () => 1,
    keepName: true,
    keys: (a) => [a.id, a.email, "~"],
    bind: () => ({ "identity-provider": null, team: null }),
    fix: (a) => {
      a.suspended_at = null;
      a.delinquent_at = null;
      a.identity_provider = null;
      a.default_organization = null;
      a.default_team = null;
    },
  },
  accountFeatures: { def: "#/definitions/account-feature", path: "/account/features" },
  appTransfers: {
    def: "#/definitions/app-transfer",
    path: "/account/app-transfers",
    bind: (w, _p, i) => ({ account: w.account(), app: w.list("apps")[i % Math.max(1, w.list("apps").length)] }),
    fix: (t, c) => {
      t.recipient = { email: `recipient-${hexFrom(c.key, 6)}@example.com`, id: (t.recipient as Item).id };
      t.state = "pending";
    },
  },
  credits: { def: "#/definitions/credit", path: "/account/credits" },
  invoices: { def: "#/definitions/invoice", path: "/account/invoices", fix: (inv, c) => void (inv.number = c.i + 1) },
  keys: {
    def: "#/definitions/key",
    path: "/account/keys",
    bind: (w) => ({ account: w.account() }),
    fix: (k, c) => void (k.fingerprint = (hexFrom(c.key, 32).match(/../g) ?? []).join(":")),
  },
  oauthAuthorizations: { def: "#/definitions/oauth-authorization", path: "/oauth/authorizations", bind: (w) => ({ account: w.account() }) },
  oauthClients: { def: "#/definitions/oauth-client", path: "/oauth/clients" },

  // ---------------------------------------------------------- platform catalog
  regions: {
    def: "#/definitions/region",
    path: "/regions",
    count: (w) => w.size("/regions", 2),
    keepName: true,
    fix: (r, c) => void (r.name = named(["us", "eu", "virginia", "oregon", "frankfurt", "tokyo", "sydney", "dublin"], c.i, "region")),
  },
  stacks: {
    def: "#/definitions/stack",
    path: "/stacks",
    count: (w) => w.size("/stacks", 3),
    keepName: true,
    fix: (s, c) => {
      s.name = named(["heroku-24", "heroku-22", "container", "heroku-20"], c.i, "stack");
      s.default = c.i === 0;
      s.state = c.i === 3 ? "deprecated" : "public";
    },
  },
  generations: {
    def: "#/definitions/generation",
    path: "/generations",
    count: (w) => w.size("/generations", 2),
    keepName: true,
    fix: (g, c) => void (g.name = named(["cedar", "fir"], c.i, "generation")),
  },
  dynoSizes: {
    def: "#/definitions/dyno-size",
    path: "/dyno-sizes",
    count: (w) => w.size("/dyno-sizes", 4),
    keepName: true,
    fix: (d, c) => void (d.name = named(["eco", "basic", "standard-1X", "standard-2X", "performance-M", "performance-L"], c.i, "size")),
  },
  teamAppPermissions: {
    def: "#/definitions/team-app-permission",
    path: "/teams/permissions",
    count: (w) => w.size("/teams/permissions", 4),
    keepName: true,
    keys: (p) => [p.name],
    fix: (p, c) => {
      p.name = named(["view", "deploy", "operate", "manage"], c.i, "permission");
      p.description = `Can ${String(p.name)} apps`;
    },
  },
  services: {
    def: "#/definitions/add-on-service",
    path: "/addon-services",
    count: (w) => w.size("/addon-services", 4),
    keepName: true,
    fix: (s, c) => {
      const known = SERVICES[c.i];
      s.name = known ? known[0] : `addon-service-${c.i + 1}`;
      s.human_name = known ? known[1] : `Add-on Service ${c.i + 1}`;
      s.cli_plugin_name = null;
    },
  },
  plans: {
    def: "#/definitions/plan",
    parent: "services",
    path: "/addon-services/{add-on-service}/plans",
    keepName: true,
    bind: (_w, service) => ({ "add-on-service": service }),
    fix: (p, c) => {
      const service = String(c.parent?.name);
      const plan = named(service === PG ? PG_PLANS : PLANS, c.i, "plan");
      p.name = `${service}:${plan}`;
      p.human_name = plan;
      p.description = `${String(c.parent?.human_name)} ${plan}`;
      p.default = c.i === 0;
    },
  },
  capabilities: {
    // one per (service, region)
    def: "#/definitions/add-on-region-capability",
    parent: "services",
    count: (w) => w.list("regions").length,
    bind: (w, service, i) => ({ "add-on-service": service, region: w.list("regions")[i] }),
  },

  // ---------------------------------------------------------- organisations
  enterpriseAccounts: {
    def: "#/definitions/enterprise-account",
    path: "/enterprise-accounts",
    count: (w) => w.size("/enterprise-accounts", 1),
    keepName: true,
    fix: (e, c) => void (e.name = `enterprise-${c.i + 1}`),
  },
  teams: {
    def: "#/definitions/team",
    path: "/teams",
    count: (w) => w.size("/teams", 2),
    keepName: true,
    bind: (w, _p, i) => {
      const eas = w.list("enterpriseAccounts");
      return { "enterprise-account": eas.length > 0 ? eas[i % eas.length] : null, "identity-provider": null };
    },
    fix: (t, c) => {
      t.name = `team-${c.i + 1}`;
      t.type = t.enterprise_account ? "enterprise" : "team";
      t.default = false;
    },
  },
  spaces: {
    def: "#/definitions/space",
    path: "/spaces",
    count: (w) => w.size("/spaces", w.list("teams").length),
    keepName: true,
    bind: (w, _p, i) => {
      const teams = w.list("teams");
      return { team: teams.length > 0 ? teams[i % teams.length] : null, region: w.list("regions")[0], generation: w.list("generations")[0] };
    },
    fix: (s, c) => {
      s.name = `space-${c.i + 1}`;
      s.state = "allocated";
    },
  },
  pipelines: {
    def: "#/definitions/pipeline",
    path: "/pipelines",
    count: (w) => w.size("/pipelines", 2),
    keepName: true,
    fix: (p, c) => {
      const teams = c.w.list("teams");
      const team = teams.length > 0 ? teams[c.i % teams.length] : undefined;
      p.name = `pipeline-${c.i + 1}`;
      p.owner = team ? { id: team.id, type: "team" } : { id: c.w.account().id, type: "user" };
      p.generation = pick(c.w.list("generations")[0], "id", "name");
    },
  },

  // ---------------------------------------------------------- apps
  apps: {
    def: "#/definitions/app",
    path: "/apps",
    count: (w) => w.size("/apps", w.opts.apps),
    keepName: true,
    bind: (w, _p, i) => {
      const team = teamOfApp(w, i);
      const stack = w.list("stacks")[0];
      return { account: w.account(), team, space: spaceOfApp(w, i, team), region: w.list("regions")[0], stack };
    },
    fix: (a, c) => {
      const seed = c.w.opts.seed;
      a.name = `${word(ADJECTIVES, `app${c.i}`, seed)}-${word(NOUNS, `app${c.i}`, seed + 1)}-${10000 + c.i}`;
      a.git_url = `https://git.heroku.com/${String(a.name)}.git`;
      a.web_url = `https://${String(a.name)}-${hexFrom(c.key, 12)}.herokuapp.com/`;
      a.generation = pick(c.w.list("generations")[0], "id", "name");
      a.buildpack_provided_description = "Node.js";
      a.acm = false;
      a.internal_routing = a.space ? false : null;
      // /apps can be paged by updated_at, so no two apps share one: a permutation of the
      // seconds of 2025 (Feb-Nov) by index, with created_at up to 30 days earlier.
      const span = 300 * 86_400;
      const updated = YEAR_START + 31 * DAY_MS + ((c.i * 7_919_993 + c.w.opts.seed * 104_729) % span) * 1000;
      a.updated_at = herokuTime(updated);
      a.created_at = herokuTime(updated - c.w.gen.rng(c.key).int(30 * 86_400) * 1000);
      a.released_at = a.updated_at;
    },
  },
  addons: perApp("#/definitions/add-on", "/apps/{app}/addons", {
    count: (w, app) => Math.max(w.size("/apps/{app}/addons", w.opts.perParent), app ? postgresCount(w, app) : 0),
    bind: (w, app, i) => {
      const service = app ? addonSlot(w, app, i).service : undefined;
      return { app, "add-on-service": service, plan: servicePlans(w, service)[0] };
    },
    fix: (a, c) => {
      const app = c.parent as Item;
      const service = String((a.addon_service as Item).name);
      const short = service.replace(/^heroku-/, "");
      a.name = `${short}-${word(ADJECTIVES, c.key, c.w.opts.seed)}-${10000 + c.w.indexOf(app)}${c.i > 0 ? `-${c.i + 1}` : ""}`;
      a.billing_entity = { id: app.id, name: app.name, type: "app" };
      a.state = "provisioned";
      a.actions = [];
      a.provision_message = null;
      a.provider_id = `resource${hexFrom(c.key, 8)}`;
      a.web_url = service === PG
        ? `https://data.heroku.com/datastores/${String(a.id)}`
        : `https://addons-sso.heroku.com/apps/${String(app.id)}/addons/${String(a.id)}`;
      a.config_vars = attachmentNames(c.w, app, c.i).map((n) => `${n}_URL`);
    },
    afterAdd: (addon, bucket, w) => {
      // keep an already generated attachment list in step with the new add-on
      const app = w.parentOf(addon);
      const store = w.store("attachments");
      if (!app || !store.has(app)) return;
      for (const name of attachmentNames(w, app, bucket.length - 1)) store.bucket(app).push(attachment(w, app, addon, name));
    },
  }),
  attachments: {
    // derived: one per add-on (two for an app's primary Postgres: DATABASE and HEROKU_POSTGRESQL_<COLOR>)
    def: "#/definitions/add-on-attachment",
    parent: "apps",
    // add() attaches the app's first add-on once more
    bind: (w, app) => ({ app, "add-on": app ? w.list("addons", app)[0] : undefined }),
    fix: (a, c) => {
      a.name = `ATTACHMENT_${c.i + 1}`;
      a.namespace = null;
    },
    derive: (w, app) => {
      const out: Item[] = [];
      if (!app) return out;
      w.list("addons", app).forEach((addon, i) => {
        for (const name of attachmentNames(w, app, i)) out.push(attachment(w, app, addon, name));
      });
      return out;
    },
  },
  appFeatures: perApp("#/definitions/app-feature", "/apps/{app}/features", {
    keepName: true,
    fix: (f, c) => {
      f.name = named(["runtime-dyno-metadata", "preboot", "http-session-affinity", "log-runtime-metrics", "spaces-dns-discovery"], c.i, "feature");
      f.enabled = c.i % 2 === 0;
    },
  }),
  // Settled, as nearly all deliveries of a real account are (the schema's example is "pending").
  appWebhookDeliveries: perApp("#/definitions/app-webhook-delivery", "/apps/{app}/webhook-deliveries", { fix: (d) => void (d.status = "succeeded") }),
  appWebhookEvents: perApp("#/definitions/app-webhook-event", "/apps/{app}/webhook-events"),
  appWebhooks: perApp("#/definitions/app-webhook/definitions/app_webhook", "/apps/{app}/webhooks", {
    fix: (h, c) => void (h.url = `https://hooks.example.com/${hexFrom(c.key, 10)}`),
  }),
  builds: perApp("#/definitions/build", "/apps/{app}/builds", {
    ordered: true,
    bind: (w, app) => ({ app, account: w.account() }),
    fix: (b, c) => {
      const app = c.parent as Item;
      b.stack = (app.stack as Item | null)?.name ?? "heroku-24";
      b.status = "succeeded";
      b.source_blob = { ...(b.source_blob as Item), version: hexFrom(c.key, 40), checksum: `SHA256:${hexFrom(`${c.key}|sum`, 64)}` };
    },
    // A build that succeeded is released.
    afterAdd: (b, _bucket, w) => {
      const app = w.parentOf(b);
      if (app && b.status === "succeeded") w.store("releases").add(app);
    },
  }),
  buildpackInstallations: perApp("#/definitions/buildpack-installation", "/apps/{app}/buildpack-installations", {
    keys: (b) => [b.ordinal],
    fix: (b, c) => {
      const name = named(["heroku/nodejs", "heroku/python", "heroku/ruby", "heroku/go", "heroku/java"], c.i, "heroku/buildpack");
      b.ordinal = c.i;
      b.buildpack = { url: name, name };
    },
  }),
  collaborators: perApp("#/definitions/collaborator", "/apps/{app}/collaborators", { fix: (x) => void (x.role = "collaborator") }),
  teamAppCollaborators: perApp("#/definitions/team-app-collaborator", "/teams/apps/{team-app}/collaborators", { fix: (x) => void (x.role = "member") }),
  domains: perApp("#/definitions/domain", "/apps/{app}/domains", {
    bind: (_w, app) => ({ app, "sni-endpoint": null }),
    fix: (d, c) => {
      const app = String((c.parent as Item).name);
      d.hostname = c.i === 0 ? `${app}.herokuapp.com` : `www${c.i}.${app}.example.com`;
      d.kind = c.i === 0 ? "heroku" : "custom";
      d.cname = c.i === 0 ? null : `${hexFrom(c.key, 8)}.herokudns.com`;
      d.status = "succeeded";
      d.acm_status = null;
      d.acm_status_reason = null;
    },
  }),
  dynos: perApp("#/definitions/dyno", "/apps/{app}/dynos", {
    keepName: true,
    fix: (d, c) => {
      const type = c.i % 2 === 0 ? "web" : "worker";
      d.type = type;
      d.name = `${type}.${Math.floor(c.i / 2) + 1}`;
      d.command = type === "web" ? "npm start" : "node worker.js";
      d.attach_url = null;
      d.size = "Basic";
    },
  }),
  formation: perApp("#/definitions/formation", "/apps/{app}/formation", {
    fix: (f, c) => {
      f.type = named(["web", "worker", "clock", "release", "urgentworker"], c.i, "process");
      f.quantity = c.i === 0 ? 2 : 1;
    },
  }),
  appLogDrains: perApp("#/definitions/log-drain", "/apps/{app}/log-drains", {
    bind: (_w, app) => ({ app, "add-on": null }),
    fix: (d, c) => {
      d.url = `syslog+tls://logs${c.i + 1}.example.com:6514`;
      d.token = `d.${String(d.id)}`;
    },
  }),
  releases: perApp("#/definitions/release", "/apps/{app}/releases", {
    ordered: true,
    keys: (r) => [r.id],
    bind: (w, app) => ({ app, account: w.account() }),
    fix: (r, c) => {
      r.version = c.i + 1;
      r.current = c.i === c.n - 1;
      r.status = "succeeded";
      r.description = c.i === 0 ? "Initial release" : c.i % 3 === 0 ? "Set config vars" : `Deploy ${hexFrom(c.key, 8)}`;
      r.addon_plan_names = [];
    },
    afterAdd: (r, bucket, w) => {
      for (const other of bucket) if (other !== r) other.current = false;
      // The app was released, and the release restarted its dynos.
      const app = w.parentOf(r);
      if (!app) return;
      app.released_at = r.created_at;
      for (const d of w.list("dynos", app)) {
        d.created_at = r.created_at;
        d.updated_at = r.created_at;
        d.release = { id: r.id, version: r.version };
      }
    },
  }),
  sniEndpoints: perApp("#/definitions/sni-endpoint", "/apps/{app}/sni-endpoints"),
  appTelemetryDrains: perApp("#/definitions/telemetry-drain", "/apps/{app}/telemetry-drains", {
    fix: (d, c) => void (d.owner = { id: (c.parent as Item).id, type: "app" }),
  }),
  couplings: {
    // 0 or 1 per app: even apps are in a pipeline
    def: "#/definitions/pipeline-coupling",
    parent: "apps",
    derive: (w, app) => {
      const coupling = app ? couplingOfApp(w, w.indexOf(app)) : null;
      if (!app || !coupling) return [];
      const c = w.gen.item("#/definitions/pipeline-coupling", `couplings|${String(app.id)}`, { app, pipeline: coupling.pipeline });
      c.stage = coupling.stage;
      return [c];
    },
  },

  // ---------------------------------------------------------- per add-on
  addonConfig: {
    def: "#/definitions/add-on-config",
    parent: "addons",
    path: "/addons/{add-on}/config",
    keepName: true,
    keys: (x) => [x.name],
    fix: (x, c) => {
      x.name = named(["plan", "version", "region"], c.i, "setting");
      x.value = c.i === 1 ? "16" : `${String(x.name)}-${hexFrom(c.key, 4)}`;
    },
  },
  addonWebhookDeliveries: {
    def: "#/definitions/app-webhook-delivery",
    parent: "addons",
    path: "/addons/{add-on}/webhook-deliveries",
    fix: (d) => void (d.status = "succeeded"),
  },
  addonWebhookEvents: { def: "#/definitions/app-webhook-event", parent: "addons", path: "/addons/{add-on}/webhook-events" },
  addonWebhooks: {
    def: "#/definitions/add-on-webhook/definitions/addon_webhook",
    parent: "addons",
    path: "/addons/{add-on}/webhooks",
    bind: (_w, addon) => ({ "add-on": addon }),
  },
  addonLogDrains: {
    def: "#/definitions/log-drain",
    parent: "addons",
    path: "/addons/{add-on}/log-drains",
    bind: (w, addon) => ({ "add-on": addon, app: addon ? w.parentOf(addon) : null }),
    fix: (d) => void (d.token = `d.${String(d.id)}`),
  },

  // ---------------------------------------------------------- per team
  allowedAddonServices: {
    def: "#/definitions/allowed-add-on-service",
    parent: "teams",
    path: "/teams/{team}/allowed-addon-services",
    bind: (w, _team, i) => {
      const services = w.list("services");
      return { "add-on-service": services[i % Math.max(1, services.length)], account: w.account() };
    },
  },
  identityProviders: {
    def: "#/definitions/identity-provider",
    parent: "teams",
    path: "/teams/{team}/identity-providers",
    bind: (_w, team) => ({ team }),
    fix: (p, c) => void (p.owner = { id: c.parent?.id, name: c.parent?.name, type: "team" }),
  },
  permissionEntities: {
    def: "#/definitions/permission-entity",
    parent: "teams",
    path: "/teams/{team}/permissions",
    bind: (_w, team) => ({ team }),
    fix: (p) => void (p.type = "app"),
  },
  teamFeatures: { def: "#/definitions/team-feature", parent: "teams", path: "/teams/{team}/features" },
  invitations: { def: "#/definitions/team-invitation", parent: "teams", path: "/teams/{team}/invitations", bind: (_w, team) => ({ team }) },
  teamInvoices: { def: "#/definitions/team-invoice", parent: "teams", path: "/teams/{team}/invoices", fix: (inv, c) => void (inv.number = c.i + 1) },
  members: {
    def: "#/definitions/team-member",
    parent: "teams",
    path: "/teams/{team}/members",
    keys: (m) => [m.id, m.email],
    bind: () => ({ "identity-provider": null }),
    fix: (m, c) => {
      m.email = `member-${c.i + 1}-${hexFrom(c.key, 4)}@example.com`;
      m.user = { ...(m.user as Item), email: m.email };
      m.role = ["admin", "member", "viewer", "collaborator"][c.i % 4];
      m.identity_provider = null;
    },
  },

  // ---------------------------------------------------------- per space
  inboundRulesets: { def: "#/definitions/inbound-ruleset", parent: "spaces", path: "/spaces/{space}/inbound-rulesets", bind: (_w, space) => ({ space }) },
  peerings: {
    def: "#/definitions/peering",
    parent: "spaces",
    path: "/spaces/{space}/peerings",
    keys: (p) => [p.pcx_id],
    fix: (p, c) => void (p.pcx_id = `pcx-${hexFrom(c.key, 12)}`),
  },
  spaceMembers: {
    def: "#/definitions/space-app-access",
    parent: "spaces",
    path: "/spaces/{space}/members",
    fix: (m, c) => void (m.space = pick(c.parent, "id", "name")),
  },
  spaceTelemetryDrains: {
    def: "#/definitions/telemetry-drain",
    parent: "spaces",
    path: "/spaces/{space}/telemetry-drains",
    fix: (d, c) => void (d.owner = { id: c.parent?.id, type: "space" }),
  },
  vpnConnections: {
    def: "#/definitions/vpn-connection",
    parent: "spaces",
    path: "/spaces/{space}/vpn-connections",
    // the schema's example id is one constant; real VPN ids are unique
    fix: (v, c) => void (v.id = hexFrom(c.key, 12)),
  },

  // ---------------------------------------------------------- per pipeline
  reviewApps: {
    def: "#/definitions/review-app",
    parent: "pipelines",
    path: "/pipelines/{pipeline}/review-apps",
    bind: (_w, pipeline) => ({ pipeline }),
    fix: (r, c) => {
      r.pr_number = c.i + 1;
      r.branch = `feature-${c.i + 1}`;
      r.status = "created";
    },
  },
  testRuns: {
    def: "#/definitions/test-run",
    parent: "pipelines",
    path: "/pipelines/{pipeline}/test-runs",
    ordered: true,
    keys: (t) => [t.id],
    bind: (w, pipeline) => ({ pipeline, account: w.account() }),
    fix: (t, c) => {
      t.number = c.i + 1;
      t.status = "succeeded";
      t.commit_sha = hexFrom(c.key, 40);
      t.commit_branch = "main";
      t.commit_message = `Commit ${c.i + 1}`;
      t.actor_email = (c.w.account().email as string) ?? t.actor_email;
      const owner = c.parent?.owner as Item | undefined;
      const team = owner?.type === "team" ? c.w.store("teams").find(String(owner.id)) : undefined;
      t.organization = team ? { name: team.name } : null;
    },
  },
  promotions: {
    // no list endpoint of their own; they parent /pipeline-promotions/{id}/promotion-targets
    def: "#/definitions/pipeline-promotion",
    parent: "pipelines",
    path: "/pipelines/{pipeline}/promotions",
    keys: (p) => [p.id],
    bind: (_w, pipeline) => ({ pipeline }),
  },
  promotionTargets: {
    def: "#/definitions/pipeline-promotion-target",
    parent: "promotions",
    path: "/pipeline-promotions/{pipeline-promotion}/promotion-targets",
    bind: (_w, promotion) => ({ "pipeline-promotion": promotion }),
    fix: (t) => {
      t.status = "succeeded";
      t.error_message = null;
    },
  },
  testCases: {
    def: "#/definitions/test-case",
    parent: "testRuns",
    path: "/test-runs/{test-run}/test-cases",
    bind: (w, run) => ({ "test-run": run, "test-node": run ? w.list("testNodes", run)[0] : undefined }),
    fix: (t, c) => {
      t.number = c.i + 1;
      t.passed = true;
    },
  },
  testNodes: {
    def: "#/definitions/test-node",
    parent: "testRuns",
    path: "/test-runs/{test-run}/test-nodes",
    bind: (w, run) => ({ "test-run": run, pipeline: run ? w.parentOf(run) : null }),
    fix: (t, c) => {
      t.index = c.i;
      t.status = "succeeded";
      t.exit_code = 0;
    },
  },

  // ---------------------------------------------------------- per enterprise account
  archives: {
    def: "#/definitions/archive",
    parent: "enterpriseAccounts",
    path: "/enterprise-accounts/{enterprise-account}/archives",
    keys: (a) => [`${String(a.year)}-${String(a.month)}`],
    fix: (a, c) => {
      // one per month, going back from December 2025
      const month = new Date(Date.UTC(2025, 11 - c.i, 1));
      a.year = month.getUTCFullYear();
      a.month = String(month.getUTCMonth() + 1).padStart(2, "0");
      a.created_at = herokuTime(Date.UTC(a.year as number, month.getUTCMonth() + 1, 1, 3));
      a.url = `https://archives.example.com/${String(c.parent?.id)}/${String(a.year)}-${String(a.month)}.json.gz`;
      a.checksum = hexFrom(c.key, 64);
    },
  },
  auditEvents: {
    def: "#/definitions/audit-trail-event",
    parent: "enterpriseAccounts",
    path: "/enterprise-accounts/{enterprise-account}/events",
    fix: (e, c) => {
      const account = c.w.account();
      const apps = c.w.list("apps");
      const app = apps[c.i % Math.max(1, apps.length)];
      e.type = "app";
      e.action = ["create", "update", "destroy"][c.i % 3];
      e.actor = { id: account.id, email: account.email };
      e.owner = { id: account.id, email: account.email };
      e.app = app ? { id: app.id, name: app.name } : null;
      e.enterprise_account = pick(c.parent, "id", "name");
      e.created_at = herokuTime(timeIn2025(c.w.gen.rng(c.key).next()));
    },
  },
  eaMembers: {
    def: "#/definitions/enterprise-account-member",
    parent: "enterpriseAccounts",
    path: "/enterprise-accounts/{enterprise-account}/members",
    bind: (_w, ea) => ({ "enterprise-account": ea }),
    fix: (m) => void (m.identity_provider = null),
  },
};

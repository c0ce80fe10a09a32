// The served endpoints: every GET list endpoint of list-endpoints.json (bar
// the token lookup `/teams/invitations/{team-invitation}`, which is not a
// list), plus `GET /account`, `GET /apps/{app}/config-vars`, the single
// objects of a parent the snapshot streams read (OBJECTS) and an app's
// available dyno sizes.
//
// Each list endpoint says how to compute its items from the world's stores
// (a parent's bucket, every bucket, or a filtered / reshaped view), which
// store backs it (for touch/add), and whether it needs the "global" OAuth
// scope. Path parameters are resolved like Heroku's schema says: an
// `identity` placeholder accepts the id or the name (email for users and team
// members, `~` for the current user); an `id` or `name` placeholder only that.

import { DAY_MS } from "./data.ts";
import type { Item } from "./data.ts";
import type { Value } from "./range.ts";
import type { ListEndpoint } from "./source.ts";
import type { World } from "./world.ts";

/** An error response a route decides on (404 parent, 422 params, ...). */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
  ) {
    super(message);
  }
}

export type Params = Record<string, Item>;
type ListFn = (w: World, p: Params, q: URLSearchParams) => Item[];

interface Impl {
  list: ListFn;
  /** store that holds the objects (touch/add go there) */
  store?: string;
  /** needs the "global" scope */
  global?: boolean;
}

export interface Placeholder {
  /** the resource named in the template, e.g. "app", "team-member" */
  resource: string;
  /** attributes a value may match: id, name, email, self ("~") */
  fields: string[];
}

export interface Route {
  template: string;
  segments: (string | Placeholder)[];
  kind: "list" | "object";
  endpoint: ListEndpoint | undefined;
  impl: Impl;
  /** advertised in Accept-Ranges */
  rangeFields: string[];
  /** primary key fields (without the parent part); the value of "id" when items have no unique id */
  pk: string[];
  /** object endpoints: the body */
  object?: (w: World, p: Params) => unknown;
  /** needs "global" or "read-protected"/"write-protected" (config vars) */
  protectedScope?: boolean;
}

// ---------------------------------------------------------------- helpers

const bucket = (store: string, param: string, global = false): Impl => ({ store, global, list: (w, p) => w.list(store, p[param] ?? null) });
const root = (store: string, global = false): Impl => ({ store, global, list: (w) => w.list(store) });
const every = (store: string): Impl => ({ store, list: (w) => w.all(store) });

function ref(item: unknown): Item | undefined {
  return item && typeof item === "object" ? (item as Item) : undefined;
}

function teamApps(w: World, team: Item | undefined): Item[] {
  return w.all("apps").filter((a) => ref(a.team)?.id === team?.id);
}

function pipelineApps(w: World, pipeline: Item | undefined): Item[] {
  const out: Item[] = [];
  for (const c of w.all("couplings")) {
    if (ref(c.pipeline)?.id !== pipeline?.id) continue;
    const app = w.store("apps").find(String(ref(c.app)?.id));
    if (app) out.push(app);
  }
  return out;
}

function latest(items: Item[]): Item | undefined {
  let best: Item | undefined;
  for (const it of items) if (!best || String(it.created_at) > String(best.created_at)) best = it;
  return best;
}

function teamAppsAsTeamApp(w: World, team: Item | undefined): Item[] {
  return teamApps(w, team).map((app) => w.gen.project("#/definitions/team-app", app, `teamApp|${String(app.id)}`, { app, team }));
}

// ---------------------------------------------------------------- usage

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MONTH = /^\d{4}-\d{2}$/;
const MAX_DAYS = 400;
const MAX_MONTHS = 120;

/**
 * Usage rows (team or enterprise account, daily or monthly) for the `start`..`end`
 * query window, computed on request. `start` is required (422 without it), like Heroku.
 */
function usage(kind: "team" | "enterprise-account", period: "daily" | "monthly"): Impl {
  const def = `#/definitions/${kind}-${period}-usage`;
  return {
    list: (w, p, q) => {
      const owner = p[kind];
      if (!owner) return [];
      const start = q.get("start");
      const pattern = period === "daily" ? DATE : MONTH;
      if (start === null || start === "") throw new HttpProblem(422, "invalid_params", "Missing required params: start.");
      const today = w.now().toISOString().slice(0, period === "daily" ? 10 : 7);
      const end = q.get("end") || today;
      if (!pattern.test(start) || !pattern.test(end)) {
        throw new HttpProblem(422, "invalid_params", `start and end must be formatted as ${period === "daily" ? "YYYY-MM-DD" : "YYYY-MM"}.`);
      }
      const keys = period === "daily" ? days(start, end) : months(start, end);
      if (keys.length > (period === "daily" ? (w.opts.usageMaxDays ?? MAX_DAYS) : MAX_MONTHS)) {
        throw new HttpProblem(422, "invalid_params", "The requested usage range is too large.");
      }
      const members = kind === "team" ? teamApps(w, owner).slice(0, 3) : w.all("teams").filter((t) => ref(t.enterprise_account)?.id === owner.id);
      return keys.map((k) => {
        const key = `usage|${String(owner.id)}|${k}`;
        const row = w.gen.item(def, key, {});
        const rng = w.gen.rng(key);
        const money = () => Math.round(rng.next() * 100_000) / 1000;
        for (const f of ["addons", "data", "dynos", "partner", "space", "connect"]) if (f in row) row[f] = money();
        row.id = owner.id;
        row.name = owner.name;
        row[period === "daily" ? "date" : "month"] = k;
        const nested = kind === "team" ? "apps" : "teams";
        const template = ref((row[nested] as unknown[] | undefined)?.[0]) ?? {};
        row[nested] = members.map((m) => {
          const out: Item = { ...template };
          for (const f of Object.keys(out)) if (typeof out[f] === "number") out[f] = money();
          if (kind === "team") out.app_name = m.name;
          else Object.assign(out, { id: m.id, name: m.name });
          return out;
        });
        return row;
      });
    },
  };
}

function days(start: string, end: string): string[] {
  const out: string[] = [];
  const a = Date.parse(`${start}T00:00:00Z`);
  const b = Date.parse(`${end}T00:00:00Z`);
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw new HttpProblem(422, "invalid_params", "Invalid date.");
  for (let t = a; t <= b && out.length <= MAX_DAYS; t += DAY_MS) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

function months(start: string, end: string): string[] {
  const out: string[] = [];
  let [y, m] = start.split("-").map(Number) as [number, number];
  const [ey, em] = end.split("-").map(Number) as [number, number];
  if (m < 1 || m > 12 || em < 1 || em > 12) throw new HttpProblem(422, "invalid_params", "Invalid month.");
  while ((y < ey || (y === ey && m <= em)) && out.length <= MAX_MONTHS) {
    out.push(`${y}-${String(m).padStart(2, "0")}`);
    m++;
    if (m > 12) {
      m = 1;
      y++;
    }
  }
  return out;
}

// ---------------------------------------------------------------- the table

const IMPLS: Record<string, Impl> = {
  "/account/features": root("accountFeatures"),
  "/account/app-transfers": root("appTransfers"),
  "/account/credits": root("credits", true),
  "/account/invoices": root("invoices", true),
  "/account/keys": root("keys", true),
  "/oauth/authorizations": root("oauthAuthorizations", true),
  "/oauth/clients": root("oauthClients", true),

  "/regions": root("regions"),
  "/stacks": root("stacks"),
  "/generations": root("generations"),
  "/dyno-sizes": root("dynoSizes"),
  "/teams/permissions": root("teamAppPermissions"),
  "/addon-services": root("services"),
  "/addon-services/{add-on-service}/plans": bucket("plans", "add-on-service"),
  "/addon-region-capabilities": every("capabilities"),
  "/addon-services/{add-on-service}/region-capabilities": bucket("capabilities", "add-on-service"),
  "/regions/{region}/addon-region-capabilities": {
    store: "capabilities",
    list: (w, p) => w.all("capabilities").filter((c) => ref(c.region)?.id === p.region?.id),
  },

  "/apps": root("apps"),
  "/users/{account}/apps": root("apps"),
  "/apps/{app}/available-stacks": root("stacks"),
  "/apps/{app}/addons": bucket("addons", "app"),
  "/addons": every("addons"),
  "/users/{account}/addons": every("addons"),
  "/apps/{app}/addon-attachments": bucket("attachments", "app"),
  "/addon-attachments": every("attachments"),
  "/addons/{add-on}/addon-attachments": {
    store: "attachments",
    list: (w, p) => {
      const addon = p["add-on"];
      const app = addon ? w.parentOf(addon) : null;
      return app ? w.list("attachments", app).filter((a) => ref(a.addon)?.id === addon?.id) : [];
    },
  },
  "/apps/{app}/features": bucket("appFeatures", "app"),
  "/apps/{app}/webhook-deliveries": bucket("appWebhookDeliveries", "app", true),
  "/apps/{app}/webhook-events": bucket("appWebhookEvents", "app", true),
  "/apps/{app}/webhooks": bucket("appWebhooks", "app", true),
  "/apps/{app}/builds": bucket("builds", "app"),
  "/apps/{app}/buildpack-installations": bucket("buildpackInstallations", "app"),
  "/apps/{app}/collaborators": bucket("collaborators", "app"),
  "/teams/apps/{team-app}/collaborators": bucket("teamAppCollaborators", "team-app"),
  "/apps/{app}/domains": bucket("domains", "app"),
  "/apps/{app}/dynos": bucket("dynos", "app"),
  "/apps/{app}/formation": bucket("formation", "app"),
  "/apps/{app}/log-drains": bucket("appLogDrains", "app"),
  "/apps/{app}/releases": bucket("releases", "app"),
  "/apps/{app}/sni-endpoints": bucket("sniEndpoints", "app"),
  "/apps/{app}/telemetry-drains": bucket("appTelemetryDrains", "app"),

  "/addons/{add-on}/config": bucket("addonConfig", "add-on"),
  "/addons/{add-on}/webhook-deliveries": bucket("addonWebhookDeliveries", "add-on"),
  "/addons/{add-on}/webhook-events": bucket("addonWebhookEvents", "add-on"),
  "/addons/{add-on}/webhooks": bucket("addonWebhooks", "add-on"),
  "/addons/{add-on}/log-drains": bucket("addonLogDrains", "add-on"),

  "/teams": root("teams"),
  "/enterprise-accounts/{enterprise-account}/teams": {
    store: "teams",
    list: (w, p) => w.list("teams").filter((t) => ref(t.enterprise_account)?.id === p["enterprise-account"]?.id),
  },
  "/teams/{team}/apps": { store: "apps", list: (w, p) => teamAppsAsTeamApp(w, p.team) },
  "/teams/{team}/members/{team-member}/apps": { store: "apps", list: (w, p) => teamAppsAsTeamApp(w, p.team) },
  "/teams/{team}/addons": { store: "addons", list: (w, p) => teamApps(w, p.team).flatMap((a) => w.list("addons", a)) },
  "/teams/{team}/allowed-addon-services": bucket("allowedAddonServices", "team"),
  "/teams/{team}/available-generations": root("generations"),
  "/teams/{team}/identity-providers": bucket("identityProviders", "team"),
  "/teams/{team}/permissions": bucket("permissionEntities", "team", true),
  "/teams/{team}/features": bucket("teamFeatures", "team", true),
  "/teams/{team}/invitations": bucket("invitations", "team", true),
  "/teams/{team}/invoices": bucket("teamInvoices", "team", true),
  "/teams/{team}/members": bucket("members", "team", true),
  "/teams/{team}/spaces": { store: "spaces", global: true, list: (w, p) => w.list("spaces").filter((s) => ref(s.team)?.id === p.team?.id) },
  "/teams/{team}/pipeline-couplings": { store: "couplings", list: (w, p) => teamApps(w, p.team).flatMap((a) => w.list("couplings", a)) },
  "/teams/{team}/usage/daily": usage("team", "daily"),
  "/teams/{team}/usage/monthly": usage("team", "monthly"),

  "/spaces": root("spaces"),
  "/spaces/{space}/inbound-rulesets": bucket("inboundRulesets", "space"),
  "/spaces/{space}/peerings": bucket("peerings", "space"),
  "/spaces/{space}/members": bucket("spaceMembers", "space"),
  "/spaces/{space}/telemetry-drains": bucket("spaceTelemetryDrains", "space"),
  "/spaces/{space}/vpn-connections": bucket("vpnConnections", "space"),

  "/pipelines": root("pipelines"),
  "/pipeline-couplings": every("couplings"),
  "/users/~/pipeline-couplings": every("couplings"),
  "/pipelines/{pipeline}/pipeline-couplings": {
    store: "couplings",
    list: (w, p) => w.all("couplings").filter((c) => ref(c.pipeline)?.id === p.pipeline?.id),
  },
  // latest build / release of each app in the pipeline
  "/pipelines/{pipeline}/latest-builds": {
    store: "builds",
    list: (w, p) =>
      pipelineApps(w, p.pipeline).flatMap((app) => {
        const b = latest(w.list("builds", app));
        return b ? [w.gen.project("#/definitions/pipeline-build", b, `pipelineBuild|${String(b.id)}`, { app })] : [];
      }),
  },
  "/pipelines/{pipeline}/latest-releases": {
    store: "releases",
    list: (w, p) =>
      pipelineApps(w, p.pipeline).flatMap((app): Item[] => {
        const r = latest(w.list("releases", app));
        return r ? [r] : [];
      }),
  },
  "/pipelines/{pipeline}/latest-deployments": {
    store: "releases",
    list: (w, p) =>
      pipelineApps(w, p.pipeline).flatMap((app): Item[] => {
        const r = latest(w.list("releases", app));
        return r ? [r] : [];
      }),
  },
  "/pipelines/{pipeline}/review-apps": bucket("reviewApps", "pipeline"),
  "/pipelines/{pipeline}/test-runs": bucket("testRuns", "pipeline"),
  "/test-runs/{test-run}/test-cases": bucket("testCases", "test-run"),
  "/test-runs/{test-run}/test-nodes": bucket("testNodes", "test-run"),
  "/pipeline-promotions/{pipeline-promotion}/promotion-targets": bucket("promotionTargets", "pipeline-promotion"),

  "/enterprise-accounts": root("enterpriseAccounts"),
  "/enterprise-accounts/{enterprise-account}/archives": bucket("archives", "enterprise-account"),
  "/enterprise-accounts/{enterprise-account}/events": bucket("auditEvents", "enterprise-account"),
  "/enterprise-accounts/{enterprise-account}/members": bucket("eaMembers", "enterprise-account"),
  "/enterprise-accounts/{enterprise-account}/usage/daily": usage("enterprise-account", "daily"),
  "/enterprise-accounts/{enterprise-account}/usage/monthly": usage("enterprise-account", "monthly"),
};

/**
 * Single objects (the snapshot streams), generated from the schema per parent;
 * undefined answers 404 as Heroku does when the parent has none.
 */
const OBJECTS: Record<string, { get: (w: World, p: Params) => Item | undefined; global?: boolean; missing?: string }> = {
  "/account/delinquency": { get: (w) => w.gen.item("#/definitions/account-delinquency", "delinquency|account") },
  "/account/invoice-address": { get: (w) => w.gen.item("#/definitions/invoice-address", "invoice-address|account"), global: true },
  "/account/rate-limits": { get: (w) => w.gen.item("#/definitions/rate-limit", "rate-limit|account") },
  "/users/~/preferences": { get: (w) => w.gen.item("#/definitions/user-preferences", "preferences|account") },
  "/spaces/{space}/nat": { get: (w, p) => w.gen.item("#/definitions/space-nat", `nat|${String(p.space?.id)}`) },
  "/spaces/{space}/topology": { get: (w, p) => w.gen.item("#/definitions/space-topology", `topology|${String(p.space?.id)}`) },
  "/spaces/{space}/peering-info": { get: (w, p) => w.gen.item("#/definitions/peering-info", `peering-info|${String(p.space?.id)}`) },
  // the ruleset in force: the newest of the space's rulesets
  "/spaces/{space}/inbound-ruleset": { get: (w, p) => latest(w.list("inboundRulesets", p.space ?? null)), missing: "Couldn't find that inbound ruleset." },
  "/teams/{team}/delinquency": { get: (w, p) => w.gen.item("#/definitions/team-delinquency", `delinquency|${String(p.team?.id)}`) },
  "/teams/{team-preferences}/preferences": { get: (w, p) => w.gen.item("#/definitions/team-preferences", `preferences|${String(p["team-preferences"]?.id)}`) },
  "/pipelines/{pipeline}/pipeline-stack": { get: (w, p) => w.gen.item("#/definitions/pipeline-stack", `stack|${String(p.pipeline?.id)}`) },
  // only a pipeline with review apps has a review-app config
  "/pipelines/{pipeline}/review-app-config": {
    get: (w, p) =>
      w.list("reviewApps", p.pipeline ?? null).length === 0
        ? undefined
        : { ...w.gen.item("#/definitions/review-app-config", `review-app-config|${String(p.pipeline?.id)}`), pipeline_id: p.pipeline?.id },
    missing: "Review apps are not enabled for this pipeline.",
  },
};

/** Stage config vars of a pipeline: set where the stage is used (CI test runs, review apps), else none. */
function stageConfigVars(w: World, pipeline: Item | undefined, stage: string): Record<string, string> {
  const used = w.list(stage === "test" ? "testRuns" : "reviewApps", pipeline ?? null).length > 0;
  if (!used || !pipeline) return {};
  const secret = (n: number) => w.gen.rng(`stage|${String(pipeline.id)}|${stage}|${n}`).next().toString(36).slice(2, 14);
  return stage === "test"
    ? { CI_API_TOKEN: `ci_${secret(1)}${secret(2)}`, DATABASE_URL: `postgres://ci:pw${secret(3)}@127.0.0.1:9/ci` }
    : { REVIEW_SECRET_KEY: `rk_${secret(4)}${secret(5)}` };
}

/** Where a path parameter is looked up, and the noun of its 404 message. */
const PARENTS: Record<string, { store: string; noun: string; within?: string }> = {
  app: { store: "apps", noun: "app" },
  "team-app": { store: "apps", noun: "app" },
  account: { store: "account", noun: "user" },
  "add-on": { store: "addons", noun: "add-on" },
  "add-on-service": { store: "services", noun: "add-on service" },
  region: { store: "regions", noun: "region" },
  team: { store: "teams", noun: "team" },
  "team-preferences": { store: "teams", noun: "team" },
  space: { store: "spaces", noun: "space" },
  pipeline: { store: "pipelines", noun: "pipeline" },
  "enterprise-account": { store: "enterpriseAccounts", noun: "enterprise account" },
  "test-run": { store: "testRuns", noun: "test run" },
  "pipeline-promotion": { store: "promotions", noun: "pipeline promotion" },
  "team-member": { store: "members", noun: "team member", within: "team" },
};

/** Templates the simulator does not serve (not lists). */
const SKIPPED = new Set(["/teams/invitations/{team-invitation}"]);

// ---------------------------------------------------------------- building routes

/** Attribute names an `identity` placeholder accepts, from the schema's identity definition. */
function identityFields(w: World, resource: string): string[] {
  try {
    let node = w.gen.resolve(`#/definitions/${resource}/definitions/identity`);
    // an identity that is another resource's (team-preferences: the team's)
    while (typeof node.$ref === "string" && node.$ref.endsWith("/identity")) node = w.gen.resolve(node.$ref);
    const refs = [...(node.anyOf ?? node.oneOf ?? []), node].map((n) => n.$ref).filter((r): r is string => typeof r === "string");
    const fields = refs.map((r) => r.split("/").pop() ?? "");
    return fields.length > 0 ? fields : ["id", "name"];
  } catch {
    return ["id", "name"];
  }
}

function rangeFieldsOf(e: ListEndpoint, pk: string[]): string[] {
  const cli = e.range_attributes_seen_in_heroku_cli?.split(/\s+/)[0];
  const fields = [...(e.range_attributes_in_schema ?? []), ...(e.range_attributes_devcenter_2014 ?? []), ...(cli ? [cli] : [])];
  if (e.has_id && pk.length === 1 && pk[0] === "id") fields.unshift("id");
  else fields.push(...pk.filter((f) => f !== "id"));
  return [...new Set(fields)];
}

function compile(template: string, w: World, e?: ListEndpoint): (string | Placeholder)[] {
  return template
    .split("/")
    .filter((s) => s !== "")
    .map((seg) => {
      const m = /^\{(.+)\}$/.exec(seg);
      if (!m) return seg;
      const resource = m[1] ?? "";
      const ph = e?.parent_placeholders.find((x) => x.resource === resource);
      const attribute = ph?.attribute ?? "identity";
      return { resource, fields: attribute === "identity" ? identityFields(w, resource) : [attribute] };
    });
}

export function buildRoutes(w: World, endpoints: ListEndpoint[]): Route[] {
  const routes: Route[] = [];
  const seen = new Set<string>();
  for (const e of endpoints) {
    const template = e.href_readable;
    if (SKIPPED.has(template) || seen.has(template)) continue; // /teams/{team}/addons is listed twice
    seen.add(template);
    const impl = IMPLS[template];
    if (!impl) throw new Error(`simulator: no implementation for ${template}`);
    const pk = e.primary_key_suggestion.filter((f) => !f.startsWith("<"));
    routes.push({ template, segments: compile(template, w, e), kind: "list", endpoint: e, impl, pk, rangeFields: rangeFieldsOf(e, pk) });
  }
  routes.push({
    template: "/account",
    segments: ["account"],
    kind: "object",
    endpoint: undefined,
    impl: { store: "account", list: (x) => x.list("account") },
    pk: ["id"],
    rangeFields: [],
    object: (x) => x.account(),
  });
  routes.push({
    template: "/apps/{app}/config-vars",
    segments: compile("/apps/{app}/config-vars", w),
    kind: "object",
    endpoint: undefined,
    // count() and items(): the names, one item each (what the config_vars stream emits)
    impl: { list: (x, p) => (p.app ? Object.keys(x.configVars(p.app)).map((name) => ({ name })) : []) },
    pk: [],
    rangeFields: [],
    protectedScope: true,
    object: (x, p) => (p.app ? x.configVars(p.app) : {}),
  });
  // A pipeline's stage config vars (Heroku CI: test, review apps: review): secrets, like the app's.
  for (const stage of ["test", "review"]) {
    const template = `/pipelines/{pipeline}/stage/${stage}/config-vars`;
    routes.push({
      template,
      segments: compile(template, w),
      kind: "object",
      endpoint: undefined,
      impl: { list: (x, p) => Object.keys(stageConfigVars(x, p.pipeline, stage)).map((name) => ({ name })) },
      pk: [],
      rangeFields: [],
      protectedScope: true,
      object: (x, p) => stageConfigVars(x, p.pipeline, stage),
    });
  }
  for (const [template, o] of Object.entries(OBJECTS)) {
    const object = (x: World, p: Params) => {
      const found = o.get(x, p);
      if (found === undefined) throw new HttpProblem(404, "not_found", o.missing ?? "Couldn't find that object.");
      return found;
    };
    routes.push({
      template,
      segments: compile(template, w),
      kind: "object",
      endpoint: undefined,
      // a list of the one object (or none), so count() and items() work as for lists
      impl: {
        global: o.global,
        list: (x, p) => {
          const found = o.get(x, p);
          return found === undefined ? [] : [found];
        },
      },
      pk: [],
      rangeFields: [],
      object,
    });
  }
  // The app's available dyno sizes: a list with rel "available-app-dynos", not in list-endpoints.json.
  routes.push({
    template: "/apps/{app}/available-dyno-sizes",
    segments: compile("/apps/{app}/available-dyno-sizes", w),
    kind: "list",
    endpoint: undefined,
    impl: root("dynoSizes"),
    pk: ["id"],
    rangeFields: ["id", "name"],
  });
  // more literal segments first, so /teams/permissions wins over /teams/{team}
  const literals = (r: Route) => r.segments.filter((s) => typeof s === "string").length;
  return routes.sort((a, b) => literals(b) - literals(a));
}

/** Matches a request path; returns the route and the raw parameter values. */
export function matchRoute(routes: Route[], path: string): { route: Route; values: string[] } | undefined {
  const parts = path.split("/").filter((s) => s !== "");
  outer: for (const route of routes) {
    if (route.segments.length !== parts.length) continue;
    const values: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const seg = route.segments[i];
      const part = parts[i] ?? "";
      if (typeof seg === "string") {
        if (seg !== part) continue outer;
      } else {
        values.push(safeDecode(part));
      }
    }
    return { route, values };
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Resolves path parameter values to objects; 404 like Heroku when one does not exist. */
export function resolveParams(w: World, route: Route, values: string[]): Params {
  const p: Params = {};
  let k = 0;
  for (const seg of route.segments) {
    if (typeof seg === "string") continue;
    const value = values[k++] ?? "";
    const spec = PARENTS[seg.resource];
    if (!spec) throw new Error(`simulator: unknown parent ${seg.resource}`);
    const matches = (item: Item) => seg.fields.some((f) => (f === "self" ? value === "~" : item[f] !== undefined && String(item[f]) === value));
    let found: Item | undefined;
    if (spec.within) found = w.list(spec.store, p[spec.within] ?? null).find(matches);
    else {
      const candidate = w.store(spec.store).find(value);
      found = candidate && matches(candidate) ? candidate : undefined;
    }
    if (!found) throw new HttpProblem(404, "not_found", `Couldn't find that ${spec.noun}.`);
    p[seg.resource] = found;
  }
  return p;
}

/** Resolves API-side params (`{app: "<id or name>"}`) for count/items/add; missing ones are an error. */
export function paramsFromRecord(w: World, route: Route, params: Record<string, string> = {}): Params {
  const values = route.segments.filter((s): s is Placeholder => typeof s !== "string").map((s) => {
    const v = params[s.resource];
    if (v === undefined) throw new Error(`simulator: ${route.template} needs params.${s.resource}`);
    return v;
  });
  return resolveParams(w, route, values);
}

/** Every combination of parents of a route (for total()). */
export function allParams(w: World, route: Route): Params[] {
  let combos: Params[] = [{}];
  for (const seg of route.segments) {
    if (typeof seg === "string") continue;
    const spec = PARENTS[seg.resource];
    if (!spec) return [];
    const next: Params[] = [];
    for (const p of combos) {
      const candidates = spec.within ? w.list(spec.store, p[spec.within] ?? null) : w.all(spec.store);
      for (const c of candidates) next.push({ ...p, [seg.resource]: c });
    }
    combos = next;
  }
  return combos;
}

// ---------------------------------------------------------------- sorting keys

/** Unique key of an item: its id, or its primary key fields joined (archives, usage rows, ...). */
export function uniqueKey(route: Route, item: Item): string {
  if (route.pk.length === 1 && route.pk[0] === "id" && typeof item.id === "string") return item.id;
  const parts = route.pk.map((f) => String(item[f] ?? ""));
  return parts.length > 0 ? parts.join("|") : String(item.id ?? item.name ?? "");
}

/** The value a Range field sorts on (falls back to nested user email / created_at where Heroku sorts by those). */
export function fieldValue(route: Route, item: Item, field: string): Value {
  if (field === "id" && !(route.pk.length === 1 && route.pk[0] === "id")) return uniqueKey(route, item);
  const v = item[field];
  if (typeof v === "string" || typeof v === "number") return v;
  if (field === "email") {
    const email = ref(item.user)?.email;
    if (typeof email === "string") return email;
  }
  if (field === "started_at" && typeof item.created_at === "string") return item.created_at;
  return uniqueKey(route, item);
}

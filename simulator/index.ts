// A real HTTP simulator of the Heroku Platform API on loopback: the test
// fixture the tap is run against (and the backend of the demo).
//
//   const sim = await startSimulator({ apps: 20, sizes: { "/apps/{app}/releases": 2500 } });
//   // ... run the tap with HEROKU_API_URL=sim.url and token "test-token"
//   await sim.close();
//
// It serves every GET list endpoint of catalog/heroku/source/list-endpoints.json
// (except /teams/invitations/{team-invitation}, a token lookup), GET /account
// and GET /apps/{app}/config-vars, with Heroku's Range pagination, auth, OAuth
// scopes, rate limit and error bodies. Data is generated from the official
// schema, deterministically from `seed`; see stores.ts for the shape of the
// account (teams, spaces, pipelines, which apps have Heroku Postgres...).
//
// Options beyond the documented interface (all optional):
//   port            listen port (default 0 = random)
//   postgresApps    how many of the first apps have Heroku Postgres (default 1)
//   postgresPerApp  Heroku Postgres add-ons on each of them (default 1); the first
//                   is attached as DATABASE and HEROKU_POSTGRESQL_<COLOR>, later
//                   ones as HEROKU_POSTGRESQL_<COLOR> only; each attachment adds
//                   <NAME>_URL=postgres://... to the app's config vars (a closed
//                   loopback port, 127.0.0.1:9: refused at once, no DNS query;
//                   point a test at a real database with configVars/setConfigVars)
//   refuseRanges    path template -> Range fields answered with 416
//                   requested_range_not_satisfiable, as if Heroku stopped sorting by
//                   them (`{"/apps": ["updated_at"]}`); also setRefusedRanges()
//
// `sizes` keys are endpoint path templates. For per-parent lists the size is
// per parent (`"/apps/{app}/releases": 2500` gives every app 2500 releases);
// root lists (`/apps`, `/teams`, `/pipelines`, `/spaces`, `/regions`, ...) set the
// number of those objects. Aggregated views (`/addons`, `/addon-attachments`,
// `/pipeline-couplings`, `/teams/{team}/apps`, latest-releases, ...) and add-on
// attachments are derived and take no size of their own. Pipeline promotions
// have no list endpoint; their count per pipeline is `sizes["/pipelines/{pipeline}/promotions"]`.

import { loadSources } from "./source.ts";
import { World } from "./world.ts";
import type { Item } from "./data.ts";
import { allParams, buildRoutes, fieldValue, paramsFromRecord, uniqueKey } from "./routes.ts";
import type { Params, Route } from "./routes.ts";
import { sortBy } from "./range.ts";
import { SimServer } from "./server.ts";
import { serveDataApi } from "./data-api.ts";
import type { DataApiSeed } from "./data-api.ts";
import { serveMetricsApi } from "./metrics-api.ts";
import { HttpProblem } from "./routes.ts";
import type { RequestHook, RequestLogEntry } from "./server.ts";

export type { RequestHook, RequestLogEntry } from "./server.ts";
export type { DataApiSeed } from "./data-api.ts";

export interface SimulatorOptions {
  seed?: number;
  apps?: number;
  perParent?: number;
  sizes?: Record<string, number>;
  tokens?: Record<string, { scopes: string[] }>;
  latencyMs?: number;
  faults?: {
    rate429?: number;
    rate5xx?: number;
    dropRate?: number;
    slowRate?: number;
    slowMs?: number;
  };
  rateLimit?: { bucket: number; refillPerMinute: number };
  configVars?: Record<string, Record<string, string>>;
  /** listen port; default 0 (random) */
  port?: number;
  /** how many of the first apps have Heroku Postgres; default 1 */
  postgresApps?: number;
  /** Heroku Postgres add-ons on each of those apps; default 1 */
  postgresPerApp?: number;
  /** Longest daily usage range the usage endpoints accept; default 400 days. */
  usageMaxDays?: number;
  /** path template -> Range fields refused with 416; default none */
  refuseRanges?: Record<string, string[]>;
  /** What the Data API says of each Heroku Postgres add-on (followers, Essential plans, refused ones); also setDataApi() */
  dataApi?: DataApiSeed;
}

export interface Simulator {
  url: string;
  /** The Heroku Data API's host (data-api.ts) and the metrics API's (metrics-api.ts): same world, tokens and request log. */
  dataUrl: string;
  metricsUrl: string;
  setDataApi(seed: DataApiSeed): void;
  close(): Promise<void>;
  requests: RequestLogEntry[];
  resetLog(): void;
  count(pathTemplate: string, params?: Record<string, string>): number;
  total(pathTemplate: string): number;
  items(pathTemplate: string, params?: Record<string, string>): unknown[];
  touch(pathTemplate: string, id: string, at?: Date): void;
  add(pathTemplate: string, params?: Record<string, string>, at?: Date): unknown;
  setClock(date: Date): void;
  setConfigVars(app: string, vars: Record<string, string>): void;
  /** Faults on every host (the Platform API, the Data API, the metrics API). */
  setFaults(f: SimulatorOptions["faults"]): void;
  /** Replaces the refused Range fields (see refuseRanges); {} refuses none. */
  setRefusedRanges(r: Record<string, string[]>): void;
  /**
   * Deletes an object of the store behind `pathTemplate` (`remove("/apps", id)`):
   * it leaves every list, and its own paths (`/apps/{id}/releases`) answer 404
   * Couldn't find that app, as when an app is deleted on Heroku.
   */
  remove(pathTemplate: string, id: string): void;
  /**
   * Calls `hook` for every request, before it is handled (undefined: none). A
   * change the hook makes to the world is already seen by that request.
   */
  onRequest(hook: RequestHook | undefined): void;
}

/** Store name -> the path parameter resource that names its objects (for add() on aggregated views). */
const PARENT_RESOURCE: Record<string, string> = {
  apps: "app",
  addons: "add-on",
  services: "add-on-service",
  teams: "team",
  spaces: "space",
  pipelines: "pipeline",
  testRuns: "test-run",
  promotions: "pipeline-promotion",
  enterpriseAccounts: "enterprise-account",
};

function json<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const { schema, endpoints } = loadSources();
  const world = new World(
    {
      seed: opts.seed ?? 1,
      apps: opts.apps ?? 5,
      perParent: opts.perParent ?? 3,
      sizes: opts.sizes ?? {},
      postgresApps: opts.postgresApps ?? 1,
      postgresPerApp: opts.postgresPerApp ?? 1,
      configVars: opts.configVars ?? {},
      ...(opts.usageMaxDays !== undefined ? { usageMaxDays: opts.usageMaxDays } : {}),
    },
    schema,
  );
  const routes = buildRoutes(world, endpoints);
  const route = (template: string): Route => {
    const r = routes.find((x) => x.template === template);
    if (!r) throw new Error(`simulator: no endpoint ${template}`);
    return r;
  };
  // A typo in a template must not silently refuse nothing.
  Object.keys(opts.refuseRanges ?? {}).forEach(route);
  const server = new SimServer(world, routes, {
    seed: opts.seed ?? 1,
    tokens: opts.tokens ?? { "test-token": { scopes: ["global"] } },
    latencyMs: opts.latencyMs ?? 0,
    faults: opts.faults,
    rateLimit: opts.rateLimit ?? { bucket: 4500, refillPerMinute: 75 },
    refuseRanges: opts.refuseRanges,
  });
  const url = await server.listen(opts.port ?? 0);
  // The other hosts, each a server of its own on loopback, so a client that sends a request to the wrong host gets a 404.
  let dataSeed: DataApiSeed = opts.dataApi ?? {};
  const other = (host: string, serve: (u: URL) => { status: number; body: unknown } | undefined) =>
    new SimServer(world, [], {
      seed: opts.seed ?? 1,
      tokens: opts.tokens ?? { "test-token": { scopes: ["global"] } },
      latencyMs: opts.latencyMs ?? 0,
      faults: opts.faults,
      rateLimit: opts.rateLimit ?? { bucket: 4500, refillPerMinute: 75 },
      host,
      requests: server.requests,
      serve: (u, scopes) => {
        // Heroku documents no narrower scope for these APIs; the CLI and the Dashboard use a global token.
        if (!scopes.includes("global")) {
          throw new HttpProblem(403, "forbidden", `This token's OAuth scope (${scopes.join(", ") || "none"}) cannot read ${host}; it needs "global".`);
        }
        return serve(u);
      },
    });
  const dataServer = other("data", (u) => serveDataApi(world, dataSeed, u.pathname));
  const metricsServer = other("metrics", (u) => serveMetricsApi(world, u.pathname, u.searchParams));
  const dataUrl = await dataServer.listen(0);
  const metricsUrl = await metricsServer.listen(0);

  const query = (params: Record<string, string> = {}) => new URLSearchParams(Object.entries(params).filter(([k]) => k === "start" || k === "end"));
  const listOf = (r: Route, p: Params, params?: Record<string, string>) => r.impl.list(world, p, query(params));
  const storeOf = (r: Route): string => {
    if (!r.impl.store) throw new Error(`simulator: ${r.template} is computed on request; it cannot be touched or added to`);
    return r.impl.store;
  };

  return {
    url,
    dataUrl,
    metricsUrl,
    setDataApi: (seed) => void (dataSeed = seed),
    close: async () => void (await Promise.all([server.close(), dataServer.close(), metricsServer.close()])),
    requests: server.requests,
    resetLog: () => void (server.requests.length = 0),

    count: (template, params) => {
      const r = route(template);
      return listOf(r, paramsFromRecord(world, r, params), params).length;
    },
    total: (template) => {
      const r = route(template);
      return allParams(world, r).reduce((sum, p) => sum + listOf(r, p).length, 0);
    },
    items: (template, params) => {
      const r = route(template);
      const list = listOf(r, paramsFromRecord(world, r, params), params);
      // in the order served without a Range header (by id)
      const sorted = sortBy(
        list,
        (it) => fieldValue(r, it, "id"),
        (it) => uniqueKey(r, it),
      ).items;
      return json(sorted);
    },
    touch: (template, id, at) => void world.touch(storeOf(route(template)), id, at),
    add: (template, params = {}, at) => {
      const r = route(template);
      const storeName = storeOf(r);
      const parentStore = world.store(storeName).spec.parent;
      let parent: Item | null = null;
      if (parentStore) {
        // the parent of the new object: a path parameter (or its ancestor), else params[<parent resource>]
        const hasPlaceholders = r.segments.some((s) => typeof s !== "string");
        for (let x of Object.values(hasPlaceholders ? paramsFromRecord(world, r, params) : {}) as (Item | null)[]) {
          for (let depth = 0; x && depth < 4 && !parent; depth++, x = world.parentOf(x)) {
            if (world.meta.get(x)?.store === parentStore) parent = x;
          }
        }
        const resource = PARENT_RESOURCE[parentStore];
        const key = resource === undefined ? undefined : params[resource];
        if (!parent && key !== undefined) parent = world.store(parentStore).find(key) ?? null;
        if (!parent) throw new Error(`simulator: add(${template}) needs params.${resource ?? parentStore}`);
      }
      return json(world.store(storeName).add(parent, at));
    },
    setClock: (date) => world.setClock(date),
    setConfigVars: (app, vars) => world.setConfigVars(app, vars),
    setFaults: (f) => [server, dataServer, metricsServer].forEach((s) => s.setFaults(f)),
    setRefusedRanges: (r) => {
      Object.keys(r).forEach(route);
      server.refuseRanges = { ...r };
    },
    remove: (template, id) => void world.remove(storeOf(route(template)), id),
    onRequest: (hook) => void (server.hook = hook),
  };
}

/** The apps the simulator gave a Heroku Postgres add-on, in the order /apps lists them. */
export function appsWithPostgres(sim: Simulator): string[] {
  return (sim.items("/apps") as { name: string }[])
    .map((a) => a.name)
    .filter((name) =>
      (sim.items("/apps/{app}/addons", { app: name }) as { addon_service: { name: string } }[]).some((a) => a.addon_service.name === "heroku-postgresql")
    );
}

/**
 * Points every attachment of an app's Heroku Postgres add-ons at `url`, as
 * Heroku does with `<ATTACHMENT>_URL` config vars; returns the app's name
 * (by default the first app with Postgres).
 */
export function attachDatabase(sim: Simulator, url: string, app = appsWithPostgres(sim)[0]!): string {
  const atts = sim.items("/apps/{app}/addon-attachments", { app }) as { name: string }[];
  sim.setConfigVars(app, Object.fromEntries(atts.map((a) => [`${a.name}_URL`, url])));
  return app;
}

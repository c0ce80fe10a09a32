// The Heroku API simulator, over real HTTP (node's fetch): pagination,
// headers, auth and scopes, errors, faults, mutations and data consistency.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../simulator/index.ts";
import type { Simulator, SimulatorOptions } from "../simulator/index.ts";
import { parseArgs } from "../simulator/main.ts";
import { loadSources } from "../simulator/source.ts";
import { parseRange } from "../simulator/range.ts";

const ACCEPT = "application/vnd.heroku+json; version=3";

interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any -- the tests read whatever JSON a route returns
  body: any;
}

async function get(
  sim: Simulator,
  path: string,
  opts: { range?: string; token?: string | null; accept?: string | null; method?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (opts.accept !== null) headers.accept = opts.accept ?? ACCEPT;
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? "test-token"}`;
  if (opts.range) headers.range = opts.range;
  const res = await fetch(sim.url + path, { method: opts.method ?? "GET", headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** Follows Next-Range from `first` to the end; returns every page. */
async function walk(sim: Simulator, path: string, first?: string): Promise<Reply[]> {
  const pages: Reply[] = [];
  let range = first;
  for (let i = 0; i < 100; i++) {
    const page = await get(sim, path, range === undefined ? {} : { range });
    pages.push(page);
    const next = page.headers.get("next-range");
    if (page.status !== 206 || !next) break;
    range = next;
  }
  return pages;
}

/** A client that retries 429/503 and dropped bodies, like the tap should. */
async function getWithRetry(sim: Simulator, path: string, range?: string): Promise<Reply & { attempts: number }> {
  for (let attempt = 1; attempt <= 10; attempt++) {
    try {
      const r = await get(sim, path, range === undefined ? {} : { range });
      if (r.status === 429 || r.status === 503) continue;
      return { ...r, attempts: attempt };
    } catch {
      // connection dropped mid-body: retry
    }
  }
  throw new Error(`gave up on ${path}`);
}

async function withSim<T>(opts: SimulatorOptions, fn: (sim: Simulator) => Promise<T>): Promise<T> {
  const sim = await startSimulator(opts);
  try {
    return await fn(sim);
  } finally {
    await sim.close();
  }
}

describe("simulator: pagination", () => {
  let sim: Simulator;
  let app: { id: string; name: string };
  beforeAll(async () => {
    sim = await startSimulator({ apps: 450, sizes: { "/apps/{app}/releases": 2500 } });
    app = sim.items("/apps")[0] as { id: string; name: string };
  });
  afterAll(() => sim.close());

  it("walks several 1000-item pages and returns exactly count() distinct items", async () => {
    const path = `/apps/${app.name}/releases`;
    const pages = await walk(sim, path, "id ..; max=1000");
    expect(pages.map((p) => p.status)).toEqual([206, 206, 200]);
    expect(pages.map((p) => p.body.length)).toEqual([1000, 1000, 500]);
    const ids = pages.flatMap((p) => p.body.map((r: { id: string }) => r.id));
    expect(new Set(ids).size).toBe(2500);
    expect(ids.length).toBe(sim.count("/apps/{app}/releases", { app: app.id }));
    expect(ids).toEqual([...ids].sort()); // ordered by id
    expect(ids).toEqual((sim.items("/apps/{app}/releases", { app: app.name }) as { id: string }[]).map((r) => r.id));
    for (const p of pages) {
      expect(p.headers.get("accept-ranges")).toBe("id, version");
      expect(p.headers.get("content-range")).toMatch(/^id [0-9a-f-]+\.\.[0-9a-f-]+; max=1000$/);
    }
    expect(pages[0]?.headers.get("next-range")).toBe(`id ]${ids[999]}..; max=1000`);
    expect(pages[2]?.headers.get("next-range")).toBeNull();
  });

  it("defaults to 200 items a page and clamps max to 1000", async () => {
    const first = await get(sim, "/apps");
    expect(first.status).toBe(206);
    expect(first.body).toHaveLength(200);
    expect(first.headers.get("next-range")).toMatch(/^id \][0-9a-f-]+\.\.; max=200$/);
    expect(first.headers.get("accept-ranges")).toBe("id, name, updated_at");
    const big = await get(sim, `/apps/${app.name}/releases`, { range: "id ..; max=5000" });
    expect(big.body).toHaveLength(1000);
    expect(big.headers.get("content-range")).toMatch(/; max=1000$/);
    const all = await walk(sim, "/apps");
    expect(all.flatMap((p) => p.body)).toHaveLength(450);
    // paging on the other advertised fields loses nothing either
    for (const field of ["name", "updated_at"]) {
      const pages = await walk(sim, "/apps", `${field} ..; max=100`);
      const apps = pages.flatMap((p) => p.body) as Record<string, string>[];
      expect(new Set(apps.map((a) => a.id)).size, field).toBe(450);
      expect(apps.map((a) => a[field])).toEqual(apps.map((a) => a[field]).sort());
    }
    expect(sim.total("/apps")).toBe(450);
  });

  it("answers 200 without Next-Range when everything fits", async () => {
    const r = await get(sim, `/apps/${app.name}/dynos`, { range: "id ..; max=1000" });
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(3);
    expect(r.headers.get("next-range")).toBeNull();
    expect(r.headers.get("content-range")).toMatch(/^id .+\.\..+; max=1000$/);
  });

  it("orders releases by version, descending, across pages", async () => {
    const path = `/apps/${app.name}/releases`;
    const first = await get(sim, path, { range: "version ..; max=10, order=desc" });
    expect(first.status).toBe(206);
    expect(first.body.map((r: { version: number }) => r.version)).toEqual([2500, 2499, 2498, 2497, 2496, 2495, 2494, 2493, 2492, 2491]);
    expect(first.headers.get("next-range")).toBe("version ]2491..; max=10, order=desc");
    const second = await get(sim, path, { range: first.headers.get("next-range") ?? "" });
    expect(second.body[0].version).toBe(2490);
    // the heroku CLI's spelling
    const cli = await get(sim, path, { range: "version ..; order=desc,max=1;" });
    expect(cli.body.map((r: { version: number; current: boolean }) => [r.version, r.current])).toEqual([[2500, true]]);
    // bounds, inclusive and exclusive
    const window = await get(sim, path, { range: "version 10..12; max=100" });
    expect(window.status).toBe(200);
    expect(window.body.map((r: { version: number }) => r.version)).toEqual([10, 11, 12]);
    const exclusive = await get(sim, path, { range: "version ]10..12[; max=100" });
    expect(exclusive.body.map((r: { version: number }) => r.version)).toEqual([11]);
  });

  it("refuses a Range on a field the endpoint does not sort by (416) and bad syntax (400)", async () => {
    const r = await get(sim, `/apps/${app.name}/releases`, { range: "name ..; max=10" });
    expect(r.status).toBe(416);
    expect(r.body.id).toBe("requested_range_not_satisfiable");
    expect(r.headers.get("accept-ranges")).toBe("id, version");
    const bad = await get(sim, `/apps/${app.name}/releases`, { range: "version ..; max=10; order=desc" });
    expect(bad.status).toBe(400);
    expect(bad.body.id).toBe("bad_request");
  });

  it("parses Range headers like Heroku", () => {
    expect(parseRange("id ]abc..; max=10", "id")).toMatchObject({ field: "id", start: "abc", startExclusive: true, max: 10, order: "asc" });
    expect(parseRange("]abc..; max=10", "id")).toMatchObject({ field: "id", start: "abc", startExclusive: true });
    expect(parseRange("number ..; order=desc,max=1", "id")).toMatchObject({ field: "number", max: 1, order: "desc" });
    expect(parseRange("id ..; max=10;", "id").max).toBe(10);
    expect(parseRange(undefined, "id").max).toBe(200);
    expect(() => parseRange("id ..; max=0", "id")).toThrow();
    expect(() => parseRange("id ..; order=sideways", "id")).toThrow();
  });
});

describe("simulator: protocol", () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({
      tokens: {
        "test-token": { scopes: ["global"] },
        "protected-token": { scopes: ["read-protected"] },
        "read-token": { scopes: ["read"] },
        "identity-token": { scopes: ["identity"] },
      },
    });
  });
  afterAll(() => sim.close());

  it("puts Request-Id, RateLimit-Remaining and Content-Type on every response", async () => {
    for (const r of [await get(sim, "/apps"), await get(sim, "/apps", { token: null }), await get(sim, "/nope"), await get(sim, "/account")]) {
      expect(r.headers.get("request-id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Number(r.headers.get("ratelimit-remaining"))).toBeGreaterThan(0);
      expect(r.headers.get("content-type")).toBe("application/json");
    }
  });

  it("401 without a valid token; Basic auth with the token as password works", async () => {
    for (const token of [null, "wrong-token"]) {
      const r = await get(sim, "/apps", { token });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ id: "unauthorized", message: "Invalid credentials provided." });
    }
    const basic = await fetch(`${sim.url}/apps`, {
      headers: { accept: ACCEPT, authorization: `Basic ${Buffer.from("user@example.com:test-token").toString("base64")}` },
    });
    expect(basic.status).toBe(200);
  });

  it("400 without the version 3 Accept header", async () => {
    const r = await get(sim, "/apps", { accept: null });
    expect(r.status).toBe(400);
    expect(r.body.id).toBe("missing_version");
  });

  it("403 on global-scope endpoints for a token without global; config vars need read-protected", async () => {
    const app = (sim.items("/apps")[0] as { name: string }).name;
    const team = (sim.items("/teams")[0] as { name: string }).name;
    for (const path of ["/account/keys", "/oauth/authorizations", `/apps/${app}/webhooks`, `/teams/${team}/members`, `/teams/${team}/spaces`]) {
      const r = await get(sim, path, { token: "protected-token" });
      expect(r.status, path).toBe(403);
      expect(r.body.id).toBe("forbidden");
      expect(r.body.message).toMatch(/^You do not have access to /);
      expect((await get(sim, path)).status, path).toBe(200);
    }
    expect((await get(sim, `/apps/${app}/dynos`, { token: "protected-token" })).status).toBe(200);
    expect((await get(sim, `/apps/${app}/config-vars`, { token: "protected-token" })).status).toBe(200);
    expect((await get(sim, `/apps/${app}/config-vars`, { token: "read-token" })).status).toBe(403);
    expect((await get(sim, "/account", { token: "identity-token" })).status).toBe(200);
    expect((await get(sim, "/apps", { token: "identity-token" })).status).toBe(403);
  });

  it("serves GET only: 405 for anything else, and logs it", async () => {
    sim.resetLog();
    for (const method of ["POST", "PATCH", "DELETE", "PUT"]) {
      const r = await get(sim, "/apps", { method });
      expect(r.status).toBe(405);
      expect(r.body.id).toBe("method_not_allowed");
    }
    expect(sim.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ["POST", "/apps", 405],
      ["PATCH", "/apps", 405],
      ["DELETE", "/apps", 405],
      ["PUT", "/apps", 405],
    ]);
  });

  it("logs path, query, Range and token of every request", async () => {
    sim.resetLog();
    await get(sim, "/apps?x=1", { range: "id ..; max=2" });
    expect(sim.requests).toEqual([{ method: "GET", path: "/apps", query: { x: "1" }, range: "id ..; max=2", token: "test-token", status: 206 }]);
  });

  it("404s an unknown parent or endpoint, like Heroku", async () => {
    const r = await get(sim, "/apps/no-such-app/dynos");
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ id: "not_found", message: "Couldn't find that app." });
    expect((await get(sim, "/teams/no-such-team/members")).body.message).toBe("Couldn't find that team.");
    expect((await get(sim, "/no/such/endpoint")).body.id).toBe("not_found");
  });

  it("accepts an app's id or name, and only what the schema allows elsewhere", async () => {
    const app = sim.items("/apps")[0] as { id: string; name: string };
    const byId = await get(sim, `/apps/${app.id}/dynos`);
    const byName = await get(sim, `/apps/${app.name}/dynos`);
    expect(byId.body).toEqual(byName.body);
    const team = sim.items("/teams")[0] as { id: string; name: string };
    // identity-providers takes the team name only; usage takes the id only
    expect((await get(sim, `/teams/${team.name}/identity-providers`)).status).toBe(200);
    expect((await get(sim, `/teams/${team.id}/identity-providers`)).status).toBe(404);
    expect((await get(sim, `/teams/${team.id}/usage/daily?start=2026-01-01`)).status).toBe(200);
    expect((await get(sim, `/teams/${team.name}/usage/daily?start=2026-01-01`)).status).toBe(404);
    expect((await get(sim, "/users/~/apps")).body).toHaveLength(5);
  });

  it("requires start on usage endpoints (422)", async () => {
    const team = sim.items("/teams")[0] as { id: string };
    const missing = await get(sim, `/teams/${team.id}/usage/monthly`);
    expect(missing.status).toBe(422);
    const rows = await get(sim, `/teams/${team.id}/usage/monthly?start=2025-10&end=2025-12`);
    expect(rows.body.map((r: { month: string; id: string }) => [r.month, r.id])).toEqual([
      ["2025-10", team.id],
      ["2025-11", team.id],
      ["2025-12", team.id],
    ]);
    expect(sim.count("/teams/{team}/usage/monthly", { team: team.id, start: "2025-10", end: "2025-12" })).toBe(3);
  });

  it("serves every list endpoint of list-endpoints.json", async () => {
    const first = (path: string, key = "id") => String((sim.items(path)[0] as Record<string, unknown>)[key]);
    const team = sim.items("/teams")[0] as { id: string; name: string };
    const app = first("/apps");
    const pipeline = first("/pipelines");
    const values: Record<string, string> = {
      app,
      "team-app": String((sim.items("/teams/{team}/apps", { team: team.id })[0] as { name: string }).name),
      account: "~",
      "add-on": first("/addons"),
      "add-on-service": first("/addon-services"),
      region: first("/regions"),
      space: first("/spaces"),
      pipeline,
      "enterprise-account": first("/enterprise-accounts"),
      "test-run": String((sim.items("/pipelines/{pipeline}/test-runs", { pipeline })[0] as { id: string }).id),
      "team-member": String((sim.items("/teams/{team}/members", { team: team.id })[0] as { email: string }).email),
      "pipeline-promotion": "",
    };
    let served = 0;
    for (const e of loadSources().endpoints) {
      if (e.href_readable === "/teams/invitations/{team-invitation}" || e.href_readable.includes("{pipeline-promotion}")) continue;
      let path = e.href_readable;
      for (const ph of e.parent_placeholders) {
        const v = ph.resource === "team" ? (ph.attribute === "name" ? team.name : team.id) : values[ph.resource];
        path = path.replace(`{${ph.resource}}`, encodeURIComponent(v ?? ""));
      }
      if (e.query_schema) path += path.endsWith("daily") ? "?start=2026-01-01" : "?start=2025-11";
      const r = await get(sim, path);
      expect(r.status, path).toBe(200);
      expect(Array.isArray(r.body), path).toBe(true);
      expect(r.headers.get("content-range"), path).toBeTruthy();
      served++;
    }
    expect(served).toBe(87); // 89 minus the token lookup and the promotion targets (/teams/{team}/addons is listed twice)
    // promotions have no list endpoint, so the targets are reachable only with a known promotion id
    expect(sim.total("/pipeline-promotions/{pipeline-promotion}/promotion-targets")).toBe(2 * 3 * 3);
  });
});

describe("simulator: data", () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ apps: 12, configVars: {} });
  });
  afterAll(() => sim.close());

  it("keeps parents consistent", async () => {
    const apps = (await walk(sim, "/apps")).flatMap((p) => p.body) as { id: string; name: string; team: { id: string } | null }[];
    expect(apps).toHaveLength(12);
    let addonCount = 0;
    for (const app of apps) {
      const dynos = (await get(sim, `/apps/${app.name}/dynos`)).body;
      for (const d of dynos) expect(d.app).toEqual({ name: app.name, id: app.id });
      const addons = (await get(sim, `/apps/${app.id}/addons`)).body;
      for (const a of addons) expect(a.app).toEqual({ id: app.id, name: app.name });
      addonCount += addons.length;
    }
    const all = (await walk(sim, "/addons", "id ..; max=1000")).flatMap((p) => p.body);
    expect(all).toHaveLength(addonCount);
    expect(sim.total("/apps/{app}/addons")).toBe(addonCount);
    // team apps, team add-ons and the teams' own lists agree
    for (const team of sim.items("/teams") as { id: string; name: string }[]) {
      const teamApps = (await get(sim, `/teams/${team.name}/apps`)).body as { id: string; team: { name: string } }[];
      expect(teamApps.map((a) => a.id).sort()).toEqual(apps.filter((a) => a.team?.id === team.id).map((a) => a.id).sort());
      for (const a of teamApps) expect(a.team).toEqual({ name: team.name });
      const teamAddons = (await get(sim, `/teams/${team.id}/addons`)).body as { app: { id: string } }[];
      for (const a of teamAddons) expect(teamApps.map((x) => x.id)).toContain(a.app.id);
    }
    // pipeline couplings point at real apps and pipelines
    const pipelines = (sim.items("/pipelines") as { id: string }[]).map((p) => p.id);
    for (const c of (await get(sim, "/pipeline-couplings")).body) {
      expect(pipelines).toContain(c.pipeline.id);
      expect(apps.map((a) => a.id)).toContain(c.app.id);
    }
    // an add-on's attachments are found from the add-on
    const addon = all[0];
    const atts = (await get(sim, `/addons/${addon.name}/addon-attachments`)).body;
    expect(atts.length).toBeGreaterThan(0);
    for (const att of atts) expect(att.addon.id).toBe(addon.id);
  });

  it("gives the first app a Heroku Postgres with DATABASE and HEROKU_POSTGRESQL_<COLOR>, and the URLs as config vars", async () => {
    const app = (sim.items("/apps") as { name: string }[]).find((a) => a.name.endsWith("-10000"));
    expect(app).toBeDefined();
    const addons = (await get(sim, `/apps/${app?.name}/addons`)).body as { addon_service: { name: string }; plan: { name: string }; config_vars: string[] }[];
    const pg = addons.filter((a) => a.addon_service.name === "heroku-postgresql");
    expect(pg).toHaveLength(1);
    expect(pg[0]?.plan.name).toBe("heroku-postgresql:essential-0");
    const names = ((await get(sim, `/apps/${app?.name}/addon-attachments`)).body as { name: string }[]).map((a) => a.name);
    expect(names).toContain("DATABASE");
    const colored = names.find((n) => /^HEROKU_POSTGRESQL_[A-Z]+$/.test(n));
    expect(colored).toBeDefined();
    const vars = (await get(sim, `/apps/${app?.name}/config-vars`)).body as Record<string, string>;
    expect(vars.DATABASE_URL).toMatch(/^postgres:\/\/\w+:\w+@127\.0\.0\.1:9\/\w+$/);
    expect(vars[`${colored}_URL`]).toBe(vars.DATABASE_URL);
    expect(pg[0]?.config_vars.sort()).toEqual(["DATABASE_URL", `${colored}_URL`].sort());
    sim.setConfigVars(app?.name ?? "", { DATABASE_URL: "postgres://u:p@127.0.0.1:5432/db", EXTRA: "1" });
    const after = (await get(sim, `/apps/${app?.name}/config-vars`)).body as Record<string, string>;
    expect(after.DATABASE_URL).toBe("postgres://u:p@127.0.0.1:5432/db");
    expect(after.EXTRA).toBe("1");
    // other apps have no Postgres by default
    const other = (sim.items("/apps") as { name: string }[]).find((a) => a.name.endsWith("-10001"));
    expect(Object.keys((await get(sim, `/apps/${other?.name}/config-vars`)).body)).not.toContain("DATABASE_URL");
  });

  it("makes Postgres counts and config vars controllable", async () => {
    await withSim({ apps: 3, postgresApps: 2, postgresPerApp: 2, configVars: {} }, async (s) => {
      const apps = s.items("/apps") as { id: string; name: string }[];
      const withPg = apps.filter((a) =>
        (s.items("/apps/{app}/addons", { app: a.id }) as { addon_service: { name: string } }[]).some((x) => x.addon_service.name === "heroku-postgresql")
      );
      expect(withPg).toHaveLength(2);
      const vars = (await get(s, `/apps/${withPg[0]?.name}/config-vars`)).body as Record<string, string>;
      expect(Object.keys(vars).filter((k) => k.startsWith("HEROKU_POSTGRESQL_"))).toHaveLength(2);
    });
    const name = (sim.items("/apps") as { name: string }[])[0]?.name ?? "";
    await withSim({ apps: 12, configVars: { [name]: { FOO: "bar" } } }, async (s) => {
      expect((await get(s, `/apps/${name}/config-vars`)).body.FOO).toBe("bar");
    });
  });

  it("is deterministic per seed", async () => {
    await withSim({ apps: 12 }, async (a) => {
      expect((await get(a, "/apps")).body).toEqual((await get(sim, "/apps")).body);
    });
    await withSim({ apps: 12, seed: 2 }, async (b) => {
      expect((await get(b, "/apps")).body).not.toEqual((await get(sim, "/apps")).body);
    });
  });

  it("touch() and add() change what is served", async () => {
    const app = sim.items("/apps")[1] as { id: string; name: string };
    const dyno = (sim.items("/apps/{app}/dynos", { app: app.id }) as { id: string }[])[0];
    sim.setClock(new Date("2026-01-15T12:00:00Z"));
    sim.touch("/apps/{app}/dynos", dyno?.id ?? "");
    let served = (await get(sim, `/apps/${app.name}/dynos`)).body.find((d: { id: string }) => d.id === dyno?.id);
    expect(served.updated_at).toBe("2026-01-15T12:00:00Z");
    sim.touch("/apps/{app}/dynos", dyno?.id ?? "", new Date("2026-02-01T00:00:00Z"));
    served = (await get(sim, `/apps/${app.name}/dynos`)).body.find((d: { id: string }) => d.id === dyno?.id);
    expect(served.updated_at).toBe("2026-02-01T00:00:00Z");
    expect((await get(sim, `/apps/${app.name}/dynos`)).body).toEqual(sim.items("/apps/{app}/dynos", { app: app.name }));

    // touching an app shows in the team-app view too
    sim.touch("/apps", app.id, new Date("2026-03-01T00:00:00Z"));
    expect(((await walk(sim, "/apps")).flatMap((p) => p.body) as { id: string; updated_at: string }[]).find((a) => a.id === app.id)?.updated_at).toBe(
      "2026-03-01T00:00:00Z",
    );

    const before = sim.count("/apps/{app}/releases", { app: app.id });
    const release = sim.add("/apps/{app}/releases", { app: app.name }) as { version: number; current: boolean; app: { id: string }; created_at: string };
    expect(release.version).toBe(before + 1);
    expect(release.current).toBe(true);
    expect(release.app.id).toBe(app.id);
    const releases = (await get(sim, `/apps/${app.name}/releases`, { range: "version ..; order=desc, max=2" })).body;
    expect(releases.map((r: { version: number; current: boolean }) => [r.version, r.current])).toEqual([
      [before + 1, true],
      [before, false],
    ]);

    const apps = sim.count("/apps");
    const newApp = sim.add("/apps") as { id: string; name: string };
    expect(sim.count("/apps")).toBe(apps + 1);
    expect((await get(sim, `/apps/${newApp.name}/dynos`)).status).toBe(200);
    const addon = sim.add("/addons", { app: newApp.id }) as { id: string; app: { id: string } };
    expect(addon.app.id).toBe(newApp.id);
    expect(((await get(sim, "/addons", { range: "id ..; max=1000" })).body as { id: string }[]).map((a) => a.id)).toContain(addon.id);
    expect(((await get(sim, `/apps/${newApp.name}/addon-attachments`)).body as { addon: { id: string } }[]).map((a) => a.addon.id)).toContain(addon.id);
    expect((await get(sim, `/addons/${addon.id}/config`)).status).toBe(200);
  });
});

describe("simulator: faults and limits", () => {
  it("injects 429, 503 and dropped connections, and retried requests get the right data", async () => {
    await withSim({ apps: 2, sizes: { "/apps/{app}/releases": 3000 }, faults: { rate429: 0.2, rate5xx: 0.2, dropRate: 0.2 } }, async (sim) => {
      const app = sim.items("/apps")[0] as { id: string };
      const path = `/apps/${app.id}/releases`;
      const ids: string[] = [];
      let range: string | undefined = "id ..; max=100";
      for (let i = 0; i < 100 && range; i++) {
        const page = await getWithRetry(sim, path, range);
        expect(page.attempts).toBeLessThanOrEqual(2); // a retry of a faulted request always succeeds
        ids.push(...(page.body as { id: string }[]).map((r) => r.id));
        range = page.status === 206 ? (page.headers.get("next-range") ?? undefined) : undefined;
      }
      expect(ids).toEqual((sim.items("/apps/{app}/releases", { app: app.id }) as { id: string }[]).map((r) => r.id));
      const statuses = new Set(sim.requests.map((r) => r.status));
      expect(statuses).toContain(429);
      expect(statuses).toContain(503);
      expect(sim.requests.some((r) => r.fault === "drop")).toBe(true);
      const limited = await (async () => {
        for (let i = 0; i < 50; i++) {
          const r = await get(sim, "/apps").catch(() => undefined);
          if (r?.status === 429) return r;
        }
        return undefined;
      })();
      expect(limited?.headers.get("ratelimit-remaining")).toBe("0");
      expect(limited?.body.id).toBe("rate_limit");
      expect(sim.requests.filter((r) => r.status === 503).length).toBeGreaterThan(0);
    });
  });

  it("stalls slow requests (client timeouts) and close() is still prompt", async () => {
    const sim = await startSimulator({ faults: { slowRate: 1, slowMs: 10_000 } });
    const t0 = Date.now();
    await expect(fetch(`${sim.url}/apps`, { headers: { accept: ACCEPT, authorization: "Bearer test-token" }, signal: AbortSignal.timeout(200) })).rejects
      .toThrow();
    expect(Date.now() - t0).toBeLessThan(2000);
    sim.setFaults({});
    expect((await get(sim, "/apps")).status).toBe(200);
    sim.setFaults({ slowRate: 1, slowMs: 10_000 });
    const pending = fetch(`${sim.url}/apps`, { headers: { accept: ACCEPT, authorization: "Bearer test-token" } }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const t1 = Date.now();
    await sim.close();
    expect(Date.now() - t1).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });

  it("adds latency to every response", async () => {
    await withSim({ latencyMs: 150 }, async (sim) => {
      const t0 = Date.now();
      await get(sim, "/apps");
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    });
  });

  it("spends one rate-limit token a request and answers 429 when the bucket is empty", async () => {
    await withSim({ rateLimit: { bucket: 3, refillPerMinute: 0 } }, async (sim) => {
      const remaining: (string | null)[] = [];
      for (let i = 0; i < 3; i++) remaining.push((await get(sim, "/apps")).headers.get("ratelimit-remaining"));
      expect(remaining).toEqual(["2", "1", "0"]);
      const r = await get(sim, "/apps");
      expect(r.status).toBe(429);
      expect(r.body.id).toBe("rate_limit");
      expect(r.body.message).toMatch(/^Your account reached the API rate limit/);
      expect(r.headers.get("ratelimit-remaining")).toBe("0");
    });
  });
});

describe("simulator: main.ts", () => {
  it("parses the demo flags", () => {
    expect(parseArgs(["--port", "5555", "--apps", "20", "--size", "/apps/{app}/releases=2500", "--token=demo"])).toMatchObject({
      port: 5555,
      apps: 20,
      sizes: { "/apps/{app}/releases": 2500 },
      tokens: { "test-token": { scopes: ["global"] }, demo: { scopes: ["global"] } },
    });
    expect(() => parseArgs(["--bogus"])).toThrow(/unknown flag/);
  });
});

describe("simulator: the Data API and metrics hosts", () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ apps: 2, postgresApps: 2, tokens: { "test-token": { scopes: ["global"] }, "read-token": { scopes: ["read"] } } });
  });
  afterAll(() => sim.close());
  const at = (base: string, path: string, token = "test-token", method = "GET") =>
    fetch(base + path, { method, headers: { accept: ACCEPT, authorization: `Bearer ${token}` } }).then(async (r): Promise<Pick<Reply, "status" | "body">> => ({
      status: r.status,
      body: await r.json(),
    }));

  it("serves the Data API on its own host: transfers by app name, schedules and info by add-on id; 403 without global, 405 for POST, 404 elsewhere", async () => {
    const app = (sim.items("/apps") as { name: string }[])[0]!.name;
    const addon = (sim.items("/apps/{app}/addons", { app }) as { id: string; addon_service: { name: string } }[]).find((a) =>
      a.addon_service.name === "heroku-postgresql"
    )!;
    const transfers = await at(sim.dataUrl, `/client/v11/apps/${app}/transfers`);
    expect(transfers.status).toBe(200);
    expect(transfers.body).toHaveLength(3);
    expect(transfers.body[0].from_url).toMatch(/^postgres:\/\//); // planted: the tap must drop it
    expect((await at(sim.dataUrl, `/client/v11/databases/${addon.id}/transfer-schedules`)).body).toHaveLength(1);
    expect((await at(sim.dataUrl, `/client/v11/databases/${addon.id}`)).body.resource_url).toMatch(/^postgres:\/\//);
    expect((await at(sim.dataUrl, `/client/v11/databases/${addon.id}`, "read-token")).status).toBe(403);
    expect((await at(sim.dataUrl, `/client/v11/databases/${addon.id}/backups`, "test-token", "POST")).status).toBe(405);
    expect((await at(sim.dataUrl, "/apps")).status).toBe(404); // the Platform API is another host
    sim.setDataApi({ denied: [addon.id] });
    expect((await at(sim.dataUrl, `/client/v11/databases/${addon.id}`)).status).toBe(403);
    sim.setDataApi({ essential: [addon.id] });
    expect((await at(sim.dataUrl, `/client/v11/databases/${addon.id}/transfer-schedules`)).status).toBe(422);
    sim.setDataApi({});
    expect(sim.requests.filter((r) => r.host === "data").length).toBe(8); // every request above, POST and 404 included
  });

  it("serves the metrics API: one value per step, the query required, 7 days of retention, 400 for a process type the app does not run", async () => {
    const app = (sim.items("/apps") as { name: string }[])[0]!.name;
    const q = (start: string, end: string) => `start_time=${start}&end_time=${end}&step=1h`;
    const ok = await at(sim.metricsUrl, `/apps/${app}/router-metrics/status?${q("2026-01-15T06:00:00.000Z", "2026-01-15T12:00:00.000Z")}&process_type=web`);
    expect(ok.status).toBe(200);
    expect(Object.values(ok.body.data as Record<string, number[]>).every((v) => v.length === 6)).toBe(true);
    expect((await at(sim.metricsUrl, `/apps/${app}/router-metrics/latency`)).status).toBe(400);
    expect((await at(sim.metricsUrl, `/apps/${app}/router-metrics/errors?${q("2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z")}`)).status).toBe(422);
    expect((await at(sim.metricsUrl, `/apps/${app}/formation/nope/metrics/errors?${q("2026-01-15T06:00:00.000Z", "2026-01-15T12:00:00.000Z")}`)).status).toBe(
      400,
    );
    expect((await at(sim.metricsUrl, `/apps/${app}/router-metrics/status?${q("2026-01-15T06:00:00.000Z", "2026-01-15T12:00:00.000Z")}`, "read-token")).status)
      .toBe(403);
  });
});

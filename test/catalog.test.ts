// The generated Heroku catalog (catalog/heroku) is up to date, complete and lenient enough.
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { JSONSchema7 } from "json-schema";
import { buildHerokuCatalog, generateHerokuCatalog } from "../scripts/heroku-catalog.ts";
import type { HerokuStream } from "../scripts/heroku-catalog.ts";
import { validate } from "./helpers/json-schema.ts";

const catalogDir = fileURLToPath(new URL("../catalog/heroku/", import.meta.url));
const read = (relative: string): string => readFileSync(catalogDir + relative, "utf8");
const platformSchema: unknown = JSON.parse(read("source/platform-api-schema.json"));
const listEndpoints = JSON.parse(read("source/list-endpoints.json")) as { resource: string; href_readable: string }[];
const VENDORED = ["source/SOURCE.md", "source/list-endpoints.json", "source/platform-api-schema.json"];

const generated = generateHerokuCatalog(platformSchema, listEndpoints);
const streams = JSON.parse(read("streams.json")) as HerokuStream[];
const schemaOf = (stream: string): JSONSchema7 => JSON.parse(read(`schemas/${stream}.json`)) as JSONSchema7;

function filesUnder(dir: string, prefix = ""): string[] {
  return readdirSync(dir + prefix, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(dir, `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`]
  );
}

/** Every schema node of a record schema with its JSON path (properties and items, recursively). */
function nodes(schema: JSONSchema7, path = "$"): [string, JSONSchema7][] {
  const out: [string, JSONSchema7][] = [[path, schema]];
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    if (typeof sub === "object") out.push(...nodes(sub, `${path}.${name}`));
  }
  if (typeof schema.items === "object" && !Array.isArray(schema.items)) out.push(...nodes(schema.items, `${path}[]`));
  return out;
}

const REQUIRED_STREAMS = [
  // CloudQuery Heroku plugin tables
  "account_features",
  "add_ons",
  "add_on_attachments",
  "add_on_configs",
  "add_on_region_capabilities",
  "add_on_services",
  "add_on_webhooks",
  "add_on_webhook_deliveries",
  "add_on_webhook_events",
  "apps",
  "app_features",
  "app_transfers",
  "app_webhooks",
  "app_webhook_deliveries",
  "app_webhook_events",
  "builds",
  "buildpack_installations",
  "collaborators",
  "credits",
  "domains",
  "dynos",
  "dyno_sizes",
  "enterprise_accounts",
  "enterprise_account_members",
  "formations",
  "inbound_rulesets",
  "invoices",
  "keys",
  "log_drains",
  "oauth_authorizations",
  "oauth_clients",
  "peerings",
  "permission_entities",
  "pipelines",
  "pipeline_builds",
  "pipeline_couplings",
  "pipeline_deployments",
  "pipeline_releases",
  "regions",
  "releases",
  "review_apps",
  "spaces",
  "space_app_accesses",
  "stacks",
  "teams",
  "team_app_permissions",
  "team_features",
  "team_invitations",
  "team_invoices",
  "team_members",
  "team_spaces",
  "vpn_connections",
  // beyond them
  "account",
  "team_apps",
  "sni_endpoints",
  "telemetry_drains",
  "add_on_plans",
  "generations",
  "identity_providers",
  "enterprise_account_audit_trail_events",
  "enterprise_account_archives",
  "enterprise_account_daily_usage",
  "enterprise_account_monthly_usage",
  "team_daily_usage",
  "team_monthly_usage",
  "test_runs",
  "test_cases",
  "test_nodes",
  "allowed_add_on_services",
];

const GLOBAL_SCOPE = [
  "app_webhooks",
  "app_webhook_deliveries",
  "app_webhook_events",
  "credits",
  "invoices",
  "keys",
  "oauth_authorizations",
  "oauth_clients",
  "permission_entities",
  "team_features",
  "team_invitations",
  "team_invoices",
  "team_members",
  "team_spaces",
];

describe("catalog/heroku", () => {
  it("vendors the Heroku schema byte for byte", () => {
    const md5 = createHash("md5").update(readFileSync(`${catalogDir}source/platform-api-schema.json`)).digest("hex");
    expect(md5).toBe("1cadf858ee750787bd805a67232c31b8");
    expect(listEndpoints).toHaveLength(89);
  });

  it("is exactly what the generator produces (no stale or stray files)", () => {
    for (const [relative, content] of generated) expect(read(relative), relative).toBe(content);
    expect(filesUnder(catalogDir).sort()).toEqual([...generated.keys(), ...VENDORED].sort());
  });

  it("is deterministic", () => {
    expect(generateHerokuCatalog(JSON.parse(JSON.stringify(platformSchema)), listEndpoints)).toEqual(generated);
  });

  it("writes 2-space JSON with a trailing newline, streams sorted by name", () => {
    for (const [relative, content] of generated) {
      if (!relative.endsWith(".json")) continue;
      expect(content, relative).toBe(`${JSON.stringify(JSON.parse(content), null, 2)}\n`);
    }
    const names = streams.map((s) => s.stream);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
  });

  it("has every required stream", () => {
    const names = new Set(streams.map((s) => s.stream));
    expect(REQUIRED_STREAMS.filter((n) => !names.has(n))).toEqual([]);
    for (const s of streams) expect(s.stream).toMatch(/^[a-z][a-z0-9_]*$/);
  });

  it("marks exactly the global-scope streams (plus their global-only children)", () => {
    const global = streams.filter((s) => s.scope === "global").map((s) => s.stream);
    expect(global.filter((n) => !GLOBAL_SCOPE.includes(n))).toEqual(["invoice_addresses", "team_member_apps"]);
    expect(GLOBAL_SCOPE.filter((n) => !global.includes(n))).toEqual([]);
    // config vars need read-protected (or global): a read-only token is refused
    expect(streams.filter((s) => s.scope === "read-protected").map((s) => s.stream)).toEqual([
      "config_vars",
      "pipeline_review_config_vars",
      "pipeline_test_config_vars",
    ]);
  });

  it("has the single account stream, and snapshots of one object per parent keyed by the parent", () => {
    const account = streams.find((s) => s.stream === "account");
    expect(account).toMatchObject({ path: "/account", parent: null, single: true, key_properties: ["id"] });
    const snapshots = streams.filter((s) => s.single && s.parent !== null);
    expect(snapshots.map((s) => s.stream)).toEqual([
      "account_delinquencies",
      "config_vars",
      "current_inbound_rulesets",
      "invoice_addresses",
      "pipeline_review_config_vars",
      "pipeline_stacks",
      "pipeline_test_config_vars",
      "rate_limits",
      "review_app_configs",
      "space_nats",
      "space_peering_infos",
      "space_topologies",
      "team_delinquencies",
      "team_preferences",
      "user_preferences",
    ]);
    for (const s of snapshots) {
      expect(s.replication_key, s.stream).toBeNull(); // FULL_TABLE: a new version replaces the last
      expect(s.refresh, s.stream).not.toBeNull();
      const key = s.names_only ? [...Object.keys(s.parent_keys).filter((k) => k.endsWith("_id")), "name"] : Object.keys(s.parent_keys);
      expect(s.key_properties, s.stream).toEqual(key);
    }
    // config vars: names only, never a value property
    const configVars = streams.find((s) => s.stream === "config_vars")!;
    expect(configVars).toMatchObject({
      names_only: true,
      key_properties: ["app_id", "name"],
      refresh: { signals: ["created_at", "updated_at", "released_at"] },
    });
    expect(Object.keys(schemaOf("config_vars").properties ?? {}).sort()).toEqual(["app_id", "app_name", "name"]);
    expect(streams.filter((s) => s.names_only).map((s) => s.stream)).toEqual(["config_vars", "pipeline_review_config_vars", "pipeline_test_config_vars"]);
    for (const s of ["pipeline_review_config_vars", "pipeline_test_config_vars"]) {
      expect(Object.keys(schemaOf(s).properties ?? {}).sort()).toEqual(["name", "pipeline_id"]);
    }
  });

  it("links children to parents through every placeholder", () => {
    const byName = new Map(streams.map((s) => [s.stream, s]));
    for (const s of streams) {
      const placeholders = [...s.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      expect(Object.keys(s.params), s.stream).toEqual(placeholders);
      if (placeholders.length === 0 && s.parent === null) continue;
      // children of the token's own account have no placeholder (or `~`)
      if (placeholders.length === 0) expect(byName.get(s.parent ?? "")?.single, s.stream).toBe(true);
      const parent = byName.get(s.parent ?? "");
      expect(parent, `${s.stream} parent`).toBeDefined();
      const parentProps = schemaOf(parent?.stream ?? "").properties ?? {};
      for (const field of [...Object.values(s.params), ...Object.values(s.parent_keys)]) {
        expect(parentProps, `${s.stream}: parent field ${field}`).toHaveProperty([field]);
      }
      expect(Object.keys(s.parent_keys).length, s.stream).toBeGreaterThan(0);
    }
    expect(byName.get("team_member_apps")?.params).toEqual({ team: "team_id", "team-member": "email" });
  });

  it("resolves every $ref and makes every type nullable, every object open", () => {
    for (const s of streams) {
      const raw = read(`schemas/${s.stream}.json`);
      expect(raw, s.stream).not.toContain("$ref");
      for (const [path, node] of nodes(schemaOf(s.stream))) {
        const where = `${s.stream} ${path}`;
        expect(Array.isArray(node.type) && node.type.includes("null"), where).toBe(true);
        if (Array.isArray(node.type) && node.type.includes("object")) expect(node.additionalProperties, where).toBe(true);
        for (const dropped of ["definitions", "links", "example", "readOnly", "pattern", "required", "enum", "anyOf", "oneOf"]) {
          expect(node, where).not.toHaveProperty([dropped]);
        }
        if (node.format !== undefined) expect(["date-time", "uuid", "email"], where).toContain(node.format);
      }
    }
  });

  it("has the key properties, replication key, parent keys and derived keys in each schema", () => {
    for (const s of streams) {
      const props = schemaOf(s.stream).properties ?? {};
      const fields = [...s.key_properties, ...Object.keys(s.parent_keys), ...Object.keys(s.derived_keys)];
      if (s.replication_key !== null) fields.push(s.replication_key);
      for (const field of fields) expect(props, `${s.stream}.${field}`).toHaveProperty([field]);
      expect(s.key_properties.length, s.stream).toBeGreaterThan(0);
    }
    const keys = Object.fromEntries(streams.map((s) => [s.stream, s.key_properties]));
    expect(keys["buildpack_installations"]).toEqual(["app_id", "ordinal"]);
    expect(keys["add_on_configs"]).toEqual(["add_on_id", "name"]);
    expect(keys["peerings"]).toEqual(["space_id", "pcx_id"]);
    expect(keys["dynos"]).toEqual(["id"]);
  });

  it("accounts for every list endpoint: a stream or a skip with a reason", () => {
    const catalog = buildHerokuCatalog(platformSchema, listEndpoints);
    const readme = read("README.md");
    const skippedSection = readme.slice(readme.indexOf("## Skipped"));
    const listPaths = new Set(listEndpoints.map((e) => `${e.resource} ${e.href_readable}`));
    const streamed = new Set(streams.map((s) => `${s.resource} ${s.path}`).filter((id) => listPaths.has(id)));
    const skipped = new Map(catalog.skipped.map((s) => [`${s.endpoint.resource} ${s.endpoint.href_readable}`, s.reason]));
    for (const e of listEndpoints) {
      const id = `${e.resource} ${e.href_readable}`;
      expect(streamed.has(id) !== skipped.has(id), id).toBe(true);
      if (skipped.has(id)) {
        expect(skipped.get(id)?.length, id).toBeGreaterThan(10);
        expect(skippedSection, id).toContain(`\`GET ${e.href_readable}\` (${e.resource},`);
      }
    }
    expect(streamed.size + skipped.size).toBe(listEndpoints.length);
    for (const s of streams) expect(readme, s.stream).toContain(`| \`${s.stream}\` | \`GET ${s.path}\` |`);
  });

  it("accounts for every GET link of the schema: a stream or a skip with a written reason", () => {
    // Enumerated here from the hyper-schema itself, not from the generator's tables.
    const definitions = (platformSchema as { definitions: Record<string, { links?: { method: string; href: string; title?: string }[] }> }).definitions;
    const links: { resource: string; path: string }[] = [];
    for (const [resource, def] of Object.entries(definitions)) {
      for (const l of def.links ?? []) {
        if (l.method !== "GET") continue;
        links.push({ resource, path: l.href.replace(/\{\(([^)]*)\)\}/g, (_, ptr: string) => `{${decodeURIComponent(ptr).split("/")[2]}}`) });
      }
    }
    expect(links).toHaveLength(166);
    const shape = (path: string) => path.replace(/\{[^}]+\}|~/g, "{}");
    // a stream's path may fill a placeholder with a fixed value (`~`, the token's own user; a pipeline stage)
    const pattern = (path: string) => new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    const streamedBy = (l: { resource: string; path: string }) => streams.some((s) => s.resource === l.resource && pattern(l.path).test(s.path));
    const catalog = buildHerokuCatalog(platformSchema, listEndpoints);
    const skipped = new Map<string, string>([
      ...catalog.skipped.map((s): [string, string] => [`${s.endpoint.resource} ${shape(s.endpoint.href_readable)}`, s.reason]),
      ...catalog.skippedLinks.map((s): [string, string] => [`${s.link.resource} ${shape(s.link.path)}`, s.reason]),
    ]);
    const readme = read("README.md");
    const neither: string[] = [];
    for (const l of links) {
      const id = `${l.resource} ${shape(l.path)}`;
      if (streamedBy(l) === skipped.has(id)) neither.push(id);
      const reason = skipped.get(id);
      if (reason !== undefined) {
        expect(reason.length, id).toBeGreaterThan(20);
        expect(readme, id).toContain(`\`GET ${l.path}\` (${l.resource},`);
      }
    }
    expect(neither, "GET links that are neither a stream nor skipped (or both)").toEqual([]);
    expect(streams.length).toBeGreaterThanOrEqual(90);
  });

  it("describes the required query of the usage streams", () => {
    for (const s of streams.filter((x) => x.stream.endsWith("_usage"))) {
      expect(s.query?.["start"], s.stream).toMatch(/^start_date:YYYY-MM(-DD)?$/);
      expect(s.selected_by_default, s.stream).toBe(false);
    }
  });

  it("walks apps, releases and builds by a server-side Range on a field Heroku accepts, the rest by id", () => {
    const ranged = streams.filter((s) => s.server_range !== null);
    expect(Object.fromEntries(ranged.map((s) => [s.stream, `${s.server_range!.field} ${s.server_range!.order}`]))).toEqual({
      apps: "updated_at asc",
      builds: "started_at desc",
      releases: "version desc",
    });
    for (const s of ranged) expect(s.ranges, s.stream).toContain(s.server_range!.field);
  });

  it("accepts real-looking records, e.g. a domain with a bare hostname", () => {
    const domain = {
      acm_status: null,
      acm_status_reason: null,
      app: { id: "01234567-89ab-cdef-0123-456789abcdef", name: "example" },
      cname: "example-1234.herokudns.com",
      created_at: "2012-01-01T12:00:00Z",
      hostname: "www.example.com",
      id: "01234567-89ab-cdef-0123-456789abcdef",
      kind: "custom",
      status: "succeeded",
      updated_at: "2012-01-01T12:00:00Z",
      sni_endpoint: null,
      some_new_field: { anything: [1, "two"] },
      app_id: "01234567-89ab-cdef-0123-456789abcdef",
    };
    expect(validate(schemaOf("domains"), domain)).toEqual([]);
    const dyno = { id: "01234567-89ab-cdef-0123-456789abcdef", app: { id: null, name: "x" }, size: null, state: "up" };
    expect(validate(schemaOf("dynos"), dyno)).toEqual([]);
    expect(validate(schemaOf("space_app_accesses"), { user: { id: null, email: "a@example.com" }, permissions: [] })).toEqual([]);
  });

  it("still rejects records that break the kept formats and types", () => {
    expect(validate(schemaOf("domains"), { id: "not-a-uuid", created_at: "yesterday", app: "x" })).toEqual([
      '$.id: not a valid uuid: "not-a-uuid"',
      '$.created_at: not a valid date-time: "yesterday"',
      "$.app: expected null or object, got string",
    ]);
  });
});

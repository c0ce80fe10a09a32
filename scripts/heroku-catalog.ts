/**
 * Pure generation logic for the Heroku Platform API catalog (catalog/heroku).
 *
 * Inputs: the Platform API JSON hyper-schema and list-endpoints.json (both vendored under
 * catalog/heroku/source). Output: a map from a path relative to catalog/heroku to the exact file
 * content. No I/O happens here; scripts/generate-catalog.ts writes the files and
 * test/catalog.test.ts checks that the committed files match.
 *
 * The hand-made decisions (stream names, which endpoint feeds each stream, parents, composite keys,
 * notes, skip reasons) are the data tables STREAM_DECISIONS and SKIPPED_ENDPOINTS below. Everything
 * else (resource, stability, replication key, Range fields, schemas) is derived from the inputs.
 */

import type { Refresh, ServerRange, StreamDefinition } from "../src/heroku/definitions.ts";
import { otherHostsSection } from "./host-streams.ts";

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A stream row: the type of src/heroku/definitions.ts's zod schema, declared once there. */
export type HerokuStream = StreamDefinition;

/** A hand-made decision for one stream. Unset fields take the defaults documented per field. */
interface StreamDecision {
  stream: string;
  /** the list endpoint (resource + href_readable of list-endpoints.json) */
  endpoint: { resource: string; path: string };
  /** default: top-level (null) */
  parent?: string;
  params?: Record<string, string>;
  parent_keys?: Record<string, string>;
  derived_keys?: Record<string, string>;
  /** default: ["id"] */
  key?: string[];
  /** default: "read" */
  scope?: "global";
  query?: Record<string, string>;
  /** default: none (walk by id) */
  server_range?: ServerRange;
  /** default: true */
  selected?: false;
  note?: string;
}

interface SkipDecision {
  endpoint: { resource: string; path: string };
  reason: string;
}

// ---------------------------------------------------------------------------------------------
// Hand-made decisions (data over code)
// ---------------------------------------------------------------------------------------------

const APP_FILTER_NOTE = "One request for the whole account instead of one per app; the `apps` setting is applied client-side (on app.id / app.name).";
const PARTNER_ONLY_NOTE =
  "Add-on partner only: the schema says 'Can only be accessed by the add-on partner providing this add-on', so a customer's token is expected to be refused (403). Off by default.";
const USAGE_NOTE =
  "Enterprise usage; needs the `start` (and `end`) query parameters, filled as described in `query`; rows are re-read for the whole window on every run. Off by default because it needs that input.";

/** The `account` stream: GET /account is a single object, not a list endpoint. */
const ACCOUNT_STREAM = {
  stream: "account",
  resource: "account",
  path: "/account",
  schemaRef: "#/definitions/account",
  stability: "production",
  note: "GET /account returns one object (the token's own user); the tap emits it as one record.",
} as const;

export const STREAM_DECISIONS: readonly StreamDecision[] = [
  { stream: "account_features", endpoint: { resource: "account-feature", path: "/account/features" } },
  { stream: "add_ons", endpoint: { resource: "add-on", path: "/addons" }, note: APP_FILTER_NOTE },
  {
    stream: "add_on_attachments",
    endpoint: { resource: "add-on-attachment", path: "/addon-attachments" },
    note: APP_FILTER_NOTE,
  },
  {
    stream: "add_on_configs",
    endpoint: { resource: "add-on-config", path: "/addons/{add-on}/config" },
    parent: "add_ons",
    params: { "add-on": "id" },
    parent_keys: { add_on_id: "id" },
    key: ["add_on_id", "name"],
    selected: false,
    note:
      "Values are the add-on's config vars, i.e. live credentials such as DATABASE_URL. Off by default; select it only if the destination may hold secrets.",
  },
  {
    stream: "add_on_plans",
    endpoint: { resource: "plan", path: "/addon-services/{add-on-service}/plans" },
    parent: "add_on_services",
    params: { "add-on-service": "id" },
    parent_keys: { add_on_service_id: "id" },
    selected: false,
    note: "Marketplace catalogue, not account data: one request per add-on service (a couple of hundred). Off by default.",
  },
  {
    stream: "add_on_region_capabilities",
    endpoint: { resource: "add-on-region-capability", path: "/addon-region-capabilities" },
  },
  { stream: "add_on_services", endpoint: { resource: "add-on-service", path: "/addon-services" } },
  {
    stream: "add_on_webhook_deliveries",
    endpoint: { resource: "add-on-webhook-delivery", path: "/addons/{add-on}/webhook-deliveries" },
    parent: "add_ons",
    params: { "add-on": "id" },
    parent_keys: { add_on_id: "id" },
    selected: false,
    note: PARTNER_ONLY_NOTE,
  },
  {
    stream: "add_on_webhook_events",
    endpoint: { resource: "add-on-webhook-event", path: "/addons/{add-on}/webhook-events" },
    parent: "add_ons",
    params: { "add-on": "id" },
    parent_keys: { add_on_id: "id" },
    selected: false,
    note: PARTNER_ONLY_NOTE,
  },
  {
    stream: "add_on_webhooks",
    endpoint: { resource: "add-on-webhook", path: "/addons/{add-on}/webhooks" },
    parent: "add_ons",
    params: { "add-on": "id" },
    parent_keys: { add_on_id: "id" },
    selected: false,
    note: PARTNER_ONLY_NOTE,
  },
  {
    stream: "allowed_add_on_services",
    endpoint: { resource: "allowed-add-on-service", path: "/teams/{team}/allowed-addon-services" },
    parent: "teams",
    params: { team: "id" },
    parent_keys: { team_id: "id" },
  },
  {
    stream: "app_features",
    endpoint: { resource: "app-feature", path: "/apps/{app}/features" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    key: ["app_id", "id"],
    note: "`id` identifies the Labs feature (the same for every app), so the key includes app_id.",
  },
  {
    stream: "app_available_stacks",
    endpoint: { resource: "stack", path: "/apps/{app}/available-stacks" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    key: ["app_id", "id"],
    note: "The stacks each app may move to (stacks holds every stack); `id` is the stack's, so the key includes app_id.",
  },
  { stream: "app_transfers", endpoint: { resource: "app-transfer", path: "/account/app-transfers" } },
  {
    stream: "app_webhook_deliveries",
    endpoint: { resource: "app-webhook-delivery", path: "/apps/{app}/webhook-deliveries" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    scope: "global",
  },
  {
    stream: "app_webhook_events",
    endpoint: { resource: "app-webhook-event", path: "/apps/{app}/webhook-events" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    scope: "global",
  },
  {
    stream: "app_webhooks",
    endpoint: { resource: "app-webhook", path: "/apps/{app}/webhooks" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    scope: "global",
  },
  {
    stream: "apps",
    endpoint: { resource: "app", path: "/apps" },
    server_range: { field: "updated_at", order: "asc", unique: false, use: "start" },
  },
  {
    stream: "buildpack_installations",
    endpoint: { resource: "buildpack-installation", path: "/apps/{app}/buildpack-installations" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    key: ["app_id", "ordinal"],
  },
  {
    stream: "builds",
    endpoint: { resource: "build", path: "/apps/{app}/builds" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    server_range: { field: "started_at", order: "desc", unique: false, use: "stop" },
  },
  {
    stream: "collaborators",
    endpoint: { resource: "collaborator", path: "/apps/{app}/collaborators" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
  },
  { stream: "credits", endpoint: { resource: "credit", path: "/account/credits" }, scope: "global" },
  {
    stream: "domains",
    endpoint: { resource: "domain", path: "/apps/{app}/domains" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    note: "`hostname` holds bare host names (www.example.com); the hyper-schema's format uri is dropped.",
  },
  {
    stream: "dyno_sizes",
    endpoint: { resource: "dyno-size", path: "/dyno-sizes" },
  },
  {
    stream: "dynos",
    endpoint: { resource: "dyno", path: "/apps/{app}/dynos" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    note: "A snapshot of the dynos running at extraction time.",
  },
  {
    stream: "enterprise_account_archives",
    endpoint: { resource: "archive", path: "/enterprise-accounts/{enterprise-account}/archives" },
    parent: "enterprise_accounts",
    params: { "enterprise-account": "id" },
    parent_keys: { enterprise_account_id: "id" },
    key: ["enterprise_account_id", "year", "month"],
    note: "One row per monthly audit-trail archive of the enterprise account (download URL, checksum, size).",
  },
  {
    stream: "enterprise_account_audit_trail_events",
    endpoint: { resource: "audit-trail-event", path: "/enterprise-accounts/{enterprise-account}/events" },
    parent: "enterprise_accounts",
    params: { "enterprise-account": "id" },
    parent_keys: { enterprise_account_id: "id" },
    selected: false,
    note:
      "Can be large and has no updated_at, so it is re-read in full on every run; enterprise_account_archives holds the same events as monthly files. Off by default.",
  },
  {
    stream: "enterprise_account_daily_usage",
    endpoint: { resource: "enterprise-account-daily-usage", path: "/enterprise-accounts/{enterprise-account}/usage/daily" },
    parent: "enterprise_accounts",
    params: { "enterprise-account": "id" },
    parent_keys: { enterprise_account_id: "id" },
    key: ["enterprise_account_id", "date"],
    query: { start: "start_date:YYYY-MM-DD", end: "now:YYYY-MM-DD" },
    selected: false,
    note: USAGE_NOTE,
  },
  {
    stream: "enterprise_account_members",
    endpoint: { resource: "enterprise-account-member", path: "/enterprise-accounts/{enterprise-account}/members" },
    parent: "enterprise_accounts",
    params: { "enterprise-account": "id" },
    parent_keys: { enterprise_account_id: "id" },
  },
  {
    stream: "enterprise_account_monthly_usage",
    endpoint: {
      resource: "enterprise-account-monthly-usage",
      path: "/enterprise-accounts/{enterprise-account}/usage/monthly",
    },
    parent: "enterprise_accounts",
    params: { "enterprise-account": "id" },
    parent_keys: { enterprise_account_id: "id" },
    key: ["enterprise_account_id", "month"],
    query: { start: "start_date:YYYY-MM", end: "now:YYYY-MM" },
    selected: false,
    note: USAGE_NOTE,
  },
  {
    stream: "enterprise_account_teams",
    endpoint: { resource: "team", path: "/enterprise-accounts/{enterprise-account}/teams" },
    parent: "enterprise_accounts",
    params: { "enterprise-account": "id" },
    parent_keys: { enterprise_account_id: "id" },
    note: "Every team of the enterprise account, including those the token's user is not a member of (teams lists only the user's).",
  },
  { stream: "enterprise_accounts", endpoint: { resource: "enterprise-account", path: "/enterprise-accounts" } },
  {
    stream: "formations",
    endpoint: { resource: "formation", path: "/apps/{app}/formation" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
  },
  { stream: "generations", endpoint: { resource: "generation", path: "/generations" } },
  {
    stream: "identity_providers",
    endpoint: { resource: "identity-provider", path: "/teams/{team}/identity-providers" },
    parent: "teams",
    params: { team: "name" },
    parent_keys: { team_id: "id" },
  },
  {
    stream: "inbound_rulesets",
    endpoint: { resource: "inbound-ruleset", path: "/spaces/{space}/inbound-rulesets" },
    parent: "spaces",
    params: { space: "id" },
    parent_keys: { space_id: "id" },
  },
  { stream: "invoices", endpoint: { resource: "invoice", path: "/account/invoices" }, scope: "global" },
  { stream: "keys", endpoint: { resource: "key", path: "/account/keys" }, scope: "global" },
  {
    stream: "log_drains",
    endpoint: { resource: "log-drain", path: "/apps/{app}/log-drains" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    note: "Includes the drains that add-ons create on the app (their `addon` field is set).",
  },
  {
    stream: "oauth_authorizations",
    endpoint: { resource: "oauth-authorization", path: "/oauth/authorizations" },
    scope: "global",
  },
  { stream: "oauth_clients", endpoint: { resource: "oauth-client", path: "/oauth/clients" }, scope: "global" },
  {
    stream: "peerings",
    endpoint: { resource: "peering", path: "/spaces/{space}/peerings" },
    parent: "spaces",
    params: { space: "id" },
    parent_keys: { space_id: "id" },
    key: ["space_id", "pcx_id"],
  },
  {
    stream: "permission_entities",
    endpoint: { resource: "permission-entity", path: "/teams/{team}/permissions" },
    parent: "teams",
    params: { team: "id" },
    parent_keys: { team_id: "id" },
    scope: "global",
  },
  {
    stream: "pipeline_builds",
    endpoint: { resource: "pipeline-build", path: "/pipelines/{pipeline}/latest-builds" },
    parent: "pipelines",
    params: { pipeline: "id" },
    parent_keys: { pipeline_id: "id" },
    note: "Latest build of each app in the pipeline only, not the history (see builds).",
  },
  {
    stream: "pipeline_couplings",
    endpoint: { resource: "pipeline-coupling", path: "/pipeline-couplings" },
    note: APP_FILTER_NOTE,
  },
  {
    stream: "pipeline_deployments",
    endpoint: { resource: "pipeline-deployment", path: "/pipelines/{pipeline}/latest-deployments" },
    parent: "pipelines",
    params: { pipeline: "id" },
    parent_keys: { pipeline_id: "id" },
    note: "Release records: the latest deployment of each app in the pipeline only, not the history (see releases).",
  },
  {
    stream: "pipeline_releases",
    endpoint: { resource: "pipeline-release", path: "/pipelines/{pipeline}/latest-releases" },
    parent: "pipelines",
    params: { pipeline: "id" },
    parent_keys: { pipeline_id: "id" },
    note: "Release records: the latest release of each app in the pipeline only, not the history (see releases).",
  },
  { stream: "pipelines", endpoint: { resource: "pipeline", path: "/pipelines" } },
  { stream: "regions", endpoint: { resource: "region", path: "/regions" } },
  {
    stream: "releases",
    endpoint: { resource: "release", path: "/apps/{app}/releases" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    server_range: { field: "version", order: "desc", unique: true, use: "stop" },
  },
  {
    stream: "review_apps",
    endpoint: { resource: "review-app", path: "/pipelines/{pipeline}/review-apps" },
    parent: "pipelines",
    params: { pipeline: "id" },
    parent_keys: { pipeline_id: "id" },
  },
  {
    stream: "sni_endpoints",
    endpoint: { resource: "sni-endpoint", path: "/apps/{app}/sni-endpoints" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
  },
  {
    stream: "space_app_accesses",
    endpoint: { resource: "space-app-access", path: "/spaces/{space}/members" },
    parent: "spaces",
    params: { space: "id" },
    parent_keys: { space_id: "id" },
    derived_keys: { user_id: "user.id" },
    key: ["space_id", "user_id"],
    note: "One row per user with access to the space; the schema gives `id` as the space's id, so the key is space_id + user_id (copied from user.id).",
  },
  {
    stream: "space_telemetry_drains",
    endpoint: { resource: "telemetry-drain", path: "/spaces/{space}/telemetry-drains" },
    parent: "spaces",
    params: { space: "id" },
    parent_keys: { space_id: "id" },
    note: "Telemetry drains owned by a space (app-owned drains are in telemetry_drains).",
  },
  { stream: "spaces", endpoint: { resource: "space", path: "/spaces" } },
  { stream: "stacks", endpoint: { resource: "stack", path: "/stacks" } },
  {
    stream: "team_app_permissions",
    endpoint: { resource: "team-app-permission", path: "/teams/permissions" },
    key: ["name"],
  },
  {
    stream: "team_apps",
    endpoint: { resource: "team-app", path: "/teams/{team}/apps" },
    parent: "teams",
    params: { team: "id" },
    parent_keys: { team_id: "id" },
    note: "Team-owned apps with the team-only fields (joined, locked, team); the same apps are also in apps.",
  },
  {
    stream: "team_available_generations",
    endpoint: { resource: "generation", path: "/teams/{team}/available-generations" },
    parent: "teams",
    params: { team: "id" },
    parent_keys: { team_id: "id" },
    key: ["team_id", "id"],
    note: "The generations (Cedar, Fir) each team may use (generations holds every one); `id` is the generation's, so the key includes team_id.",
  },
  {
    stream: "team_daily_usage",
    endpoint: { resource: "team-daily-usage", path: "/teams/{team}/usage/daily" },
    parent: "teams",
    params: { team: "id" },
    parent_keys: { team_id: "id" },
    key: ["team_id", "date"],
    query: { start: "start_date:YYYY-MM-DD", end: "now:YYYY-MM-DD" },
    selected: false,
    note: USAGE_NOTE,
  },
  {
    stream: "team_features",
    endpoint: { resource: "team-feature", path: "/teams/{team}/features" },
    parent: "teams",
    params: { team: "id" },
    parent_keys: { team_id: "id" },
    key: ["team_id", "id"],
    scope: "global",
    note: "`id` identifies the feature (the same for every team), so the key includes team_id.",
  },
  {
    stream: "team_invitations",
    endpoint: { resource: "team-invitation", path: "/teams/{team}/invitations" },
    parent: "teams",
    params: { team: "name" },
    parent_keys: { team_id: "id" },
    scope: "global",
  },
  {
    stream: "team_invoices",
    endpoint: { resource: "team-invoice", path: "/teams/{team}/invoices" },
    parent: "teams",
    params: { team: "id" },
    parent_keys: { team_id: "id" },
    scope: "global",
  },
  {
    stream: "team_member_apps",
    endpoint: { resource: "team-member", path: "/teams/{team}/members/{team-member}/apps" },
    parent: "team_members",
    params: { team: "team_id", "team-member": "email" },
    parent_keys: { team_id: "team_id", team_member_id: "id" },
    key: ["team_id", "team_member_id", "id"],
    scope: "global",
    selected: false,
    note: "Team-app records per member (which apps each member can reach): one request per team member, and the apps repeat for every member. Off by default.",
  },
  {
    stream: "team_members",
    endpoint: { resource: "team-member", path: "/teams/{team}/members" },
    parent: "teams",
    params: { team: "id" },
    parent_keys: { team_id: "id" },
    scope: "global",
  },
  {
    stream: "team_monthly_usage",
    endpoint: { resource: "team-monthly-usage", path: "/teams/{team}/usage/monthly" },
    parent: "teams",
    params: { team: "id" },
    parent_keys: { team_id: "id" },
    key: ["team_id", "month"],
    query: { start: "start_date:YYYY-MM", end: "now:YYYY-MM" },
    selected: false,
    note: USAGE_NOTE,
  },
  {
    stream: "team_spaces",
    endpoint: { resource: "team-space", path: "/teams/{team}/spaces" },
    parent: "teams",
    params: { team: "id" },
    parent_keys: { team_id: "id" },
    scope: "global",
    note: "Space records of each team; spaces (GET /spaces) holds every space the user can see.",
  },
  { stream: "teams", endpoint: { resource: "team", path: "/teams" } },
  {
    stream: "telemetry_drains",
    endpoint: { resource: "telemetry-drain", path: "/apps/{app}/telemetry-drains" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    note: "Telemetry drains owned by an app (space-owned drains are in space_telemetry_drains).",
  },
  {
    stream: "test_cases",
    endpoint: { resource: "test-case", path: "/test-runs/{test-run}/test-cases" },
    parent: "test_runs",
    params: { "test-run": "id" },
    parent_keys: { test_run_id: "id" },
    selected: false,
    note: "One request per Heroku CI test run (every run of every pipeline). Off by default.",
  },
  {
    stream: "test_nodes",
    endpoint: { resource: "test-node", path: "/test-runs/{test-run}/test-nodes" },
    parent: "test_runs",
    params: { "test-run": "id" },
    parent_keys: { test_run_id: "id" },
    selected: false,
    note: "One request per Heroku CI test run (every run of every pipeline). Off by default.",
  },
  {
    stream: "test_runs",
    endpoint: { resource: "test-run", path: "/pipelines/{pipeline}/test-runs" },
    parent: "pipelines",
    params: { pipeline: "id" },
    parent_keys: { pipeline_id: "id" },
  },
  {
    stream: "vpn_connections",
    endpoint: { resource: "vpn-connection", path: "/spaces/{space}/vpn-connections" },
    parent: "spaces",
    params: { space: "id" },
    parent_keys: { space_id: "id" },
  },
];

// When a child stream re-reads a parent's children (src/heroku/refresh.ts). Every parent's own
// `created_at` / `updated_at` always count as signals (a new or edited parent is re-read: cheap, and
// never relied on to skip); the extra signals below are the fields Heroku documents to change together
// with those children. Without a signal a child can change unseen, so each stream belongs to a family
// whose refresh interval (setting `refresh_hours.<family>`) bounds how stale it may get.
const RELEASED_AT_SOURCE =
  "app.released_at ('when app was released', Platform API schema) moves with every release; a release is created by every deploy, config var change and add-on change (https://devcenter.heroku.com/articles/releases)";
const CONFIG_VARS_SOURCE = "setting or removing a config var creates a release (https://devcenter.heroku.com/articles/releases), which moves app.released_at";
const DYNOS_SOURCE =
  "a new release restarts every dyno (https://devcenter.heroku.com/articles/dyno-restarts), so released_at signals new dynos; the daily cycling (every 24 h plus up to 216 min), crashes and scaling change them with no app signal";
const FORMATION_SOURCE =
  "process types come from the slug currently released (Platform API schema, formation: 'defined by the process_types attribute for the slug currently released'); scaling changes quantity and size with no app signal";
const BUILDS_SOURCE =
  "a successful build is released, and a deploy creates a release (https://devcenter.heroku.com/articles/releases); a failed or running build changes nothing documented on the app";
const WEBHOOK_EVENTS_SOURCE =
  "deliveries of api:release events follow releases (released_at); those of dyno, domain, build, collaborator… events have no app signal";
const NO_SIGNAL = "no parent field is documented to change with these records";
const TEST_RUN_SOURCE =
  "assumed, not documented: a test run's updated_at moves while its nodes and cases progress (its status sums them up); the interval bounds the rest";

/** Child stream -> its refresh family, the extra parent signals and where they come from. */
const REFRESH_DECISIONS: Readonly<Record<string, { family: Refresh["family"]; signals?: string[]; source?: string }>> = {
  dynos: { family: "volatile", signals: ["released_at"], source: DYNOS_SOURCE },
  builds: { family: "activity", signals: ["released_at"], source: BUILDS_SOURCE },
  formations: { family: "activity", signals: ["released_at"], source: FORMATION_SOURCE },
  app_webhook_deliveries: { family: "activity", signals: ["released_at"], source: WEBHOOK_EVENTS_SOURCE },
  app_webhook_events: { family: "activity", signals: ["released_at"], source: WEBHOOK_EVENTS_SOURCE },
  releases: { family: "daily", signals: ["released_at"], source: RELEASED_AT_SOURCE },
  app_features: { family: "daily" },
  app_webhooks: { family: "daily" },
  buildpack_installations: { family: "daily" },
  collaborators: { family: "daily" },
  domains: { family: "daily" },
  log_drains: { family: "daily" },
  sni_endpoints: { family: "daily" },
  telemetry_drains: { family: "daily" },
  add_on_configs: { family: "daily" },
  add_on_plans: { family: "daily" },
  add_on_webhook_deliveries: { family: "activity" },
  add_on_webhook_events: { family: "activity" },
  add_on_webhooks: { family: "daily" },
  allowed_add_on_services: { family: "daily" },
  identity_providers: { family: "daily" },
  permission_entities: { family: "daily" },
  team_apps: { family: "daily" },
  team_features: { family: "daily" },
  team_invitations: { family: "daily" },
  team_invoices: { family: "daily" },
  team_members: { family: "daily" },
  team_spaces: { family: "daily" },
  team_daily_usage: { family: "daily" },
  team_monthly_usage: { family: "daily" },
  team_member_apps: { family: "daily" },
  team_available_generations: { family: "daily" },
  app_available_stacks: { family: "daily" },
  enterprise_account_teams: { family: "daily" },
  inbound_rulesets: { family: "daily" },
  peerings: { family: "daily" },
  space_app_accesses: { family: "daily" },
  space_telemetry_drains: { family: "daily" },
  vpn_connections: { family: "daily" },
  pipeline_builds: { family: "activity" },
  pipeline_deployments: { family: "activity" },
  pipeline_releases: { family: "activity" },
  review_apps: { family: "activity" },
  test_runs: { family: "activity" },
  test_cases: { family: "activity", source: TEST_RUN_SOURCE },
  config_vars: { family: "daily", signals: ["released_at"], source: CONFIG_VARS_SOURCE },
  app_available_dyno_sizes: { family: "daily" },
  pipeline_test_config_vars: { family: "daily" },
  pipeline_review_config_vars: { family: "daily" },
  current_inbound_rulesets: { family: "daily" },
  space_nats: { family: "daily" },
  space_peering_infos: { family: "daily" },
  space_topologies: { family: "daily" },
  team_delinquencies: { family: "daily" },
  team_preferences: { family: "daily" },
  pipeline_stacks: { family: "daily" },
  review_app_configs: { family: "daily" },
  account_delinquencies: { family: "daily" },
  invoice_addresses: { family: "daily" },
  user_preferences: { family: "daily" },
  rate_limits: { family: "volatile" },
  test_nodes: { family: "activity", source: TEST_RUN_SOURCE },
  enterprise_account_archives: { family: "daily" },
  enterprise_account_audit_trail_events: { family: "activity" },
  enterprise_account_daily_usage: { family: "daily" },
  enterprise_account_members: { family: "daily" },
  enterprise_account_monthly_usage: { family: "daily" },
};

function refreshOf(stream: string, where: string): Refresh {
  const d = REFRESH_DECISIONS[stream];
  if (d === undefined) fail(`${where}: a child stream needs a refresh decision (REFRESH_DECISIONS)`);
  return { family: d.family, signals: ["created_at", "updated_at", ...(d.signals ?? [])], source: d.source ?? NO_SIGNAL };
}

export const SKIPPED_ENDPOINTS: readonly SkipDecision[] = [
  {
    endpoint: { resource: "add-on-attachment", path: "/addons/{add-on}/addon-attachments" },
    reason: "Duplicates `add_on_attachments` (GET /addon-attachments lists every attachment in one request).",
  },
  {
    endpoint: { resource: "add-on-attachment", path: "/apps/{app}/addon-attachments" },
    reason: "Duplicates `add_on_attachments` (GET /addon-attachments lists every attachment in one request).",
  },
  {
    endpoint: { resource: "add-on-region-capability", path: "/addon-services/{add-on-service}/region-capabilities" },
    reason: "Subset of `add_on_region_capabilities` (GET /addon-region-capabilities).",
  },
  {
    endpoint: { resource: "add-on-region-capability", path: "/regions/{region}/addon-region-capabilities" },
    reason: "Subset of `add_on_region_capabilities` (GET /addon-region-capabilities).",
  },
  {
    endpoint: { resource: "add-on", path: "/apps/{app}/addons" },
    reason: "Per-app duplicate of `add_ons` (GET /addons).",
  },
  {
    endpoint: { resource: "add-on", path: "/users/{account}/addons" },
    reason: "Per-user duplicate of `add_ons` (GET /addons).",
  },
  {
    endpoint: { resource: "add-on", path: "/teams/{team}/addons" },
    reason: "Per-team duplicate of `add_ons` (GET /addons).",
  },
  {
    endpoint: { resource: "team-add-on", path: "/teams/{team}/addons" },
    reason: "Per-team duplicate of `add_ons` (GET /addons); same href as the add-on 'List By Team' link.",
  },
  {
    endpoint: { resource: "app", path: "/users/{account}/apps" },
    reason: "Duplicates `apps` (GET /apps already lists owned and collaborated apps).",
  },
  {
    endpoint: { resource: "log-drain", path: "/addons/{add-on}/log-drains" },
    reason:
      "Add-on-owned drains are already listed by `log_drains` (GET /apps/{app}/log-drains, with `addon` set); the per-add-on list is the add-on partner's view.",
  },
  {
    endpoint: { resource: "pipeline-coupling", path: "/pipelines/{pipeline}/pipeline-couplings" },
    reason: "Per-pipeline duplicate of `pipeline_couplings` (GET /pipeline-couplings).",
  },
  {
    endpoint: { resource: "pipeline-coupling", path: "/users/~/pipeline-couplings" },
    reason: "Current-user duplicate of `pipeline_couplings` (GET /pipeline-couplings).",
  },
  {
    endpoint: { resource: "pipeline-coupling", path: "/teams/{team}/pipeline-couplings" },
    reason: "Per-team duplicate of `pipeline_couplings` (GET /pipeline-couplings).",
  },
  {
    endpoint: { resource: "pipeline-promotion-target", path: "/pipeline-promotions/{pipeline-promotion}/promotion-targets" },
    reason: "No parent stream: the API has no list of pipeline promotions (only create and get by id), so there are no promotion ids to walk.",
  },
  {
    endpoint: { resource: "team-app-collaborator", path: "/teams/apps/{team-app}/collaborators" },
    reason:
      "Duplicates `collaborators`: team apps are apps, and GET /apps/{app}/collaborators returns the same collaborator records (with `permissions` and `role`).",
  },
  {
    endpoint: { resource: "team-invitation", path: "/teams/invitations/{team-invitation}" },
    reason: "Not a list: despite rel=instances it is 'Get' of one invitation by its secret token.",
  },
];

// ---------------------------------------------------------------------------------------------
// GET links beyond the list endpoints: single objects hanging off a parent, and lists with
// another rel. Every GET link of the hyper-schema is a stream or a skip with a reason (checked).
// ---------------------------------------------------------------------------------------------

/** A GET link outside list-endpoints.json made a stream: a snapshot (FULL_TABLE) keyed by its parent. */
interface LinkDecision {
  stream: string;
  /** the link: resource + href with placeholders shortened to `{<resource>}` */
  link: { resource: string; path: string };
  parent: string;
  params?: Record<string, string>;
  /**
   * placeholders filled with a fixed value: `~` for the token's own user (the identity's only
   * alternative is `self`), or a pipeline stage; one link may feed a stream per value
   */
  literal?: Record<string, string>;
  parent_keys: Record<string, string>;
  /** default: the parent keys (one object per parent) */
  key?: string[];
  /** default: "read" */
  scope?: "global" | "read-protected";
  /** the body is an object of name -> secret value; each name becomes a record, values are dropped */
  names_only?: true;
  /** default: true */
  selected?: false;
  note?: string;
}

const SPACE = { parent: "spaces", params: { space: "id" }, parent_keys: { space_id: "id" } } as const;
const PIPELINE = { parent: "pipelines", params: { pipeline: "id" }, parent_keys: { pipeline_id: "id" } } as const;
const ACCOUNT = { parent: "account", parent_keys: { account_id: "id" } } as const;

export const LINK_DECISIONS: readonly LinkDecision[] = [
  { stream: "account_delinquencies", link: { resource: "account-delinquency", path: "/account/delinquency" }, ...ACCOUNT },
  {
    stream: "app_available_dyno_sizes",
    link: { resource: "dyno-size", path: "/apps/{app}/available-dyno-sizes" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id" },
    key: ["app_id", "id"],
    note: "The dyno sizes each app may use (dyno_sizes holds every size); `id` is the size's, so the key includes app_id.",
  },
  {
    stream: "config_vars",
    link: { resource: "config-var", path: "/apps/{app}/config-vars" },
    parent: "apps",
    params: { app: "id" },
    parent_keys: { app_id: "id", app_name: "name" },
    key: ["app_id", "name"],
    scope: "read-protected",
    names_only: true,
    note:
      "Names only: one row per config var (app id and name). Values are secrets: they are dropped from the response at once, never written, logged or kept. The answer Heroku Postgres discovery already got is reused (no second request for those apps).",
  },
  {
    stream: "current_inbound_rulesets",
    link: { resource: "inbound-ruleset", path: "/spaces/{space}/inbound-ruleset" },
    ...SPACE,
    note: "The ruleset in force in each space (inbound_rulesets holds every version).",
  },
  {
    stream: "invoice_addresses",
    link: { resource: "invoice-address", path: "/account/invoice-address" },
    ...ACCOUNT,
    scope: "global",
    selected: false,
    note: "The account's billing postal address: personal data for a personal account. Off by default (sensitive).",
  },
  { stream: "pipeline_stacks", link: { resource: "pipeline-stack", path: "/pipelines/{pipeline}/pipeline-stack" }, ...PIPELINE },
  {
    stream: "rate_limits",
    link: { resource: "rate-limit", path: "/account/rate-limits" },
    ...ACCOUNT,
    note: "Requests left in the token's bucket when read; the tap's own requests spend it too.",
  },
  {
    stream: "review_app_configs",
    link: { resource: "review-app-config", path: "/pipelines/{pipeline}/review-app-config" },
    ...PIPELINE,
    note: "A pipeline without review apps has none (Heroku answers 404): no row.",
  },
  { stream: "space_nats", link: { resource: "space-nat", path: "/spaces/{space}/nat" }, ...SPACE },
  { stream: "space_peering_infos", link: { resource: "peering-info", path: "/spaces/{space}/peering-info" }, ...SPACE },
  { stream: "space_topologies", link: { resource: "space-topology", path: "/spaces/{space}/topology" }, ...SPACE },
  {
    stream: "team_delinquencies",
    link: { resource: "team-delinquency", path: "/teams/{team}/delinquency" },
    parent: "teams",
    params: { team: "id" },
    parent_keys: { team_id: "id" },
  },
  {
    stream: "team_preferences",
    link: { resource: "team-preferences", path: "/teams/{team-preferences}/preferences" },
    parent: "teams",
    params: { "team-preferences": "id" },
    parent_keys: { team_id: "id" },
  },
  {
    stream: "user_preferences",
    link: { resource: "user-preferences", path: "/users/{user-preferences}/preferences" },
    ...ACCOUNT,
    literal: { "user-preferences": "~" },
  },
  {
    stream: "pipeline_test_config_vars",
    link: { resource: "pipeline-config-var", path: "/pipelines/{pipeline}/stage/{pipeline-coupling}/config-vars" },
    ...PIPELINE,
    literal: { "pipeline-coupling": "test" },
    key: ["pipeline_id", "name"],
    scope: "read-protected",
    names_only: true,
    note:
      "Names only of the pipeline's Heroku CI config vars (stage `test`, as heroku/cli's `ci:config` reads them: src/lib/api.ts getPipelineConfigVars); values are dropped at once, as for config_vars.",
  },
  {
    stream: "pipeline_review_config_vars",
    link: { resource: "pipeline-config-var", path: "/pipelines/{pipeline}/stage/{pipeline-coupling}/config-vars" },
    ...PIPELINE,
    literal: { "pipeline-coupling": "review" },
    key: ["pipeline_id", "name"],
    scope: "read-protected",
    names_only: true,
    note: "Names only of the config vars the pipeline gives its review apps (stage `review`); values are dropped at once, as for config_vars.",
  },
];

/** Why a GET link is not a stream: most read one record by id, of a list that is a stream. */
const infoOf = (stream: string) => `Reads one record by id; every record of it is already in \`${stream}\`.`;
const NO_LIST = "there is no list to walk (the API has no list of them), and one request per release or build would be heavy; left for later";

export const SKIPPED_LINKS: readonly { link: { resource: string; path: string }; reason: string }[] = [
  { link: { resource: "account-feature", path: "/account/features/{account-feature}" }, reason: infoOf("account_features") },
  { link: { resource: "account", path: "/users/{account}" }, reason: "Another user by id or email; the token's own user is `account` (GET /account)." },
  { link: { resource: "add-on-attachment", path: "/addon-attachments/{add-on-attachment}" }, reason: infoOf("add_on_attachments") },
  { link: { resource: "add-on-attachment", path: "/apps/{app}/addon-attachments/{add-on-attachment}" }, reason: infoOf("add_on_attachments") },
  { link: { resource: "add-on-service", path: "/addon-services/{add-on-service}" }, reason: infoOf("add_on_services") },
  {
    link: { resource: "add-on-webhook-delivery", path: "/addons/{add-on}/webhook-deliveries/{app-webhook-delivery}" },
    reason: infoOf("add_on_webhook_deliveries"),
  },
  { link: { resource: "add-on-webhook-event", path: "/addons/{add-on}/webhook-events/{app-webhook-event}" }, reason: infoOf("add_on_webhook_events") },
  { link: { resource: "add-on-webhook", path: "/addons/{add-on}/webhooks/{app-webhook}" }, reason: infoOf("add_on_webhooks") },
  { link: { resource: "add-on", path: "/addons/{add-on}" }, reason: infoOf("add_ons") },
  { link: { resource: "add-on", path: "/apps/{app}/addons/{add-on}" }, reason: infoOf("add_ons") },
  { link: { resource: "app-feature", path: "/apps/{app}/features/{app-feature}" }, reason: infoOf("app_features") },
  {
    link: { resource: "app-setup", path: "/app-setups/{app-setup}" },
    reason: "An app setup is read by the id its creation returned; the API lists none, so there are no ids to walk.",
  },
  { link: { resource: "app-transfer", path: "/account/app-transfers/{app-transfer}" }, reason: infoOf("app_transfers") },
  { link: { resource: "app-webhook-delivery", path: "/apps/{app}/webhook-deliveries/{app-webhook-delivery}" }, reason: infoOf("app_webhook_deliveries") },
  { link: { resource: "app-webhook-event", path: "/apps/{app}/webhook-events/{app-webhook-event}" }, reason: infoOf("app_webhook_events") },
  { link: { resource: "app-webhook", path: "/apps/{app}/webhooks/{app-webhook}" }, reason: infoOf("app_webhooks") },
  { link: { resource: "app", path: "/apps/{app}" }, reason: infoOf("apps") },
  {
    link: { resource: "archive", path: "/enterprise-accounts/{enterprise-account}/archives/{archive}/{archive}" },
    reason: infoOf("enterprise_account_archives"),
  },
  { link: { resource: "build", path: "/apps/{app}/builds/{build}" }, reason: infoOf("builds") },
  { link: { resource: "collaborator", path: "/apps/{app}/collaborators/{collaborator}" }, reason: infoOf("collaborators") },
  {
    link: { resource: "config-var", path: "/apps/{app}/releases/{release}/config-vars" },
    reason:
      "Config vars as of one release: one request per release, and the values are secrets; the names in force are `config_vars`, re-read whenever a release moves the app's released_at.",
  },
  { link: { resource: "credit", path: "/account/credits/{credit}" }, reason: infoOf("credits") },
  { link: { resource: "domain", path: "/apps/{app}/domains/{domain}" }, reason: infoOf("domains") },
  { link: { resource: "dyno-size", path: "/dyno-sizes/{dyno-size}" }, reason: infoOf("dyno_sizes") },
  { link: { resource: "dyno", path: "/apps/{app}/dynos/{dyno}" }, reason: infoOf("dynos") },
  { link: { resource: "enterprise-account", path: "/enterprise-accounts/{enterprise-account}" }, reason: infoOf("enterprise_accounts") },
  { link: { resource: "formation", path: "/apps/{app}/formation/{formation}" }, reason: infoOf("formations") },
  { link: { resource: "generation", path: "/generations/{stack}" }, reason: infoOf("generations") },
  { link: { resource: "inbound-ruleset", path: "/spaces/{space}/inbound-rulesets/{inbound-ruleset}" }, reason: infoOf("inbound_rulesets") },
  { link: { resource: "invoice", path: "/account/invoices/{invoice}" }, reason: infoOf("invoices") },
  { link: { resource: "key", path: "/account/keys/{key}" }, reason: infoOf("keys") },
  { link: { resource: "log-drain", path: "/apps/{app}/log-drains/{log-drain}" }, reason: infoOf("log_drains") },
  { link: { resource: "oauth-authorization", path: "/oauth/authorizations/{oauth-authorization}" }, reason: infoOf("oauth_authorizations") },
  { link: { resource: "oauth-client", path: "/oauth/clients/{oauth-client}" }, reason: infoOf("oauth_clients") },
  {
    link: { resource: "oci-image", path: "/apps/{app}/oci-images/{oci-image}" },
    reason: `An OCI image (Fir apps) is read by the id a release or build names: ${NO_LIST}.`,
  },
  { link: { resource: "peering", path: "/spaces/{space}/peerings/{peering}" }, reason: infoOf("peerings") },
  { link: { resource: "pipeline-coupling", path: "/pipeline-couplings/{pipeline-coupling}" }, reason: infoOf("pipeline_couplings") },
  {
    link: { resource: "pipeline-coupling", path: "/apps/{app}/pipeline-couplings" },
    reason: "The coupling of one app, a request per app; `pipeline_couplings` lists every coupling in one request.",
  },
  {
    link: { resource: "pipeline-promotion", path: "/pipeline-promotions/{pipeline-promotion}" },
    reason: "A promotion is read by the id its creation returned; the API lists none, so there are no ids to walk.",
  },
  { link: { resource: "pipeline", path: "/pipelines/{pipeline}" }, reason: infoOf("pipelines") },
  { link: { resource: "plan", path: "/plans/{plan}" }, reason: infoOf("add_on_plans") },
  { link: { resource: "plan", path: "/addon-services/{add-on-service}/plans/{plan}" }, reason: infoOf("add_on_plans") },
  { link: { resource: "region", path: "/regions/{region}" }, reason: infoOf("regions") },
  { link: { resource: "release", path: "/apps/{app}/releases/{release}" }, reason: infoOf("releases") },
  { link: { resource: "review-app", path: "/review-apps/{review-app}" }, reason: infoOf("review_apps") },
  {
    link: { resource: "review-app", path: "/apps/{app}/review-app" },
    reason: "The review-app record of one app, a request per app (404 for apps that are not review apps); `review_apps` lists them per pipeline.",
  },
  { link: { resource: "slug", path: "/apps/{app}/slugs/{slug}" }, reason: `A slug is read by the id a release or build names: ${NO_LIST}.` },
  {
    link: { resource: "sms-number", path: "/users/{account}/sms-number" },
    reason: "The phone number for two-factor recovery codes: personal data with no use in a warehouse.",
  },
  { link: { resource: "sni-endpoint", path: "/apps/{app}/sni-endpoints/{sni-endpoint}" }, reason: infoOf("sni_endpoints") },
  { link: { resource: "space-app-access", path: "/spaces/{space}/members/{account}" }, reason: infoOf("space_app_accesses") },
  { link: { resource: "space", path: "/spaces/{space}" }, reason: infoOf("spaces") },
  { link: { resource: "stack", path: "/stacks/{stack}" }, reason: infoOf("stacks") },
  {
    link: { resource: "team-app-collaborator", path: "/teams/apps/{team-app}/collaborators/{team-app-collaborator}" },
    reason: infoOf("collaborators"),
  },
  { link: { resource: "team-app", path: "/teams/apps/{team-app}" }, reason: infoOf("team_apps") },
  { link: { resource: "team-feature", path: "/teams/{team}/features/{team-feature}" }, reason: infoOf("team_features") },
  { link: { resource: "team-invoice", path: "/teams/{team}/invoices/{team-invoice}" }, reason: infoOf("team_invoices") },
  { link: { resource: "team", path: "/teams/{team}" }, reason: infoOf("teams") },
  {
    link: { resource: "telemetry-drain", path: "/telemetry-drains/{telemetry-drain}" },
    reason: "Reads one record by id; every record of it is already in `telemetry_drains` or `space_telemetry_drains`.",
  },
  { link: { resource: "test-run", path: "/test-runs/{test-run}" }, reason: infoOf("test_runs") },
  { link: { resource: "test-run", path: "/pipelines/{pipeline}/test-runs/{test-run}" }, reason: infoOf("test_runs") },
  { link: { resource: "vpn-connection", path: "/spaces/{space}/vpn-connections/{vpn-connection}" }, reason: infoOf("vpn_connections") },
];

/** One GET link of the hyper-schema, its href shortened as in list-endpoints.json. */
export interface GetLink {
  resource: string;
  title: string;
  path: string;
  /** the targetSchema, or the resource itself when the link names none */
  target: Json;
  rel: string;
}

/** Every GET link of the hyper-schema (placeholders `{(#/definitions/<r>/definitions/<attr>)}` become `{<r>}`). */
export function getLinks(platformSchema: unknown): GetLink[] {
  if (!isObject(platformSchema) || !isObject(platformSchema["definitions"])) fail("platform schema must be an object with definitions");
  const out: GetLink[] = [];
  for (const [resource, def] of Object.entries(platformSchema["definitions"])) {
    if (!isObject(def) || !Array.isArray(def["links"])) continue;
    for (const link of def["links"]) {
      if (!isObject(link) || link["method"] !== "GET" || typeof link["href"] !== "string") continue;
      const path = link["href"].replace(/\{\(([^)]*)\)\}/g, (_, ptr: string) => `{${decodeURIComponent(ptr).split("/")[2] ?? ""}}`);
      out.push({
        resource,
        title: typeof link["title"] === "string" ? link["title"] : "",
        path,
        target: link["targetSchema"] ?? { $ref: `#/definitions/${resource}` },
        rel: typeof link["rel"] === "string" ? link["rel"] : "",
      });
    }
  }
  return out;
}

/** Formats the API honours; every other format (uri, ipv4, date, ...) is dropped. */
const KEPT_FORMATS: ReadonlySet<string> = new Set(["date-time", "uuid", "email"]);

/** JSON Schema type names, in the order they are written. */
const JSON_TYPES = ["null", "boolean", "integer", "number", "string", "array", "object"] as const;

// ---------------------------------------------------------------------------------------------
// Input shapes
// ---------------------------------------------------------------------------------------------

interface ListEndpoint {
  resource: string;
  title: string;
  href: string;
  href_readable: string;
  parents: string[];
  parent_placeholders: { resource: string; attribute: string }[];
  stability: string;
  target_schema_items_ref: string | null;
  properties_from: string;
  range_attributes_in_schema: string[] | null;
  range_attributes_seen_in_heroku_cli: string | null;
  has_id: boolean;
  has_updated_at: boolean;
  query_schema?: unknown;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(message: string): never {
  throw new Error(`heroku catalog: ${message}`);
}

function parseListEndpoints(input: unknown): ListEndpoint[] {
  if (!Array.isArray(input)) fail("list-endpoints.json must be an array");
  return input.map((raw, index): ListEndpoint => {
    if (!isObject(raw)) fail(`list endpoint #${index} is not an object`);
    const str = (key: string): string => {
      const v = raw[key];
      if (typeof v !== "string") fail(`list endpoint #${index}: ${key} must be a string`);
      return v;
    };
    const strOrNull = (key: string): string | null => {
      const v = raw[key];
      if (v === undefined || v === null) return null;
      if (typeof v !== "string") fail(`list endpoint #${index}: ${key} must be a string or null`);
      return v;
    };
    const strArray = (v: Json | undefined, key: string): string[] => {
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
        fail(`list endpoint #${index}: ${key} must be an array of strings`);
      }
      return v as string[];
    };
    const placeholders = raw["parent_placeholders"];
    if (!Array.isArray(placeholders)) fail(`list endpoint #${index}: parent_placeholders must be an array`);
    const ranges = raw["range_attributes_in_schema"];
    return {
      resource: str("resource"),
      title: str("title"),
      href: str("href"),
      href_readable: str("href_readable"),
      parents: strArray(raw["parents"], "parents"),
      parent_placeholders: placeholders.map((p) => {
        if (!isObject(p) || typeof p["resource"] !== "string" || typeof p["attribute"] !== "string") {
          fail(`list endpoint #${index}: bad parent_placeholders entry`);
        }
        return { resource: p["resource"], attribute: p["attribute"] };
      }),
      stability: str("stability"),
      target_schema_items_ref: strOrNull("target_schema_items_ref"),
      properties_from: str("properties_from"),
      range_attributes_in_schema: ranges === undefined || ranges === null ? null : strArray(ranges, "range_attributes_in_schema"),
      range_attributes_seen_in_heroku_cli: strOrNull("range_attributes_seen_in_heroku_cli"),
      has_id: raw["has_id"] === true,
      has_updated_at: raw["has_updated_at"] === true,
      query_schema: raw["query_schema"],
    };
  });
}

const endpointId = (e: { resource: string; path: string }): string => `${e.resource} GET ${e.path}`;

// ---------------------------------------------------------------------------------------------
// Schema conversion: hyper-schema subtree -> self-contained, lenient record schema
// ---------------------------------------------------------------------------------------------

function resolvePointer(root: JsonObject, ref: string): Json {
  if (!ref.startsWith("#/")) fail(`unsupported $ref ${ref}`);
  let node: Json = root;
  for (const raw of ref.slice(2).split("/")) {
    const token = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObject(node) || !(token in node)) fail(`unresolvable $ref ${ref}`);
    node = node[token] as Json;
  }
  return node;
}

/** Follow $ref chains (sibling keywords of a $ref are ignored, as in draft-04). */
function deref(root: JsonObject, node: Json, seen: readonly string[]): { node: JsonObject; seen: readonly string[] } {
  let current = node;
  let chain = seen;
  while (isObject(current) && typeof current["$ref"] === "string") {
    const ref = current["$ref"];
    if (chain.includes(ref)) fail(`recursive $ref ${ref}`);
    chain = [...chain, ref];
    current = resolvePointer(root, ref);
  }
  if (!isObject(current)) fail("schema node is not an object");
  return { node: current, seen: chain };
}

/** Intermediate form: every keyword already normalised, before serialisation. */
interface Shape {
  /** undefined = any type */
  types: Set<string> | undefined;
  format: string | undefined;
  /** undefined = no declared properties */
  properties: Map<string, Shape> | undefined;
  items: Shape | undefined;
}

function typeList(node: JsonObject): string[] | undefined {
  const t = node["type"];
  if (typeof t === "string") return [t];
  if (Array.isArray(t) && t.every((x) => typeof x === "string")) return t as string[];
  if (t !== undefined) fail(`unsupported type ${JSON.stringify(t)}`);
  return undefined;
}

function toShape(root: JsonObject, input: Json, seen: readonly string[]): Shape {
  const { node, seen: chain } = deref(root, input, seen);
  const alternatives = [node["anyOf"], node["oneOf"], node["allOf"]].filter((x) => x !== undefined);
  if (alternatives.length === 0) return toShapeOwn(root, node, chain);
  // uuid-or-name identities and the like: the value may take the shape of any alternative.
  let merged: Shape | undefined;
  for (const list of alternatives) {
    if (!Array.isArray(list)) fail("anyOf/oneOf/allOf must be an array");
    for (const alt of list) {
      const s = toShape(root, alt, chain);
      merged = merged === undefined ? s : mergeShapes(merged, s);
    }
  }
  if (merged === undefined) fail("empty anyOf/oneOf/allOf");
  const own = toShapeOwn(root, node, chain);
  return own.types === undefined ? merged : mergeShapes(merged, own);
}

function toShapeOwn(root: JsonObject, node: JsonObject, seen: readonly string[]): Shape {
  let types = typeList(node);
  const props = node["properties"];
  const items = node["items"];
  if (types === undefined) {
    if (props !== undefined || node["patternProperties"] !== undefined) types = ["object"];
    else if (items !== undefined) types = ["array"];
  }
  for (const t of types ?? []) if (!(JSON_TYPES as readonly string[]).includes(t)) fail(`unknown type ${t}`);
  const typeSet = types === undefined ? undefined : new Set(types);
  // The schema's own example is what the API returns: where it contradicts the declared
  // type (review apps' fork_repo.id: integer, example "123456"), accept the example's type too.
  const example = exampleType(node["example"]);
  if (typeSet !== undefined && example !== undefined && !typeSet.has(example) && !(example === "integer" && typeSet.has("number"))) {
    typeSet.add(example);
  }
  const format = typeof node["format"] === "string" && KEPT_FORMATS.has(node["format"]) ? node["format"] : undefined;
  let properties: Map<string, Shape> | undefined;
  if (typeSet?.has("object") && isObject(props)) {
    properties = new Map();
    for (const [name, sub] of Object.entries(props)) properties.set(name, toShape(root, sub, seen));
  }
  let itemShape: Shape | undefined;
  if (typeSet?.has("array") && items !== undefined) {
    if (Array.isArray(items)) {
      for (const it of items) {
        const s = toShape(root, it, seen);
        itemShape = itemShape === undefined ? s : mergeShapes(itemShape, s);
      }
    } else {
      itemShape = toShape(root, items, seen);
    }
  }
  return { types: typeSet, format, properties, items: itemShape };
}

/** The JSON type of a scalar example value (undefined for objects, arrays and no example). */
function exampleType(example: Json | undefined): string | undefined {
  if (typeof example === "string") return "string";
  if (typeof example === "boolean") return "boolean";
  if (typeof example === "number") return Number.isInteger(example) ? "integer" : "number";
  return undefined;
}

/** The union of two shapes: accepts whatever either accepts (formats kept only when shared). */
function mergeShapes(a: Shape, b: Shape): Shape {
  const types = a.types === undefined || b.types === undefined ? undefined : new Set([...a.types, ...b.types]);
  const format = a.format !== undefined && a.format === b.format ? a.format : undefined;
  let properties: Map<string, Shape> | undefined;
  if (a.properties !== undefined || b.properties !== undefined) {
    properties = new Map(a.properties ?? []);
    for (const [name, shape] of b.properties ?? []) {
      const existing = properties.get(name);
      properties.set(name, existing === undefined ? shape : mergeShapes(existing, shape));
    }
  }
  const items = a.items !== undefined && b.items !== undefined ? mergeShapes(a.items, b.items) : a.items ?? b.items;
  return { types, format, properties, items };
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Serialise a shape: nullable everywhere, open objects, properties sorted by name. */
function shapeToSchema(shape: Shape): JsonObject {
  const out: JsonObject = {};
  if (shape.types !== undefined) {
    const rest = JSON_TYPES.filter((t) => t !== "null" && shape.types?.has(t));
    // "integer" is redundant next to "number"
    const types = rest.includes("number") ? rest.filter((t) => t !== "integer") : rest;
    out["type"] = ["null", ...types];
    if (shape.format !== undefined && types.includes("string")) out["format"] = shape.format;
    if (types.includes("object")) {
      out["additionalProperties"] = true;
      if (shape.properties !== undefined && shape.properties.size > 0) {
        const props: JsonObject = {};
        for (const name of [...shape.properties.keys()].sort(byCodeUnit)) {
          props[name] = shapeToSchema(shape.properties.get(name) as Shape);
        }
        out["properties"] = props;
      }
    }
    if (types.includes("array") && shape.items !== undefined) out["items"] = shapeToSchema(shape.items);
  }
  return out;
}

function shapeAtPath(shape: Shape, dotPath: string): Shape | undefined {
  let current: Shape | undefined = shape;
  for (const part of dotPath.split(".")) current = current?.properties?.get(part);
  return current;
}

// ---------------------------------------------------------------------------------------------
// Catalog generation
// ---------------------------------------------------------------------------------------------

function rangesFor(endpoint: ListEndpoint): string[] {
  if (endpoint.range_attributes_in_schema !== null && endpoint.range_attributes_in_schema.length > 0) {
    return [...endpoint.range_attributes_in_schema];
  }
  const cli = endpoint.range_attributes_seen_in_heroku_cli;
  if (cli !== null) {
    // e.g. 'version (heroku/cli uses "Range: version ..; max=1, order=desc")'
    const field = /^[a-z_]+/.exec(cli)?.[0];
    if (field === undefined) fail(`cannot read range field from ${JSON.stringify(cli)}`);
    return [field];
  }
  return ["id"];
}

function typeListOf(node: JsonObject): string[] {
  return typeList(node) ?? (node["items"] !== undefined ? ["array"] : []);
}

function stabilityOf(root: JsonObject, resource: string): string {
  const def = (root["definitions"] as JsonObject)[resource];
  return isObject(def) && typeof def["stability"] === "string" ? def["stability"] : "production";
}

function placeholderNames(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
}

export interface HerokuCatalog {
  streams: HerokuStream[];
  schemas: Map<string, JsonObject>;
  skipped: { endpoint: ListEndpoint; reason: string }[];
  /** number of list endpoints in list-endpoints.json */
  listEndpointCount: number;
  /** GET links outside list-endpoints.json that are not a stream, with the reason */
  skippedLinks: { link: GetLink; reason: string }[];
  /** number of GET links in the hyper-schema */
  getLinkCount: number;
  /** paths of the list endpoints (href_readable) */
  listPaths: Set<string>;
}

/** Builds the catalog as data (streams, schemas, skipped endpoints); validates every decision. */
export function buildHerokuCatalog(platformSchema: unknown, listEndpoints: unknown): HerokuCatalog {
  if (!isObject(platformSchema) || !isObject(platformSchema["definitions"])) {
    fail("platform schema must be an object with definitions");
  }
  const root = platformSchema;
  const endpoints = parseListEndpoints(listEndpoints);
  const byId = new Map<string, ListEndpoint>();
  for (const e of endpoints) {
    const id = endpointId({ resource: e.resource, path: e.href_readable });
    if (byId.has(id)) fail(`duplicate list endpoint ${id}`);
    byId.set(id, e);
  }

  // Every list endpoint is used exactly once: as a stream or as a skip.
  const used = new Map<string, string>();
  const claim = (endpoint: { resource: string; path: string }, by: string): ListEndpoint => {
    const id = endpointId(endpoint);
    const found = byId.get(id);
    if (found === undefined) fail(`${by}: no list endpoint ${id}`);
    const previous = used.get(id);
    if (previous !== undefined) fail(`${id} is used by both ${previous} and ${by}`);
    used.set(id, by);
    return found;
  };

  const streams: HerokuStream[] = [];
  /** record shapes as in the hyper-schema, before parent and derived keys are added */
  const rawShapes = new Map<string, Shape>();

  // account: a single object, not a list endpoint
  {
    const shape = toShape(root, { $ref: ACCOUNT_STREAM.schemaRef }, []);
    streams.push({
      stream: ACCOUNT_STREAM.stream,
      resource: ACCOUNT_STREAM.resource,
      path: ACCOUNT_STREAM.path,
      single: true,
      names_only: false,
      parent: null,
      params: {},
      parent_keys: {},
      derived_keys: {},
      key_properties: ["id"],
      replication_key: shape.properties?.has("updated_at") ? "updated_at" : null,
      ranges: [],
      server_range: null,
      refresh: null,
      scope: "read",
      stability: ACCOUNT_STREAM.stability,
      query: null,
      selected_by_default: true,
      note: ACCOUNT_STREAM.note,
    });
    rawShapes.set(ACCOUNT_STREAM.stream, shape);
  }

  for (const d of STREAM_DECISIONS) {
    const where = `stream ${d.stream}`;
    if (!/^[a-z][a-z0-9_]*$/.test(d.stream)) fail(`${where}: name must be snake_case`);
    const endpoint = claim(d.endpoint, where);

    const placeholders = placeholderNames(endpoint.href_readable);
    const params = d.params ?? {};
    if (placeholders.join(",") !== Object.keys(params).join(",")) {
      fail(`${where}: params ${JSON.stringify(params)} do not match placeholders ${placeholders.join(",")}`);
    }
    if ((d.parent === undefined) !== (placeholders.length === 0)) {
      fail(`${where}: a parent is needed exactly when the path has placeholders`);
    }
    endpoint.parent_placeholders.forEach((p, i) => {
      const field = params[placeholders[i] as string] as string;
      // `id` / `name` placeholders take only that attribute; `identity` takes either.
      if (p.attribute === "name" && field !== "name") fail(`${where}: placeholder ${placeholders[i]} takes a name`);
      if (p.attribute === "id" && field !== "id" && !field.endsWith("_id")) {
        fail(`${where}: placeholder ${placeholders[i]} takes an id`);
      }
    });
    const parentKeys = d.parent_keys ?? {};
    if (d.parent !== undefined && Object.keys(parentKeys).length === 0) {
      fail(`${where}: child streams carry at least one parent key`);
    }
    if (d.parent === undefined && Object.keys(parentKeys).length > 0) fail(`${where}: parent_keys without a parent`);
    if ((endpoint.query_schema !== undefined && endpoint.query_schema !== null) !== (d.query !== undefined)) {
      fail(`${where}: query must be described exactly when the endpoint has a query schema`);
    }

    const schemaRef = endpoint.target_schema_items_ref ?? endpoint.properties_from;
    const shape = toShape(root, { $ref: schemaRef }, []);
    if (shape.properties === undefined) fail(`${where}: ${schemaRef} has no properties`);
    if (d.key === undefined && !endpoint.has_id) fail(`${where}: the resource has no id; give a composite key`);

    const ranges = rangesFor(endpoint);
    const replicationKey = endpoint.has_updated_at && shape.properties.has("updated_at") ? "updated_at" : null;
    const server = d.server_range;
    if (server !== undefined) {
      if (!ranges.includes(server.field)) fail(`${where}: server_range field ${server.field} is not an accepted Range field`);
      if (replicationKey === null) fail(`${where}: a server_range needs a replication key`);
      if (server.use === "start" && (server.order !== "asc" || server.field !== replicationKey)) {
        fail(`${where}: a "start" server_range ascends by the replication key`);
      }
      if (server.use === "stop" && server.order !== "desc") fail(`${where}: a "stop" server_range reads newest first`);
    }

    streams.push({
      stream: d.stream,
      resource: endpoint.resource,
      path: endpoint.href_readable,
      single: false,
      names_only: false,
      parent: d.parent ?? null,
      params,
      parent_keys: parentKeys,
      derived_keys: d.derived_keys ?? {},
      key_properties: d.key ?? ["id"],
      replication_key: replicationKey,
      ranges,
      server_range: server ?? null,
      refresh: d.parent === undefined ? null : refreshOf(d.stream, where),
      scope: d.scope ?? "read",
      stability: endpoint.stability,
      query: d.query ?? null,
      selected_by_default: d.selected ?? true,
      note: d.note ?? null,
    });
    rawShapes.set(d.stream, shape);
  }

  // Every GET link of the hyper-schema: the list endpoints above, or a link decision, or a skip.
  const links = getLinks(root);
  const linkId = (l: { resource: string; path: string }) => `${l.resource} GET ${l.path}`;
  const linkById = new Map(links.map((l) => [linkId(l), l]));
  for (const e of endpoints) {
    if (!linkById.has(endpointId({ resource: e.resource, path: e.href_readable }))) {
      fail(`list endpoint ${e.resource} GET ${e.href_readable} is not a GET link of the schema`);
    }
  }
  const linkUsed = new Map<string, { by: string; fixed: Set<string> | undefined }>([
    [linkId({ resource: ACCOUNT_STREAM.resource, path: ACCOUNT_STREAM.path }), { by: "stream account", fixed: undefined }],
  ]);
  const claimLink = (l: { resource: string; path: string }, by: string, literal?: Record<string, string>): GetLink => {
    const found = linkById.get(linkId(l));
    if (found === undefined) fail(`${by}: no GET link ${linkId(l)}`);
    if (byId.has(linkId(l))) fail(`${by}: ${linkId(l)} is a list endpoint (STREAM_DECISIONS or SKIPPED_ENDPOINTS)`);
    // One stream or skip per link; only streams that fill a placeholder with different fixed
    // values (a pipeline's stages) may share one.
    const previous = linkUsed.get(linkId(l));
    const fixed = literal === undefined ? undefined : JSON.stringify(literal);
    if (previous !== undefined && (fixed === undefined || previous.fixed === undefined || previous.fixed.has(fixed))) {
      fail(`${linkId(l)} is used by both ${previous.by} and ${by}`);
    }
    linkUsed.set(linkId(l), { by, fixed: fixed === undefined ? undefined : new Set([...(previous?.fixed ?? []), fixed]) });
    return found;
  };
  for (const d of LINK_DECISIONS) {
    const where = `stream ${d.stream}`;
    const link = claimLink(d.link, where, d.literal);
    const literal = d.literal ?? {};
    const params = d.params ?? {};
    const placeholders = placeholderNames(link.path).filter((p) => !(p in literal));
    if (placeholders.join(",") !== Object.keys(params).join(",")) fail(`${where}: params do not match placeholders ${placeholders.join(",")}`);
    const path = Object.entries(literal).reduce((p, [name, value]) => p.replace(`{${name}}`, value), link.path);
    const target = deref(root, link.target, []).node;
    const isList = typeListOf(target).includes("array");
    let shape: Shape;
    if (d.names_only) {
      // `{NAME: value}`: only the names are kept, one record each.
      if (isList || !isObject(target["patternProperties"])) fail(`${where}: names_only needs an object of names`);
      shape = {
        types: new Set(["object"]),
        format: undefined,
        properties: new Map([["name", { types: new Set(["string"]), format: undefined, properties: undefined, items: undefined }]]),
        items: undefined,
      };
    } else {
      shape = toShape(root, isList ? (target["items"] as Json) : link.target, []);
    }
    if (shape.properties === undefined) fail(`${where}: ${d.link.resource} has no properties`);
    streams.push({
      stream: d.stream,
      resource: link.resource,
      path,
      single: !isList,
      names_only: d.names_only ?? false,
      parent: d.parent,
      params,
      parent_keys: d.parent_keys,
      derived_keys: {},
      key_properties: d.key ?? Object.keys(d.parent_keys),
      // A snapshot: re-read whole (FULL_TABLE), the rows of a parent that lost its object go with the version.
      replication_key: null,
      ranges: isList ? ["id"] : [],
      server_range: null,
      refresh: refreshOf(d.stream, where),
      scope: d.scope ?? "read",
      stability: stabilityOf(root, link.resource),
      query: null,
      selected_by_default: d.selected ?? true,
      note: d.note ?? null,
    });
    rawShapes.set(d.stream, shape);
  }
  const skippedLinks = SKIPPED_LINKS.map((s) => {
    if (s.reason.trim() === "") fail(`skip of ${linkId(s.link)} needs a reason`);
    return { link: claimLink(s.link, `skip ${linkId(s.link)}`), reason: s.reason };
  });
  const byName = new Map<string, HerokuStream>();
  for (const s of streams) {
    if (byName.has(s.stream)) fail(`duplicate stream ${s.stream}`);
    byName.set(s.stream, s);
  }

  for (const s of streams) {
    if (s.refresh === null || s.parent === null) continue;
    const parentShape = rawShapes.get(s.parent);
    for (const f of s.refresh.signals) {
      if (!parentShape?.properties?.has(f)) fail(`stream ${s.stream}: refresh signal ${f} is not a field of ${s.parent}`);
    }
  }
  for (const name of Object.keys(REFRESH_DECISIONS)) {
    if (byName.get(name)?.parent == null) fail(`REFRESH_DECISIONS: ${name} is not a child stream`);
  }

  // Final shapes: a child gets its parent keys typed like the parent's (enriched) fields.
  const finalShapes = new Map<string, Shape>();
  const finalShape = (name: string, chain: readonly string[]): Shape => {
    const done = finalShapes.get(name);
    if (done !== undefined) return done;
    if (chain.includes(name)) fail(`parent cycle ${[...chain, name].join(" -> ")}`);
    const s = byName.get(name);
    const raw = rawShapes.get(name);
    if (s === undefined || raw === undefined) fail(`unknown stream ${name} (parent of ${chain.at(-1)})`);
    const where = `stream ${name}`;
    const props = new Map(raw.properties);
    if (s.parent !== null) {
      const parentProps = finalShape(s.parent, [...chain, name]).properties ?? new Map<string, Shape>();
      for (const field of Object.values(s.params)) {
        if (!parentProps.has(field)) fail(`${where}: parent ${s.parent} has no field ${field} for params`);
      }
      for (const [key, field] of Object.entries(s.parent_keys)) {
        const source = parentProps.get(field);
        if (source === undefined) fail(`${where}: parent ${s.parent} has no field ${field} for parent_keys`);
        const existing = props.get(key);
        if (existing === undefined) props.set(key, source);
        else if (!existing.types?.has("string")) fail(`${where}: parent key ${key} clashes with a non-string property`);
      }
    }
    for (const [key, path] of Object.entries(s.derived_keys)) {
      const source = shapeAtPath(raw, path);
      if (source === undefined) fail(`${where}: derived key source ${path} is not in the schema`);
      if (props.has(key)) fail(`${where}: derived key ${key} already exists`);
      props.set(key, source);
    }
    for (const k of s.key_properties) if (!props.has(k)) fail(`${where}: key property ${k} is not in the schema`);
    if (s.replication_key !== null && !props.has(s.replication_key)) fail(`${where}: no replication key property`);
    const shape: Shape = { ...raw, properties: props };
    finalShapes.set(name, shape);
    return shape;
  };
  const schemas = new Map<string, JsonObject>();
  for (const s of streams) schemas.set(s.stream, shapeToSchema(finalShape(s.stream, [])));

  const skipped = SKIPPED_ENDPOINTS.map((s) => {
    if (s.reason.trim() === "") fail(`skip of ${endpointId(s.endpoint)} needs a reason`);
    return { endpoint: claim(s.endpoint, `skip ${endpointId(s.endpoint)}`), reason: s.reason };
  });
  const unused = endpoints
    .map((e) => endpointId({ resource: e.resource, path: e.href_readable }))
    .filter((id) => !used.has(id));
  if (unused.length > 0) fail(`list endpoints neither streamed nor skipped: ${unused.join("; ")}`);
  const unclaimed = links.map(linkId).filter((id) => !linkUsed.has(id) && !used.has(id));
  if (unclaimed.length > 0) fail(`GET links neither streamed nor skipped: ${unclaimed.join("; ")}`);
  skippedLinks.sort((a, b) => byCodeUnit(a.link.path, b.link.path) || byCodeUnit(a.link.resource, b.link.resource));

  streams.sort((a, b) => byCodeUnit(a.stream, b.stream));
  skipped.sort(
    (a, b) =>
      byCodeUnit(a.endpoint.href_readable, b.endpoint.href_readable) ||
      byCodeUnit(a.endpoint.resource, b.endpoint.resource),
  );
  return {
    streams,
    schemas,
    skipped,
    skippedLinks,
    listEndpointCount: endpoints.length,
    getLinkCount: links.length,
    listPaths: new Set(endpoints.map((e) => e.href_readable)),
  };
}

/** Pure: relative file path under catalog/heroku -> exact file content. */
export function generateHerokuCatalog(platformSchema: unknown, listEndpoints: unknown): Map<string, string> {
  const catalog = buildHerokuCatalog(platformSchema, listEndpoints);
  const files = new Map<string, string>();
  files.set("streams.json", toJsonFile(catalog.streams as unknown as Json));
  for (const s of catalog.streams) {
    files.set(`schemas/${s.stream}.json`, toJsonFile(catalog.schemas.get(s.stream) as JsonObject));
  }
  files.set("README.md", renderReadme(catalog));
  return new Map([...files.entries()].sort(([a], [b]) => byCodeUnit(a, b)));
}

function toJsonFile(value: Json): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------
// README
// ---------------------------------------------------------------------------------------------

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** `daily · released_at`: the family and the signals beyond the parent's created_at / updated_at; top-level lists: every run. */
function refreshCell(s: HerokuStream): string {
  if (s.refresh === null) return "every run";
  const extra = s.refresh.signals.filter((f) => f !== "created_at" && f !== "updated_at");
  return extra.length ? `${s.refresh.family} · ${extra.join(", ")}` : s.refresh.family;
}

function renderReadme(catalog: HerokuCatalog): string {
  const lines: string[] = [];
  const { streams, skipped } = catalog;
  const global = streams.filter((s) => s.scope === "global").map((s) => `\`${s.stream}\``);
  lines.push(
    "# Heroku Platform API catalog",
    "",
    "<!-- Generated by scripts/generate-catalog.ts from source/; do not edit by hand. -->",
    "",
    `${streams.length} streams, generated from the vendored Heroku Platform API hyper-schema and its list endpoints`,
    "(see [source/SOURCE.md](source/SOURCE.md)). Regenerate with:",
    "",
    "```sh",
    "npx deno run --allow-read --allow-write scripts/generate-catalog.ts",
    "```",
    "",
    "## Files",
    "",
    "- `streams.json`: one entry per stream, sorted by name. Fields:",
    "  - `stream`, `resource` (the hyper-schema definition that holds the GET link), `path` (placeholders named as in `params`);",
    "  - `single`: the endpoint returns one object instead of an array (`account`, and the snapshots of one object per",
    "    parent: a space's NAT, a team's preferences, ...; keyed by the parent id, FULL_TABLE);",
    "  - `names_only`: the body is an object of name -> secret value (`config_vars`): each name becomes a record, the",
    "    values are dropped as the response is read and never written, logged or kept;",
    "  - `parent`: the stream whose records fill the placeholders (null for top-level streams);",
    "    `params`: placeholder -> field of the parent record, after that record got its own `parent_keys`;",
    "  - `parent_keys`: field added to each record from the parent record when the payload lacks it;",
    "    `derived_keys`: top-level field copied from a dot path of the same record when the payload lacks it;",
    "  - `key_properties`, `replication_key` (`updated_at` when the resource has it, else null = FULL_TABLE);",
    "  - `ranges`: fields accepted in the `Range` header; the first one is the default for paging (`[]`: no Range);",
    "  - `server_range`: the Range an incremental run uses to save requests (null: walk by `id`): `field`, `order`,",
    "    `unique` (values never tie, so Next-Range is followed verbatim) and `use`: `start` (ascend by the",
    "    replication key from the bookmark) or `stop` (newest first, stop at the first settled record before it);",
    "  - `refresh` (child streams): `family` (`volatile`, `activity` or `daily`: the setting `refresh_hours.<family>`",
    "    bounds how old a parent's children may get), `signals` (parent fields whose change makes a run re-read",
    "    that parent's children) and `source` (why those signals, or that there is none);",
    "  - `scope`: `global` when the token needs the `global` OAuth scope (a `read-protected,identity` token gets 403),",
    "    `read-protected` when it needs that scope or `global` (config vars), else `read`;",
    "  - `stability`: the resource's stability in the hyper-schema (`production`, `development`, `prototype`);",
    "  - `query`: required query parameters as `<source>:<format>`, where the source is `start_date` (the tap's",
    "    `start_date` setting) or `now` (the time of the run, UTC); the format is `YYYY-MM-DD` or `YYYY-MM`;",
    "  - `selected_by_default`, `note`.",
    "- `schemas/<stream>.json`: the JSON Schema of one record. Every `$ref` is inlined; descriptions, examples,",
    "  patterns, enums and `required` are dropped; every type includes `null`; every object has",
    "  `additionalProperties: true`; `anyOf` identities (id or name) become one type; only the formats",
    "  `date-time`, `uuid` and `email` are kept (`uri`, `ipv4` and `date` are dropped: domains' `hostname`,",
    "  for example, holds bare host names); where a field's own example contradicts its declared type, the",
    "  example's type is accepted too (review apps' `fork_repo.id`: integer, example \"123456\"). Parent and",
    "  derived keys are added as properties.",
    "",
    `Streams with scope \`global\`: ${global.join(", ")}.`,
    "",
    "## Streams",
    "",
    "| stream | endpoint | parent | key | replication | refresh | scope | selected by default | note |",
    "|---|---|---|---|---|---|---|---|---|",
  );
  for (const s of streams) {
    lines.push(
      `| \`${s.stream}\` | \`GET ${s.path}\` | ${s.parent === null ? "" : `\`${s.parent}\``} | ${s.key_properties.join(", ")} | ${
        s.replication_key ?? "FULL_TABLE"
      } | ${refreshCell(s)} | ${s.scope} | ${s.selected_by_default ? "yes" : "no"} | ${cell(s.note ?? "")} |`,
    );
  }
  lines.push(
    "",
    "## Refresh rules",
    "",
    "Top-level lists are read on every run. A child list is read for a parent when one of the parent's",
    "signals moved past the stream's cutoff (a new or edited parent always counts: `created_at`, `updated_at`),",
    "when a child was still `pending` last time, or when the parent's turn comes within the family's",
    "interval (`refresh_hours.volatile`, `.activity`, `.daily`). The signals beyond created_at/updated_at, and why:",
    "",
    "| streams | family | also read when the parent's | source |",
    "|---|---|---|---|",
  );
  const groups = new Map<string, HerokuStream[]>();
  for (const s of streams) {
    if (s.refresh === null) continue;
    const extra = s.refresh.signals.filter((f) => f !== "created_at" && f !== "updated_at");
    const k = `${s.refresh.family}|${extra.join(", ")}|${s.refresh.source}`;
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  for (const [k, members] of groups) {
    const [family, extra, source] = k.split("|") as [string, string, string];
    lines.push(`| ${members.map((m) => `\`${m.stream}\``).join(", ")} | ${family} | ${extra || "(nothing else)"} | ${cell(source)} |`);
  }
  lines.push(
    "",
    "## Skipped",
    "",
    `${skipped.length} of the ${catalog.listEndpointCount} list endpoints of \`source/list-endpoints.json\` did not become a stream:`,
    "",
  );
  for (const s of skipped) {
    lines.push(`- \`GET ${s.endpoint.href_readable}\` (${s.endpoint.resource}, "${s.endpoint.title}"): ${s.reason}`);
  }
  const linkStreams = streams.filter((st) => st.single || !catalog.listPaths.has(st.path)).length;
  const others = catalog.getLinkCount - catalog.listEndpointCount;
  lines.push(
    "",
    `Of the ${catalog.getLinkCount} GET links of the hyper-schema, the ${catalog.listEndpointCount} list endpoints are above and ${others} are not lists`,
    `(single objects, reads by id, one list with another rel); ${
      others - catalog.skippedLinks.length
    } of those feed ${linkStreams} streams (\`account\`, the snapshots`,
    `of one object per parent, and \`app_available_dyno_sizes\`; the pipeline config var link feeds one stream per stage), and these ${catalog.skippedLinks.length} are not:`,
    "",
  );
  for (const s of catalog.skippedLinks) {
    lines.push(`- \`GET ${s.link.path}\` (${s.link.resource}, "${s.link.title}"): ${s.reason}`);
  }
  lines.push(...otherHostsSection(), "");
  return lines.join("\n");
}

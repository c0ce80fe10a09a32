// Meltano fit: the committed plugin definition is what the settings schema
// produces, it names every setting --about publishes, and settings arrive
// from the environment the way Meltano passes them.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { meltanoExampleProject, meltanoPluginYaml, meltanoSettings } from "../src/meltano.ts";
import { loadSettings } from "../src/config.ts";
import { runTap, tempFiles } from "./helpers/tap.ts";
import { settingLeaves } from "./helpers/meltano.ts";

describe("Meltano plugin definition", () => {
  it("is committed exactly as generated (npm run meltano:plugin)", () => {
    expect(readFileSync(new URL("../meltano/tap-heroku.yml", import.meta.url), "utf8")).toBe(meltanoPluginYaml());
  });

  it("has its example project committed exactly as generated, the definition inline with its select list", () => {
    const example = readFileSync(new URL("../meltano/example/meltano.yml", import.meta.url), "utf8");
    expect(example).toBe(meltanoExampleProject());
    expect(example).toMatch(/^ {4}- name: tap-heroku\n {6}namespace: tap_heroku\n/m);
    expect(example).toMatch(/^ {6}select:\n {8}- "[a-z_]+\.\*"$/m);
    expect(example).toMatch(/^ {8}postgresql_curly_12345-public-orders:\n {10}replication-method: INCREMENTAL\n {10}replication-key: updated_at$/m);
  });

  it("lists every setting of --about with its kind, and marks the token sensitive", async () => {
    const about = JSON.parse((await runTap(["--about", "--format", "json"])).stdout);
    const leaves = settingLeaves(about.settings);
    const settings = meltanoSettings();
    expect(settings.map((s) => s.name).sort()).toEqual(leaves.sort());
    expect(settings.find((s) => s.name === "token")).toMatchObject({ kind: "password", sensitive: true });
    expect(settings.find((s) => s.name === "postgres.ssl")).toMatchObject({ kind: "options", options: ["no-verify", "verify-full", "disable"] });
    expect(settings.find((s) => s.name === "start_date")!.kind).toBe("date_iso8601");
    expect(about.capabilities).toEqual(["catalog", "discover", "state", "about", "activate-version"].concat(about.capabilities.slice(5)));
  });
});

describe("settings from the environment (--config ENV)", () => {
  const load = (env: Record<string, string>) => loadSettings(["ENV"], env);

  it("reads lists as JSON or comma lists, nested settings joined by _, and types numbers and booleans", async () => {
    const a = await load({
      TAP_HEROKU_TOKEN: "t0ken",
      TAP_HEROKU_APPS: '["one","two"]',
      TAP_HEROKU_POSTGRES_SSL: "disable",
      TAP_HEROKU_MAX_RETRIES: "7",
      TAP_HEROKU_POSTGRES_PREFER_FOLLOWER: "false",
    });
    expect(a.ok && a.value).toMatchObject({ apps: ["one", "two"], max_retries: 7, postgres: { ssl: "disable", prefer_follower: false } });
    const b = await load({ TAP_HEROKU_TOKEN: "t0ken", TAP_HEROKU_APPS: "one, two ,three" });
    expect(b.ok && b.value.apps).toEqual(["one", "two", "three"]);
  });

  it("names the environment when a variable is wrong", async () => {
    const r = await load({ TAP_HEROKU_TOKEN: "t0ken", TAP_HEROKU_MAX_RETRIES: "many" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/environment \(TAP_HEROKU_\*\): field "max_retries"/);
  });

  it("lets a later source override an earlier one, nested settings merged", async () => {
    const f = tempFiles({
      "a.json": { token: "a-token", max_retries: 1, postgres: { ssl: "disable", batch_size: 10 } },
      "b.json": { max_retries: 2, postgres: { ssl: "verify-full" } },
    });
    const r = await loadSettings([f["a.json"]!, f["b.json"]!, "ENV"], { TAP_HEROKU_MAX_RETRIES: "3" });
    expect(r.ok && r.value).toMatchObject({ token: "a-token", max_retries: 3, postgres: { ssl: "verify-full", batch_size: 10 } });
  });

  it("accepts config.sample.json, the sample the README points to", async () => {
    const r = await loadSettings([new URL("../config.sample.json", import.meta.url).pathname], {});
    expect(r.ok, r.ok ? "" : r.error.message).toBe(true);
  });

  it("takes the token from HEROKU_API_KEY when no source gives one, and normalises start_date", async () => {
    const r = await loadSettings(["ENV"], { HEROKU_API_KEY: "from-heroku-cli", TAP_HEROKU_START_DATE: "2024-02-03" });
    expect(r.ok && r.value).toMatchObject({ token: "from-heroku-cli", start_date: "2024-02-03T00:00:00.000Z" });
  });
});

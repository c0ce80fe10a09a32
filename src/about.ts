// --about: what Meltano and a curious user want to know about this tap.
import { settingLeaves, settingsJsonSchema } from "./config.ts";
import { TAP } from "./identity.ts";

/** The Meltano SDK's --about fields (its env_var_prefix included), the runtime where the SDK names Python's versions. */
export function aboutJson(): Record<string, unknown> {
  return { ...TAP, settings: settingsJsonSchema(), env_var_prefix: "TAP_HEROKU_", supported_runtimes: SUPPORTED_RUNTIMES };
}

/** What the tap is tested on (README: Supported runtimes). */
const SUPPORTED_RUNTIMES = ["node >=20.18.1 (tested: 20, 22, 24)", "deno 2"];

/** The settings as a Markdown table (also the README's settings reference). */
export function settingsTable(): string {
  const rows = settingLeaves().map(({ path, schema, required }) => {
    const type = schema.type ?? (schema.enum ? "string" : "");
    const dflt = schema.default === undefined ? "" : `\`${JSON.stringify(schema.default)}\``;
    const choices = schema.enum ? ` One of ${schema.enum.map((e) => `\`${String(e)}\``).join(", ")}.` : "";
    return `| \`${path.join(".")}\` | ${required ? "yes" : "no"} | ${String(type)} | ${dflt} | ${schema.description ?? ""}${choices} |`;
  });
  return ["| Setting | Required | Type | Default | Description |", "|:--|:--|:--|:--|:--|", ...rows].join("\n");
}

export function aboutMarkdown(): string {
  return [
    `# ${TAP.name}`,
    "",
    TAP.description,
    "",
    `Version: ${TAP.version}`,
    "",
    "## Capabilities",
    "",
    ...TAP.capabilities.map((c) => `- ${c}`),
    "",
    "## Settings",
    "",
    settingsTable(),
    "",
    "Settings may also come from the environment with `--config ENV`: `TAP_HEROKU_<SETTING>`, nested ones joined by `_` (e.g. `TAP_HEROKU_POSTGRES_SSL`).",
    "",
  ].join("\n");
}

/** The Meltano SDK's `--about --format text`: name, version, capabilities, and each setting with its type and variable. */
export function aboutText(): string {
  return [
    `Name: ${TAP.name}`,
    `Description: ${TAP.description}`,
    `Version: ${TAP.version}`,
    "Supported Runtimes:",
    ...SUPPORTED_RUNTIMES.map((r) => `  - ${r}`),
    "Capabilities:",
    ...TAP.capabilities.map((c) => `  - ${c}`),
    "Settings:",
    ...settingLeaves().flatMap(({ path, schema }) => [
      `  - Name: ${path.join(".")}`,
      `    Type: ${String(schema.type ?? (schema.enum ? "string" : ""))}`,
      `    Environment Variable: ${["TAP_HEROKU", ...path].join("_").toUpperCase()}`,
    ]),
    "",
  ].join("\n");
}

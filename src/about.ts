// --about: what Meltano and a curious user want to know about this tap.
import type { JSONSchema7 } from "json-schema";
import { settingsJsonSchema } from "./config.ts";
import { TAP } from "./tap.ts";

export function aboutJson(): Record<string, unknown> {
  return { ...TAP, settings: settingsJsonSchema() };
}

export function aboutMarkdown(): string {
  const rows: string[] = [];
  const walk = (schema: JSONSchema7, prefix: string) => {
    const required = new Set(schema.required ?? []);
    for (const [name, sub] of Object.entries(schema.properties ?? {})) {
      if (typeof sub === "boolean") continue;
      const full = prefix + name;
      if (sub.type === "object" && sub.properties) {
        walk(sub, `${full}.`);
        continue;
      }
      const type = sub.type ?? (sub.enum ? "string" : "");
      const dflt = sub.default === undefined ? "" : `\`${JSON.stringify(sub.default)}\``;
      const choices = sub.enum ? ` One of ${sub.enum.map((e) => `\`${String(e)}\``).join(", ")}.` : "";
      rows.push(`| ${full} | ${required.has(name) ? "yes" : "no"} | ${String(type)} | ${dflt} | ${sub.description ?? ""}${choices} |`);
    }
  };
  walk(settingsJsonSchema(), "");
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
    "| Setting | Required | Type | Default | Description |",
    "|:--|:--|:--|:--|:--|",
    ...rows,
    "",
    "Settings may also come from the environment with `--config ENV`: `TAP_HEROKU_<SETTING>`, nested ones joined by `_` (e.g. `TAP_HEROKU_POSTGRES_SSL`).",
    "",
  ].join("\n");
}

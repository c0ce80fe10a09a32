// Every setting as a meltano.yml snippet, for the README (npm run readme;
// test/readme.test.ts fails when the block is stale). Generated from the
// settings schema that --about publishes, so a new setting gets its snippet.
// The value shown is the setting's example (zod .meta({ examples }) in its
// schema), else a choice other than its default, else its default; a setting
// with none of these stops the generation, so that it is given an example.
import { settingLeaves } from "../src/config.ts";
import type { SettingLeaf } from "../src/config.ts";

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The value a setting's snippet shows. */
export function exampleOf(leaf: SettingLeaf): unknown {
  const s = leaf.schema;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum.find((v) => !same(v, s.default)) ?? s.enum[0];
  if (s.type === "boolean") return s.default === undefined ? true : !s.default;
  if (s.default !== undefined) return s.default;
  throw new Error(`setting ${leaf.path.join(".")} has no example for the README: give its zod schema .meta({ examples: [...] })`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const key = (k: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : JSON.stringify(k));

/**
 * YAML lines of `name: value`: objects as block mappings, everything else in
 * JSON's notation, which YAML reads the same (strings quoted, so none is
 * mistaken for a number, a date or a boolean).
 */
function entry(name: string, value: unknown, indent: string): string[] {
  if (isObject(value) && Object.keys(value).length > 0) {
    return [`${indent}${key(name)}:`, ...Object.entries(value).flatMap(([k, v]) => entry(k, v, indent + "  "))];
  }
  const flow = Array.isArray(value) ? `[${value.map((v) => JSON.stringify(v)).join(", ")}]` : JSON.stringify(value);
  return [`${indent}${key(name)}: ${flow}`];
}

/** One setting under the extractor's `config:`, its groups nested as Meltano nests a dotted name. */
export function snippet(leaf: SettingLeaf, value = exampleOf(leaf)): string {
  const lines = ["config:"];
  leaf.path.slice(0, -1).forEach((group, i) => lines.push(`${"  ".repeat(i + 1)}${key(group)}:`));
  lines.push(...entry(leaf.path.at(-1)!, value, "  ".repeat(leaf.path.length)));
  return lines.join("\n");
}

/** The README block: each setting, what its snippet shows, and the snippet. */
export function meltanoSnippets(): string {
  const leaves = settingLeaves();
  const out = [`<details><summary>Every setting (${leaves.length}) as it goes under <code>config:</code> in <code>meltano.yml</code></summary>`, ""];
  for (const leaf of leaves) {
    const value = exampleOf(leaf);
    const note = leaf.schema.default !== undefined && same(value, leaf.schema.default) ? " (the default)" : leaf.required ? " (required)" : "";
    out.push(`\`${leaf.path.join(".")}\`${note}:`, "", "```yaml", snippet(leaf, value), "```", "");
  }
  out.push("</details>");
  return out.join("\n");
}

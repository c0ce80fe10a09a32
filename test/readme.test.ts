// The README is the manual: what it says about streams and commands must be true.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { refreshed } from "../scripts/readme.ts";
import { exampleOf } from "../scripts/meltano-snippets.ts";
import { loadSettings } from "../src/config.ts";
import { runTap, tempFiles } from "./helpers/tap.ts";
import { settingLeaves } from "./helpers/meltano.ts";

const read = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), "utf8");

describe("README", () => {
  it("carries the generated stream and settings tables and the settings' meltano.yml snippets (npm run readme)", () => {
    const readme = read("README.md");
    expect(refreshed(readme, read("catalog/heroku/README.md"))).toBe(readme);
  });

  it("gives exactly the install and test commands that CI runs", () => {
    const readme = read("README.md");
    const ci = read(".ci/run");
    expect(readme).toMatch(/```sh\nnpm ci\nnpm test\n```/);
    expect(ci).toMatch(/^npm ci\b/m);
    expect(ci).toMatch(/^npm test$/m);
  });
});

/**
 * The README's meltano.yml snippets, read back: each is `config:` and block
 * mappings whose values are in JSON's notation (what scripts/meltano-snippets.ts
 * writes); returned merged, as one config.
 */
function snippetsConfig(readme: string): { names: string[]; config: Record<string, unknown> } {
  const block = readme.slice(readme.indexOf("<!-- meltano-settings:begin"), readme.indexOf("<!-- meltano-settings:end"));
  const names: string[] = [];
  const config: Record<string, unknown> = {};
  for (const m of block.matchAll(/^`([^`]+)`[^\n]*:\n\n```yaml\n([\s\S]*?)\n```/gm)) {
    names.push(m[1]!);
    const lines = m[2]!.split("\n");
    expect(lines[0]).toBe("config:");
    const stack: { indent: number; into: Record<string, unknown> }[] = [{ indent: 0, into: config }];
    for (const line of lines.slice(1)) {
      const [, spaces, key, rest] = /^( +)([^:]+): ?(.*)$/.exec(line)!;
      while (stack.at(-1)!.indent >= spaces!.length) stack.pop();
      const into = stack.at(-1)!.into;
      const name = key!.startsWith('"') ? JSON.parse(key!) : key!;
      if (rest === "") {
        into[name] = isObject(into[name]) ? into[name] : {};
        stack.push({ indent: spaces!.length, into: into[name] as Record<string, unknown> });
      } else into[name] = JSON.parse(rest!);
    }
  }
  return { names, config };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

describe("README: a meltano.yml snippet for every setting", () => {
  it("has one for each setting --about publishes, in its order", async () => {
    const about = JSON.parse((await runTap(["--about", "--format", "json"])).stdout);
    const leaves = settingLeaves(about.settings);
    expect(snippetsConfig(read("README.md")).names).toEqual(leaves);
  });

  it("shows values the tap accepts: every snippet together is a valid config", async () => {
    const { config } = snippetsConfig(read("README.md"));
    expect(config.postgres).toMatchObject({ ssl: "verify-full", schemas: ["public"] }); // nested under their group
    const f = tempFiles({ "config.json": config });
    const loaded = await loadSettings([f["config.json"]!], {});
    expect(loaded.ok ? "ok" : loaded.error.message).toBe("ok");
  });

  it("stops the generation for a setting that has no example, naming it", () => {
    expect(() => exampleOf({ path: ["postgres", "ssl_ca"], schema: { type: "string" }, required: false })).toThrow(/postgres\.ssl_ca has no example/);
  });
});

// Parts of the README are generated so they stay true: the stream table (from
// catalog/heroku/README.md), the settings table (from the settings schema
// that --about publishes) and a meltano.yml snippet of every setting (from the same schema). Each sits between markers; `npm run readme`
// refreshes them and test/readme.test.ts fails when one is stale.
import { readFileSync, writeFileSync } from "node:fs";
import { settingsTable } from "../src/about.ts";
import { meltanoSnippets } from "./meltano-snippets.ts";

/** The Streams and Skipped sections of the catalog README, one heading level down. */
export function streamsBlock(catalogReadme: string): string {
  const from = catalogReadme.indexOf("\n## Streams");
  return catalogReadme.slice(from + 1).trim().replace(/^## /gm, "### ");
}

function replaceBlock(readme: string, name: string, content: string): string {
  const begin = `<!-- ${name}:begin (npm run readme) -->`;
  const end = `<!-- ${name}:end -->`;
  const start = readme.indexOf(begin);
  const stop = readme.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`README.md lacks the ${begin} … ${end} markers`);
  return `${readme.slice(0, start + begin.length)}\n${content}\n${readme.slice(stop)}`;
}

/** The README with every generated block brought up to date. */
export function refreshed(readme: string, catalogReadme: string): string {
  const blocks: [string, string][] = [["streams", streamsBlock(catalogReadme)], ["settings", settingsTable()], ["meltano-settings", meltanoSnippets()]];
  return blocks.reduce((text, [name, content]) => replaceBlock(text, name, content), readme);
}

// Run as a script (Deno sets import.meta.main); imported by the test, it only exports.
if ((import.meta as { main?: boolean }).main) {
  const readme = new URL("../README.md", import.meta.url);
  const catalog = readFileSync(new URL("../catalog/heroku/README.md", import.meta.url), "utf8");
  writeFileSync(readme, refreshed(readFileSync(readme, "utf8"), catalog));
  console.log("README.md: generated blocks refreshed");
}

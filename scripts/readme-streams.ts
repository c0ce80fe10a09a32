// The README's stream table is the generated one from catalog/heroku/README.md,
// copied between markers. Run `npm run readme:streams` after regenerating the
// catalog; test/readme.test.ts fails when the copy is stale.
import { readFileSync, writeFileSync } from "node:fs";

const BEGIN = "<!-- streams:begin (npm run readme:streams) -->";
const END = "<!-- streams:end -->";

/** The Streams and Skipped sections of the catalog README, one heading level down. */
export function streamsBlock(catalogReadme: string): string {
  const from = catalogReadme.indexOf("\n## Streams");
  return catalogReadme.slice(from + 1).trim().replace(/^## /gm, "### ");
}

export function withStreams(readme: string, catalogReadme: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${BEGIN} … ${END} markers`);
  return `${readme.slice(0, start + BEGIN.length)}\n${streamsBlock(catalogReadme)}\n${readme.slice(end)}`;
}

// Run as a script (Deno sets import.meta.main); imported by the test, it only exports.
if ((import.meta as { main?: boolean }).main) {
  const readme = new URL("../README.md", import.meta.url);
  const catalog = readFileSync(new URL("../catalog/heroku/README.md", import.meta.url), "utf8");
  writeFileSync(readme, withStreams(readFileSync(readme, "utf8"), catalog));
  console.log("README.md: stream table refreshed");
}

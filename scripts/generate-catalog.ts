/**
 * Regenerates catalog/heroku (streams.json, schemas/*.json, README.md) from the vendored inputs in
 * catalog/heroku/source. Stale schema files are removed.
 *
 *   npx deno run --allow-read --allow-write scripts/generate-catalog.ts
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateHerokuCatalog } from "./heroku-catalog.ts";

const catalogDir = join(dirname(fileURLToPath(import.meta.url)), "..", "catalog", "heroku");
const readJson = (name: string): unknown => JSON.parse(readFileSync(join(catalogDir, "source", name), "utf8"));

const files = generateHerokuCatalog(readJson("platform-api-schema.json"), readJson("list-endpoints.json"));

let written = 0;
let unchanged = 0;
for (const [relative, content] of files) {
  const target = join(catalogDir, ...relative.split("/"));
  let current: string | undefined;
  try {
    current = readFileSync(target, "utf8");
  } catch {
    current = undefined;
  }
  if (current === content) {
    unchanged += 1;
    continue;
  }
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, content);
  written += 1;
}

const removed: string[] = [];
const schemasDir = join(catalogDir, "schemas");
for (const name of readdirSync(schemasDir)) {
  if (!files.has(`schemas/${name}`)) {
    rmSync(join(schemasDir, name), { recursive: true, force: true });
    removed.push(name);
  }
}

const streamCount = [...files.keys()].filter((f) => f.startsWith("schemas/")).length;
console.log(
  `catalog/heroku: ${streamCount} streams, ${files.size} files (${written} written, ${unchanged} unchanged, ${removed.length} stale removed${
    removed.length > 0 ? `: ${removed.join(", ")}` : ""
  })`,
);

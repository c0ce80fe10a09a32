// Writes meltano/tap-heroku.yml (the plugin definition) and meltano/example/meltano.yml
// (a complete project around it) from the settings schema and the catalog. Run: npm run meltano:plugin
import { mkdirSync, writeFileSync } from "node:fs";
import { meltanoExampleProject, meltanoPluginYaml } from "../src/meltano.ts";

writeFileSync(new URL("../meltano/tap-heroku.yml", import.meta.url), meltanoPluginYaml());
mkdirSync(new URL("../meltano/example/", import.meta.url), { recursive: true });
writeFileSync(new URL("../meltano/example/meltano.yml", import.meta.url), meltanoExampleProject());
console.log("wrote meltano/tap-heroku.yml and meltano/example/meltano.yml");

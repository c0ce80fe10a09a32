// Writes meltano/tap-heroku.yml from the settings schema. Run: npm run meltano:plugin
import { writeFileSync } from "node:fs";
import { meltanoPluginYaml } from "../src/meltano.ts";

writeFileSync(new URL("../meltano/tap-heroku.yml", import.meta.url), meltanoPluginYaml());
console.log("wrote meltano/tap-heroku.yml");

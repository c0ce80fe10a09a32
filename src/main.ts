// Entry point for both runtimes: `deno run -A src/main.ts` and, compiled,
// bin/tap-heroku.js on Node.
import { main } from "./cli.ts";
import { runtime } from "./runtime.ts";

runtime.exit(await main(runtime.args));

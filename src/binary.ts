// Entry point of the single binary (npm run binary): a Node single executable
// application. The package files travel inside it as assets, so they must be
// declared before the rest of the tap loads; hence the dynamic import, which
// the bundler inlines.
import { getAsset } from "node:sea";
import { useEmbeddedFiles } from "./package-files.ts";
import { runtime } from "./runtime.ts";

useEmbeddedFiles((path) => getAsset(path, "utf8"));
void import("./cli.ts").then(async ({ main }) => runtime.exit(await main(runtime.args)));

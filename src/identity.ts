// What this tap is: its name, version and capabilities. A module of its own so
// that --about and the Meltano plugin generator load neither the Heroku client
// nor the PostgreSQL driver.
import { readPackageFile } from "./package-files.ts";

const pkg = JSON.parse(readPackageFile("package.json")) as {
  version: string;
  description: string;
};

export const TAP = {
  name: "tap-heroku",
  description: pkg.description,
  version: pkg.version,
  capabilities: ["catalog", "discover", "state", "about", "activate-version", "test", "batch", "stream-maps", "schema-flattening", "structured-logging"],
} as const;

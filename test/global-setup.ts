// Starts one real PostgreSQL for the whole test run, with SSL on as on Heroku,
// unless TAP_HEROKU_TEST_DATABASE_URL names a server to use instead.
import type { TestProject } from "vitest/node";
import type {} from "vitest";
import { startEmbeddedPostgres } from "./helpers/embedded-postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of the test server (ssl on; connect with ssl: {rejectUnauthorized: false}). */
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const external = process.env.TAP_HEROKU_TEST_DATABASE_URL;
  if (external) {
    project.provide("databaseUrl", external);
    return;
  }
  const pg = await startEmbeddedPostgres({ flags: ["-c", "max_connections=200"] });
  project.provide("databaseUrl", pg.url);
  return () => pg.stop();
}

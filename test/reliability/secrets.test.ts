// No secret in output: failing scenarios run through the real CLI with known
// secrets (a revoked token, a wrong database password, a credential without
// rights, a database that drops mid-table and stays away, an unreachable
// database, and a Heroku 500 whose body echoes the Authorization header), at
// LOG_LEVEL=info and debug (stack traces allowed, secrets not), and every byte
// of stdout, stderr and the catalogs is searched for the token, each URL, each
// password and user name, their URL-encoded forms, and for any 10-character
// piece of the token or a password (a truncated message must not leak a prefix).
import { createServer, request } from "node:http";
import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../simulator/index.ts";
import type { Simulator } from "../../simulator/index.ts";
import { runTap, tempFiles } from "../helpers/tap.ts";
import type { RuntimeName, TapRun } from "../helpers/tap.ts";
import { createDatabase, sql, superuserUrl } from "../postgres/helpers.ts";
import { startPgProxy } from "./pg-proxy.ts";

const DB = "tap_rel_secrets";
const TOKEN = "hk-tok-7f3a9c2e1b5d4a8f9e0c6b2a";
const BAD_TOKEN = "hk-bad-4e8b1c9d2f7a6e3b0c5d9a1f";
const USERS = {
  alpha: { user: "tapsec_user_alpha", password: "Alpha-pw/with:odd@chars%x9" },
  norights: { user: "tapsec_user_norights", password: "NoRights-pw-8d2e1f#q" },
  dropper: { user: "tapsec_user_dropper", password: "Dropper-pw-3c9a7b!z" },
  nowhere: { user: "tapsec_user_nowhere", password: "Nowhere-pw-5e1d0c&w" },
};
const WRONG_PASSWORD = "Wrong-pw/7q:zz@yy%k2";

let sim: Simulator;
let echo: Server;
let echoUrl: string;
let app: string;
let attachments: string[];
let pgPort: number;
const outputs: { label: string; text: string }[] = [];
const urls: string[] = [];

function dbUrl(user: string, password: string, port = pgPort, host = "127.0.0.1"): string {
  const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${DB}`;
  urls.push(url);
  return url;
}

/** Every form a secret could be printed in. */
function forms(): string[] {
  const out = new Set<string>([TOKEN, BAD_TOKEN, WRONG_PASSWORD, encodeURIComponent(WRONG_PASSWORD)]);
  for (const { user, password } of Object.values(USERS)) {
    for (const s of [user, password, encodeURIComponent(password), encodeURIComponent(user)]) out.add(s);
  }
  for (const u of urls) {
    out.add(u);
    out.add(decodeURIComponent(u));
    out.add(new URL(u).toString());
  }
  // Any 10-character piece of the token or a password: a message cut short must not leak a prefix either.
  for (const s of [TOKEN, BAD_TOKEN, WRONG_PASSWORD, ...Object.values(USERS).map((u) => u.password)]) {
    for (let i = 0; i + 10 <= s.length; i++) out.add(s.slice(i, i + 10));
  }
  return [...out];
}

beforeAll(async () => {
  sim = await startSimulator({ apps: 2, postgresApps: 1, tokens: { [TOKEN]: { scopes: ["global"] } } });
  await createDatabase(
    DB,
    `CREATE TABLE big (id int8 PRIMARY KEY, note text);
    INSERT INTO big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 30000) i;`,
  );
  pgPort = Number(new URL(superuserUrl()).port);
  for (const { user, password } of Object.values(USERS)) {
    await sql(
      superuserUrl(),
      `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${user}') THEN CREATE ROLE "${user}" LOGIN; END IF; END $$;
      ALTER ROLE "${user}" PASSWORD '${password.replace(/'/g, "''")}';`,
    );
    await sql(superuserUrl(DB), `GRANT CONNECT ON DATABASE "${DB}" TO "${user}"; GRANT USAGE ON SCHEMA public TO "${user}"; GRANT SELECT ON big TO "${user}";`);
  }
  app = (sim.items("/apps") as { name: string }[]).map((a) => a.name).find((name) =>
    (sim.items("/apps/{app}/addons", { app: name }) as { addon_service: { name: string } }[]).some((a) => a.addon_service.name === "heroku-postgresql")
  )!;
  attachments = (sim.items("/apps/{app}/addon-attachments", { app }) as { name: string }[]).map((a) => `${a.name}_URL`);

  // In front of the simulator: /apps answers 500 with a plain-text body that
  // echoes the request's headers, the token straddling the 200th character;
  // /teams answers 500 with a JSON message that echoes it whole.
  echo = createServer((req, res) => {
    const auth = String(req.headers.authorization);
    if (req.url?.startsWith("/apps")) {
      const head = "upstream failure while handling the request; request headers follow. ";
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(head + ".".repeat(200 - head.length - "authorization: Bearer ".length - 15) + `authorization: ${auth}; accept: ${req.headers.accept}`);
      return;
    }
    if (req.url?.startsWith("/teams")) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "internal_server_error", message: `boom handling ${req.url} with authorization=${auth}` }));
      return;
    }
    const up = request(sim.url + req.url, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  echoUrl = `http://127.0.0.1:${(echo.address() as { port: number }).port}`;
});
afterAll(async () => {
  await sim?.close();
  await new Promise((r) => echo?.close(r));
});

function config(over: Record<string, unknown> = {}): string {
  return tempFiles({
    "c.json": {
      token: TOKEN,
      api_url: sim.url,
      apps: [app],
      max_retries: 1,
      retry_backoff_s: 0.01,
      postgres: { connect_timeout_s: 1, batch_size: 500 },
      ...over,
    },
  })["c.json"]!;
}
const pointAt = (url: string) => sim.setConfigVars(app, Object.fromEntries(attachments.map((v) => [v, url])));

async function tap(label: string, args: string[], level: string, runtime: RuntimeName = "node"): Promise<TapRun> {
  const run = await runTap(args, { runtime, env: { LOG_LEVEL: level } });
  outputs.push({ label: `${label} (${runtime}, ${level}): stdout`, text: run.stdout }, { label: `${label} (${runtime}, ${level}): stderr`, text: run.stderr });
  return run;
}

async function discover(label: string, cfg: string, level: string, runtime: RuntimeName = "node") {
  const run = await tap(`${label} --discover`, ["--config", cfg, "--discover"], level, runtime);
  return run;
}

function selectTable(catalogText: string): string {
  const catalog = JSON.parse(catalogText) as { streams: { tap_stream_id: string; metadata: { breadcrumb: string[]; metadata: Record<string, unknown> }[] }[] };
  for (const s of catalog.streams) s.metadata[0]!.metadata.selected = s.tap_stream_id.endsWith("-public-big");
  expect(catalog.streams.some((s) => s.tap_stream_id.endsWith("-public-big"))).toBe(true);
  return tempFiles({ "cat.json": catalog })["cat.json"]!;
}

describe("failing runs with known secrets", () => {
  it.each(["info", "debug"])("LOG_LEVEL=%s: no token, URL, password or user name in any byte of output or catalog", async (level) => {
    const start = outputs.length;

    // A revoked token.
    const revoked = await tap("revoked token", ["--config", config({ token: BAD_TOKEN })], level);
    expect(revoked.code).toBe(1);

    // A database URL with a wrong password (the database is skipped with a warning).
    pointAt(dbUrl(USERS.alpha.user, WRONG_PASSWORD));
    const wrong = await discover("wrong password", config(), level);
    expect(wrong.stderr).toMatch(/authentication failed/);

    // A credential whose rights are revoked after discovery: the table is left
    // out with a warning, and the catalog that still selects it skips it (exit 0).
    pointAt(dbUrl(USERS.norights.user, USERS.norights.password));
    await sql(superuserUrl(DB), `GRANT SELECT ON big TO "${USERS.norights.user}"`);
    const cat = selectTable((await discover("no rights", config(), level)).stdout);
    await sql(superuserUrl(DB), `REVOKE SELECT ON big FROM "${USERS.norights.user}"`);
    const denied = await tap("no rights", ["--config", config(), "--catalog", cat], level);
    expect(denied.code, denied.stderr).toBe(0);
    expect(denied.stderr).toMatch(/skipped: .*permission denied on public\.big/);

    // A database that drops mid-table and stays away.
    const open = await startPgProxy({ host: "127.0.0.1", port: pgPort });
    const cutting = await startPgProxy({ host: "127.0.0.1", port: pgPort }, { cutAfterServerBytes: 400_000 });
    try {
      pointAt(dbUrl(USERS.dropper.user, USERS.dropper.password, open.port));
      const cat2 = selectTable((await discover("dropped", config(), level)).stdout);
      pointAt(dbUrl(USERS.dropper.user, USERS.dropper.password, cutting.port));
      const dropped = await tap("dropped", ["--config", config(), "--catalog", cat2], level);
      expect(dropped.stderr).toMatch(/connection was lost/);
      expect(dropped.stderr).toMatch(/skipped: .*cannot connect/);
    } finally {
      await open.close();
      await cutting.close();
    }

    // An unreachable database.
    pointAt(dbUrl(USERS.nowhere.user, USERS.nowhere.password, 9));
    const away = await discover("unreachable", config(), level);
    expect(away.stderr).toMatch(/cannot connect/);
    const away2 = await tap("unreachable", ["--config", config()], level);
    expect(away2.code).toBe(0);

    // A 500 whose body echoes the Authorization header.
    const echoed = await tap("500 echo", ["--config", config({ api_url: echoUrl, apps: undefined })], level);
    expect(echoed.code).toBe(1);
    expect(echoed.stderr).toMatch(/upstream failure/);
    expect(echoed.stderr).toMatch(/boom handling/);
    if (level === "debug") expect(revoked.stderr + echoed.stderr + denied.stderr).toMatch(/\n\s+at /); // stack traces are there, masked

    const leaks: string[] = [];
    const secrets = forms();
    for (const { label, text } of outputs.slice(start)) {
      for (const s of secrets) {
        if (text.includes(s)) {
          leaks.push(`${label}: ${JSON.stringify(s)} in …${text.slice(Math.max(0, text.indexOf(s) - 80), text.indexOf(s) + s.length + 20)}…`);
        }
      }
    }
    expect(leaks).toEqual([]);
  });

  it("on Deno too (wrong password, unreachable database, revoked token)", async () => {
    const start = outputs.length;
    pointAt(dbUrl(USERS.alpha.user, WRONG_PASSWORD));
    const wrong = await discover("wrong password", config(), "debug", "deno");
    expect(wrong.stderr).toMatch(/authentication failed/);
    pointAt(dbUrl(USERS.nowhere.user, USERS.nowhere.password, 9));
    await tap("unreachable", ["--config", config()], "debug", "deno");
    const revoked = await tap("revoked token", ["--config", config({ token: BAD_TOKEN })], "debug", "deno");
    expect(revoked.code).toBe(1);
    const secrets = forms();
    const leaks = outputs.slice(start).flatMap(({ label, text }) => secrets.filter((s) => text.includes(s)).map((s) => `${label}: ${s}`));
    expect(leaks).toEqual([]);
  });
});

// Run under Deno by deno-socket.test.ts (not a test itself): connects with the
// tap's connect() (so through DenoSocket, src/deno-socket.ts) in each ssl mode,
// and reads a 200,000-row COPY whose first row makes the reader wait 1.5 s.
// Prints, per mode, whether the session is TLS, the bytes the socket took from
// the network before and during the wait, and the rows read; then how a wrong
// CA, a refused connection and a server that never answers fail. Arguments: database URL, CA file, other CA file.
import { readFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import process from "node:process";
import { PostgresSettings } from "../../src/config.ts";
import { connect, describeConnectError } from "../../src/postgres/connect.ts";
import { copyFields, CopyOut } from "../../src/postgres/copy.ts";
import { type PgSocket, runtime } from "../../src/runtime.ts";
import type { DenoSocket } from "../../src/deno-socket.ts";

const [url, caFile, otherCaFile] = process.argv.slice(2) as [string, string, string];
const sockets: DenoSocket[] = [];
const make = runtime.pgSocket!;
// Keeps each socket pg gets, to read its byte count.
(runtime as { pgSocket: () => PgSocket }).pgSocket = () => {
  const s = make();
  sockets.push(s as unknown as DenoSocket);
  return s;
};

const settings = (ssl: string, ca?: string) => PostgresSettings.parse({ ssl, ...(ca ? { ssl_ca: readFileSync(ca, "utf8") } : {}) });
const results: Record<string, unknown>[] = [];
for (const [ssl, ca] of [["no-verify"], ["disable"], ["verify-full", caFile]] as [string, string?][]) {
  const client = await connect(url, settings(ssl, ca));
  const socket = sockets.at(-1)!;
  const tls = (await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows[0].ssl === "t";
  let before = 0;
  let paused = 0;
  let rows = 0;
  const copy = new CopyOut("COPY (SELECT i, repeat('x', 200) FROM generate_series(1, 200000) i) TO STDOUT", (b) => copyFields(b, 2), () => {
    if (rows++ > 0) return;
    before = socket.bytesFromNetwork;
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        paused = socket.bytesFromNetwork;
        resolve();
      }, 1500)
    );
  });
  void client.query(copy);
  await copy.done;
  await client.end();
  results.push({ ssl, tls, before, paused, rows, total: socket.bytesFromNetwork });
}
const failure = async (u: string, s: ReturnType<typeof settings>) => {
  try {
    await (await connect(u, s)).end();
    return "connected";
  } catch (e) {
    return describeConnectError(e, 10);
  }
};
const refused = new URL(url);
refused.port = "1";
// A server that accepts the connection and never answers: pg gives up after connect_timeout_s.
const silent = createServer(() => undefined);
await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
const started = Date.now();
const timeout = await failure(`postgres://u:p@127.0.0.1:${(silent.address() as AddressInfo).port}/db`, { ...settings("no-verify"), connect_timeout_s: 1 });
const timeoutMs = Date.now() - started;
silent.close();
console.log(JSON.stringify({
  results,
  wrongCa: await failure(url, settings("verify-full", otherCaFile)),
  refused: await failure(refused.toString(), settings("no-verify")),
  timeout,
  timeoutMs,
}));

// A tiny loopback TCP proxy in front of PostgreSQL, for tests: it records the
// statements the client sends (simple Query and extended Parse messages, when
// the session is not TLS) and can cut every connection and refuse new ones,
// as a database that goes away mid-table.
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";

export interface PgProxy {
  readonly port: number;
  /** Statements seen (Query and Parse texts), in order, across all sessions. */
  readonly statements: string[];
  /** The URL with its host and port replaced by the proxy's. */
  via(url: string): string;
  /** Cuts every open connection and refuses new ones from now on. */
  cut(): Promise<void>;
  close(): Promise<void>;
}

export async function startPgProxy(target: { host: string; port: number }, opts: { cutAfterServerBytes?: number } = {}): Promise<PgProxy> {
  const statements: string[] = [];
  const sockets = new Set<Socket>();
  let serverBytes = 0;
  // Assigned once below; the socket handlers defined before it refer to it.
  // deno-lint-ignore prefer-const
  let proxy: PgProxy;
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", done).on("close", done);
    upstream.on("error", done).on("close", done);
    let buf = Buffer.alloc(0);
    let startup = true;
    let tls = false;
    client.on("data", (d: Buffer) => {
      upstream.write(d);
      if (tls) return;
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (startup) {
          if (buf.length < 8) return;
          const len = buf.readInt32BE(0);
          if (buf.length < len) return;
          const code = buf.readInt32BE(4);
          buf = buf.subarray(len);
          if (code === 80877103 || code === 80877104) tls = true; // SSLRequest / GSSENCRequest: the rest is opaque
          else startup = false;
          if (tls) return;
          continue;
        }
        if (buf.length < 5) return;
        const type = String.fromCharCode(buf[0]!);
        const len = buf.readInt32BE(1);
        if (buf.length < 1 + len) return;
        const body = buf.subarray(5, 1 + len);
        buf = buf.subarray(1 + len);
        if (type === "Q") statements.push(body.subarray(0, body.indexOf(0)).toString("utf8"));
        if (type === "P") {
          const nameEnd = body.indexOf(0);
          statements.push(body.subarray(nameEnd + 1, body.indexOf(0, nameEnd + 1)).toString("utf8"));
        }
      }
    });
    upstream.on("data", (d: Buffer) => {
      client.write(d);
      serverBytes += d.length;
      if (opts.cutAfterServerBytes !== undefined && serverBytes >= opts.cutAfterServerBytes) void proxy.cut();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  let closed = false;
  proxy = {
    port,
    statements,
    via(url) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    async cut() {
      for (const s of sockets) s.destroy();
      if (!closed) {
        closed = true;
        await new Promise<void>((r) => server.close(() => r()));
      }
    },
    close() {
      return proxy.cut();
    },
  };
  return proxy;
}

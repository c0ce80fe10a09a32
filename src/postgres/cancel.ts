// PostgreSQL's cancel request, the way libpq (before 17) and node-postgres
// send it: a new connection to the same server carrying one 16-byte packet,
// the backend's process id and the key it gave at start-up, unencrypted (no
// credential travels; the server reads the packet before TLS or pg_hba
// would apply). Written here rather than through pg's Client.cancel() because
// the caller must know when the server has acted on it: the server closes the
// connection only after it has signalled the backend, and a cancel that lands
// after the statement ended is ignored while the backend waits for a command,
// so the next statement sent after that close is safe from it.
import { connect } from "node:net";
import type pg from "pg";

const CANCEL_REQUEST_CODE = 80877102;

interface BackendKey {
  processID?: number | null;
  secretKey?: number | null;
  connection?: { stream?: { remoteAddress?: string; remotePort?: number } };
  host?: string;
  port?: number;
}

/**
 * Asks the server to cancel the statement `client` is running; resolves once
 * the server closed the cancel connection (it has signalled the backend), or
 * after `timeoutMs`, or on any error (a cancel is best effort: the caller reads
 * on and the statement ends by itself).
 */
export function cancelStatement(client: pg.Client, timeoutMs: number): Promise<void> {
  const c = client as unknown as BackendKey;
  // The address the session's socket reached, not the name again: a host name may resolve to another server.
  const host = c.connection?.stream?.remoteAddress ?? c.host;
  const port = c.connection?.stream?.remotePort ?? c.port;
  if (c.processID == null || c.secretKey == null || !host || !port) return Promise.resolve();
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeUInt32BE(c.processID >>> 0, 8);
  packet.writeUInt32BE(c.secretKey >>> 0, 12);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.once("connect", () => socket.write(packet));
    socket.on("data", () => undefined).on("error", () => undefined);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

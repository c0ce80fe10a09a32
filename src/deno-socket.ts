// The socket pg talks through on Deno. Deno 2's own node:net socket, once
// node:tls wraps it, goes on reading from the network while the TLS socket on
// top is paused (a whole table buffered in memory in an experiment), and so
// does node:tls over any stream: it consumes whatever the stream below gives.
// This socket reads from the network (Deno.connect) only while the stream its
// reader consumes flows: itself over plain TCP (Readable's own backpressure),
// or the TLS socket pg layers over it, which `follow` names once connected. A
// paused reader then holds at most one read in flight (READ_BYTES) plus what
// TLS had already decrypted, whatever the table's size.
//
// pg still does the SSLRequest and node:tls the handshake and certificate
// checks, exactly as on Node: only the bytes under TLS come from here.
import { Buffer } from "node:buffer";
import { Duplex, type Readable } from "node:stream";

/** Bytes asked of the network per read: Deno's node:net reads 64 KiB too. */
export const READ_BYTES = 64 * 1024;

interface DenoTcpConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  /** TCP only. */
  setNoDelay?(noDelay?: boolean): void;
  /** TCP only. */
  setKeepAlive?(keepAlive?: boolean): void;
  ref(): void;
  unref(): void;
}

export interface DenoNet {
  connect(
    options: { hostname: string; port: number; signal?: AbortSignal } | { transport: "unix"; path: string },
  ): Promise<DenoTcpConn>;
}

export class DenoSocket extends Duplex {
  /** Bytes taken from the network so far (the backpressure test reads it). */
  bytesFromNetwork = 0;
  private conn: DenoTcpConn | undefined;
  private reading = false;
  /** The reader wants bytes while the network is not being read. */
  private wanted = false;
  /** The stream whose reader decides: paused, no network reads are made. */
  private gate: Readable = this;
  private noDelay = false;
  private referenced = true;
  /** Cancels a connect still under way when pg gives up (connect_timeout_s): a pending connect would keep Deno running. */
  private readonly connecting = new AbortController();

  constructor(private readonly deno: DenoNet) {
    // allowHalfOpen false: the server's end of the connection ends ours too, as a net.Socket does.
    super({ allowHalfOpen: false });
  }

  /** pg calls connect(port, host), or connect(path) for a Unix socket (which Deno lets only --allow-write use), and waits for 'connect'. */
  connect(port: number | string, host?: string): this {
    const options = typeof port === "string" ? { transport: "unix" as const, path: port } : { hostname: host!, port, signal: this.connecting.signal };
    this.deno.connect(options).then(
      (conn) => {
        if (this.destroyed) return conn.close(); // pg gave up (connect timeout) meanwhile
        this.conn = conn;
        conn.setNoDelay?.(this.noDelay);
        if (!this.referenced) conn.unref();
        this.emit("connect");
        if (this.wanted) this._read();
      },
      (e: unknown) => {
        if (!this.destroyed) this.destroy(withCode(e));
      },
    );
    return this;
  }

  /**
   * Reads from the network only while `reader` flows: pg's TLS socket over this
   * one. pause() and resume() on it stop and restart the reads.
   */
  follow(reader: Readable): void {
    if (reader === this) return;
    this.gate = reader;
    reader.on("resume", () => {
      if (this.wanted) this._read();
    });
  }

  setNoDelay(noDelay = true): this {
    this.noDelay = noDelay;
    this.conn?.setNoDelay?.(noDelay);
    return this;
  }

  setKeepAlive(enable = false): this {
    // Deno sets no initial delay: the system's default applies. A Unix socket has neither setting.
    if (this.conn) this.conn.setKeepAlive?.(enable);
    else this.once("connect", () => this.conn?.setKeepAlive?.(enable));
    return this;
  }

  ref(): this {
    this.referenced = true;
    this.conn?.ref();
    return this;
  }

  unref(): this {
    this.referenced = false;
    this.conn?.unref();
    return this;
  }

  override _read(): void {
    // Over TLS, node:tls asks for more whatever its own reader does: the gate decides.
    if (!this.conn || this.reading || (this.gate !== this && this.gate.isPaused())) {
      this.wanted = true;
      return;
    }
    this.wanted = false;
    this.reading = true;
    const buf = new Uint8Array(READ_BYTES);
    this.conn.read(buf).then(
      (n) => {
        this.reading = false;
        if (this.destroyed) return;
        if (n === null) return void this.push(null);
        this.bytesFromNetwork += n;
        // A short read is copied: the rest of its 64 KiB would otherwise live as long as the bytes.
        const bytes = n < READ_BYTES / 2 ? Buffer.from(buf.subarray(0, n)) : Buffer.from(buf.buffer, 0, n);
        if (this.push(bytes)) this._read();
      },
      (e: unknown) => {
        this.reading = false;
        if (!this.destroyed) this.destroy(withCode(e));
      },
    );
  }

  override _write(chunk: Buffer, _encoding: string, callback: (error?: Error | null) => void): void {
    const conn = this.conn;
    if (!conn) return callback(new Error("the socket is not connected"));
    (async () => {
      let rest: Uint8Array = chunk;
      while (rest.length > 0) rest = rest.subarray(await conn.write(rest));
    })().then(() => callback(), (e: unknown) => callback(withCode(e)));
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.conn) return callback();
    this.conn.closeWrite().then(() => callback(), () => callback()); // already closed by the peer: nothing left to end
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    if (!this.conn) this.connecting.abort();
    try {
      this.conn?.close();
    } catch {
      // already closed
    }
    callback(error);
  }
}

/** Deno's errors as node:net's: the tap tells a lost or refused connection by `code` (connect.ts). */
function withCode(e: unknown): Error {
  const error = e instanceof Error ? e : new Error(String(e));
  const named: Record<string, string> = {
    ConnectionRefused: "ECONNREFUSED",
    ConnectionReset: "ECONNRESET",
    BrokenPipe: "EPIPE",
    TimedOut: "ETIMEDOUT",
    NotConnected: "ENOTCONN",
  };
  const code = (error as { code?: string }).code ?? named[error.name] ??
    (/failed to lookup address|Name or service not known|No address associated/i.test(error.message) ? "ENOTFOUND" : undefined);
  if (code !== undefined && (error as { code?: string }).code === undefined) Object.assign(error, { code });
  return error;
}

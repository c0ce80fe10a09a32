// A loopback TCP relay that makes a connection look like a network path: every
// chunk is delayed by `delayMs` in each direction (a chunk arriving at t leaves
// at t + delayMs, order kept, chunks in flight overlap as on a real link), and
// each direction of each connection can be capped at `mbit` Mbit/s.
//
// Memory is bounded: a direction holds at most `windowBytes` (queued plus the
// destination's write buffer, like a TCP window); beyond that its source socket
// is paused until the destination catches up. close() ends every connection;
// the listener is unref'd so a forgotten relay never keeps a process alive.
import net from "node:net";

export interface RelayOptions {
  /** Where connections are forwarded. */
  readonly host: string;
  readonly port: number;
  /** One-way delay; the round trip adds twice this. */
  readonly delayMs: number;
  /** Bandwidth cap per direction per connection; none when undefined. */
  readonly mbit?: number;
  /** Bytes one direction may hold before its source is paused (default 16 MiB, a large TCP window). */
  readonly windowBytes?: number;
}

export interface Relay {
  readonly port: number;
  close(): Promise<void>;
}

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: opts.host, port: opts.port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("close", () => sockets.delete(s));
      // A reset on one side ends both: the relay never outlives its connection.
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    pipe(client, upstream, opts);
    pipe(upstream, client, opts);
  });
  server.unref();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One direction: delay each chunk, pace it to the cap, pause the source when the window is full. */
function pipe(src: net.Socket, dst: net.Socket, opts: RelayOptions): void {
  const window = opts.windowBytes ?? 16 * 1024 * 1024;
  const bytesPerMs = opts.mbit === undefined ? Infinity : (opts.mbit * 1e6) / 8 / 1000;
  const queue: { data: Buffer; due: number }[] = [];
  let head = 0;
  let queued = 0;
  let linkFreeAt = 0; // when the capped link has sent what is already queued
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;

  const held = () => queued + dst.writableLength;
  const maybeResume = () => {
    if (src.isPaused() && held() < window / 2) src.resume();
  };

  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (head < queue.length && queue[head]!.due <= now) {
      const { data } = queue[head]!;
      queue[head++] = undefined as never;
      queued -= data.length;
      if (!dst.destroyed) dst.write(data);
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
      if (ended && !dst.destroyed) dst.end();
    } else {
      schedule();
    }
    maybeResume();
  };
  const schedule = () => {
    if (timer !== undefined || head >= queue.length) return;
    timer = setTimeout(flush, Math.max(0, queue[head]!.due - performance.now()));
  };

  src.on("data", (data: Buffer) => {
    const now = performance.now();
    let due = now + opts.delayMs;
    if (bytesPerMs !== Infinity) {
      // The chunk leaves the capped link after the chunks before it; then it travels delayMs.
      linkFreeAt = Math.max(linkFreeAt, now) + data.length / bytesPerMs;
      due = linkFreeAt + opts.delayMs;
    }
    queue.push({ data, due });
    queued += data.length;
    if (held() >= window) src.pause();
    schedule();
  });
  dst.on("drain", maybeResume);
  src.on("end", () => {
    ended = true;
    if (head >= queue.length && !dst.destroyed) dst.end();
  });
  src.on("close", () => {
    if (timer !== undefined && head >= queue.length) clearTimeout(timer);
  });
}

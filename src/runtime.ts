// Everything that differs between Node and Deno lives here, and only here.
// The rest of the tap sees one small interface: arguments, environment,
// stdout as an async byte sink with backpressure, stderr lines, signals, exit.
import process from "node:process";
import v8 from "node:v8";
import vm from "node:vm";
import type { Readable } from "node:stream";
import { type DenoNet, DenoSocket } from "./deno-socket.ts";

/** A socket for pg's `stream` option: pg connects it; `follow` names the stream pg then reads (TLS over it). */
export interface PgSocket extends Readable {
  follow(reader: Readable): void;
}

export interface Runtime {
  readonly name: "node" | "deno";
  readonly version: string;
  readonly pid: number;
  /** The runtime's own flags (Node's execArgv: the bin's shebang, a binary's embedded ones); [] on Deno. */
  readonly flags: readonly string[];
  readonly args: string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stderrIsTTY: boolean;
  /**
   * Makes the socket pg reads through, where the runtime's own does not stop
   * reading from the network while pg's reader is paused (Deno: see
   * deno-socket.ts); undefined where it does (Node), and pg uses its own.
   */
  readonly pgSocket: (() => PgSocket) | undefined;
  /** Writes bytes to stdout; resolves once they are written (the caller may then reuse them). Rejects on EPIPE. */
  writeStdout(bytes: Uint8Array): Promise<void>;
  /** Whether an error means the reader of stdout has gone (EPIPE on Node, BrokenPipe on Deno). */
  isBrokenPipe(e: unknown): boolean;
  writeStderr(text: string): void;
  /** Calls `handler` on SIGINT / SIGTERM; returns a function that removes it. */
  onSignal(handler: (signal: "SIGINT" | "SIGTERM") => void): () => void;
  exit(code: number): never;
}

interface DenoGlobal {
  version: { deno: string };
  pid: number;
  args: string[];
  env: { toObject(): Record<string, string> };
  stdout: { writable: WritableStream<Uint8Array> };
  connect: DenoNet["connect"];
  stderr: { writeSync(bytes: Uint8Array): number; isTerminal(): boolean };
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
  exit(code: number): never;
}

const deno = (globalThis as { Deno?: DenoGlobal }).Deno;
const SIGNALS = ["SIGINT", "SIGTERM"] as const;

function denoRuntime(d: DenoGlobal): Runtime {
  const encoder = new TextEncoder();
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  const shrinkYoung = youngGenerationShrink();
  const collect = fullCollector();
  let sinceCheck = 0;
  return {
    name: "deno",
    version: d.version.deno,
    pid: d.pid,
    flags: [],
    args: d.args,
    env: d.env.toObject(),
    stderrIsTTY: d.stderr.isTerminal(),
    pgSocket: () => new DenoSocket(d),
    async writeStdout(bytes) {
      shrinkYoung();
      sinceCheck += bytes.length;
      if (sinceCheck >= CHECK_EVERY) {
        sinceCheck = 0;
        collect();
      }
      writer ??= d.stdout.writable.getWriter();
      await writer.ready;
      await writer.write(bytes);
    },
    isBrokenPipe: (e) => (e instanceof Error && e.name === "BrokenPipe") || (e as { code?: string } | null)?.code === "EPIPE",
    writeStderr(text) {
      // writeSync may write part of the buffer; loop until all of it is out.
      let bytes = encoder.encode(text);
      while (bytes.length > 0) bytes = bytes.subarray(d.stderr.writeSync(bytes));
    },
    onSignal(handler) {
      const listeners = SIGNALS.map((s) => [s, () => handler(s)] as const);
      for (const [s, l] of listeners) d.addSignalListener(s, l);
      return () => listeners.forEach(([s, l]) => d.removeSignalListener(s, l));
    },
    exit: (code) => d.exit(code),
  };
}

function nodeRuntime(): Runtime {
  // undici parses HTTP with llhttp compiled to WebAssembly, and V8 recompiles
  // its hot functions with TurboFan on background threads: at the first API
  // requests those compiles took 15-37 MB of native memory for about 50 ms, the
  // peak of a whole table sync (discovery alone: 107-116 MB on Node 20-24, 82-98
  // MB without). Liftoff's baseline code parses the replies well enough. Wasm
  // tiering is decided when a function runs, so unlike the heap's sizes this
  // applies from here, however Node was started; a budget no run spends does it
  // on Node 20, 22 and 24 alike (`--liftoff-only`, set here, Node 24 ignores).
  v8.setFlagsFromString("--wasm-tiering-budget=2147483647");
  let broken: Error | undefined;
  process.stdout.on("error", (e) => (broken = e));
  const holdYoung = youngGenerationHold();
  const collect = fullCollector();
  let sinceCheck = 0;
  return {
    name: "node",
    version: process.versions.node,
    pid: process.pid,
    flags: process.execArgv,
    args: process.argv.slice(2),
    env: process.env,
    stderrIsTTY: Boolean(process.stderr.isTTY),
    pgSocket: undefined,
    writeStdout(bytes) {
      holdYoung();
      sinceCheck += bytes.length;
      if (sinceCheck >= CHECK_EVERY) {
        sinceCheck = 0;
        collect();
      }
      return new Promise((resolve, reject) => {
        if (broken) return reject(broken);
        // The callback fires once the chunk is handed to the OS (or fails),
        // so awaiting it both orders the output and bounds what is buffered.
        process.stdout.write(bytes, (err) => (err ? reject(err) : resolve()));
      });
    },
    isBrokenPipe(e) {
      const code = (e as { code?: string } | null)?.code;
      return code === "EPIPE" || code === "ERR_STREAM_DESTROYED";
    },
    writeStderr(text) {
      process.stderr.write(text);
    },
    onSignal(handler) {
      const listeners = SIGNALS.map((s) => [s, () => handler(s)] as const);
      for (const [s, l] of listeners) process.on(s, l);
      return () => listeners.forEach(([s, l]) => process.off(s, l));
    },
    exit(code) {
      // Let stderr drain: process.exit would cut a pending write short.
      process.exitCode = code;
      process.stderr.write("", () => process.exit(code));
      // Keep the contract of `never` while the write drains.
      return undefined as never;
    },
  };
}

/** Bytes written to stdout between two looks at the off-heap memory. */
const CHECK_EVERY = 1024 * 1024;
/** Off-heap growth that calls for a full collection. */
const OFF_HEAP_SLACK = 8 * 1024 * 1024;

/*
 * V8 sizes the young generation from the machine's memory, and a table sync
 * grows it to the limit: V8 doubles it whenever the objects that lived through
 * its collections since the last doubling add up to its size, and a sync's
 * steady trickle of survivors (socket reads, rows awaiting stdout) always gets
 * there. On a 24 GiB machine that is 32 MB of new space on Node 20 and 22,
 * 128 MB on Node 24 and 64 MB on Deno: a 5,000,000-row sync peaked at 111 MB
 * on Node 20, 205 MB on Node 24 and 179 MB on Deno. Two 4 MB semi-spaces cost
 * a sync nothing measurable. `--max-semi-space-size=4` says so, but V8 reads it
 * only at start, so only the launch paths that pass it would hold it, and
 * `node bin/...`, `node dist/...` and a bare `deno run` pass nothing. So the
 * tap holds the young generation itself, however it was started.
 */
/** The new space the tap lets V8 grow to: two 4 MB semi-spaces. */
const NEW_SPACE_CAP = 8 * 1024 * 1024;

function newSpaceBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;
}

/**
 * Node's V8 (11.3, 12.4, 13.6) reads `--semi-space-growth-factor` at each
 * doubling, so setting it to 1 once the next doubling would pass the cap stops
 * the growth there. Node 24 starts at 7-8 MB of new space: it stops at once.
 */
function youngGenerationHold(): () => void {
  // A size the user chose on the command line or in NODE_OPTIONS wins.
  let held = /--max[-_]semi[-_]space[-_]size/.test([...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" "));
  const hold = () => {
    if (held || newSpaceBytes() * 2 <= NEW_SPACE_CAP) return;
    v8.setFlagsFromString("--semi-space-growth-factor=1");
    held = true;
  };
  hold();
  return hold;
}

/**
 * Deno's V8 (14) raises a growth factor below 2 to 2, but a full collection
 * shrinks the new space back. So when it has grown past twice the cap, one
 * full collection (17-26 ms) brings it back: 11 in a 1,000,000-row sync,
 * which then runs about a fifth slower. `deno task tap` passes
 * `--max-semi-space-size=4`, under which the new space never gets there.
 */
function youngGenerationShrink(): () => void {
  let gc: (() => void) | undefined;
  return () => {
    if (newSpaceBytes() <= 2 * NEW_SPACE_CAP) return;
    gc ??= exposedGc();
    gc();
  };
}

/** V8's gc(): V8 offers no other way to ask for a full collection, and exposes it only to contexts made after the flag is set. */
function exposedGc(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

/**
 * Node frees a Buffer's off-heap memory only with its object, and an object
 * that lived through two young collections waits for a full one. A table read
 * allocates little in the old generation, so V8 started none in a whole read, while
 * a few of the TLS socket's reads were promoted each second (on Node 24 each
 * 8 KB read is a view of a 64 KB block that lives as long as any of them): on
 * the bin's 5,000,000-row read, 14-28 MB of dead buffers by its end on Node 24,
 * growing with the table. So when the memory of ArrayBuffers has grown by 8 MB
 * since the last collection, one full collection frees it (once, 25 ms, in that
 * read; none at 1,000,000 rows). The old generation gets the same rule
 * (OLD_SLACK, below).
 */
function fullCollector(): () => void {
  let gc: (() => void) | undefined;
  let limit = OFF_HEAP_SLACK;
  let oldLimit = OLD_SLACK;
  return () => {
    if (process.memoryUsage().arrayBuffers <= limit && oldGenerationBytes() <= oldLimit) return;
    gc ??= exposedGc();
    gc();
    limit = process.memoryUsage().arrayBuffers + OFF_HEAP_SLACK;
    oldLimit = oldGenerationBytes() + OLD_SLACK;
  };
}

/**
 * Old-generation growth that calls for a full collection: V8 lets the old
 * generation grow well past what is live before it collects. An API sync of
 * 4,000 apps (live 12-18 MB) grew it to 48 MB, so its peak rose with the
 * account (122 MB at 100 apps, 156-166 MB at 4,000). Collecting once it has
 * grown by 16 MB held that to 139 MB, for 7 collections of a few ms; a table
 * read, which promotes little, reaches it seldom or never.
 */
const OLD_SLACK = 16 * 1024 * 1024;

function oldGenerationBytes(): number {
  let n = 0;
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === "old_space" || s.space_name === "large_object_space") n += s.space_used_size;
  return n;
}

export const runtime: Runtime = deno ? denoRuntime(deno) : nodeRuntime();

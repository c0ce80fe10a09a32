// Everything that differs between Node and Deno lives here, and only here.
// The rest of the tap sees one small interface: arguments, environment,
// stdout as an async byte sink with backpressure, stderr lines, signals, exit.
import process from "node:process";
import v8 from "node:v8";
import type { Readable } from "node:stream";
import { type DenoNet, DenoSocket } from "./deno-socket.ts";
import { heapKeeper } from "./heap.ts";

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
  const keepHeap = heapKeeper({ engine: "deno", semiSpaceGiven: false, arrayBuffers: () => process.memoryUsage().arrayBuffers });
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
      keepHeap(bytes.length);
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
  // tiering is decided when a function runs, so on Node 20 and 22, unlike the
  // heap's sizes, this applies from here, however Node was started. A budget no run spends was not
  // enough: an API sync of the default streams (100 apps) spent it and peaked at
  // 122 MB on Node 20 (111 on Node 22); with `--liftoff-only` as well, 89 (98).
  // Node 24's V8 takes neither flag at run time (116-119 MB either way).
  v8.setFlagsFromString("--wasm-tiering-budget=2147483647");
  v8.setFlagsFromString("--liftoff-only");
  let broken: Error | undefined;
  process.stdout.on("error", (e) => (broken = e));
  const keepHeap = heapKeeper({
    engine: "node",
    // A size the user chose on the command line or in NODE_OPTIONS wins.
    semiSpaceGiven: /--max[-_]semi[-_]space[-_]size/.test([...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" ")),
    arrayBuffers: () => process.memoryUsage().arrayBuffers,
  });
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
      keepHeap(bytes.length);
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

export const runtime: Runtime = deno ? denoRuntime(deno) : nodeRuntime();

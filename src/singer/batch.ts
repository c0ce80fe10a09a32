// BATCH mode (the Meltano SDK's `batch_config`): records go into JSON Lines
// files of raw records (not RECORD messages), gzipped or not, rotated every
// batch_size records; each finished file is announced by a BATCH message with
// its URL as the manifest. The writer finishes every open file before it
// writes a STATE, so a STATE never covers a record that is not in a finished,
// announced file: a run killed at any point resumes without losing one.
import { createWriteStream, mkdirSync } from "node:fs";
import type { WriteStream } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createGzip } from "node:zlib";
import type { Gzip } from "node:zlib";
import { z } from "zod";
import { messageOf, RunError } from "../errors.ts";

/** `batch_config`, as the SDK defines it (jsonl only: see the README for parquet). */
export const BatchConfig = z.object({
  encoding: z.object({
    format: z
      .literal("jsonl", { error: 'only "jsonl" is supported (parquet would need a dependency that runs on Node and Deno alike)' })
      .describe("jsonl: one raw record per line (in BATCH mode)."),
    compression: z.enum(["gzip", "none"], { error: 'expected "gzip" or "none"' }).default("gzip").describe("Compression of the batch files."),
  }).describe("The format and compression of the batch files."),
  storage: z.object({
    root: z
      .string()
      .refine((u) => u.startsWith("file://"), { error: "expected a file:// URL (local storage; cloud storage is not supported)" })
      .meta({ examples: ["file:///var/lib/meltano/batches"] })
      .describe("Directory the batch files are written to, as a file:// URL (in BATCH mode)."),
    prefix: z.string().default("").describe("Prefix of the batch file names."),
  }).describe("Where the batch files are written."),
  batch_size: z.number().int().positive().default(10_000).describe("Records per batch file."),
});
export type BatchConfig = z.infer<typeof BatchConfig>;

/** A finished file: the BATCH message's content. */
export interface Batch {
  readonly stream: string;
  readonly encoding: { readonly format: "jsonl"; readonly compression: "gzip" | "none" };
  readonly manifest: string[];
}

interface OpenFile {
  readonly url: string;
  readonly out: Gzip | WriteStream;
  readonly file: WriteStream;
  rows: number;
  /** Lines not yet handed to the stream: one write per record would cost a zlib round trip each. */
  pending: string;
}

/** Lines are handed to the file (and gzip) in chunks of about this many characters. */
const CHUNK = 64 * 1024;

export class BatchFiles {
  private readonly dir: string;
  private readonly open = new Map<string, OpenFile>();
  private readonly run = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  private seq = 0;

  constructor(
    private readonly config: BatchConfig,
    private readonly tap: string,
  ) {
    this.dir = fileURLToPath(config.storage.root);
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      throw new RunError(`batch_config.storage.root: cannot create ${this.dir} (${(e as { code?: string }).code ?? messageOf(e)})`, { fatal: true });
    }
  }

  /** Adds one record's JSON text; returns the batch it completed, if it did. */
  async add(stream: string, json: string): Promise<Batch | undefined> {
    const f = this.open.get(stream) ?? this.start(stream);
    f.pending += json + "\n";
    if (f.pending.length >= CHUNK) await write(f);
    f.rows++;
    return f.rows >= this.config.batch_size ? await this.finish(stream) : undefined;
  }

  /** Finishes every open file (before a STATE, and at the end). */
  async finishAll(): Promise<Batch[]> {
    const done: Batch[] = [];
    for (const stream of [...this.open.keys()]) {
      const b = await this.finish(stream);
      if (b) done.push(b);
    }
    return done;
  }

  private start(stream: string): OpenFile {
    const gzip = this.config.encoding.compression === "gzip";
    // The SDK's name: <prefix><tap>--<stream>-<run>-<n>.json[.gz]; the stream id is made safe for a file name.
    const name = `${this.config.storage.prefix}${this.tap}--${stream.replace(/[^\w.-]+/g, "_")}-${this.run}-${++this.seq}.json${gzip ? ".gz" : ""}`;
    const path = join(this.dir, name);
    const file = createWriteStream(path);
    const out = gzip ? createGzip() : file;
    if (gzip) (out as Gzip).pipe(file);
    const f: OpenFile = { url: pathToFileURL(path).href, out, file, rows: 0, pending: "" };
    this.open.set(stream, f);
    return f;
  }

  private async finish(stream: string): Promise<Batch | undefined> {
    const f = this.open.get(stream);
    if (!f) return undefined;
    this.open.delete(stream);
    const closed = new Promise<void>((resolve, reject) => {
      f.file.once("close", resolve);
      f.file.once("error", reject);
    });
    await write(f);
    f.out.end();
    await closed; // on disk before it is announced
    return { stream, encoding: { format: "jsonl", compression: this.config.encoding.compression }, manifest: [f.url] };
  }
}

/** Hands the pending lines to the stream, waiting when it is full (backpressure). */
async function write(f: OpenFile): Promise<void> {
  if (f.pending === "") return;
  const text = f.pending;
  f.pending = "";
  if (!f.out.write(text)) await new Promise<void>((r) => f.out.once("drain", () => r()));
}

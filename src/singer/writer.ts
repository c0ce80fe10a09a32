// Singer messages out, one JSON object per line. Lines are gathered into
// chunks and each chunk waits for the sink, so memory is bounded by the chunk
// size whatever the stream's length, and a slow target slows the tap down.
// Chunks go out one at a time, in order; with a sink that is done with the
// bytes when it resolves (stdout), every chunk is encoded into the same buffer.
// In BATCH mode (batch.ts) records go to files instead, announced by BATCH
// messages, every open file finished before a STATE.
import type { ActivateVersionMessage, Record_, SchemaMessage } from "./messages.ts";
import { encodeRecord, RawJson } from "./messages.ts";
import type { Batch, BatchFiles } from "./batch.ts";

/** STATE lines take at most about a fifth of the output between them: see stateOutweighed. */
export const STATE_SHARE = 4;

/** Takes a chunk of output; resolves once it can take more. */
export type Sink = (bytes: Uint8Array) => Promise<void>;

export interface WriterOptions {
  /**
   * The sink no longer reads a chunk once its promise settles, so one buffer
   * serves every chunk. A new Uint8Array per chunk (6,870 of them, 426 MB, for
   * 1,000,000 rows of the bench's table) is off-heap memory freed only with its
   * object, and an object that lived through two young collections waits for a
   * full one, which a table read, allocating little in the old generation,
   * seldom triggers: such chunks piled up over a long read.
   */
  readonly reuseChunks?: boolean;
}

export class MessageWriter {
  private buffer = "";
  private readonly encoder = new TextEncoder();
  /** The chunk buffer, when reused: UTF-8 takes at most 3 bytes per UTF-16 unit, so a full chunk fits once. */
  private out: Uint8Array | undefined;
  /** The chunk being written: the next one waits for it. */
  private writing: Promise<void> = Promise.resolve();
  /** Lines written per message type, for metrics and tests. */
  readonly counts = { SCHEMA: 0, RECORD: 0, STATE: 0, ACTIVATE_VERSION: 0, BATCH: 0 };
  /** Characters of records written (to stdout or to batch files) since the last STATE line. */
  private recordCharsSinceState = 0;
  /** The last STATE line's length. */
  private stateChars = 0;

  constructor(
    private readonly sink: Sink,
    private readonly chunkSize = 64 * 1024,
    private readonly batches?: BatchFiles,
    private readonly options: WriterOptions = {},
  ) {}

  schema(message: Omit<SchemaMessage, "type">): Promise<void> {
    this.counts.SCHEMA++;
    return this.line(JSON.stringify({ type: "SCHEMA", ...message }));
  }

  record(stream: string, record: Record_, timeExtracted: string, version?: number): Promise<void> {
    this.counts.RECORD++;
    if (!this.batches) {
      const line = encodeRecord(stream, record, timeExtracted, version);
      this.recordCharsSinceState += line.length;
      return this.line(line);
    }
    const json = record instanceof RawJson ? record.json : JSON.stringify(record);
    this.recordCharsSinceState += json.length;
    const added = this.add(this.batches, stream, json);
    // A STATE waits for it: the file it completes must be announced before.
    this.adding.add(added);
    return added.finally(() => this.adding.delete(added));
  }

  private async add(batches: BatchFiles, stream: string, json: string): Promise<void> {
    const done = await batches.add(stream, json);
    if (done) await this.batch(done);
  }

  private readonly adding = new Set<Promise<void>>();
  private states: Promise<void> = Promise.resolve();

  /**
   * STATE is flushed at once: it is what a crashed run resumes from. The value
   * is taken when called, when every record its bookmarks cover has been handed
   * to the writer; streams running beside each other may save bookmarks while
   * it waits for the files, and those records are not in them. STATE lines keep
   * the order of the calls, so the last one is the newest.
   */
  state(value: unknown): Promise<void> {
    const line = JSON.stringify({ type: "STATE", value });
    this.stateChars = line.length;
    this.recordCharsSinceState = 0;
    const written = this.states.then(async () => {
      if (this.batches) {
        // Every record the STATE covers must be in a finished, announced file first.
        await Promise.all(this.adding);
        for (const done of await this.batches.finishAll()) await this.batch(done);
      }
      this.counts.STATE++;
      await this.line(line);
      await this.flush();
    });
    this.states = written.catch(() => undefined);
    return written;
  }

  /**
   * Whether the records written since the last STATE line outweigh it
   * STATE_SHARE times over. Every STATE line repeats the whole state, and
   * delete detection's kept keys can make that megabytes: a STATE line every
   * 10,000 records would then be most of the output. A state of a few KB is
   * outweighed by a handful of records, so this holds back only large ones.
   */
  stateOutweighed(): boolean {
    return this.recordCharsSinceState >= STATE_SHARE * this.stateChars;
  }

  activateVersion(message: Omit<ActivateVersionMessage, "type">): Promise<void> {
    // Batch files hold raw records, without the version a target marks rows with: a
    // target acting on ACTIVATE_VERSION would delete the rows it just loaded.
    if (this.batches) return Promise.resolve();
    this.counts.ACTIVATE_VERSION++;
    return this.line(JSON.stringify({ type: "ACTIVATE_VERSION", ...message }));
  }

  private batch(b: Batch): Promise<void> {
    this.counts.BATCH++;
    return this.line(JSON.stringify({ type: "BATCH", ...b }));
  }

  private line(json: string): Promise<void> {
    this.buffer += json + "\n";
    return this.buffer.length >= this.chunkSize ? this.flush() : Promise.resolve();
  }

  /** Writes what is buffered; resolves once it, and every chunk before it, is written. */
  flush(): Promise<void> {
    if (this.buffer.length === 0) return this.writing;
    const text = this.buffer;
    this.buffer = "";
    const written = this.writing.then(() => this.write(text));
    this.writing = written.catch(() => undefined);
    return written;
  }

  private async write(text: string): Promise<void> {
    if (!this.options.reuseChunks) return this.sink(this.encoder.encode(text));
    const out = this.out ??= new Uint8Array(3 * this.chunkSize + 1024);
    // A chunk ends with a line of any length: a longer one goes out in pieces
    // (encodeInto stops before a character that does not fit, never inside one).
    for (let rest = text;;) {
      const { read, written } = this.encoder.encodeInto(rest, out);
      await this.sink(out.subarray(0, written));
      if (read === rest.length) return;
      rest = rest.slice(read);
    }
  }
}

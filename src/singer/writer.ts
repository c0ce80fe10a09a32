// Singer messages out, one JSON object per line. Lines are gathered into
// chunks and each chunk waits for the sink, so memory is bounded by the chunk
// size whatever the stream's length, and a slow target slows the tap down.
// In BATCH mode (batch.ts) records go to files instead, announced by BATCH
// messages, every open file finished before a STATE.
import type { ActivateVersionMessage, Record_, SchemaMessage } from "./messages.ts";
import { encodeRecord, RawJson } from "./messages.ts";
import type { Batch, BatchFiles } from "./batch.ts";

export type Sink = (bytes: Uint8Array) => Promise<void>;

export class MessageWriter {
  private buffer = "";
  private readonly encoder = new TextEncoder();
  /** Lines written per message type, for metrics and tests. */
  readonly counts = { SCHEMA: 0, RECORD: 0, STATE: 0, ACTIVATE_VERSION: 0, BATCH: 0 };

  constructor(
    private readonly sink: Sink,
    private readonly chunkSize = 64 * 1024,
    private readonly batches?: BatchFiles,
  ) {}

  schema(message: Omit<SchemaMessage, "type">): Promise<void> {
    this.counts.SCHEMA++;
    return this.line(JSON.stringify({ type: "SCHEMA", ...message }));
  }

  record(stream: string, record: Record_, timeExtracted: string, version?: number): Promise<void> {
    this.counts.RECORD++;
    if (!this.batches) return this.line(encodeRecord(stream, record, timeExtracted, version));
    const added = this.add(this.batches, stream, record instanceof RawJson ? record.json : JSON.stringify(record));
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

  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const bytes = this.encoder.encode(this.buffer);
    this.buffer = "";
    await this.sink(bytes);
  }
}

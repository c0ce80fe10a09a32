// Progress a person can read, always on stderr. On a terminal one live line
// is redrawn in place; otherwise (Meltano, cron, CI) a log line is written
// every `every` seconds, so a long quiet stream still shows it is alive.
import { log, logFormat } from "../log.ts";
import { runtime } from "../runtime.ts";

/** How one stream of a run ended, for the summary at the end. */
export interface StreamSummary {
  readonly stream: string;
  readonly records: number;
  readonly seconds: number;
  readonly outcome: "done" | "skipped" | "failed" | "stopped";
  readonly message?: string;
}

export class Progress {
  private stream = "";
  private detail = "";
  private records = 0;
  private started = 0;
  private lastLine = 0;
  private readonly live: boolean;

  constructor(
    private readonly every = 30,
    live = runtime.stderrIsTTY && logFormat() !== "json",
  ) {
    this.live = live;
  }

  start(stream: string): void {
    this.stream = stream;
    this.detail = "";
    this.records = 0;
    this.started = this.lastLine = Date.now();
  }

  /** What the stream is on now: a parent, a table. */
  setDetail(detail: string): void {
    this.detail = detail;
  }

  record(): void {
    this.records++;
    // Checking the clock every 1,000 records keeps this off the hot path.
    if (this.records % 1000 === 0) this.maybeShow();
  }

  /** Called when a stream may be quiet for a while (waiting on the API). */
  maybeShow(): void {
    const now = Date.now();
    if (this.live ? now - this.lastLine < 250 : now - this.lastLine < this.every * 1000) return;
    this.lastLine = now;
    const seconds = (now - this.started) / 1000;
    const text = `${this.stream}: ${this.records.toLocaleString("en-US")} records, ${rate(this.records, seconds)} records/s${
      this.detail ? ` (${this.detail})` : ""
    }`;
    if (this.live) runtime.writeStderr(`\r\x1b[2K${text}`);
    else log.info(text);
  }

  /** Clears the live line before a stream's closing log line. */
  end(): void {
    if (this.live) runtime.writeStderr("\r\x1b[2K");
  }
}

/** Records per second, for people: rounded, with thousands separators. */
export const rate = (n: number, s: number) => (s > 0 ? Math.round(n / s) : n).toLocaleString("en-US");

/** The run's closing table on stderr: records, seconds and what went wrong, per stream. */
export function logSummary(summaries: readonly StreamSummary[]): void {
  if (summaries.length === 0) return;
  const width = Math.max(6, ...summaries.map((s) => s.stream.length));
  log.info("summary:");
  log.info(`  ${"stream".padEnd(width)}  ${"records".padStart(10)}  ${"seconds".padStart(8)}  outcome`);
  for (const s of summaries) {
    const outcome = s.message ? `${s.outcome}: ${s.message}` : s.outcome;
    log.info(`  ${s.stream.padEnd(width)}  ${s.records.toLocaleString("en-US").padStart(10)}  ${s.seconds.toFixed(1).padStart(8)}  ${outcome}`);
  }
  const total = summaries.reduce((n, s) => n + s.records, 0);
  const warned = summaries.filter((s) => s.outcome !== "done").length;
  log.info(`  ${summaries.length} streams, ${total.toLocaleString("en-US")} records${warned ? `, ${warned} not done (see above)` : ""}`);
}

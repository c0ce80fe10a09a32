// Logging and metrics on stderr. stdout belongs to Singer messages alone.
// Every line passes through `redact`, so a secret that reaches a message by
// accident (a token echoed in an error, a URL inside a driver error) is
// masked before it leaves the process.
//
// Where the level and the format come from, first found wins:
//   1. LOG_LEVEL (debug, info, warning, error) and LOG_FORMAT (text, json);
//   2. the Meltano SDK's SINGER_SDK_LOG_CONFIG, a Python logging config file that
//      Meltano writes for every Singer plugin it runs: its level, and its
//      formatter (Meltano 4 asks for the SDK's structured JSON, which it parses
//      and shows at each line's own level; Meltano 3 asks for the bare message);
//   3. info, text.
import { readFileSync } from "node:fs";
import { runtime } from "./runtime.ts";

export const LEVELS = ["debug", "info", "warning", "error"] as const;
export type Level = (typeof LEVELS)[number];

/**
 * text: `LEVEL message`. json: one Meltano SDK structured log object a line.
 * bare: the message alone for info, `LEVEL message` otherwise: Meltano 3 logs
 * every plugin line at info, so an `INFO ` prefix would only repeat it.
 */
export type LogFormat = "text" | "json" | "bare";

export interface LogOptions {
  readonly level: Level;
  readonly format: LogFormat;
  /** The Meltano SDK's metrics_log_level: METRIC lines also need this level to pass; unset, the log level alone decides. */
  readonly metricsLevel?: Level;
}

/** Secrets masked wherever they appear: long ones, which ordinary text never contains. */
const anywhere = new Set<string>();
/** Secrets masked only as whole words: user names and short values ("postgres" must not turn "postgresql-1" into "***ql-1"). */
const words = new Set<string>();
let wordPattern: RegExp | undefined;
const LONG = 12;

/**
 * Registers a value that must never be printed (token, URL, password, user
 * name). A user name, or any value shorter than 12 characters, is masked where
 * it stands as a word of its own: not next to a letter, digit or _.
 */
export function addSecret(value: string | undefined | null, kind: "secret" | "name" = "secret"): void {
  if (!value) return;
  if (kind === "secret" && value.length >= LONG) {
    anywhere.add(value);
  } else if (!words.has(value)) {
    words.add(value);
    const alternatives = [...words].sort((a, b) => b.length - a.length).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    wordPattern = new RegExp(`(?<![A-Za-z0-9_])(?:${alternatives.join("|")})(?![A-Za-z0-9_])`, "g");
  }
}

export function redact(text: string): string {
  for (const s of anywhere) if (text.includes(s)) text = text.split(s).join("***");
  return wordPattern ? text.replace(wordPattern, "***") : text;
}

/** A level name in any case, Python's included (WARN, CRITICAL); undefined when it is none. */
export function parseLevel(name: unknown): Level | undefined {
  const v = String(name ?? "").toLowerCase();
  if (v === "warn") return "warning";
  if (v === "critical" || v === "fatal") return "error";
  return (LEVELS as readonly string[]).includes(v) ? (v as Level) : undefined;
}

/** The level and format a Python logging config (SINGER_SDK_LOG_CONFIG) asks for; {} when it cannot be read. */
export function sdkLogConfig(path: string | undefined): { level?: Level; format?: LogFormat } {
  if (!path) return {};
  try {
    const c = JSON.parse(readFileSync(path, "utf8")) as {
      root?: { level?: string; handlers?: string[] };
      handlers?: Record<string, { level?: string; formatter?: string }>;
      formatters?: Record<string, { "()"?: string; format?: string }>;
    };
    const handler = c.handlers?.[c.root?.handlers?.[0] ?? ""];
    const formatter = c.formatters?.[handler?.formatter ?? ""];
    const format: LogFormat | undefined = formatter?.["()"]?.endsWith("StructuredFormatter")
      ? "json"
      : formatter?.format === "%(message)s"
      ? "bare"
      : undefined;
    const level = parseLevel(c.root?.level) ?? parseLevel(handler?.level);
    return { ...(level ? { level } : {}), ...(format ? { format } : {}) };
  } catch {
    return {};
  }
}

/** The options the environment asks for, and what in it was not understood. */
export function logOptionsFrom(env: Readonly<Record<string, string | undefined>>): { options: LogOptions; problems: string[] } {
  const problems: string[] = [];
  const sdk = sdkLogConfig(env.SINGER_SDK_LOG_CONFIG);
  let level = sdk.level ?? "info";
  if (env.LOG_LEVEL) {
    const l = parseLevel(env.LOG_LEVEL);
    if (l) level = l;
    else problems.push(`LOG_LEVEL=${env.LOG_LEVEL} is not a level (debug, info, warning, error); using ${level}`);
  }
  let format = sdk.format ?? "text";
  if (env.LOG_FORMAT) {
    const f = env.LOG_FORMAT.toLowerCase();
    if (f === "json" || f === "text") format = f;
    else problems.push(`LOG_FORMAT=${env.LOG_FORMAT} is not a format (text, json); using ${format}`);
  }
  return { options: { level, format }, problems };
}

let options: LogOptions = logOptionsFrom(runtime.env).options;

/** Replaces some of the options (the CLI sets metricsLevel once the settings are read). */
export function configureLogging(changes: Partial<LogOptions>): void {
  options = { ...options, ...changes };
}

/** The line format in force (LOG_FORMAT, or Meltano's SDK logging config). */
export function logFormat(): LogFormat {
  return options.format;
}

export function enabled(level: Level): boolean {
  return LEVELS.indexOf(level) >= LEVELS.indexOf(options.level);
}

const rank = (l: Level) => LEVELS.indexOf(l);

/** Whether a METRIC line written at `level` passes both the log level and metrics_log_level. */
function metricEnabled(level: Level): boolean {
  return rank(level) >= Math.max(rank(options.level), rank(options.metricsLevel ?? options.level));
}

/** The Meltano SDK's structured log object (singer_sdk.logging.StructuredFormatter): the fields Meltano's parser requires. */
function structured(level: Level, message: string, extra: Record<string, unknown>): string {
  const now = Date.now();
  return JSON.stringify({
    level,
    pid: runtime.pid,
    logger_name: extra.metric_info ? "tap-heroku.metrics" : "tap-heroku",
    ts: now / 1000,
    time: new Date(now).toISOString(),
    thread_name: "main",
    app_name: "tap-heroku",
    stream_name: null,
    message,
    ...extra,
  });
}

function write(level: Level, message: string, fields?: Record<string, unknown>): void {
  if (!enabled(level)) return;
  const line = options.format === "json"
    ? structured(level, message, fields ?? {})
    : options.format === "bare" && level === "info"
    ? message
    : `${level.toUpperCase()} ${message}`;
  runtime.writeStderr(redact(line) + "\n");
}

export const log = {
  debug: (m: string, f?: Record<string, unknown>) => write("debug", m, f),
  info: (m: string, f?: Record<string, unknown>) => write("info", m, f),
  warn: (m: string, f?: Record<string, unknown>) => write("warning", m, f),
  error: (m: string, f?: Record<string, unknown>) => write("error", m, f),
};

type Tags = Record<string, string | number>;

/**
 * singer-python's metric line, `INFO METRIC: {...}` (in JSON format the SDK's
 * `"message": "METRIC"` with `metric_info`). `level` debug is for the per-request
 * timers, which would otherwise flood a Meltano log with a line per request.
 */
export function metric(type: "counter" | "timer", name: string, value: number, tags: Tags, level: Level = "info"): void {
  if (!metricEnabled(level)) return;
  const point = { type, metric: name, value, tags };
  const line = options.format === "json"
    ? structured(level, "METRIC", { metric_info: point })
    : options.format === "bare" && level === "info"
    ? `METRIC: ${JSON.stringify(point)}`
    : `${level.toUpperCase()} METRIC: ${JSON.stringify(point)}`;
  runtime.writeStderr(redact(line) + "\n");
}

/** How often a running counter reports, as the Meltano SDK's counters do. */
export const METRIC_INTERVAL_MS = 60_000;

/** A counter that writes its count at most once a METRIC_INTERVAL_MS (via tick) and at the end (flush). */
export class Counter {
  private count = 0;
  private last = Date.now();
  constructor(private readonly name: string, private readonly tags: Tags, private readonly intervalMs = METRIC_INTERVAL_MS) {}

  add(n = 1): void {
    this.count += n;
  }

  /** Writes the count if the interval has passed; cheap enough to call often. */
  tick(): void {
    if (Date.now() - this.last >= this.intervalMs) this.flush();
  }

  flush(): void {
    if (this.count > 0) metric("counter", this.name, this.count, this.tags);
    this.count = 0;
    this.last = Date.now();
  }
}

// Logging and metrics on stderr. stdout belongs to Singer messages alone.
// Every line passes through `redact`, so a secret that reaches a message by
// accident (a token echoed in an error, a URL inside a driver error) is
// masked before it leaves the process.
import { runtime } from "./runtime.ts";

export const LEVELS = ["debug", "info", "warning", "error"] as const;
export type Level = (typeof LEVELS)[number];

const secrets = new Set<string>();

/** Registers a value that must never be printed (token, URL, password, user). */
export function addSecret(value: string | undefined | null): void {
  // Very short values would mask ordinary words; real secrets are long.
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  for (const s of secrets) if (text.includes(s)) text = text.split(s).join("***");
  return text;
}

function levelFromEnv(): Level {
  const v = (runtime.env.LOG_LEVEL ?? "info").toLowerCase();
  if (v === "warn") return "warning";
  return (LEVELS as readonly string[]).includes(v) ? (v as Level) : "info";
}

const threshold = LEVELS.indexOf(levelFromEnv());
const json = (runtime.env.LOG_FORMAT ?? "").toLowerCase() === "json";


export function enabled(level: Level): boolean {
  return LEVELS.indexOf(level) >= threshold;
}

function write(level: Level, message: string, fields?: Record<string, unknown>): void {
  if (!enabled(level)) return;
  const line = json
    ? JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })
    : `${level.toUpperCase()} ${message}`;
  runtime.writeStderr(redact(line) + "\n");
}

export const log = {
  debug: (m: string, f?: Record<string, unknown>) => write("debug", m, f),
  info: (m: string, f?: Record<string, unknown>) => write("info", m, f),
  warn: (m: string, f?: Record<string, unknown>) => write("warning", m, f),
  error: (m: string, f?: Record<string, unknown>) => write("error", m, f),
};

/** singer-python's metric line: `INFO METRIC: {...}`. */
export function metric(
  type: "counter" | "timer",
  name: string,
  value: number,
  tags: Record<string, string | number>,
): void {
  if (!enabled("info")) return;
  const body = JSON.stringify({ type, metric: name, value, tags });
  runtime.writeStderr(redact(`INFO METRIC: ${body}`) + "\n");
}

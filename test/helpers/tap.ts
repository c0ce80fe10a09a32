// Runs the real tap as a subprocess, on Node (the compiled bin) or on Deno
// (the TypeScript sources), and parses its stdout with the Singer schemas.
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Message } from "../../src/singer/messages.ts";
import { nodeExecutable } from "../../scripts/runtimes.ts";
import { tempDir } from "./temp.ts";
import type { Message as MessageT } from "../../src/singer/messages.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** node: the Node that runs the suite (20 on CI), as users run the bin; node22 and node24: fetched by scripts/runtimes.ts. */
export const RUNTIMES = ["node", "node22", "node24", "deno"] as const;
/** node, deno, or the single binary that `npm run binary` builds (test/binary.test.ts). */
export type RuntimeName = (typeof RUNTIMES)[number] | "binary";
export const BINARY = join(ROOT, "build/tap-heroku");

export interface TapRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed line by line; throws if a line is not a valid Singer message. */
  messages(): MessageT[];
}

export interface RunOptions {
  runtime?: RuntimeName;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Called with the child as soon as it starts (to kill it, for example). */
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
}

/** The permissions `deno task tap` grants (deno.json); the tests run with exactly these. */
export const DENO_PERMISSIONS = ["--allow-read", "--allow-env", "--allow-net", "--allow-sys"];
/**
 * The V8 flags `deno task tap` passes (deno.json): 4 MB semi-spaces instead of V8's 32 MB, which
 * spare a flagless Deno the full collections that hold its young generation (src/heap.ts).
 * The tests and the benchmark start Deno with them.
 */
export const DENO_V8_FLAGS = ["--max-semi-space-size=4"];

export function command(runtime: RuntimeName): [string, string[]] {
  if (runtime === "node") return [join(ROOT, "bin/tap-heroku.js"), []]; // executed directly, as users do (its shebang: `env node`)
  if (runtime === "binary") return [BINARY, []];
  // What the bin's shebang does (`env node`), with that Node.
  if (runtime === "node22" || runtime === "node24") return [nodeExecutable(runtime), [join(ROOT, "bin/tap-heroku.js")]];
  return [denoBinary(), ["run", "--quiet", ...DENO_PERMISSIONS, `--v8-flags=${DENO_V8_FLAGS.join(",")}`, join(ROOT, "src/main.ts")]];
}

/**
 * The Deno executable itself. The npm package's launcher (node_modules/.bin/deno)
 * runs it with spawnSync, so a signal sent to the launcher never reaches Deno:
 * the tests that signal the tap must talk to Deno directly.
 */
export function denoBinary(): string {
  const require = createRequire(import.meta.url);
  const exe = join(dirname(require.resolve("deno/package.json")), process.platform === "win32" ? "deno.exe" : "deno");
  if (existsSync(exe)) return exe;
  return (require("deno/install_api.cjs") as { runInstall(): string }).runInstall();
}

export function runTap(args: string[], opts: RunOptions = {}): Promise<TapRun> {
  const [cmd, pre] = command(opts.runtime ?? "node");
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...inherited(), NO_COLOR: "1", ...opts.env })) if (v !== undefined) env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    opts.onSpawn?.(child);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 90_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, messages: () => parseMessages(stdout) });
    });
  });
}

/** This process's environment without what the tap reads (a developer's LOG_LEVEL, token...): a test sets those itself. */
function inherited(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(LOG_LEVEL|LOG_FORMAT|HEROKU_API_KEY|TAP_HEROKU_.*)$/.test(k)));
}

export function parseMessages(stdout: string): MessageT[] {
  return stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((line, i) => {
      const r = Message.safeParse(JSON.parse(line));
      if (!r.success) throw new Error(`stdout line ${i + 1} is not a Singer message: ${line.slice(0, 200)}`);
      return r.data;
    });
}

/** Writes JSON files into a fresh temporary directory; returns their paths. */
export function tempFiles(files: Record<string, unknown>): Record<string, string> & { dir: string } {
  const dir = tempDir("test");
  const out: Record<string, string> = { dir };
  for (const [name, value] of Object.entries(files)) {
    const path = join(dir, name);
    writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
    out[name] = path;
  }
  return out as Record<string, string> & { dir: string };
}

// Runs the Heroku API simulator as a process (for the demo) and prints its URL.
//
//   deno run -A simulator/main.ts --port 5555 --apps 20
//
// Flags: --port N (default random) --apps N --seed N --per-parent N
//        --latency-ms N --postgres-apps N --postgres-per-app N
//        --token T (adds a "global" token; "test-token" always works)
//        --size /apps/{app}/releases=2500 (repeatable)
// The URL is the only line on stdout; the process runs until SIGINT/SIGTERM.

import process from "node:process";
import { pathToFileURL } from "node:url";
import { startSimulator } from "./index.ts";
import type { Simulator, SimulatorOptions } from "./index.ts";

/** Parses the flags above into simulator options (exported for tests). */
export function parseArgs(argv: string[]): SimulatorOptions {
  const opts: SimulatorOptions = {};
  const tokens: Record<string, { scopes: string[] }> = { "test-token": { scopes: ["global"] } };
  const sizes: Record<string, number> = {};
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) throw new Error(`${flag} needs a number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? "";
    const [name, inline] = flag.includes("=") && flag.startsWith("--") && !flag.startsWith("--size=") ? flag.split("=", 2) : [flag, undefined];
    const value = () => inline ?? argv[++i];
    switch (name) {
      case "--port":
        opts.port = num(flag, value());
        break;
      case "--apps":
        opts.apps = num(flag, value());
        break;
      case "--seed":
        opts.seed = num(flag, value());
        break;
      case "--per-parent":
        opts.perParent = num(flag, value());
        break;
      case "--latency-ms":
        opts.latencyMs = num(flag, value());
        break;
      case "--postgres-apps":
        opts.postgresApps = num(flag, value());
        break;
      case "--postgres-per-app":
        opts.postgresPerApp = num(flag, value());
        break;
      case "--token":
        tokens[String(value())] = { scopes: ["global"] };
        break;
      case "--size": {
        const spec = String(value());
        const eq = spec.lastIndexOf("=");
        sizes[spec.slice(0, eq)] = num(flag, spec.slice(eq + 1));
        break;
      }
      default:
        if (flag.startsWith("--size=")) {
          const spec = flag.slice("--size=".length);
          const eq = spec.lastIndexOf("=");
          sizes[spec.slice(0, eq)] = num(flag, spec.slice(eq + 1));
        } else throw new Error(`unknown flag ${flag}`);
    }
  }
  opts.tokens = tokens;
  if (Object.keys(sizes).length > 0) opts.sizes = sizes;
  return opts;
}

export async function main(argv: string[]): Promise<Simulator> {
  const sim = await startSimulator(parseArgs(argv));
  process.stdout.write(`${sim.url}\n`);
  // The other hosts, on stderr so that stdout stays the one URL scripts read.
  process.stderr.write(`data_api_url ${sim.dataUrl}\nmetrics_api_url ${sim.metricsUrl}\n`);
  const stop = () => void sim.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return sim;
}

const entry = process.argv[1];
const isMain = (import.meta as { main?: boolean }).main === true || (entry !== undefined && pathToFileURL(entry).href === import.meta.url);
if (isMain) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

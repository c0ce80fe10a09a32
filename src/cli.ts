// The command line, following the Singer and Meltano conventions:
//   tap-heroku --config CONFIG --discover
//   tap-heroku --config CONFIG [--catalog CATALOG] [--state STATE]
//   tap-heroku --config CONFIG --test
//   tap-heroku --about [--format json|markdown|text]
// Exit codes: 0 success, 1 failure at run time, 2 bad usage or input,
// 130/143 stopped by SIGINT/SIGTERM.
import { cac } from "cac";
import { loadSettings, readJsonFile } from "./config.ts";
import type { Settings } from "./config.ts";
import { fail, isTapError, messageOf, ok, RunError, UsageError } from "./errors.ts";
import type { Result } from "./errors.ts";
import { configureLogging, enabled, log, logOptionsFrom, parseLevel, redact } from "./log.ts";
import { runtime } from "./runtime.ts";
import { aboutJson, aboutMarkdown, aboutText } from "./about.ts";
import { Catalog } from "./singer/catalog.ts";
import { discoverEntry, planSync, runSync, selectedStreamIds } from "./singer/runner.ts";
import type { PlannedStream } from "./singer/runner.ts";
import type { StreamSummary } from "./singer/progress.ts";
import { emptyState, State, unwrapState } from "./singer/state.ts";
import { mapPlan, writerFor } from "./singer/maps/writer.ts";
import type { StreamMapper } from "./singer/maps/writer.ts";
import { BatchFiles } from "./singer/batch.ts";
import { logSummary } from "./singer/progress.ts";
import { herokuClient, openSource } from "./tap.ts";
import { TAP } from "./identity.ts";
import type { Source } from "./tap.ts";
import { formatCheck, runChecks } from "./check.ts";
import { formatIssue } from "./zod-issues.ts";

type Mode = "about" | "discover" | "test" | "sync";

/** The files each mode reads; any other that is given is ignored. */
const MODE_USES: Record<Mode, readonly ("config" | "catalog" | "state")[]> = {
  about: [],
  discover: ["config"],
  test: ["config", "catalog"],
  sync: ["config", "catalog", "state"],
};

/** What --help adds after cac's options: the environment the tap reads and its exit codes. */
const HELP_FOOTER = [
  {
    title: "Environment",
    body: [
      "  HEROKU_API_KEY         the token, when no config gives one",
      "  TAP_HEROKU_<SETTING>   settings, read with --config ENV (nested ones joined by _)",
      "  LOG_LEVEL              debug, info (default), warning or error",
      "  LOG_FORMAT             text (default) or json (the Meltano SDK's structured lines)",
      "  SINGER_SDK_LOG_CONFIG  Meltano's logging config: its level and format apply when the two above are unset",
    ].join("\n"),
  },
  {
    title: "Exit codes",
    body: "  0 success, 1 failure at run time, 2 bad usage or input (one line on stderr), 130/143 stopped by SIGINT/SIGTERM",
  },
];

interface Options {
  mode: Mode;
  config: string[];
  catalog: string | undefined;
  state: string | undefined;
  format: "json" | "markdown" | "text";
  /** --test=schema (the Meltano SDK's): SCHEMA messages of every stream, no records. */
  schemaOnly: boolean;
}

/** Runs the tap; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  for (const problem of logOptionsFrom(runtime.env).problems) log.warn(problem);
  log.debug(`${TAP.name} ${TAP.version} on ${runtime.name} ${runtime.version}${runtime.flags.length ? ` (${runtime.flags.join(" ")})` : ""}`);
  try {
    const options = parseArgs(args);
    if ("print" in options) {
      await runtime.writeStdout(new TextEncoder().encode(options.print));
      return 0;
    }
    return await run(options);
  } catch (e) {
    return report(e);
  }
}

/**
 * Reads the flags; throws a UsageError naming the flag at fault. The mode flag
 * (--about, --discover, --test, or none: sync) decides what runs, and flags that
 * mode does not use are accepted and ignored, as in the Meltano SDK: Meltano
 * passes --config, --catalog and --state to every invocation it makes
 * (../shared/meltano/INVOCATIONS.md). Only two modes at once are refused.
 */
function parseArgs(args: readonly string[]): Options | { print: string } {
  const cli = cac(TAP.name);
  cli
    .usage("--config CONFIG [--discover | --catalog CATALOG [--state STATE] | --test] | --about")
    .option("--config <file>", "Config file (repeatable; later files win). ENV reads TAP_HEROKU_* variables", { type: [String] })
    .option("--discover", "Print the catalog of available streams (ignores --catalog and --state)")
    .option("--catalog <file>", "Catalog of selected streams")
    .option("--properties <file>", "Legacy name of --catalog")
    .option("--state <file>", "State from a previous run")
    .option("--about", "Describe the tap: version, capabilities, settings (ignores every other flag)")
    .option("--test [all]", "Check the token, its scopes and the databases of the selected streams; one line per check")
    .option("--format <format>", "Format of --about: json, markdown or text")
    .option("--log-level <level>", "debug, info, warning or error (overrides LOG_LEVEL)")
    .option("-v, --version", "Display the version and the runtime")
    .help((sections) => [...sections, ...HELP_FOOTER]);

  let o: Record<string, unknown>;
  try {
    o = cli.parse(["tap-heroku", "tap-heroku", ...args], { run: false }).options;
    cli.globalCommand.checkUnknownOptions();
    cli.globalCommand.checkOptionValue();
  } catch (e) {
    throw new UsageError(`${messageOf(e).replace(/`/g, "")}; see tap-heroku --help`);
  }
  if (o.help) return { print: "" }; // cac has printed it
  // Not cac's version(): it names the Node version that Deno emulates.
  if (o.version) return { print: `${TAP.name}/${TAP.version} ${runtime.name}-${runtime.version}\n` };
  if (o.logLevel !== undefined) {
    const level = parseLevel(o.logLevel);
    if (!level) throw new UsageError(`--log-level must be debug, info, warning or error, not "${String(o.logLevel)}"`);
    configureLogging({ level });
  }
  if (cli.args.length > 0) throw new UsageError(`unexpected argument "${cli.args[0]}"; see tap-heroku --help`);

  const single = (name: string): string | undefined => {
    const v = o[name];
    if (v === undefined) return undefined;
    if (Array.isArray(v)) throw new UsageError(`--${name} may be given once`);
    if (typeof v !== "string" || v === "") throw new UsageError(`--${name} needs a file name`);
    return v;
  };
  const [catalog, properties, state, format] = ["catalog", "properties", "state", "format"].map(single);
  const config = ((o.config as unknown[] | undefined) ?? []).map(String);
  // The SDK's --test takes an optional value: bare or "all" run every check.
  if (o.test !== undefined && o.test !== true && o.test !== "all" && o.test !== "schema") {
    throw new UsageError(`--test takes no value, "all" or "schema", not "${String(o.test)}"`);
  }
  const modes = (["about", "discover", "test"] as const).filter((m) => o[m] !== undefined && o[m] !== false);
  if (modes.length > 1) throw new UsageError(`${modes.map((m) => `--${m}`).join(" and ")} are different modes; give one`);
  const mode: Mode = modes[0] ?? "sync";

  if (catalog && properties) throw new UsageError("--catalog and --properties name the same file; give one");
  if (format && mode !== "about") throw new UsageError("--format goes with --about");
  if (format && format !== "json" && format !== "markdown" && format !== "text") {
    throw new UsageError(`--format must be json, markdown or text, not "${format}"`);
  }
  if (config.some((c) => c === "" || c === "true")) throw new UsageError("--config needs a file name (or ENV)");

  const uses = MODE_USES[mode];
  const given = { config: config.length > 0, catalog: Boolean(catalog ?? properties), state: Boolean(state) };
  const ignored = (Object.keys(given) as (keyof typeof given)[]).filter((f) => given[f] && !uses.includes(f));
  if (ignored.length > 0) log.debug(`${mode === "sync" ? "a sync" : `--${mode}`} ignores ${ignored.map((f) => `--${f}`).join(", ")}`);
  return {
    mode,
    config: uses.includes("config") ? config : [],
    catalog: uses.includes("catalog") ? (catalog ?? properties) : undefined,
    state: uses.includes("state") ? state : undefined,
    format: format === "markdown" || format === "text" ? format : "json",
    schemaOnly: o.test === "schema",
  };
}

async function run(o: Options): Promise<number> {
  const encoder = new TextEncoder();
  if (o.mode === "about") {
    const text = o.format === "markdown" ? aboutMarkdown() : o.format === "text" ? aboutText() : JSON.stringify(aboutJson(), null, 2) + "\n";
    await runtime.writeStdout(encoder.encode(text));
    return 0;
  }

  const settings = valueOf(await loadSettings(o.config, runtime.env));
  configureLogging({ metricsLevel: settings.metrics_log_level });
  // Every input file is read and checked before anything is fetched or written.
  const catalog = o.catalog ? { file: o.catalog, value: valueOf(await loadCatalog(o.catalog)) } : undefined;
  if (o.mode === "test" && !o.schemaOnly) return await test(settings, catalog && valueOf(selectedStreamIds(catalog)));
  const state = o.state ? { file: o.state, value: valueOf(await loadState(o.state)) } : undefined;

  const source = await openSource(settings);
  try {
    if (o.mode === "discover") {
      const entries = source.streams.map(discoverEntry);
      await runtime.writeStdout(encoder.encode(JSON.stringify({ streams: entries }, null, 2) + "\n"));
      return 0;
    }
    if (o.mode === "test") {
      // --test=schema, as the Meltano SDK does it: every stream's SCHEMA, whatever is selected, through the stream maps.
      const writer = writerFor(valueOf(mapPlan(settings, [])).mapper, (bytes) => runtime.writeStdout(bytes));
      for (const s of source.streams) {
        const key = s.defaultReplicationMethod === "INCREMENTAL" ? s.validReplicationKeys[0] : undefined;
        await writer.schema({ stream: s.id, schema: s.schema, key_properties: [...s.keyProperties], ...(key ? { bookmark_properties: [key] } : {}) });
      }
      await writer.flush();
      return 0;
    }
    const planned = valueOf(planSync(source.streams, catalog, state, source.unavailable));
    // Stream maps are checked against every planned stream here, before any output.
    const { mapper, plan } = valueOf(mapPlan(settings, planned));
    return await sync(settings, source, plan, state?.value ?? emptyState(), mapper);
  } finally {
    await source.close();
  }
}

async function sync(settings: Settings, source: Source, plan: readonly PlannedStream[], state: State, mapper?: StreamMapper): Promise<number> {
  const batches = settings.batch_config ? new BatchFiles(settings.batch_config, TAP.name) : undefined;
  const writer = writerFor(mapper, (bytes) => runtime.writeStdout(bytes), undefined, batches, { reuseChunks: true });
  const stop = new AbortController();
  let signalled: "SIGINT" | "SIGTERM" | undefined;
  const off = runtime.onSignal((signal) => {
    if (signalled) runtime.exit(signal === "SIGINT" ? 130 : 143); // a second signal: stop now
    signalled = signal;
    log.warn(`${signal} received: stopping at the next clean point and writing the state`);
    stop.abort();
    source.client.stop(); // requests in flight and rate-limit waits end now, not in minutes
  });
  try {
    let summaries: StreamSummary[] = [];
    try {
      await source.checkToken();
      await source.prepare(plan, state);
      summaries = await runSync(plan, { writer, state, startDate: settings.start_date, signal: stop.signal });
    } catch (e) {
      // A request cancelled by the stop, before the first stream: handled below like any stop.
      if (!signalled || !(e instanceof RunError) || e.fatal) throw e;
    }
    logSummary(summaries);
    if (signalled) {
      // Stopped before the first stream: the state handed in is still the state to resume from.
      if (writer.counts.STATE === 0) await writer.state(state);
      log.error(`stopped by ${signalled}; rerun with the last STATE to continue`);
      return signalled === "SIGINT" ? 130 : 143;
    }
    const failed = summaries.filter((s) => s.outcome === "failed");
    if (failed.length > 0) {
      log.error(`${failed.length} stream(s) failed: ${failed.map((f) => f.stream).join(", ")}`);
      return 1;
    }
    return 0;
  } finally {
    off();
  }
}

/** --test; with a catalog (Meltano's `invoke --test` passes one), only what it selects is checked. */
async function test(settings: Settings, selected: ReadonlySet<string> | undefined): Promise<number> {
  const client = herokuClient(settings);
  try {
    const checks = await runChecks(settings, client, () => openSource(settings, client), selected);
    await runtime.writeStdout(new TextEncoder().encode(checks.map(formatCheck).join("\n") + "\n"));
    return checks.some((c) => c.outcome === "fail") ? 1 : 0;
  } finally {
    await client.close();
  }
}

/** The value of a Result, or its error thrown: the edge where errors as values meet the exit code. */
function valueOf<T>(r: Result<T>): T {
  if (!r.ok) throw r.error;
  return r.value;
}

async function loadCatalog(file: string): Promise<Result<Catalog>> {
  const raw = await readJsonFile(file, "catalog");
  if (!raw.ok) return raw;
  const parsed = Catalog.safeParse(raw.value);
  if (!parsed.success) return fail(new UsageError(`catalog file ${file}: ${formatIssue(parsed.error, undefined, raw.value)}`));
  return ok(parsed.data);
}

async function loadState(file: string): Promise<Result<State>> {
  const raw = await readJsonFile(file, "state");
  if (!raw.ok) return raw;
  const value = unwrapState(raw.value);
  const parsed = State.safeParse(value);
  if (!parsed.success) return fail(new UsageError(`state file ${file}: ${formatIssue(parsed.error, undefined, value)}`));
  return ok(parsed.data);
}

/** One line on stderr; a stack trace only with LOG_LEVEL=debug. */
function report(e: unknown): number {
  const debug = enabled("debug"); // LOG_LEVEL, --log-level or Meltano's logging config
  if (runtime.isBrokenPipe(e)) e = new RunError("stdout was closed by the reader (broken pipe); stopping");
  if (isTapError(e)) {
    log.error(e.message);
    if (debug && e.stack) runtime.writeStderr(redact(e.stack) + "\n");
    return e.exitCode;
  }
  log.error(`unexpected error: ${messageOf(e)}${debug ? "" : " (LOG_LEVEL=debug shows the stack trace)"}`);
  if (debug && e instanceof Error && e.stack) runtime.writeStderr(redact(e.stack) + "\n");
  return 1;
}

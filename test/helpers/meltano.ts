// What Meltano 3.x does around a tap, reproduced for tests, since Meltano itself
// cannot be installed here (../shared/meltano/INVOCATIONS.md has what a real
// Meltano 3.9.5 did; the rules below follow its core/plugin/singer/catalog.py).
// - The catalog it hands to a sync: every selection cleared (`!*.*`), then the
//   plugin's `select` patterns (inclusions, then exclusions), then its
//   `metadata` rules; stream ids and property names are matched with fnmatch.
// - The run directory: tap.<id>.config.json, tap.properties.json (emptied before
//   discovery), state.json (the bare Singer state), and the SDK logging config
//   it points SINGER_SDK_LOG_CONFIG at.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Catalog } from "../../src/singer/catalog.ts";
import { tempFiles } from "./tap.ts";

/** Python's fnmatch (case-sensitive on POSIX): `*`, `?` and `[...]`. */
function fnmatch(name: string, pattern: string): boolean {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[" && pattern.indexOf("]", i + 1) > i) {
      const end = pattern.indexOf("]", i + 1);
      const body = pattern.slice(i + 1, end);
      re += `[${body.startsWith("!") ? "^" + body.slice(1) : body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s").test(name);
}

interface Rule {
  stream: string;
  /** [] for the stream, [property] for a top-level property. */
  property?: string;
  key: string;
  value: unknown;
}

function selectRules(patterns: readonly string[]): Rule[] {
  const include: Rule[] = [];
  const exclude: Rule[] = [];
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const [stream, ...rest] = (negated ? raw.slice(1) : raw).split(".");
    const prop = rest.join(".");
    const rules = negated ? exclude : include;
    if (!negated || !prop || prop === "*") rules.push({ stream: stream!, key: "selected", value: !negated });
    if (prop) rules.push({ stream: stream!, property: prop, key: "selected", value: !negated });
  }
  return [...include, ...exclude];
}

/** The catalog Meltano passes with --catalog, given the plugin's `select` and `metadata` extras. */
export function meltanoCatalog(discovered: Catalog, select: readonly string[], metadata: Record<string, Record<string, unknown>> = {}): Catalog {
  const rules = [
    ...selectRules(["!*.*"]),
    ...selectRules(select),
    ...Object.entries(metadata).flatMap(([stream, kv]) => Object.entries(kv).map(([key, value]) => ({ stream, key, value }) as Rule)),
  ];
  return {
    streams: discovered.streams.map((entry) => {
      const metadata = entry.metadata.map((m) => ({ breadcrumb: [...m.breadcrumb], metadata: { ...m.metadata } }));
      for (const rule of rules) {
        if (!fnmatch(entry.tap_stream_id, rule.stream)) continue;
        for (const m of metadata) {
          const isStream = m.breadcrumb.length === 0;
          const prop = m.breadcrumb.length === 2 && m.breadcrumb[0] === "properties" ? m.breadcrumb[1]! : undefined;
          const applies = rule.property === undefined ? isStream : prop !== undefined && fnmatch(prop, rule.property);
          // Meltano never selects what the tap marks unsupported.
          if (applies && !(rule.key === "selected" && m.metadata.inclusion === "unsupported")) m.metadata[rule.key] = rule.value;
        }
      }
      return { ...entry, metadata };
    }),
  };
}

/** The `select:` list of a plugin definition YAML (the small fixed shape src/meltano.ts writes). */
export function yamlSelect(yaml: string): string[] {
  const block = yaml.split(/^select:\n/m)[1] ?? "";
  return [...block.matchAll(/^ {2}- (".*")$/gm)].map((m) => JSON.parse(m[1]!) as string);
}

/** The logging config Meltano writes for SINGER_SDK_LOG_CONFIG: 3.x asks for the bare message, 4.x for the SDK's JSON. */
export function sdkLogConfig(meltano: 3 | 4, level = "INFO"): object {
  const formatter = meltano === 3 ? { format: "%(message)s" } : { "()": "singer_sdk.logging.StructuredFormatter" };
  return meltano === 3
    ? {
      version: 1,
      disable_existing_loggers: false,
      formatters: { default: formatter },
      handlers: { console: { class: "logging.StreamHandler", formatter: "default", stream: "ext://sys.stderr", level } },
      root: { handlers: ["console"] },
    }
    : {
      version: 1,
      disable_existing_loggers: false,
      formatters: { singer_formatter: formatter },
      handlers: { console: { class: "logging.StreamHandler", formatter: "singer_formatter", stream: "ext://sys.stderr" } },
      root: { handlers: ["console"], level },
    };
}

/** A Meltano run directory: the files it passes, named as Meltano names them. */
export function runDir(config: object) {
  const f = tempFiles({ "tap.0195c0de-run.config.json": config, "tap.properties.json": "", "state.json": "" });
  const dir = f.dir;
  return {
    config: f["tap.0195c0de-run.config.json"]!,
    catalog: join(dir, "tap.properties.json"),
    state: join(dir, "state.json"),
    write(file: "catalog" | "state", value: unknown) {
      writeFileSync(join(dir, file === "catalog" ? "tap.properties.json" : "state.json"), value === "" ? "" : JSON.stringify(value));
    },
    logConfig(meltano: 3 | 4, level?: string): string {
      const path = join(dir, "tap.singer_sdk_logging.json");
      writeFileSync(path, JSON.stringify(sdkLogConfig(meltano, level)));
      return path;
    },
  };
}

interface SettingsSchema {
  properties?: Record<string, { type?: unknown; properties?: unknown; additionalProperties?: unknown }>;
}

/** The setting names `--about` publishes, dotted: a group is walked into; an object of free names (stream_maps) is one setting. */
export function settingLeaves(schema: SettingsSchema, prefix = ""): string[] {
  return Object.entries(schema.properties ?? {}).flatMap(([k, v]) =>
    v.type === "object" && v.properties && v.additionalProperties === undefined ? settingLeaves(v as SettingsSchema, `${prefix}${k}.`) : [prefix + k]
  );
}

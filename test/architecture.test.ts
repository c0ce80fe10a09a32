// The layout is the architecture, so these rules are checked, not hoped for:
// no import cycle in src/; the protocol (src/singer/) knows nothing of the
// Heroku API or PostgreSQL; and only src/runtime.ts touches `process` or
// `Deno`, so the same code runs on Node and Deno. Read from the sources as text.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/tap.ts";

const SRC = join(ROOT, "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((
    e,
  ) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

/** The code without comments and string contents, so words in prose do not count. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1")
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
}

const files = sources(SRC);
const rel = (f: string) => relative(SRC, f);
/** Each module's relative imports (value and type imports alike), as paths under src/. */
const imports = new Map(
  files.map((f) => [
    rel(f),
    [...readFileSync(f, "utf8").matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.{1,2}\/[^"]+)"/gm)].map((m) => rel(normalize(join(dirname(f), m[1]!)))),
  ]),
);

describe("the architecture of src/", () => {
  it("reads every module and its imports", () => {
    expect(imports.size).toBeGreaterThan(30);
    expect(imports.get("cli.ts")).toContain("singer/runner.ts");
  });

  it("has no import cycle", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (m: string, path: string[]) => {
      if (state.get(m) === "done") return;
      if (state.get(m) === "open") return void cycles.push([...path.slice(path.indexOf(m)), m].join(" -> "));
      state.set(m, "open");
      for (const next of imports.get(m) ?? []) visit(next, [...path, m]);
      state.set(m, "done");
    };
    for (const m of imports.keys()) visit(m, []);
    expect(cycles).toEqual([]);
  });

  it("keeps the protocol (src/singer/) free of the Heroku API and PostgreSQL", () => {
    const leaks = [...imports].flatMap((
      [m, deps],
    ) => (m.startsWith("singer/") ? deps.filter((d) => d.startsWith("heroku/") || d.startsWith("postgres/")).map((d) => `${m} imports ${d}`) : []));
    expect(leaks).toEqual([]);
  });

  it("touches process and Deno only in runtime.ts", () => {
    const touching = files
      .filter((f) => rel(f) !== "runtime.ts")
      .filter((f) =>
        /\bprocess\s*\.|\bDeno\s*\.|"node:process"|\bglobalThis\s*\.\s*(process|Deno)\b/.test(code(readFileSync(f, "utf8"))) ||
        readFileSync(f, "utf8").includes('from "node:process"')
      )
      .map(rel);
    expect(touching).toEqual([]);
  });
});

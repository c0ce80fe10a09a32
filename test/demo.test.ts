// npm run demo is a newcomer's first minute with the tap: it must work on a
// fresh clone and show the streams and records (its speed is not a test: see the benchmarks).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseMessages, ROOT } from "./helpers/tap.ts";

describe("npm run demo", () => {
  it("discovers API streams and database tables, syncs them, and says how to run it for real", () => {
    const run = spawnSync("npm", ["run", "--silent", "demo"], { cwd: ROOT, encoding: "utf8", timeout: 110_000 });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\d+ streams: \d+ Heroku API resources and 5 database tables/);
    expect(run.stdout).toMatch(/-public-order_items\s+12000/);
    expect(run.stdout).toMatch(/heroku authorizations:create/);
    const messages = parseMessages(readFileSync(join(ROOT, ".demo/output.jsonl"), "utf8"));
    expect(messages.filter((m) => m.type === "RECORD").length).toBeGreaterThan(20_000);
    expect(messages.at(-1)!.type).toBe("STATE");

    // The selection is said, and the printed selection command reproduces the API part of it.
    expect(run.stdout).toMatch(/selected 11 of them \(the 6 API streams apps, add_ons, add_on_attachments, releases, dynos, domains and the 5 tables\)/);
    const printed = /^ {2}node -e '(.*)' ((?:\w+ )+)< catalog\.json > selected\.json$/m.exec(run.stdout)!;
    const catalog = JSON.parse(readFileSync(join(ROOT, ".demo/catalog.json"), "utf8")) as { streams: { metadata: { metadata: { selected?: boolean } }[] }[] };
    for (const s of catalog.streams) delete s.metadata[0]!.metadata.selected; // as discovery wrote it
    const selected = spawnSync(process.execPath, ["-e", printed[1]!, ...printed[2]!.trim().split(" ")], { input: JSON.stringify(catalog), encoding: "utf8" });
    expect(selected.status, selected.stderr).toBe(0);
    const ids = (JSON.parse(selected.stdout) as { streams: { tap_stream_id: string; metadata: { metadata: { selected: boolean } }[] }[] }).streams
      .filter((s) => s.metadata[0]!.metadata.selected)
      .map((s) => s.tap_stream_id);
    expect(ids.sort()).toEqual(["add_on_attachments", "add_ons", "apps", "domains", "dynos", "releases"]);
  });
});

// `npx tap-heroku` from the published package: pack the repository, install
// the tarball into an empty directory (from npm's cache only, no network),
// and run the installed bin. Proves the package carries dist/ and catalog/.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/tap.ts";

describe("the npm package", () => {
  it("installs from its tarball and runs --about and --discover", () => {
    const dir = mkdtempSync(join(tmpdir(), "tap-heroku-pack-"));
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const packed = JSON.parse(execFileSync(npm, ["pack", "--json", "--pack-destination", dir], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
    const files: string[] = packed[0].files.map((f: { path: string }) => f.path);
    expect(files).toContain("dist/main.js");
    expect(files).toContain("catalog/heroku/streams.json");
    expect(files.some((f) => f.startsWith("src/") || f.startsWith("test/") || f.startsWith("catalog/heroku/source/"))).toBe(false);

    const app = join(dir, "app");
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true }));
    execFileSync(npm, ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", join(dir, packed[0].filename)], { cwd: app, stdio: "ignore" });

    const bin = join(app, "node_modules/.bin/tap-heroku");
    const about = spawnSync(bin, ["--about"], { encoding: "utf8" });
    expect(about.status, about.stderr).toBe(0);
    expect(JSON.parse(about.stdout).name).toBe("tap-heroku");

    writeFileSync(join(dir, "config.json"), JSON.stringify({ token: "t0ken-for-discovery", api_url: "http://127.0.0.1:9", postgres: { enabled: false } }));
    const discover = spawnSync(bin, ["--config", join(dir, "config.json"), "--discover"], { encoding: "utf8" });
    expect(discover.status, discover.stderr).toBe(0);
    expect(JSON.parse(discover.stdout).streams.map((s: { tap_stream_id: string }) => s.tap_stream_id)).toContain("apps");
  });
});

// `npx tap-heroku` from the published package: pack the repository, install
// the tarball into an empty project as a user would, its dependencies resolved
// by npm from a registry (a loopback one serving the packages this checkout
// has installed: no network, no npm cache), and run the installed bin.
// Proves the package carries dist/ and catalog/ and declares what it needs.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { isolatedNpm, packDependencies, startRegistry } from "./helpers/npm-registry.ts";
import { ROOT } from "./helpers/tap.ts";

describe("the npm package", () => {
  it("installs from its tarball, with its dependencies from a registry, and runs --about and --discover", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tap-heroku-pack-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true })); // two npm caches and the packed tree: ~20 MB a run
    // Two npms with caches of their own: packing leaves the tarballs in its cache, where the install would find them.
    const npm = isolatedNpm(join(dir, "packing"));
    const user = isolatedNpm(join(dir, "user"));
    const pack = await npm(["pack", "--json", "--pack-destination", dir], ROOT);
    expect(pack.status, pack.output).toBe(0);
    const packed = JSON.parse(pack.stdout);
    const files: string[] = packed[0].files.map((f: { path: string }) => f.path);
    expect(files).toContain("dist/main.js");
    expect(files).toContain("catalog/heroku/streams.json");
    expect(files.some((f) => f.startsWith("src/") || f.startsWith("test/") || f.startsWith("catalog/heroku/source/"))).toBe(false);

    const registry = await startRegistry(await packDependencies(npm, ROOT, join(dir, "registry")));
    const app = join(dir, "app");
    try {
      mkdirSync(app);
      writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true }));
      const install = await user(["install", "--registry", registry.url, "--no-audit", "--no-fund", "--ignore-scripts", join(dir, packed[0].filename)], app);
      expect(install.status, install.output).toBe(0);
    } finally {
      await registry.close();
    }
    // npm resolved the package's declared ranges against the registry (not this checkout's lockfile) and fetched every package from it.
    const declared = Object.keys(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).dependencies);
    const lock = JSON.parse(readFileSync(join(app, "package-lock.json"), "utf8")) as { packages: Record<string, { resolved?: string }> };
    const installed = Object.entries(lock.packages).filter(([path]) => path.startsWith("node_modules/") && path !== "node_modules/tap-heroku");
    expect(installed.map(([path]) => path.split("node_modules/").pop())).toEqual(expect.arrayContaining(declared));
    for (const name of declared) expect(registry.requested).toContain(`/${name}`);
    for (const [path, { resolved }] of installed) {
      expect(resolved, path).toMatch(new RegExp(`^${registry.url}-/`));
      expect(registry.requested).toContain(new URL(resolved!).pathname);
    }

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

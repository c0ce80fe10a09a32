// A loopback npm registry for installing this package the way a user would,
// with no network and no npm cache: the runtime dependency tree is packed from
// this checkout's own node_modules and served as from npmjs.org (GET /<name>:
// the packument, every version's package.json with dist.tarball and
// dist.integrity; GET /-/<file>: the tarball), so npm resolves the semver
// ranges itself. npm runs isolated: its own cache and empty config files.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

export interface NpmResult {
  status: number | null;
  /** stdout and stderr, for the assertion message. */
  output: string;
  stdout: string;
}

export type Npm = (args: string[], cwd: string) => Promise<NpmResult>;

/**
 * npm with a fresh cache and empty user and global config under `dir`, and
 * none of the npm_config_* variables `npm test` exports (the user's cache and
 * registry among them): only the flags given count.
 */
export function isolatedNpm(dir: string): Npm {
  mkdirSync(join(dir, "npm"), { recursive: true });
  const [user, global] = [join(dir, "npm/userconfig"), join(dir, "npm/globalconfig")]; // npm refuses one file for both
  for (const f of [user, global]) writeFileSync(f, "");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  // No retries: a loopback registry that failed once fails again, and npm's backoff would outlast the test.
  const isolated = ["--cache", join(dir, "npm/cache"), "--userconfig", user, "--globalconfig", global, "--noproxy", "127.0.0.1", "--fetch-retries", "0"];
  return (args, cwd) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.platform === "win32" ? "npm.cmd" : "npm", [...args, ...isolated], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let output = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => ((stdout += d), (output += d)));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
      // Killed before the test's own timeout, so that its output still reaches the assertion message.
      const timer = setTimeout(() => ((output += "\n[killed after 90 s]"), child.kill("SIGKILL")), 90_000);
      child.once("error", reject).once("close", (status) => {
        clearTimeout(timer);
        resolve({ status, output: `npm ${args.join(" ")}:\n${output}`, stdout });
      });
    });
}

interface Packed {
  manifest: { name: string; version: string };
  file: string;
  integrity: string;
  shasum: string;
}

/** Packs every package of `root`'s runtime dependency tree (npm ls --omit=dev --all) into `dir`. */
export async function packDependencies(npm: Npm, root: string, dir: string): Promise<Packed[]> {
  const ls = await npm(["ls", "--omit=dev", "--all", "--long", "--json"], root);
  if (ls.status !== 0) throw new Error(ls.output);
  type Node = { name?: string; version?: string; path?: string; dependencies?: Record<string, Node> };
  const paths = new Map<string, string>(); // name@version → where it is installed
  const walk = (node: Node) => {
    for (const [name, dep] of Object.entries(node.dependencies ?? {})) {
      const id = `${name}@${dep.version}`;
      // No version: an optional peer that is not installed (pg-native), which a user's install leaves out too.
      if (dep.version && dep.path && !paths.has(id)) {
        paths.set(id, dep.path);
        walk(dep);
      }
    }
  };
  walk(JSON.parse(ls.stdout) as Node);
  mkdirSync(dir, { recursive: true });
  const pack = await npm(["pack", "--json", "--ignore-scripts", "--pack-destination", dir, ...paths.values()], root);
  if (pack.status !== 0) throw new Error(pack.output);
  return (JSON.parse(pack.stdout) as { name: string; version: string; filename: string; integrity: string; shasum: string }[]).map((p) => ({
    manifest: JSON.parse(readFileSync(join(paths.get(`${p.name}@${p.version}`)!, "package.json"), "utf8")),
    file: join(dir, p.filename),
    integrity: p.integrity,
    shasum: p.shasum,
  }));
}

export interface Registry {
  /** Ends with a slash, as npm's registry setting does. */
  url: string;
  /** What npm asked for: /<name> (packuments) and /-/<file> (tarballs). */
  requested: Set<string>;
  close(): Promise<void>;
}

export async function startRegistry(packages: Packed[]): Promise<Registry> {
  const requested = new Set<string>();
  const tarballs = new Map(packages.map((p) => [`/-/${p.file.split("/").pop()}`, p.file]));
  let base = "";
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname); // a scoped name comes as @scope%2fname
    requested.add(path);
    const tarball = tarballs.get(path);
    if (tarball) return res.writeHead(200, { "content-type": "application/octet-stream" }).end(readFileSync(tarball));
    const name = path.slice(1);
    const versions = packages.filter((p) => p.manifest.name === name);
    if (versions.length === 0) return res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
    const packument = {
      name,
      "dist-tags": { latest: versions[0]!.manifest.version },
      versions: Object.fromEntries(
        versions.map((p) => [
          p.manifest.version,
          { ...p.manifest, dist: { tarball: `${base}-/${p.file.split("/").pop()}`, integrity: p.integrity, shasum: p.shasum } },
        ]),
      ),
    };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(packument));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  return { url: base, requested, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

// npm run binary: builds build/tap-heroku, one self-contained executable (a
// Node single executable application) that needs neither Node nor npm nor the
// catalog files on the machine that runs it.
//
//   1. rolldown bundles src/binary.ts and every dependency into one CommonJS
//      script (Node's SEA runs CommonJS and can `require` only built-ins);
//   2. Node writes that script and the package files (package.json, the
//      catalog) into a preparation blob, the files as assets;
//   3. postject injects the blob into a copy of the Node executable.
//
// It embeds Node 24 (an LTS line, fetched by scripts/runtimes.ts as for the tests) with
// its memory flag in the executable itself (SEA `execArgv`, Node 22.20+ and 24.6+);
// `--node /path/to/node` embeds another Node (on one without `execArgv` the flag is left out).
// Linux is what the tests run; macOS takes the extra signing steps Node documents.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { option } from "./options.ts";
import { fetchNodeRuntimes, nodeExecutable as fetchedNode } from "./runtimes.ts";

if (process.platform === "win32") throw new Error("building the binary on Windows is not supported: build it on Linux or macOS");

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const OUT = join(ROOT, "build");
const BIN = join(OUT, "tap-heroku");
// The fuse Node's SEA loader looks for (Node's single-executable documentation).
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

// 4 MB semi-spaces from the start: the runtime would hold the young generation near that size
// anyway (src/heap.ts), and a binary can carry its flags, so it needs no check. On Node 22 and
// 24 (V8 12.4, 13.6) 1 MB semi-spaces do worse: the socket and output buffers, alive for a few
// ms, survive the scavenges into the old generation, where only a full GC frees them (a
// 1,000,000-row sync on Node 24 peaked at 111-115 MB against 143-184 MB with 1 MB; README).
const SEMI_SPACE = "--max-semi-space-size=4";
// WebAssembly stays on Liftoff (undici's llhttp): Node 24 takes the flag only at start, not from runtime.ts.
const LIFTOFF = "--liftoff-only";

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
const node = option("--node", "") || (fetchNodeRuntimes(), fetchedNode("node24"));
const nodeExecutable = execFileSync(node, ["-p", "process.execPath"], { encoding: "utf8" }).trim();
const nodeVersion = execFileSync(node, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
const [major = 0, minor = 0] = nodeVersion.split(".").map(Number);
// Whether this Node reads `execArgv` from the SEA config (added in 24.6.0 and 22.20.0).
const execArgv = major > 24 || (major === 24 && minor >= 6) || (major === 22 && minor >= 20);
// Node 22 makes the code cache without the execArgv flags, then rejects it at every start with a
// warning on stderr ("Code cache data rejected"); Node 24 makes it with them.
const useCodeCache = major >= 24;

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

console.log("1/3 bundling src/binary.ts and its dependencies (rolldown)");
run(join(ROOT, "node_modules/.bin/rolldown"), [
  "src/binary.ts",
  "--format",
  "cjs",
  "--platform",
  "node",
  "--file",
  join(OUT, "tap-heroku.cjs"),
  "--no-codeSplitting",
  // pg loads pg-native only when asked for it (pg.native), which the tap never does.
  "--external",
  "pg-native",
  "--logLevel",
  "warn",
]);

console.log(`2/3 writing the preparation blob with the package files (Node ${nodeVersion})`);
const shipped = [
  "package.json",
  "catalog/heroku/streams.json",
  ...readdirSync(join(ROOT, "catalog/heroku/schemas")).map((f) => `catalog/heroku/schemas/${f}`),
];
writeFileSync(
  join(OUT, "sea-config.json"),
  JSON.stringify({
    main: join(OUT, "tap-heroku.cjs"),
    output: join(OUT, "sea-prep.blob"),
    disableExperimentalSEAWarning: true,
    // V8's compiled code for the bundle, made by the Node it runs on: start-up takes 0.13 s
    // instead of 0.17 s and 5 MB less (--about), for 0.8 MB more file; a sync's peak is the same.
    useCodeCache,
    ...(execArgv ? { execArgv: [SEMI_SPACE, LIFTOFF] } : {}),
    assets: Object.fromEntries(shipped.map((path) => [path, join(ROOT, path)])),
  }),
);
// The code cache is made under the binary's own flags: V8 rejects a cache made under other ones
// (--liftoff-only changes the flag hash it checks), with a warning at every start.
run(nodeExecutable, [...(execArgv ? [SEMI_SPACE, LIFTOFF] : []), "--experimental-sea-config", join(OUT, "sea-config.json")]);

console.log("3/3 injecting it into a copy of the Node executable (postject)");
copyFileSync(nodeExecutable, BIN);
chmodSync(BIN, 0o755);
const macos = process.platform === "darwin";
if (macos) run("codesign", ["--remove-signature", BIN]);
run(join(ROOT, "node_modules/.bin/postject"), [
  BIN,
  "NODE_SEA_BLOB",
  join(OUT, "sea-prep.blob"),
  "--sentinel-fuse",
  FUSE,
  ...(macos ? ["--macho-segment-name", "NODE_SEA"] : []),
]);
if (macos) run("codesign", ["--sign", "-", BIN]);
// postject writes the executable in one large write, and Linux then keeps that file's page cache
// in large folios (up to 2 MB), which the loader maps whole: as built, the executable's own pages
// took 47-60 MB of RSS instead of the 30 MB a copy of it takes (--version; a sync ran 25-30 MB
// larger), until its pages left the cache. One copy gives it any copied file's page cache.
copyFileSync(BIN, `${BIN}.copy`);
renameSync(`${BIN}.copy`, BIN);
chmodSync(BIN, 0o755);

for (const f of ["tap-heroku.cjs", "sea-config.json", "sea-prep.blob"]) rmSync(join(OUT, f));
console.log(`built ${BIN.slice(ROOT.length)}: try ${BIN.slice(ROOT.length)} --about`);

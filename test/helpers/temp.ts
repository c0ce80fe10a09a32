// Every temporary directory a test makes goes through tempDir(), so the
// setup file (test/temp-cleanup.ts) can remove them when the test file ends:
// thousands of runs otherwise leave thousands of directories in /tmp.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];

/** A fresh directory under the system's tmpdir, removed when this test file ends. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tap-heroku-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Removes every directory tempDir() made in this test file; returns how many. */
export function removeTempDirs(): number {
  const dirs = made.splice(0);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  return dirs.length;
}

// The files the tap ships beside its code: package.json and the catalog data.
// From a checkout or an npm install they are read from the package directory;
// inside the single binary they are assets embedded at build time, and the
// binary's entry (src/binary.ts) says so before anything reads one.
import { readFileSync } from "node:fs";

type Reader = (path: string) => string;
let embedded: Reader | undefined;

export function useEmbeddedFiles(read: Reader): void {
  embedded = read;
}

/** A shipped file's text, by its path from the package root ("catalog/heroku/streams.json"). */
export function readPackageFile(path: string): string {
  // src/ and dist/ are both one level below the package root.
  return embedded ? embedded(path) : readFileSync(new URL(`../${path}`, import.meta.url), "utf8");
}

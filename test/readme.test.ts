// The README is the manual: what it says about streams and commands must be true.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { refreshed } from "../scripts/readme.ts";

const read = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), "utf8");

describe("README", () => {
  it("carries the generated stream and settings tables (npm run readme)", () => {
    const readme = read("README.md");
    expect(refreshed(readme, read("catalog/heroku/README.md"))).toBe(readme);
  });

  it("gives exactly the install and test commands that CI runs", () => {
    const readme = read("README.md");
    const ci = read(".ci/run");
    expect(readme).toMatch(/```sh\nnpm ci\nnpm test\n```/);
    expect(ci).toMatch(/^npm ci\b/m);
    expect(ci).toMatch(/^npm test$/m);
  });
});

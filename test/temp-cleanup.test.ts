import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempFiles } from "./helpers/tap.ts";
import { removeTempDirs, tempDir } from "./helpers/temp.ts";

describe("test temporary directories", () => {
  it("are all removed, contents and all, when the test file ends", () => {
    const plain = tempDir("cleanup");
    writeFileSync(join(plain, "x.txt"), "x");
    const files = tempFiles({ "config.json": { token: "t" } });
    expect(existsSync(plain) && existsSync(files["config.json"]!)).toBe(true);

    expect(removeTempDirs()).toBe(2); // what the setup file's afterAll calls
    expect(existsSync(plain)).toBe(false);
    expect(existsSync(files.dir)).toBe(false);
    expect(removeTempDirs()).toBe(0);
  });
});

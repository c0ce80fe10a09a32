import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/quiet-logs.ts", "test/temp-cleanup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

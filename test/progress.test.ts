// Progress is for people: a periodic log line off a terminal, a redrawn line on one.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { logSummary, Progress } from "../src/singer/progress.ts";
import { configureLogging, enabled } from "../src/log.ts";

const captured: string[] = [];
const spy = () => vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => (captured.push(String(chunk)), true));
// These lines are info lines; the suite logs at warning (test/quiet-logs.ts).
let quiet = false;
beforeEach(() => {
  quiet = !enabled("info");
  configureLogging({ level: "info" });
});
afterEach(() => {
  if (quiet) configureLogging({ level: "warning" });
  vi.restoreAllMocks();
  vi.useRealTimers();
  captured.length = 0;
});

describe("Progress", () => {
  it("off a terminal, writes one log line per interval with records, rate and the current parent", () => {
    vi.useFakeTimers({ now: 0 });
    spy();
    const p = new Progress(30, false);
    p.start("dynos");
    for (let i = 0; i < 5000; i++) p.record();
    expect(captured).toEqual([]); // nothing before the interval
    vi.setSystemTime(31_000);
    p.setDetail("app 3 of 40");
    for (let i = 0; i < 1000; i++) p.record();
    expect(captured).toEqual(["INFO dynos: 6,000 records, 194 records/s (app 3 of 40)\n"]);
    for (let i = 0; i < 1000; i++) p.record();
    expect(captured).toHaveLength(1); // and not again within the next interval
  });

  it("on a terminal, redraws one line in place and clears it at the end", () => {
    vi.useFakeTimers({ now: 0 });
    spy();
    const p = new Progress(30, true);
    p.start("releases");
    vi.setSystemTime(1000);
    for (let i = 0; i < 1000; i++) p.record();
    p.end();
    expect(captured).toEqual(["\r\x1b[2Kreleases: 1,000 records, 1,000 records/s", "\r\x1b[2K"]);
  });

  it("closes the run with a table of every stream and why one was not done", () => {
    spy();
    logSummary([
      { stream: "apps", records: 2300, seconds: 1.25, outcome: "done" },
      { stream: "keys", records: 0, seconds: 0.1, outcome: "skipped", message: "needs the global scope" },
    ]);
    const text = captured.join("");
    expect(text).toMatch(/apps\s+2,300\s+1\.3\s+done/);
    expect(text).toMatch(/keys\s+0\s+0\.1\s+skipped: needs the global scope/);
    expect(text).toMatch(/2 streams, 2,300 records, 1 not done/);
  });
});

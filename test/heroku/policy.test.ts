// The HTTP client's policy (src/heroku/policy.ts), in process and clock-free:
// the backoff's bounds and Retry-After, and the rate governor's 429 pauses and
// pacing at the reserve. The end-to-end behaviour is in faults.test.ts.
import { describe, expect, it } from "vitest";
import { backoffMs, MAX_BACKOFF_MS, RateGovernor, RETRY_STATUS } from "../../src/heroku/policy.ts";

describe("backoffMs", () => {
  it("doubles from the base, half fixed and half jitter, at most a minute", () => {
    expect(backoffMs(0, 1000, undefined, () => 0)).toBe(500);
    expect(backoffMs(0, 1000, undefined, () => 1)).toBe(1500);
    expect(backoffMs(3, 1000, undefined, () => 0)).toBe(4000);
    expect(backoffMs(3, 1000, undefined, () => 0.999)).toBeLessThan(12_000);
    expect(backoffMs(20, 1000, undefined, () => 0)).toBe(MAX_BACKOFF_MS);
  });

  it("takes Heroku's Retry-After when given", () => {
    expect(backoffMs(5, 1000, 7, () => 0.5)).toBe(7000);
  });

  it("retries rate limits and server failures only", () => {
    expect([...RETRY_STATUS].sort()).toEqual([429, 500, 502, 503, 504]);
    expect(RETRY_STATUS.has(404)).toBe(false);
  });
});

describe("RateGovernor", () => {
  const governor = () => new RateGovernor({ reserve: 200, refillPerMinute: 75 });

  it("lets requests go at once above the reserve, and when Heroku said nothing yet", () => {
    const g = governor();
    expect(g.next(0, undefined)).toEqual({ kind: "go", waitMs: 0 });
    expect(g.next(0, 4000)).toEqual({ kind: "go", waitMs: 0 });
  });

  it("at the reserve, spaces requests one refill interval apart (75 a minute: 0.8 s), saying once that pacing started", () => {
    const g = governor();
    expect(g.spacingMs()).toBe(800);
    expect(g.next(1000, 200)).toEqual({ kind: "go", waitMs: 0, changed: "pacing" });
    expect(g.next(1000, 199)).toEqual({ kind: "go", waitMs: 800 });
    expect(g.next(1000, 198)).toEqual({ kind: "go", waitMs: 1600 });
    expect(g.next(5000, 198)).toEqual({ kind: "go", waitMs: 0 }); // time has passed: no debt
    expect(g.next(5000, 900)).toEqual({ kind: "go", waitMs: 0, changed: "free" });
  });

  it("holds every request during a 429 pause, the longest pause winning", () => {
    const g = governor();
    g.pause(0, 5000);
    g.pause(0, 2000);
    expect(g.next(1000, 4000)).toEqual({ kind: "paused", waitMs: 4000 });
    expect(g.next(5000, 4000)).toEqual({ kind: "go", waitMs: 0 });
  });
});

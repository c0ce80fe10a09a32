// The reduced soak: 200 simulated apps (the default streams) and a database of
// 5 tables × 20,000 rows in one run of the real CLI. It completes, every row
// and record arrives, the Heroku requests are exactly the minimum, and the
// tap's peak RSS stays under a bound that unbounded buffering (a table or a
// stream held in memory) would break. The full size is bench/soak.ts.
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { soak } from "./soak.ts";

describe("load, reduced", () => {
  it("200 apps and 5 tables × 20,000 rows: completes, minimum requests, peak RSS < 180 MB (110 MB measured)", async () => {
    const r = await soak({ adminUrl: inject("databaseUrl"), apps: 200, tables: 5, rowsPerTable: 20_000, batchSize: 2000 });
    expect(r.code, r.stderrTail).toBe(0);
    expect(r.records.tables).toBe(100_000);
    expect([...r.records.perTable.values()]).toEqual([20_000, 20_000, 20_000, 20_000, 20_000]);
    expect(r.records.api).toBeGreaterThan(200 * 10);
    expect(r.requests).toBe(r.minimum.total);
    expect(r.peakRssMb).toBeGreaterThan(20); // sampled at all
    expect(r.peakRssMb).toBeLessThan(180);
  });
});

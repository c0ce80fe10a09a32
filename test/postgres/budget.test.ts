// The connection budget's arithmetic (budget.ts): the plan's default, the
// reserve, and the cap by the tightest of the server's, the role's and the
// database's limits. The same on a real server: parallel-cli.test.ts.
import { describe, expect, it } from "vitest";
import { connectionBudget, planDefault, reserveOf, spare } from "../../src/postgres/budget.ts";

const facts = (over: Record<string, string | null> = {}) => ({
  max_connections: "120",
  superuser_reserved: "3",
  reserved: "0",
  backends: "20",
  role_limit: "-1",
  role_backends: "5",
  db_limit: "-1",
  connections: "20",
  ...over,
});

describe("the connection budget", () => {
  it("defaults to 1 on Essential, hobby, mini and basic plans and when the plan is unknown, 2 on the others", () => {
    for (
      const p of [
        "heroku-postgresql:essential-0",
        "heroku-postgresql:essential-2",
        "heroku-postgresql:hobby-dev",
        "heroku-postgresql:mini",
        "heroku-postgresql:basic",
        undefined,
      ]
    ) {
      expect(planDefault(p), String(p)).toBe(1);
    }
    for (const p of ["heroku-postgresql:standard-0", "heroku-postgresql:premium-4", "heroku-postgresql:private-7", "heroku-postgresql:shield-0"]) {
      expect(planDefault(p), p).toBe(2);
    }
  });

  it("keeps a tenth of each limit in reserve, at least 2", () => {
    expect([4, 20, 21, 120, 500].map(reserveOf)).toEqual([2, 2, 3, 12, 50]);
  });

  it("is what is asked when the server has room, and the tightest limit less its reserve otherwise", () => {
    expect(spare(facts())).toEqual({ left: 120 - 3 - 20 - 12, limit: "the server" });
    expect(connectionBudget(8, "heroku-postgresql:standard-0", facts())).toEqual({ sessions: 8, why: "postgres.max_connections" });
    expect(connectionBudget(undefined, "heroku-postgresql:standard-0", facts())).toEqual({
      sessions: 2,
      why: "the default for plan heroku-postgresql:standard-0",
    });
    // An Essential database's role may open 20: the app holds 16 of them, the tap's discovery 1, 2 are the reserve.
    expect(connectionBudget(4, "heroku-postgresql:essential-0", facts({ role_limit: "20", role_backends: "17" }))).toEqual({
      sessions: 2,
      why: "postgres.max_connections is 4, but the role's connection limit leaves only 1 more connection(s) beyond its reserve",
    });
    // A full server: the session discovery opened is all the tap uses.
    expect(connectionBudget(3, undefined, facts({ backends: "110" })).sessions).toBe(1);
    expect(connectionBudget(4, undefined, facts({ db_limit: "10", connections: "6" })).why).toContain("the database's connection limit leaves only 2");
    // Nothing known of the server: the setting or the default as is.
    expect(connectionBudget(5, undefined, undefined)).toEqual({ sessions: 5, why: "postgres.max_connections" });
  });
});

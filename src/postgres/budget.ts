// How many sessions the tap may open to one database: the connection budget
// its tables are read within (issue 12). The user's setting, or a default from
// the add-on's plan, capped by what the server has free now less a reserve, so
// that the app the database serves keeps its connections.
import type { DatabaseFacts } from "./discover.ts";

/** Plans whose connection limit is small (Essential: 20): one session by default. */
const SMALL_PLAN = /:(essential|hobby|mini|basic)(-|$)/i;

/**
 * The default from the plan Heroku reports: 1 on Essential and hobby plans
 * (and when the plan is unknown: the cautious choice), 2 on the others.
 */
export function planDefault(plan: string | undefined): number {
  if (plan === undefined || SMALL_PLAN.test(plan)) return 1;
  return 2;
}

/** Connections left to others besides what the app already holds: a tenth of the limit, at least 2. */
export const reserveOf = (limit: number) => Math.max(2, Math.ceil(limit / 10));

/** The limits one session can see, as text from the server (discover.ts asks with its first query). */
export type ConnectionFacts = Pick<
  DatabaseFacts,
  "max_connections" | "superuser_reserved" | "reserved" | "backends" | "role_limit" | "role_backends" | "db_limit" | "connections"
>;

/**
 * Free connections less the reserve, under the tightest limit that applies:
 * the server's (max_connections less the superuser and reserved slots and the
 * client backends now), the role's or the database's CONNECTION LIMIT (-1:
 * none). Undefined when the server did not say.
 */
export function spare(f: ConnectionFacts): { left: number; limit: string } | undefined {
  const n = (s: string | null | undefined) => (s === null || s === undefined || !/^-?\d+$/.test(s) ? undefined : Number(s));
  const server = n(f.max_connections);
  const limits: [name: string, limit: number | undefined, used: number | undefined][] = [
    ["the server", server === undefined ? undefined : server - (n(f.superuser_reserved) ?? 0) - (n(f.reserved) ?? 0), n(f.backends)],
    ["the role's connection limit", n(f.role_limit), n(f.role_backends)],
    ["the database's connection limit", n(f.db_limit), n(f.connections)],
  ];
  let out: { left: number; limit: string } | undefined;
  for (const [name, limit, used] of limits) {
    if (limit === undefined || limit < 0 || used === undefined) continue;
    const left = limit - used - reserveOf(limit);
    if (out === undefined || left < out.left) out = { left, limit: name };
  }
  return out;
}

export interface Budget {
  readonly sessions: number;
  /** Why this many, for the log line. */
  readonly why: string;
}

/**
 * The budget of one database. The session discovery opened is already among
 * the server's backends and becomes the first of the budget, so the budget is
 * at most 1 + what is spare; never below 1.
 */
export function connectionBudget(setting: number | undefined, plan: string | undefined, facts: ConnectionFacts | undefined): Budget {
  const wanted = setting ?? planDefault(plan);
  const from = setting !== undefined ? "postgres.max_connections" : `the default for plan ${plan ?? "(unknown)"}`;
  const room = facts ? spare(facts) : undefined;
  if (room === undefined || 1 + Math.max(0, room.left) >= wanted) return { sessions: wanted, why: from };
  const left = Math.max(0, room.left);
  return { sessions: 1 + left, why: `${from} is ${wanted}, but ${room.limit} leaves only ${left} more connection(s) beyond its reserve` };
}

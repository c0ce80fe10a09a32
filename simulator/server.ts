// The HTTP side: node:http on loopback (also runs under Deno 2's node:http).
//
// Order of checks for every request, as on api.heroku.com:
//   log it -> latency -> the test's onRequest hook -> 405 non-GET
//   -> 400 missing Accept version -> 401 token -> 429 rate limit bucket
//   -> injected fault -> (another host: its own routes, data-api.ts, metrics-api.ts) -> 404 route -> 403 scope -> 404 parent -> 422 query
//   -> 400/416 Range -> 200/206 page
// The hook runs before anything is looked up, so a test can change the world
// (delete an app) between the tap's requests, and the request it is called
// for already sees the change.
// Every response carries Request-Id, RateLimit-Remaining and
// Content-Type: application/json; list responses add Accept-Ranges and
// Content-Range, and Next-Range when another page remains.
//
// Faults are drawn from a hash of (seed, request number), so a run with the
// same requests in the same order sees the same faults. A request identical to
// one that just faulted (same token, path, query and Range: a retry) is never
// faulted again, unless a rate is 1 (then everything faults), so a client that
// retries always gets the right data. Faults happen before any data is read, so
// they cannot corrupt anything.

import http from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { randomUUID } from "node:crypto";
import { Buffer } from "node:buffer";
import { hash32 } from "./data.ts";
import type { Item } from "./data.ts";
import { paginate, parseRange, RangeProblem, sortBy } from "./range.ts";
import type { Sorted } from "./range.ts";
import { fieldValue, HttpProblem, matchRoute, resolveParams, uniqueKey } from "./routes.ts";
import type { Route } from "./routes.ts";
import type { World } from "./world.ts";

export interface RequestLogEntry {
  method: string;
  /** path without the query string */
  path: string;
  query: Record<string, string>;
  /** the Range request header, or null */
  range: string | null;
  /** the token from Authorization (Bearer, or Basic password), or null */
  token: string | null;
  /** response status (0 while the request is still pending) */
  status: number;
  /** the injected fault, when there was one */
  fault?: FaultKind;
  /** which host served it, for a server that is not the Platform API's (ServerConfig.host) */
  host?: string;
}

export type FaultKind = "rate429" | "rate5xx" | "drop" | "slow";

export interface Faults {
  rate429?: number;
  rate5xx?: number;
  dropRate?: number;
  slowRate?: number;
  slowMs?: number;
}

export interface ServerConfig {
  seed: number;
  tokens: Record<string, { scopes: string[] }>;
  latencyMs: number;
  faults: Faults | undefined;
  rateLimit: { bucket: number; refillPerMinute: number };
  /** Path template -> Range fields refused with 416 (as if Heroku stopped sorting by them). */
  refuseRanges?: Record<string, string[]>;
  /** Another Heroku host (the Data API, the metrics API): its name in the log, and its routes. */
  host?: string;
  serve?: (url: URL, scopes: string[]) => { status: number; body: unknown } | undefined;
  /** A request log shared with the other hosts' servers, so one log counts every request. */
  requests?: RequestLogEntry[];
}

/** Called for every request before it is handled; see the order above. */
export type RequestHook = (entry: RequestLogEntry) => void;

const NOT_FOUND =
  "The requested API endpoint was not found. Are you using the right HTTP verb (i.e. `GET` vs. `POST`), and did you specify your intended version with the `Accept` header?";
const MISSING_VERSION = "Please specify a version along with Heroku's API MIME type. For example, `Accept: application/vnd.heroku+json; version=3`.";
const RATE_LIMITED = "Your account reached the API rate limit\nPlease wait a few minutes before making new requests";
const CACHE_MIN = 200; // lists at least this long keep their sorted order between pages
const CACHE_MAX_ENTRIES = 500;

/** Token from `Authorization: Bearer <t>` or `Basic base64(<user>:<t>)`. */
export function tokenOf(auth: string | undefined): string | null {
  if (!auth) return null;
  const space = auth.indexOf(" ");
  if (space < 0) return null;
  const scheme = auth.slice(0, space).toLowerCase();
  const rest = auth.slice(space + 1).trim();
  if (scheme === "bearer") return rest || null;
  if (scheme === "basic") {
    const decoded = Buffer.from(rest, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return (colon < 0 ? decoded : decoded.slice(colon + 1)) || null;
  }
  return null;
}

export class SimServer {
  readonly requests: RequestLogEntry[];
  faults: Faults | undefined;
  refuseRanges: Record<string, string[]>;
  hook: RequestHook | undefined;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly faulted = new Set<string>();
  private readonly sortCache = new Map<string, { version: number; sorted: Sorted<Item> }>();
  private faultSeq = 0;

  constructor(
    private readonly world: World,
    private readonly routes: Route[],
    private readonly config: ServerConfig,
  ) {
    this.requests = config.requests ?? [];
    this.faults = config.faults;
    this.refuseRanges = config.refuseRanges ?? {};
    this.server = http.createServer((req, res) => this.onRequest(req, res));
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  listen(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        const addr = this.server.address();
        resolve(`http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : port}`);
      });
    });
  }

  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      (this.server as { closeAllConnections?: () => void }).closeAllConnections?.();
      for (const s of this.sockets) s.destroy();
    });
  }

  setFaults(f: Faults | undefined): void {
    this.faults = f;
    this.faulted.clear();
  }

  // ------------------------------------------------------------ request flow

  private later(ms: number, fn: () => void): void {
    if (ms <= 0) return fn();
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const range = req.headers.range;
    const entry: RequestLogEntry = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      range: typeof range === "string" ? range : null,
      token: tokenOf(req.headers.authorization),
      status: 0,
      ...(this.config.host !== undefined ? { host: this.config.host } : {}),
    };
    this.requests.push(entry);
    req.resume(); // discard any request body
    this.later(this.config.latencyMs, () => this.handle(req, res, url, entry));
  }

  private handle(req: IncomingMessage, res: ServerResponse, url: URL, entry: RequestLogEntry): void {
    let remaining = this.config.rateLimit.bucket;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}, drop = false) =>
      this.send(res, entry, status, body, { "RateLimit-Remaining": String(remaining), ...headers }, drop);
    try {
      this.hook?.(entry);
    } catch (err) {
      // A broken hook is the test's bug: make it loud, not a hung request.
      return send(500, { id: "internal_server_error", message: `onRequest hook: ${err instanceof Error ? err.message : String(err)}` });
    }

    if (entry.method !== "GET") {
      return send(405, { id: "method_not_allowed", message: `${entry.method} is not allowed: this simulator only serves GET.` }, { Allow: "GET" });
    }
    if (!/application\/vnd\.heroku\+json\s*;\s*version=3/i.test(String(req.headers.accept ?? ""))) {
      return send(400, { id: "missing_version", error: MISSING_VERSION, message: MISSING_VERSION });
    }
    const token = entry.token;
    const grant = token === null ? undefined : this.config.tokens[token];
    if (token === null || !grant) return send(401, { id: "unauthorized", message: "Invalid credentials provided." });

    const left = this.spend(token);
    if (left === null) {
      remaining = 0;
      return send(429, { id: "rate_limit", message: RATE_LIMITED });
    }
    remaining = left;

    const fault = this.drawFault(`${token} ${url.pathname}${url.search} ${entry.range ?? ""}`);
    if (fault) entry.fault = fault;
    if (fault === "rate429") {
      remaining = 0;
      return send(429, { id: "rate_limit", message: RATE_LIMITED });
    }
    if (fault === "rate5xx") {
      return send(503, { id: "unavailable", message: "The service is temporarily unavailable. Please try again later." });
    }
    const run = () => {
      try {
        const out = this.dispatch(url, entry, grant.scopes);
        send(out.status, out.body, out.headers, fault === "drop");
      } catch (err) {
        if (err instanceof HttpProblem) return send(err.status, { id: err.id, message: err.message });
        if (err instanceof RangeProblem) {
          const id = err.status === 416 ? "requested_range_not_satisfiable" : "bad_request";
          return send(err.status, { id, message: err.message }, err.acceptRanges ? { "Accept-Ranges": err.acceptRanges } : {});
        }
        send(500, { id: "internal_server_error", message: err instanceof Error ? err.message : String(err) });
      }
    };
    if (fault === "slow") this.later(this.faults?.slowMs ?? 30_000, run);
    else run();
  }

  private dispatch(url: URL, entry: RequestLogEntry, scopes: string[]): { status: number; body: unknown; headers: Record<string, string> } {
    if (this.config.serve) {
      const served = this.config.serve(url, scopes);
      if (!served) throw new HttpProblem(404, "not_found", NOT_FOUND);
      return { ...served, headers: {} };
    }
    const m = matchRoute(this.routes, url.pathname);
    if (!m) throw new HttpProblem(404, "not_found", NOT_FOUND);
    const { route } = m;
    if (!scopes.includes("global")) {
      const onlyIdentity = scopes.every((s) => s === "identity");
      const denied = route.impl.global === true ||
        (route.protectedScope === true && !scopes.some((s) => s === "read-protected" || s === "write-protected")) ||
        (onlyIdentity && route.template !== "/account");
      if (denied) {
        throw new HttpProblem(
          403,
          "forbidden",
          `You do not have access to ${route.template} with this token's OAuth scope (${scopes.join(", ") || "none"}); it needs "global".`,
        );
      }
    }
    const params = resolveParams(this.world, route, m.values);
    if (route.kind === "object") return { status: 200, body: route.object?.(this.world, params), headers: {} };

    const items = route.impl.list(this.world, params, url.searchParams);
    const spec = parseRange(entry.range ?? undefined, "id");
    const refused = this.refuseRanges[route.template] ?? [];
    const acceptRanges = route.rangeFields.filter((f) => !refused.includes(f)).join(", ") || "id";
    // A request without a Range header is served (by id) whatever is refused.
    if ((entry.range !== null && refused.includes(spec.field)) || (spec.field !== "id" && !route.rangeFields.includes(spec.field))) {
      throw new RangeProblem(416, `Range on \`${spec.field}\` is not supported here; acceptable fields: ${acceptRanges}.`, acceptRanges);
    }
    const page = paginate(this.sorted(route, url.pathname + url.search, items, spec.field), spec);
    const headers: Record<string, string> = {
      "Accept-Ranges": acceptRanges,
      "Content-Range": page.contentRange,
    };
    if (page.nextRange) headers["Next-Range"] = page.nextRange;
    return { status: page.status, body: page.items, headers };
  }

  /** Items sorted by (field, unique key); long lists are cached until the world changes. */
  private sorted(route: Route, key: string, items: Item[], field: string): Sorted<Item> {
    const sort = () =>
      sortBy(
        items,
        (it) => fieldValue(route, it, field),
        (it) => uniqueKey(route, it),
      );
    if (items.length < CACHE_MIN) return sort();
    const cacheKey = `${key} ${field}`;
    const hit = this.sortCache.get(cacheKey);
    if (hit && hit.version === this.world.version && hit.sorted.items.length === items.length) return hit.sorted;
    if (this.sortCache.size >= CACHE_MAX_ENTRIES) this.sortCache.clear();
    const sorted = sort();
    this.sortCache.set(cacheKey, { version: this.world.version, sorted });
    return sorted;
  }

  // ------------------------------------------------------------ rate limit & faults

  /** Spends one request token; returns what is left, or null when the bucket is empty. */
  private spend(token: string): number | null {
    const { bucket, refillPerMinute } = this.config.rateLimit;
    const now = Date.now();
    const b = this.buckets.get(token) ?? { tokens: bucket, at: now };
    b.tokens = Math.min(bucket, b.tokens + ((now - b.at) / 60_000) * refillPerMinute);
    b.at = now;
    this.buckets.set(token, b);
    if (b.tokens < 1) return null;
    b.tokens -= 1;
    return Math.floor(b.tokens);
  }

  private drawFault(key: string): FaultKind | undefined {
    const f = this.faults;
    if (!f) return undefined;
    const rates: [FaultKind, number][] = [
      ["rate429", f.rate429 ?? 0],
      ["rate5xx", f.rate5xx ?? 0],
      ["drop", f.dropRate ?? 0],
      ["slow", f.slowRate ?? 0],
    ];
    const sum = rates.reduce((a, [, r]) => a + Math.max(0, r), 0);
    if (sum <= 0) return undefined;
    const n = this.faultSeq++;
    if (sum < 1 && this.faulted.delete(key)) return undefined; // a retry of a faulted request goes through
    const r = hash32(`fault|${n}`, this.config.seed) / 4294967296;
    let acc = 0;
    for (const [kind, rate] of rates) {
      acc += Math.max(0, rate);
      if (r < acc) {
        if (this.faulted.size > 10_000) this.faulted.clear();
        this.faulted.add(key);
        return kind;
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------ writing

  private send(res: ServerResponse, entry: RequestLogEntry, status: number, body: unknown, headers: Record<string, string>, drop: boolean): void {
    entry.status = status;
    if (res.headersSent || res.destroyed || res.socket?.destroyed) return; // client went away (timeout)
    const json = Buffer.from(JSON.stringify(body ?? null));
    res.writeHead(status, {
      "Content-Type": "application/json",
      "Request-Id": randomUUID(),
      "Content-Length": String(json.length),
      // The simulated clock, which also stamps updated_at on touch()/add() (and never goes back).
      Date: this.world.now().toUTCString(),
      ...headers,
    });
    if (!drop) {
      res.end(json);
      return;
    }
    // Connection dropped mid-body: half the bytes, then the socket is destroyed.
    res.write(json.subarray(0, Math.floor(json.length / 2)), () => {
      const socket = res.socket;
      if (socket) socket.destroy();
      else res.destroy();
    });
  }
}

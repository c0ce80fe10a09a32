// Heroku's metrics API, as the simulator serves it on a host of its own
// (sim.metricsUrl): the four routes of heroku/typescript-api-schema
// src/metrics/routes.ts, answering {data: {<series>: number[]}, start_time,
// end_time, step} (src/metrics/schemas.json; heroku/cli src/lib/types/app-errors.ts),
// one value per step from start_time. start_time, end_time and step are
// required; a start older than Heroku's 7 days of retention is refused (422);
// a process type the app's formation does not have answers 400 "invalid
// process_type provided", as heroku/cli apps:errors expects. Values are a
// deterministic function of (app, series, bucket time), so overlapping or
// repeated windows agree.
import { hash32 } from "./data.ts";
import type { Item } from "./data.ts";
import { HttpProblem } from "./routes.ts";
import type { World } from "./world.ts";

export const RETENTION_MS = 7 * 86_400_000;
const STEPS: Record<string, number> = { "1m": 60_000, "10m": 600_000, "1h": 3_600_000, "2h": 7_200_000 };

/** The series each route reports (the real keys are Heroku's; these are plausible stand-ins). */
export const SERIES: Record<string, string[]> = {
  status: ["200", "302", "404", "500", "503"],
  latency: ["latency.p50", "latency.p95", "latency.p99"],
  errors: ["H12", "H13", "H27"],
  dyno: ["R10", "R14"],
};

export function serveMetricsApi(w: World, path: string, query: URLSearchParams): { status: number; body: unknown } | undefined {
  const seg = path.split("/").slice(1).map(decodeURIComponent);
  let app: Item | undefined;
  let kind: string;
  if (seg.length === 4 && seg[0] === "apps" && seg[2] === "router-metrics" && ["status", "latency", "errors"].includes(seg[3]!)) {
    app = findApp(w, seg[1]!);
    kind = seg[3]!;
  } else if (seg.length === 6 && seg[0] === "apps" && seg[2] === "formation" && seg[4] === "metrics" && seg[5] === "errors") {
    app = findApp(w, seg[1]!);
    const types = w.list("formation", app).map((f) => String(f.type));
    if (!types.includes(seg[3]!)) throw new HttpProblem(400, "bad_request", `invalid process_type provided: ${seg[3]}`);
    kind = "dyno";
  } else return undefined;

  const stepName = query.get("step") ?? "";
  const step = STEPS[stepName];
  const start = Date.parse(query.get("start_time") ?? "");
  const end = Date.parse(query.get("end_time") ?? "");
  if (step === undefined || !Number.isFinite(start) || !Number.isFinite(end) || end <= start) {
    throw new HttpProblem(400, "bad_request", "start_time, end_time (after start_time) and step (1m, 10m, 1h, 2h) are required");
  }
  if (start < w.now().getTime() - RETENTION_MS) throw new HttpProblem(422, "unprocessable_entity", "start_time is older than the retention of 7 days");
  const buckets = Math.ceil((end - start) / step);
  const data: Record<string, number[]> = {};
  for (const series of SERIES[kind]!) {
    data[series] = Array.from({ length: buckets }, (_, i) => {
      const h = hash32(`${app.id}|${kind}|${series}|${start + i * step}`);
      return kind === "latency" ? 5 + (h % 2000) : h % 50;
    });
  }
  return { status: 200, body: { data, start_time: query.get("start_time"), end_time: query.get("end_time"), step: stepName } };
}

function findApp(w: World, key: string): Item {
  const app = w.all("apps").find((a) => a.id === key || a.name === key);
  if (!app) throw new HttpProblem(404, "not_found", "Couldn't find that app.");
  return app;
}

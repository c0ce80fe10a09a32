// The catalog README's section on the streams of Heroku's other hosts (the
// Data API, the metrics API): rows of data in src/heroku/data-api.ts and
// metrics-api.ts, since these hosts publish no hyper-schema to generate from.
import { DATA_STREAMS, METRICS_STREAMS } from "../src/heroku/host-streams.ts";

const ROUTES = {
  data: "heroku/typescript-api-schema `src/data/routes.ts`",
  metrics: "heroku/typescript-api-schema `src/metrics/routes.ts`",
};

export function otherHostsSection(): string[] {
  const lines = [
    "",
    "## Streams of Heroku's other APIs",
    "",
    "These hosts publish no hyper-schema, so their streams are rows of data in `src/heroku/data-api.ts` and",
    "`src/heroku/metrics-api.ts`, not in `streams.json`; they take the same token and go through the same client.",
    "The Data API (setting `data_api_url`, default `https://api.data.heroku.com`, the host the Heroku CLI's `pg:*`",
    "commands read) is asked about the Heroku Postgres add-ons database discovery found; the metrics API",
    "(`metrics_api_url`, default `https://api.metrics.heroku.com`, the API of the Dashboard's Metrics tab) about every",
    "app in scope. None is selected by default. Heroku documents no OAuth scope for either; the tap names `global`,",
    "which the Heroku CLI's own token has.",
    "",
    "| stream | host | endpoint | one request per | key | replication | built from |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const d of DATA_STREAMS) {
    const per = d.per === "app" ? "app owning a database found" : "database found";
    lines.push(
      `| \`${d.stream}\` | Data API | \`GET ${d.path}\` | ${per} | ${d.key_properties.join(", ")} | ${
        d.replication_key ?? "FULL_TABLE"
      } | ${ROUTES.data} ${d.source} |`,
    );
  }
  for (const m of METRICS_STREAMS) {
    const per = m.per === "web" ? "app (process type web)" : "app and process type of its formation";
    lines.push(`| \`${m.stream}\` | metrics API | \`GET ${m.path}\` | ${per} | app_id, process_type, series, time | time | ${ROUTES.metrics} ${m.source} |`);
  }
  return lines;
}

// What this tap is and which streams it offers for a given config: the Heroku
// API streams from catalog/ data, and (later) the tables of the Heroku
// Postgres databases found through the API.
import { readFileSync } from "node:fs";
import type { Settings } from "./config.ts";
import type { Stream } from "./singer/stream.ts";
import { HerokuClient } from "./heroku/client.ts";
import { loadDefinitions } from "./heroku/definitions.ts";
import { herokuStream } from "./heroku/streams.ts";
import { openPostgres } from "./postgres/index.ts";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
  description: string;
};

export const TAP = {
  name: "tap-heroku",
  description: pkg.description,
  version: pkg.version,
  capabilities: ["catalog", "discover", "state", "about", "activate-version"],
} as const;

export interface Source {
  readonly streams: Stream[];
  readonly client: HerokuClient;
  /** Stream-id prefixes of databases that could not be reached this run, with the reason. */
  readonly unavailable?: ReadonlyMap<string, string>;
  close(): Promise<void>;
}

export function herokuClient(settings: Settings): HerokuClient {
  return new HerokuClient({
    baseUrl: settings.api_url.replace(/\/+$/, ""),
    token: settings.token,
    userAgent: settings.user_agent ?? `${TAP.name}/${TAP.version}`,
    timeoutMs: settings.request_timeout_s * 1000,
    maxRetries: settings.max_retries,
    maxConcurrency: settings.max_concurrency,
  });
}

/** The streams this config offers. The caller closes the source when done. */
export async function openSource(settings: Settings): Promise<Source> {
  const client = herokuClient(settings);
  const definitions = await loadDefinitions();
  const streams = definitions.filter((d) => d.parent === null && !d.single).map((d) => herokuStream(d, client, settings));
  const pg = await openPostgres(settings, client);
  return {
    streams: [...streams, ...pg.streams],
    client,
    unavailable: pg.unavailable,
    close: async () => {
      await pg.close();
      await client.close();
    },
  };
}

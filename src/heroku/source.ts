// The Heroku API side of the tap: every stream of catalog/heroku, sharing one
// client and one parent registry, so each parent list is walked once per run.
import type { Settings } from "../config.ts";
import type { PlannedStream } from "../singer/runner.ts";
import type { State } from "../singer/state.ts";
import type { Stream } from "../singer/stream.ts";
import type { HerokuClient } from "./client.ts";
import { loadDefinitions } from "./definitions.ts";
import { estimate, logEstimate, parentsFirst } from "./plan.ts";
import { ParentRegistry } from "./registry.ts";
import { herokuStream } from "./streams.ts";
import { isAppScoped } from "./records.ts";
import type { HerokuStreamSpec } from "./definitions.ts";
import { RefreshSchedule } from "./schedule.ts";

export interface HerokuSource {
  /** Parents before their children, so a parent's own walk fills the registry. */
  readonly streams: Stream[];
  /** Lists only the parents some planned child needs, and logs the run's request estimate. */
  prepare(plan: readonly PlannedStream[], state?: State): Promise<void>;
}

export async function openHeroku(settings: Settings, client: HerokuClient): Promise<HerokuSource> {
  const definitions = parentsFirst(await loadDefinitions());
  const specs = new Map(definitions.map((d) => [d.stream, d]));
  const registry = new ParentRegistry(specs, client, settings);
  const schedule = new RefreshSchedule(specs, settings, () => client.requests);
  const pace = { reserve: settings.rate_limit.reserve, refillPerMinute: settings.rate_limit.refill_per_minute };
  const inShard = (d: HerokuStreamSpec) => settings.shard.index === 1 || isAppScoped(d, specs);
  let planned: string[] = [];
  let fannedOut = false;
  const onFanOut = async (stream: string) => {
    // Once the first child stream starts, the top-level parents are listed: a firmer estimate.
    if (fannedOut) return;
    fannedOut = true;
    const rest = planned.length ? planned.slice(Math.max(0, planned.indexOf(stream))) : [stream];
    logEstimate("the child streams", await estimate(rest, specs, registry, undefined, schedule), client, pace);
  };
  return {
    streams: definitions.map((d) =>
      herokuStream(d, { client, settings, registry, schedule, onFanOut, inShard, sharesTable: (s) => settings.shard.count > 1 && isAppScoped(s, specs) })
    ),
    prepare: async (plan, state) => {
      planned = plan.map((p) => p.stream.id).filter((id) => specs.has(id) && inShard(specs.get(id)!));
      registry.plan(planned);
      schedule.setRun(
        plan.filter((p) => specs.has(p.stream.id)).map((p) => ({ id: p.stream.id, method: p.replicationMethod })),
        state,
      );
      logEstimate("this run", await estimate(planned, specs, registry, state, schedule), client, pace);
    },
  };
}

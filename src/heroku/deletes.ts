// How a child record that disappears on Heroku leaves the target (README,
// "Deletes"). Two kinds of child stream:
//   snapshots  what exists now (domains, collaborators, features, dynos, every
//              FULL_TABLE child): each list is read whole whenever its parent
//              is read, so every record read carries the version of its pass,
//              and after each pass the stream activates the oldest slot's read
//              time (ACTIVATE_VERSION per refresh). Every live child was
//              re-emitted at its slot's last read, so its version is at least
//              that; a child that went (or whose parent went) was last emitted
//              before, and leaves once its slot has been read again: within the
//              family's interval (plus the time between two runs).
//   history    records of what happened (releases, builds, webhook deliveries,
//              pipeline deployments, test runs): read from the cutoff only, no
//              versions; they stay in the target when Heroku stops listing them
//              (the app was deleted, the delivery expired), as a fact stays true.
// Top-level INCREMENTAL lists are read whole and tallied like parents (arrivals.ts);
// when an id went, the list is sent again whole under a new version, which is
// activated (streams.ts, trackTop).
// Tombstones (`_sdc_deleted_at`) would need the key of what disappeared, which
// only the previous answer held: one key per child, 22 bytes each, is about
// 330 KB for the domains of 5,000 apps alone, past the state's 256 KB bound for
// every stream; a version needs no key.
import type { HerokuStreamSpec } from "./definitions.ts";

/** INCREMENTAL child streams whose records are history, and why; every other child stream is a snapshot. */
export const HISTORY: Readonly<Record<string, string>> = {
  releases: "a release is a version of the app, never edited or deleted while the app lives",
  builds: "a build is a past event; the list is read newest first down to the cutoff",
  app_webhook_deliveries: "deliveries are a log, and Heroku lists recent ones only",
  app_webhook_events: "events are a log, and Heroku lists recent ones only",
  add_on_webhook_deliveries: "deliveries are a log, and Heroku lists recent ones only",
  add_on_webhook_events: "events are a log, and Heroku lists recent ones only",
  pipeline_builds: "the builds of a pipeline's apps, a log",
  pipeline_deployments: "the deployments of a pipeline's apps, a log",
  pipeline_releases: "the releases of a pipeline's apps, a log",
  test_runs: "a test run is a past event",
  test_nodes: "the nodes of a past test run",
  test_cases: "the cases of a past test run",
  team_invoices: "an invoice, once issued, stays issued",
};

/** Whether a child stream's records carry their pass's version and ACTIVATE_VERSION follows each refresh. */
export function versioned(spec: HerokuStreamSpec, method: string): boolean {
  return spec.parent !== null && (method === "FULL_TABLE" || !(spec.stream in HISTORY));
}

/**
 * The version to activate after a pass (epoch ms), or undefined: the oldest
 * slot's read time, once every slot was read since versions began
 * (`versionedFrom`, epoch s: rows written before carry no version, or an older
 * scheme's) and only when it moved past the last pass's.
 */
export function versionToActivate(
  before: readonly (readonly [number, number])[] | undefined,
  after: readonly (readonly [number, number])[],
  versionedFrom: number,
): number | undefined {
  const floor = Math.min(...after.map((s) => s[0]));
  const previous = before && before.length ? Math.min(...before.map((s) => s[0])) : -1;
  return floor >= versionedFrom && floor > previous ? floor * 1000 : undefined;
}

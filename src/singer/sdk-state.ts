// State written by the Meltano SDK (singer_sdk/helpers/_state.py), read as
// ours where it maps, so a stream moved from an SDK-based tap, or a state a
// Meltano job kept from one, resumes instead of failing or starting over.
// The SDK keeps, per stream and per partition of a stream:
//   replication_key, replication_key_value   the resumable bookmark: ours too
//   starting_replication_value,              markers of a sync in progress; the SDK removes
//   replication_key_signpost                 them when a stream finishes, so only an
//                                            interrupted run leaves them
//   progress_markers                         progress of an unsorted stream, "not resumable
//                                            if interrupted": the SDK discards them itself
//                                            when its next sync starts
//   partitions: [{"context": {…}, …}]        one state per partition context (for a child
//                                            stream, the parent record's keys)
// The markers are dropped as the SDK drops them. Partitions map onto a stream
// read per parent (Stream.fromPartitions); on any other stream, or written
// for another replication key, they are left out with one warning.
import { z } from "zod";
import { fail, ok, UsageError } from "../errors.ts";
import type { Result } from "../errors.ts";
import { formatIssue } from "../zod-issues.ts";
import type { Bookmark } from "./state.ts";
import type { PartitionValue, Stream } from "./stream.ts";

const MARKERS = ["starting_replication_value", "replication_key_signpost", "progress_markers"] as const;

const Partition = z.looseObject({
  context: z.record(z.string(), z.unknown(), { error: "expected an object (the Meltano SDK's partition context)" }),
  replication_key: z.string({ error: "expected the name of the replication key" }).optional(),
});
const Partitions = z.array(Partition, { error: 'expected a list of partitions, each {"context": {…}, "replication_key_value": …} (the Meltano SDK\'s)' });

export interface Adopted {
  readonly bookmark: Bookmark;
  /** What was left out and why, for one warning; absent when everything mapped or nothing was lost. */
  readonly ignored?: string;
  /** What was read as this tap's own (an info line). */
  readonly read?: string;
}

/** Whether a bookmark carries anything only the SDK writes. */
export function isSdkBookmark(b: Bookmark): boolean {
  return Array.isArray(b.partitions) || MARKERS.some((m) => m in b);
}

/**
 * One stream's bookmark with the SDK's parts read as ours. `at` names the
 * bookmark in the file ("bookmarks.<stream>") for the one-line error.
 * `replicationKey` is what this run reads the stream by (undefined: FULL_TABLE).
 */
export function adoptSdkBookmark(raw: Bookmark, at: string, stream: Stream, replicationKey: string | undefined): Result<Adopted> {
  if (!isSdkBookmark(raw)) return ok({ bookmark: raw });
  const rest: Bookmark = Object.fromEntries(Object.entries(raw).filter(([k]) => k !== "partitions" && !(MARKERS as readonly string[]).includes(k)));
  const markers = MARKERS.filter((m) => m in raw);
  const dropped = markers.length ? `the markers of an interrupted Meltano SDK sync (${markers.join(", ")}) dropped, as the SDK drops them` : undefined;
  if (!Array.isArray(raw.partitions)) return ok({ bookmark: rest, read: dropped });

  const parsed = Partitions.safeParse(raw.partitions);
  if (!parsed.success) return fail(new UsageError(formatIssue(parsed.error, `${at}.partitions`, raw.partitions)));
  // A partition without a value holds no bookmark (a parent with no records yet, or a FULL_TABLE stream).
  const valued = [...parsed.data.entries()].filter(([, p]) => p.replication_key !== undefined && p.replication_key_value !== undefined);
  const keys = new Set(valued.map(([, p]) => p.replication_key!));
  if (valued.length === 0) return ok({ bookmark: rest, read: dropped });

  const what = `the Meltano SDK's bookmarks of ${valued.length} partition(s)`;
  const from = replicationKey === undefined
    ? "it is read in full (FULL_TABLE)"
    : rest.replication_key === replicationKey && rest.replication_key_value !== undefined
    ? "it resumes from its own replication_key_value"
    : "it starts from start_date";
  const key = [...keys][0]!; // valued.length > 0: at least one
  const leave = (ignored: string) => ok({ bookmark: rest, ignored, read: dropped });
  if (!stream.fromPartitions) return leave(`${what} do not map onto this stream, which tap-heroku does not read per partition; ${from}`);
  if (keys.size > 1) return leave(`${what} name ${keys.size} different replication keys; ${from}`);
  if (key !== replicationKey) {
    const reads = replicationKey === undefined ? "is read in full (FULL_TABLE)" : `is read by ${replicationKey}`;
    return leave(`${what} were written for replication key ${key}, and this run the stream ${reads}; ignored`);
  }
  // The values that are used are checked as the stream checks its own (an RFC 3339 date-time for the Heroku API).
  const values: PartitionValue[] = [];
  for (const [i, p] of valued) {
    const own = stream.bookmark.safeParse({ replication_key: key, replication_key_value: p.replication_key_value });
    if (!own.success) return fail(new UsageError(formatIssue(own.error, `${at}.partitions[${i}]`, p)));
    values.push({ context: p.context, value: p.replication_key_value as string | number });
  }
  const adopted = stream.fromPartitions(values, key, rest);
  // The stream's own per-parent state, when it has one, is what this tap last wrote: newer knowledge than a foreign list.
  if (!adopted) return leave(`${what} are ignored: the stream's own per-parent bookmark is used`);
  const read = `${what} read as one completed pass`;
  return ok({ bookmark: adopted, read: [read, dropped].filter(Boolean).join("; ") });
}

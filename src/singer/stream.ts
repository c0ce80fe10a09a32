// One stream shape serves the Heroku API resources and the PostgreSQL tables:
// a stream describes itself for discovery and knows how to sync; the runner
// does everything else (selection, SCHEMA, STATE, metrics).
import type { JSONSchema7 } from "json-schema";
import type { z } from "zod";
import type { MetadataEntry, ReplicationMethod } from "./catalog.ts";
import type { Record_ } from "./messages.ts";
import type { Bookmark } from "./state.ts";

export interface Stream {
  /** tap_stream_id; also the stream name in messages. */
  readonly id: string;
  readonly schema: JSONSchema7;
  readonly keyProperties: readonly string[];
  /** Columns an INCREMENTAL sync may be keyed on; empty means FULL_TABLE only. */
  readonly validReplicationKeys: readonly string[];
  /**
   * Properties the tap computes rather than reads (a table's _sdc_xmin): never
   * automatic, even as the replication key, so a record carries one only when selected.
   */
  readonly computedProperties?: readonly string[];
  /** What discovery proposes; the catalog may choose otherwise. */
  readonly defaultReplicationMethod: ReplicationMethod;
  readonly selectedByDefault: boolean;
  /** Extra discovery metadata: stream level ([]) and per property. */
  readonly extraMetadata?: readonly MetadataEntry[];
  /** Extra top-level keys of the catalog entry (e.g. table_name). */
  readonly extraEntry?: Readonly<Record<string, unknown>>;
  /** Validates this stream's bookmark in an input state file. */
  readonly bookmark: z.ZodType<Bookmark>;
  /**
   * A stream read once per parent record takes the Meltano SDK's per-partition
   * bookmarks (src/singer/sdk-state.ts): the values, all of `replicationKey`, as
   * its own bookmark merged into `current`; undefined when `current` already
   * holds its own per-parent state. Absent: the SDK's partitions do not map.
   */
  readonly fromPartitions?: (values: readonly PartitionValue[], replicationKey: string, current: Bookmark) => Bookmark | undefined;
  /** The streams it stands or falls with (a database's tables): what --test counts together. */
  readonly group?: string;
  /**
   * With a group: how many of the group's streams the runner syncs at once
   * (a database's connection budget), beside the other groups' streams.
   * Unset: the stream runs alone, in order.
   */
  readonly parallel?: number;
  sync(ctx: SyncContext): Promise<void>;
}

/** One partition of a Meltano SDK bookmark: its context (a parent's keys) and its replication key value. */
export interface PartitionValue {
  readonly context: Readonly<Record<string, unknown>>;
  readonly value: string | number;
}

/**
 * What cannot be read this run, and why: one stream (a table whose rights were
 * revoked), or a whole group (a database that cannot be reached), whose
 * streams a catalog may still select although discovery did not find them.
 * The source that names its streams decides which ids a group covers.
 */
export interface Unavailable {
  readonly kind: "stream" | "group";
  /** The stream id, or the group's name. */
  readonly name: string;
  readonly reason: string;
  covers(streamId: string): boolean;
}

export interface SyncContext {
  readonly replicationMethod: ReplicationMethod;
  readonly replicationKey: string | undefined;
  /** Top-level properties to emit; always includes the keys and replication key. */
  readonly properties: ReadonlySet<string>;
  /** This stream's bookmark from the input state, if any. */
  readonly bookmark: Bookmark | undefined;
  /** The start_date setting (ISO 8601), for a first incremental run. */
  readonly startDate: string | undefined;
  /** Aborted on SIGINT/SIGTERM: stop at the next clean point and return. */
  readonly signal: AbortSignal;
  /** Writes one record; resolves when the output can take more. */
  writeRecord(record: Record_, version?: number): Promise<void>;
  /**
   * Sets this stream's bookmark. Call it only once every record the bookmark
   * covers has been passed to writeRecord; a STATE line is written when due,
   * or at once with `now` (a bookmark that must be in the state before the
   * records that follow it reach the target).
   */
  saveBookmark(bookmark: Bookmark, opts?: { now?: boolean }): Promise<void>;
  activateVersion(version: number): Promise<void>;
  /** Tells the person watching what the stream is on (a parent, a table); cheap to call. */
  progress(detail: string): void;
}

// Singer state: {"bookmarks": {<tap_stream_id>: {...}}, "currently_syncing": ...}.
// The shape of one stream's bookmark belongs to the stream (see Stream.bookmark);
// this module only knows the envelope.
import { z } from "zod";

export const Bookmark = z.record(z.string(), z.unknown());
export type Bookmark = z.infer<typeof Bookmark>;

export const State = z.looseObject({
  bookmarks: z.record(z.string(), Bookmark, { error: "expected an object of bookmarks, one per stream" }).default({}),
  currently_syncing: z.string().nullable().optional(),
});
export type State = z.infer<typeof State>;

/**
 * Meltano keeps state as {"singer_state": {...}}; a file copied out of its
 * state backend therefore arrives wrapped. Accept both forms.
 */
export function unwrapState(value: unknown): unknown {
  if (value && typeof value === "object" && "singer_state" in value && !("bookmarks" in value)) {
    return (value as { singer_state: unknown }).singer_state;
  }
  return value;
}

export const emptyState = (): State => ({ bookmarks: {}, currently_syncing: null });

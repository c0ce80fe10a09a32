// Discovery metadata and selection, on plain Stream values (no I/O involved).
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { discoverEntry, planSync } from "../src/singer/runner.ts";
import type { Stream } from "../src/singer/stream.ts";

const stream = (over: Partial<Stream>): Stream => ({
  id: "db-public-orders",
  schema: { type: ["null", "object"], properties: { id: { type: ["integer"] }, updated_at: { type: ["string"] }, note: { type: ["string"] } } },
  keyProperties: ["id"],
  validReplicationKeys: ["updated_at", "id"],
  defaultReplicationMethod: "FULL_TABLE",
  selectedByDefault: false,
  bookmark: z.record(z.string(), z.unknown()),
  sync: async () => {},
  ...over,
});

const inclusion = (s: Stream) => Object.fromEntries(discoverEntry(s).metadata.filter((m) => m.breadcrumb.length === 2).map((m) => [m.breadcrumb[1], m.metadata.inclusion]));

describe("discovery metadata", () => {
  it("makes the replication key automatic only where INCREMENTAL is the default", () => {
    expect(inclusion(stream({}))).toEqual({ id: "automatic", updated_at: "available", note: "available" });
    expect(inclusion(stream({ defaultReplicationMethod: "INCREMENTAL" }))).toEqual({ id: "automatic", updated_at: "automatic", note: "available" });
  });

  it("lets a FULL_TABLE catalog deselect the column that could have been a replication key", () => {
    const entry = discoverEntry(stream({}));
    entry.metadata[0]!.metadata.selected = true;
    for (const m of entry.metadata) if (m.breadcrumb[1] === "updated_at") m.metadata.selected = false;
    const plan = planSync([stream({})], { file: "c.json", value: { streams: [entry] } }, undefined);
    expect(plan.ok && [...plan.value[0]!.properties].sort()).toEqual(["id", "note"]);
  });
});

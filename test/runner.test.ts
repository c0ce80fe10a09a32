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

const inclusion = (s: Stream) =>
  Object.fromEntries(discoverEntry(s).metadata.filter((m) => m.breadcrumb.length === 2).map((m) => [m.breadcrumb[1], m.metadata.inclusion]));

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

describe("what cannot be read this run (Unavailable)", () => {
  it("skips the catalog's streams a group covers, and only those: a hyphen in another stream's name means nothing", () => {
    const api = stream({ id: "team-apps", selectedByDefault: true }); // a stream name with a hyphen, as a future API stream might have
    const entries = [discoverEntry(api), { ...discoverEntry(stream({ id: "db-public-orders" })) }];
    for (const e of entries) e.metadata[0]!.metadata.selected = true;
    const away = { kind: "group" as const, name: "db", reason: "db: cannot connect", covers: (id: string) => id.startsWith("db-") };
    const plan = planSync([api], { file: "c.json", value: { streams: entries } }, undefined, [away]);
    expect(plan.ok && plan.value.map((p) => p.stream.id)).toEqual(["team-apps"]);
    // Without the group, a selected stream this run does not have is bad input.
    expect(planSync([api], { file: "c.json", value: { streams: entries } }, undefined, []).ok).toBe(false);
  });
});

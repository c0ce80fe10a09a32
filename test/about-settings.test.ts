// --about publishes the structure of every object setting, as the Meltano
// SDK's --about --format json does for stream_maps and batch_config: an editor
// or Meltano reading it knows what goes inside, not only "an object". The
// published stream_maps schema is checked against what the tap enforces
// (checkStreamMaps), so the two cannot drift apart.
import { beforeAll, describe, expect, it } from "vitest";
import type { JSONSchema7 } from "json-schema";
import { checkStreamMaps } from "../src/singer/maps/mapper.ts";
import { checkSchema, validate } from "./helpers/json-schema.ts";
import { runTap } from "./helpers/tap.ts";

let settings: JSONSchema7;
const prop = (s: JSONSchema7, ...path: string[]): JSONSchema7 => path.reduce((at, p) => at.properties![p] as JSONSchema7, s);

beforeAll(async () => {
  const run = await runTap(["--about", "--format", "json"]);
  expect(run.code, run.stderr).toBe(0);
  settings = JSON.parse(run.stdout).settings;
});

/** Every object in a schema that says nothing of what it holds: no properties, no additionalProperties. */
function bareObjects(s: JSONSchema7, path: string): string[] {
  const here = s.type === "object" && s.properties === undefined && s.additionalProperties === undefined ? [path] : [];
  const subs = [
    ...Object.entries(s.properties ?? {}).map(([k, v]) => [`${path}.${k}`, v] as const),
    ...(typeof s.additionalProperties === "object" ? [[`${path}.*`, s.additionalProperties] as const] : []),
    ...(s.anyOf ?? []).map((v, i) => [`${path}|${i}`, v] as const),
  ];
  return [...here, ...subs.flatMap(([p, v]) => (typeof v === "object" ? bareObjects(v, p) : []))];
}

describe("--about --format json", () => {
  it("gives the structure of every object setting, and is a well-formed JSON Schema", () => {
    expect(bareObjects(settings, "settings")).toEqual([]);
    expect(checkSchema(settings)).toEqual([]);
  });

  it("describes stream_maps as the Meltano SDK does: per stream, removal or a map with its __options__ and property expressions", () => {
    const maps = prop(settings, "stream_maps");
    expect(maps.type).toBe("object");
    expect(Object.keys(maps.properties!)).toEqual(["__else__"]);
    const perStream = (maps.additionalProperties as JSONSchema7).anyOf!.map((s) => s as JSONSchema7);
    const map = perStream.find((s) => s.type === "object")!;
    expect(Object.keys(map.properties!).sort()).toEqual(["__alias__", "__else__", "__filter__", "__key_properties__", "__source__"]);
    for (const [name, sub] of Object.entries(map.properties!)) expect((sub as JSONSchema7).description, name).toBeTruthy();
    expect(validate(map.additionalProperties!, "md5(email)")).toEqual([]);
    expect(validate(map.additionalProperties!, null)).toEqual([]);
    expect(validate(prop(settings, "stream_map_config"), { hash_seed: "01AWZh7A6DzGm6iJZZ2T" })).toEqual([]);
  });

  it("describes batch_config's encoding and storage, each part with its description", () => {
    const batch = prop(settings, "batch_config");
    expect(prop(batch, "encoding", "format").const).toBe("jsonl");
    expect(prop(batch, "encoding", "compression").enum).toEqual(["gzip", "none"]);
    expect(prop(batch, "storage", "root").type).toBe("string");
    expect(prop(batch, "storage", "prefix").type).toBe("string");
    expect(batch.required).toEqual(["encoding", "storage"]);
    for (const part of ["encoding", "storage"]) expect(prop(batch, part).description, part).toBeTruthy();
  });

  // What the published schema says of a map, and what the tap enforces, agree on the structure.
  const accepted: unknown[] = [
    { customers: { email: null, email_domain: "owner_email.split('@')[-1]", email_hash: "md5(config['hash_seed'] + owner_email)" } },
    { addresses: "__NULL__" },
    { customers: {}, __else__: "__NULL__" },
    { repositories: { __filter__: "'tap-' in name or 'target-' in name", name: "_['name']", __else__: null }, __else__: null },
    { mystream: { email_hash: "md5(email)", __key_properties__: ["email_hash"], __else__: null } },
    { mystream: { __key_properties__: null } },
    { mystream: { __alias__: "'aliased'" }, mystream_copy: { __source__: "mystream", id: "id" } },
    { "*s": { db_name: "'database'" } },
  ];
  const refused: unknown[] = [
    { mystream: 5 },
    { mystream: { email: 5 } },
    { mystream: { __key_properties__: "id" } },
    { mystream: { __key_properties__: [1] } },
    { mystream: { __else__: "keep" } },
    { mystream: { __filter__: true } },
    { mystream: { __alias__: "" } },
    { __else__: {} },
  ];
  it.each(accepted.map((m) => [JSON.stringify(m), m]))("accepts %s, as the tap does", (_name, map) => {
    expect(checkStreamMaps(map)).toBeUndefined();
    expect(validate(prop(settings, "stream_maps"), map)).toEqual([]);
  });
  it.each(refused.map((m) => [JSON.stringify(m), m]))("refuses %s, as the tap does", (_name, map) => {
    expect(checkStreamMaps(map)).toBeDefined();
    expect(validate(prop(settings, "stream_maps"), map)).not.toEqual([]);
  });
});

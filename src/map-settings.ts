// The Meltano SDK's stream-map and flattening settings, by its names, as zod
// fields of the tap's settings (config.ts). stream_maps stays the object the
// user wrote (a record schema would drop a stream called __proto__); its shape
// and every expression in it are checked here, so a map that cannot run is
// one config error line naming the stream, the property and the position.
import { z } from "zod";
import { checkStreamMaps } from "./singer/maps/mapper.ts";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Removes a stream or a property: null, or the SDK's "__NULL__" where a null is awkward to write (YAML, environment variables). */
const Remove = z.union([z.literal("__NULL__"), z.null()]);

/**
 * The structure of stream_maps as --about publishes it, the Meltano SDK's
 * (a JSON Schema for editors and Meltano). It is documentation:
 * checkStreamMaps is what enforces it, and more (expressions that parse, not
 * both __source__ and __alias__, no other __option__).
 */
const StreamMapsStructure = z
  .object({ __else__: Remove.optional().describe("null or __NULL__ removes every stream not named here.") })
  .catchall(
    z.union([
      Remove.describe("Removes the stream."),
      z
        .object({
          __alias__: z.string().min(1).optional().describe("Renames the stream: a name, or an expression (e.g. __stream_name__ + '_v2')."),
          __source__: z.string().min(1).optional().describe("Makes this a new stream from the named stream (split or duplicate it)."),
          __filter__: z.string().optional().describe("Keeps only the records for which this expression is true."),
          __key_properties__: z.array(z.string()).nullable().optional().describe("The key properties of the mapped stream (null: none)."),
          __else__: Remove.optional().describe("null or __NULL__ removes every property not named here."),
        })
        .catchall(z.union([Remove, z.string().describe("A Python expression over the record (e.g. md5(email)).")]))
        .describe("The stream's map: per property, an expression, or null to remove it; and the __options__."),
    ]),
  );

/** A zod schema as the JSON Schema --about publishes, without the draft's $schema line (it is nested in the settings). */
function structureOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: "input", target: "draft-7" });
  return rest;
}

const StreamMaps = z
  .unknown()
  // Examples on the input side: zod publishes none of a transform's.
  .meta({ examples: [{ apps: { owner: null, owner_email_hash: "md5(config['hash_seed'] + owner['email'])" }, account: "__NULL__" }] })
  .superRefine((value, ctx) => {
    const problem = checkStreamMaps(value);
    if (problem) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
  })
  .transform((v) => v as Record<string, unknown>)
  .meta(structureOf(StreamMapsStructure));

const StreamMapConfig = z
  .unknown()
  .meta({ examples: [{ hash_seed: "01AWZh7A6DzGm6iJZZ2T" }] })
  .refine(isObject, { error: "expected an object of values, which map expressions read as config['name']" })
  .transform((v) => v as Record<string, unknown>)
  .meta({
    type: "object",
    additionalProperties: { description: "Any JSON value, read in expressions as config['<its name>']." },
  });

export const MapSettingsShape = {
  stream_maps: StreamMaps.optional().describe(
    "Stream maps (the Meltano SDK's): per stream, properties to add, change (a Python expression) or remove (null), and __alias__, __filter__, __source__, __key_properties__, __else__ (README, Stream maps and flattening).",
  ),
  stream_map_config: StreamMapConfig.optional().describe("Values map expressions read as config['name'] (e.g. a hash seed)."),
  flattening_enabled: z.boolean().optional().describe("Flatten nested objects into top-level properties joined by __ (the Meltano SDK's schema flattening)."),
  flattening_max_depth: z.number().int().min(0).meta({ examples: [1] }).optional().describe(
    "Levels of nested objects to flatten; required with flattening_enabled. Deeper objects and arrays become JSON text.",
  ),
  flattening_max_key_length: z.number().int().min(1).default(255).describe("Longest flattened name; longer ones are abbreviated by the Meltano SDK's rule."),
  flattening_separator: z.string().min(1).default("__").describe("Joins the names of flattened properties."),
};

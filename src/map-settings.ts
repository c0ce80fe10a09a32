// The Meltano SDK's stream-map and flattening settings, by its names, as zod
// fields of the tap's settings (config.ts). stream_maps stays the object the
// user wrote (a record schema would drop a stream called __proto__); its shape
// and every expression in it are checked here, so a map that cannot run is
// one config error line naming the stream, the property and the position.
import { z } from "zod";
import { checkStreamMaps } from "./singer/maps/mapper.ts";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const StreamMaps = z
  .unknown()
  .superRefine((value, ctx) => {
    const problem = checkStreamMaps(value);
    if (problem) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
  })
  .transform((v) => v as Record<string, unknown>)
  .meta({ type: "object" });

const StreamMapConfig = z
  .unknown()
  .refine(isObject, { error: "expected an object of values, which map expressions read as config['name']" })
  .transform((v) => v as Record<string, unknown>)
  .meta({ type: "object" });

export const MapSettingsShape = {
  stream_maps: StreamMaps.optional().describe(
    "Stream maps (the Meltano SDK's): per stream, properties to add, change (a Python expression) or remove (null), and __alias__, __filter__, __source__, __key_properties__, __else__ (README, Stream maps and flattening).",
  ),
  stream_map_config: StreamMapConfig.optional().describe("Values map expressions read as config['name'] (e.g. a hash seed)."),
  flattening_enabled: z.boolean().optional().describe("Flatten nested objects into top-level properties joined by __ (the Meltano SDK's schema flattening)."),
  flattening_max_depth: z.number().int().min(0).optional().describe(
    "Levels of nested objects to flatten; required with flattening_enabled. Deeper objects and arrays become JSON text.",
  ),
  flattening_max_key_length: z.number().int().min(1).default(255).describe("Longest flattened name; longer ones are abbreviated by the Meltano SDK's rule."),
  flattening_separator: z.string().min(1).default("__").describe("Joins the names of flattened properties."),
};

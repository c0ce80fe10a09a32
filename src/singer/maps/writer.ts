// Where stream maps meet the output: a MessageWriter that turns each SCHEMA,
// RECORD and ACTIVATE_VERSION of a source stream into those of its output
// streams. STATE passes unchanged, keyed by the source streams, as in the SDK.
// A stream whose maps change nothing keeps the plain writer's path: its
// records, pre-encoded JSON included, are written as they came.
import type { ActivateVersionMessage, Record_, SchemaMessage } from "../messages.ts";
import { RawJson } from "../messages.ts";
import { MessageWriter } from "../writer.ts";
import { pickSchema } from "../catalog.ts";
import type { PlannedStream } from "../runner.ts";
import { fail, ok, RunError, UsageError } from "../../errors.ts";
import type { Result } from "../../errors.ts";
import { log } from "../../log.ts";
import { MapConfigError, MapRuntimeError, StreamMapper } from "./mapper.ts";
import type { MapSettings, OutputStream } from "./mapper.ts";
import { parseExact, stringifyExact } from "./exact-json.ts";

export class MappedWriter extends MessageWriter {
  private readonly outputs = new Map<string, OutputStream[]>();

  /** The mapper, then whatever the plain writer takes (the sink first). */
  constructor(
    private readonly mapper: StreamMapper,
    ...writerArgs: ConstructorParameters<typeof MessageWriter>
  ) {
    super(...writerArgs);
  }

  override async schema(message: Omit<SchemaMessage, "type">): Promise<void> {
    let outs: OutputStream[];
    try {
      outs = this.mapper.register(message.stream, message.schema, message.key_properties, message.bookmark_properties);
    } catch (e) {
      if (e instanceof MapConfigError) throw new UsageError(`config error: ${e.line}`);
      throw e;
    }
    this.outputs.set(message.stream, outs);
    for (const o of outs) {
      await super.schema({
        stream: o.alias,
        schema: o.schema,
        key_properties: o.keyProperties,
        ...(o.bookmarkProperties ? { bookmark_properties: o.bookmarkProperties } : {}),
      });
    }
  }

  override async record(stream: string, record: Record_, timeExtracted: string, version?: number): Promise<void> {
    const outs = this.outputs.get(stream);
    if (!outs) return super.record(stream, record, timeExtracted, version);
    if (outs.length === 1 && outs[0]!.identity) return super.record(stream, record, timeExtracted, version);
    if (outs.length === 0) return;
    // Pre-encoded rows are parsed keeping big numbers exact, and written back the same way.
    const value = record instanceof RawJson ? (parseExact(record.json) as Record<string, unknown>) : record;
    for (const o of outs) {
      let mapped: Record<string, unknown> | null;
      try {
        mapped = o.transform(value);
      } catch (e) {
        if (e instanceof MapRuntimeError) throw new RunError(`${o.alias}: ${e.message}`);
        throw e;
      }
      if (mapped) await super.record(o.alias, new RawJson(stringifyExact(mapped)), timeExtracted, version);
    }
  }

  override async activateVersion(message: Omit<ActivateVersionMessage, "type">): Promise<void> {
    const outs = this.outputs.get(message.stream);
    if (!outs) return super.activateVersion(message);
    for (const o of outs) await super.activateVersion({ stream: o.alias, version: message.version });
  }
}

/**
 * Builds the mapper and registers every planned stream with the SCHEMA the
 * runner will write, so that a map that does not fit fails now (exit 2),
 * before any output. Streams the maps remove entirely are left out of the
 * plan: not read at all, as if deselected (the SDK docs' answer).
 */
export function mapPlan(settings: MapSettings, plan: readonly PlannedStream[]): Result<{ mapper: StreamMapper | undefined; plan: PlannedStream[] }> {
  let mapper: StreamMapper;
  try {
    mapper = new StreamMapper(settings);
  } catch (e) {
    if (e instanceof MapConfigError) return fail(new UsageError(`config error: ${e.line}`));
    throw e;
  }
  if (mapper.inactive) return ok({ mapper: undefined, plan: [...plan] });
  const kept: PlannedStream[] = [];
  const removed: string[] = [];
  for (const p of plan) {
    let outs: OutputStream[];
    try {
      outs = mapper.register(p.stream.id, pickSchema(p.stream.schema, p.properties), p.stream.keyProperties, p.replicationKey ? [p.replicationKey] : undefined);
    } catch (e) {
      if (e instanceof MapConfigError) return fail(new UsageError(`config error: ${e.line}`));
      throw e;
    }
    if (outs.length === 0) removed.push(p.stream.id);
    else kept.push(p);
  }
  if (removed.length) log.info(`stream_maps remove ${removed.length} selected stream(s), which are not read: ${removed.join(", ")}`);
  return ok({ mapper, plan: kept });
}

export { StreamMapper };

/** The writer for a run: the plain one when no map or flattening is configured. */
export function writerFor(mapper: StreamMapper | undefined, ...writerArgs: ConstructorParameters<typeof MessageWriter>): MessageWriter {
  return mapper ? new MappedWriter(mapper, ...writerArgs) : new MessageWriter(...writerArgs);
}

// Sharding one account across N runs (separate Meltano jobs, cron entries or
// Airflow tasks, each with its own state): every app, and everything that
// belongs to it (its child resources, its databases), falls in exactly one
// shard by a stable hash of the app's id; what belongs to no app is read by
// shard 1 alone. Together the shards read what one run reads, once.

export interface Shard {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

/** The 1-based shard of an id: FNV-1a (32 bit) of its text, so it never changes between runs or machines. */
export function shardOf(id: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % count) + 1;
}

/** Whether this shard reads what belongs to the app with this id; what has no app id belongs to shard 1. */
export function inShard(appId: unknown, shard: Shard): boolean {
  if (shard.count <= 1) return true;
  if (typeof appId !== "string" || appId === "") return shard.index === 1;
  return shardOf(appId, shard.count) === shard.index;
}

// Keeps V8's heap near what a sync needs, however the runtime was started:
// V8 sizes its generations from the machine's memory and grows them well past
// what a streaming sync keeps alive. The runtime (runtime.ts) calls the keeper
// with each chunk it writes to stdout, the pace of a sync's allocations.
import v8 from "node:v8";
import vm from "node:vm";

export interface HeapOptions {
  readonly engine: "node" | "deno";
  /** The user gave V8 a semi-space size: the young generation is left as they set it. */
  readonly semiSpaceGiven: boolean;
  /** Bytes held by ArrayBuffers (process.memoryUsage().arrayBuffers). */
  readonly arrayBuffers: () => number;
}

/** The function to call with the size of each chunk written to stdout. */
export function heapKeeper(o: HeapOptions): (bytes: number) => void {
  const young = o.engine === "node" ? youngGenerationHold(o.semiSpaceGiven) : youngGenerationShrink();
  const collect = fullCollector(o.arrayBuffers);
  let sinceCheck = 0;
  return (bytes) => {
    young();
    sinceCheck += bytes;
    if (sinceCheck >= CHECK_EVERY) {
      sinceCheck = 0;
      collect();
    }
  };
}

/** Bytes written to stdout between two looks at the off-heap memory and the old generation. */
const CHECK_EVERY = 1024 * 1024;
/** Off-heap growth that calls for a full collection. */
const OFF_HEAP_SLACK = 8 * 1024 * 1024;

/*
 * V8 sizes the young generation from the machine's memory, and a table sync
 * grows it to the limit: V8 doubles it whenever the objects that lived through
 * its collections since the last doubling add up to its size, and a sync's
 * steady trickle of survivors (socket reads, rows awaiting stdout) always gets
 * there. On a 24 GiB machine that is 32 MB of new space on Node 20 and 22,
 * 128 MB on Node 24 and 64 MB on Deno: a 5,000,000-row sync peaked at 111 MB
 * on Node 20, 205 MB on Node 24 and 179 MB on Deno. Two 4 MB semi-spaces cost
 * a sync nothing measurable. `--max-semi-space-size=4` says so, but V8 reads it
 * only at start, so only the launch paths that pass it would hold it, and
 * `node bin/...`, `node dist/...` and a bare `deno run` pass nothing. So the
 * tap holds the young generation itself, however it was started.
 */
/** The new space the tap lets V8 grow to: two 4 MB semi-spaces. */
const NEW_SPACE_CAP = 8 * 1024 * 1024;

function newSpaceBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;
}

/**
 * Node's V8 (11.3, 12.4, 13.6) reads `--semi-space-growth-factor` at each
 * doubling, so setting it to 1 once the next doubling would pass the cap stops
 * the growth there: from 1 MB it doubles to 2, 4 and 8 MB, then stays.
 */
function youngGenerationHold(semiSpaceGiven: boolean): () => void {
  let held = semiSpaceGiven;
  const hold = () => {
    if (held || newSpaceBytes() * 2 <= NEW_SPACE_CAP) return;
    v8.setFlagsFromString("--semi-space-growth-factor=1");
    held = true;
  };
  hold();
  return hold;
}

/**
 * Deno's V8 (14) raises a growth factor below 2 to 2, but a full collection
 * shrinks the new space back. So when it has grown past twice the cap, one
 * full collection (17-26 ms) brings it back: 11 in a 1,000,000-row sync,
 * which then runs about a fifth slower. `deno task tap` passes
 * `--max-semi-space-size=4`, under which the new space never gets there.
 */
function youngGenerationShrink(): () => void {
  let gc: (() => void) | undefined;
  return () => {
    if (newSpaceBytes() <= 2 * NEW_SPACE_CAP) return;
    gc ??= exposedGc();
    gc();
  };
}

/** V8's gc(): V8 offers no other way to ask for a full collection, and exposes it only to contexts made after the flag is set. */
function exposedGc(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

/**
 * Node frees a Buffer's off-heap memory only with its object, and an object
 * that lived through two young collections waits for a full one. A table read
 * allocates little in the old generation, so V8 started none in a whole read, while
 * a few of the TLS socket's reads were promoted each second (on Node 24 each
 * 8 KB read is a view of a 64 KB block that lives as long as any of them): on
 * the bin's 5,000,000-row read, 14-28 MB of dead buffers by its end on Node 24,
 * growing with the table. So when the memory of ArrayBuffers has grown by 8 MB
 * since the last collection, one full collection frees it (once, 25 ms, in that
 * read; none at 1,000,000 rows). The old generation gets the same rule
 * (OLD_SLACK, below).
 */
function fullCollector(arrayBuffers: () => number): () => void {
  let gc: (() => void) | undefined;
  let limit = OFF_HEAP_SLACK;
  let oldLimit = OLD_SLACK;
  return () => {
    if (arrayBuffers() <= limit && oldGenerationBytes() <= oldLimit) return;
    gc ??= exposedGc();
    gc();
    limit = arrayBuffers() + OFF_HEAP_SLACK;
    oldLimit = oldGenerationBytes() + OLD_SLACK;
  };
}

/**
 * Old-generation growth that calls for a full collection: V8 lets the old
 * generation grow well past what is live before it collects. An API sync of
 * 4,000 apps (live 12-18 MB) grew it to 48 MB, so its peak rose with the
 * account (122 MB at 100 apps, 156-166 MB at 4,000). Collecting once it has
 * grown by 16 MB held that to 139 MB, for 7 collections of a few ms; a table
 * read, which promotes little, reaches it seldom or never.
 */
const OLD_SLACK = 16 * 1024 * 1024;

function oldGenerationBytes(): number {
  let n = 0;
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === "old_space" || s.space_name === "large_object_space") n += s.space_used_size;
  return n;
}

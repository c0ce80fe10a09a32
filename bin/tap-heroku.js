#!/usr/bin/env -S node --max-semi-space-size=4
// Node cannot run the TypeScript sources; `npm install` compiles them to dist/ (the prepare script).
// A small young generation (4 MB semi-spaces instead of Node's default) keeps a large
// table sync at 88-93 MB on Node 20 and 102-112 MB on Node 22 and 24: the tap's garbage
// is short-lived batches. Without it, Node 20 takes 109-114 MB and Node 24, which sizes
// its young generation from the machine's memory (128 MB here), 153-211 MB. (1 MB suited
// Node 20 alone: on Node 24 its socket and output buffers outlived the young generation
// and peaked 35-60 MB higher, and it was slower.) The flag must be given at start, hence
// the shebang: run this file directly (npx, a global install, Meltano's executable), not as `node bin/...`.
import "../dist/main.js";

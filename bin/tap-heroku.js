#!/usr/bin/env -S node --max-semi-space-size=4
// Node cannot run the TypeScript sources; `npm install` compiles them to dist/ (the prepare script).
// A small young generation (4 MB semi-spaces instead of 16 MB) keeps peak memory near
// 110 MB during a large table sync on Node 20, 22 and 24: the tap's garbage is
// short-lived batches. (1 MB suited Node 20 alone: on Node 24 its socket and output
// buffers outlived the young generation and peaked 35-60 MB higher, and it was slower.) The flag must be given at start, hence the shebang: run this
// file directly (npx, a global install, Meltano's executable), not as `node bin/...`.
import "../dist/main.js";

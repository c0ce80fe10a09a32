#!/usr/bin/env -S node --max-semi-space-size=1
// Node cannot run the TypeScript sources; `npm install` compiles them to dist/ (the prepare script).
// The small young generation (1 MB semi-spaces instead of 16 MB) keeps peak memory
// near 130 MB during a large table sync at the same throughput: the tap's garbage is
// short-lived batches. The flag must be given at start, hence the shebang: run this
// file directly (npx, a global install, Meltano's executable), not as `node bin/...`.
import "../dist/main.js";

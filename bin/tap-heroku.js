#!/usr/bin/env node
// Node cannot run the TypeScript sources; `npm install` compiles them to dist/ (the prepare script).
// No V8 flags here: the tap holds its young generation small itself (src/heap.ts), so
// `node bin/tap-heroku.js`, `node dist/main.js` and this file run directly peak the same,
// and a plain `env node` shebang works where `env -S` does not (BusyBox, as in Alpine images).
import "../dist/main.js";

#!/usr/bin/env node
// Node cannot run the TypeScript sources; `npm install` compiles them to dist/ (the prepare script).
import "../dist/main.js";

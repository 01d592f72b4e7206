#!/usr/bin/env node
// The `yoi` command. A plain-JS shim so that npm can link it before `prepare` has built
// the TypeScript it loads.
import '../dist/src/cli/main.js';

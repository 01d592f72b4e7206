import { enableCompileCache } from './compile-cache.js';

enableCompileCache();
// Imported after the compile cache is on, so that they (and the command's own modules) use it.
const { processIo } = await import('./io.js');
const { runCli } = await import('./program.js');

process.exitCode = await runCli(process.argv.slice(2), processIo());

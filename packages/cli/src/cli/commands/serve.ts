import { join } from 'node:path';
import { startServe } from '@yoi-plugins/host/internal/serve/server.js';
import { jsonLogger } from '@yoi-plugins/host/internal/serve/log.js';
import { defaultCacheDir } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import { UsageError, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { term } from '../terminal.js';

export interface ServeCliOptions extends CommonOptions {
  readonly port?: string;
}

/** Runs until SIGINT/SIGTERM, then stops every service gracefully and reports what was in flight. */
export async function runServe(io: CliIo, options: ServeCliOptions): Promise<void> {
  const port = options.port === undefined ? 0 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be an integer between 0 and 65535');
  const stores = storeOptions(io, options);
  const log = jsonLogger(io.stderr);
  const server = await startServe({ stores, port, log, cacheDir: defaultCacheDir(io.env) });
  io.stdout(
    term`yoi plugin serve: ${server.url} (workspace ${stores.workspace})` + '\n' +
      term`  control token and port: ${server.controlFile} (0600)` + '\n' +
      term`  status: yoi plugin status --workspace ${stores.workspace}` + '\n' +
      `  hot reload: enable, disable and upgrades apply while serve runs (watching ${server.reloader.status().watching.length} folder(s))\n` +
      term`  events: ${join(stores.workspace, '.yoi', 'state', 'events.jsonl')}` + '\n' +
      `  stop with Ctrl-C (SIGINT) or SIGTERM\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log('info', 'stopping');
  const reports = await server.stop();
  const inFlight = reports.filter((r) => r.in_flight !== null).length;
  const undelivered = reports.reduce((sum, r) => sum + r.undelivered, 0);
  io.stdout(`stopped: ${reports.length} service(s); ${inFlight} event(s) were in flight; ${undelivered} queued event(s) moved to the dead-letter store\n`);
}

import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import { parsePluginRef } from '@yoi-plugins/host/internal/manifest/ids.js';
import { defaultCacheDir } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import type { LogsPage } from '@yoi-plugins/host/internal/serve/routes-logs.js';
import { CommandFailure, printJson, UsageError, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { discoverServe, reportVia, serveRequest, type ServeConnection } from '../serve-client.js';
import { escapeTerminal, term } from '../terminal.js';
import { readPersistedLog } from '../log-file-read.js';
import { logFilePaths } from '@yoi-plugins/host/internal/serve/log-file.js';

export interface LogsOptions extends CommonOptions {
  readonly follow?: boolean;
}

/** How long one follow request waits for a line (serve holds it at most 30 s). */
const FOLLOW_WAIT_MS = 25_000;

async function page(serve: ServeConnection, ref: string, after: number, logId: string | null, waitMs: number): Promise<LogsPage> {
  const query = new URLSearchParams({ after: String(after), ...(logId ? { log: logId } : {}), ...(waitMs > 0 ? { wait_ms: String(waitMs) } : {}) });
  const answer = await serveRequest(serve, 'GET', `/v1/plugins/${encodeURIComponent(ref)}/logs?${query}`, undefined, waitMs + 30_000);
  if (!answer) throw new CommandFailure(`the running serve (${serve.url}) stopped answering`, 'serve_refused');
  if (answer.status === 404) throw new CommandFailure(`plugin \`${ref}\` is not enabled in this workspace`, 'not_enabled');
  if (answer.status !== 200) throw new CommandFailure(`serve refused: ${JSON.stringify(answer.json).slice(0, 300)}`, 'serve_refused');
  return answer.json as LogsPage;
}

function printLines(io: CliIo, logs: LogsPage, json: boolean): void {
  if (json) {
    // --follow --json: one JSON document per line (a line, or how many the ring dropped before them)
    if (logs.restarted) io.stdout(JSON.stringify({ restarted: true, log_id: logs.log_id }) + '\n');
    if (logs.missed > 0) io.stdout(JSON.stringify({ missed: logs.missed }) + '\n');
    for (const line of logs.lines) io.stdout(JSON.stringify(line) + '\n');
    return;
  }
  if (logs.restarted) io.stdout('[serve restarted: its log starts again]\n');
  if (logs.missed > 0) io.stdout(`[${logs.missed} line(s) were pushed out of the bounded log before they were read]\n`);
  for (const line of logs.lines) io.stdout(`${line.at} ${line.stream} ${escapeTerminal(line.text)}\n`);
}

/**
 * `yoi plugin logs <ref> [--follow]`: the plugin's guest output (its bounded log) from the
 * running serve. `--follow` keeps reading (long polls, resumed by sequence number, so no line
 * is shown twice and every line the ring dropped in between is counted) until serve stops or
 * the command is interrupted. Without serve nothing runs: it shows what the last serve wrote to
 * `.yoi/logs/` (serve/log-file.ts), and says so; `--follow` needs a running serve.
 */
export async function runLogs(io: CliIo, ref: string, options: LogsOptions): Promise<void> {
  if (!parsePluginRef(ref).ok) throw new UsageError('the plugin ref must be source-qualified, e.g. project:example.bot');
  const stores = storeOptions(io, options);
  const discovery = await discoverServe(stores.workspace);
  reportVia(io, discovery.serve ? 'serve' : 'in-process', discovery, options.json);
  if (!discovery.serve) {
    const host = await PluginHost.fromWorkspace(stores, { cacheDir: defaultCacheDir(io.env) });
    const enabled = host.runtimes.has(ref);
    await host.close();
    if (!enabled) throw new CommandFailure(`plugin \`${ref}\` is not enabled in this workspace`, 'not_enabled');
    const persisted = await readPersistedLog(stores.workspace, ref);
    const where = logFilePaths(stores.workspace, ref).current;
    const note =
      persisted.files.length > 0
        ? `no serve is running for this workspace: these are the lines the last serve wrote to ${where}`
        : `no serve is running for this workspace, and no serve has written this plugin's output to ${where} yet: start \`yoi plugin serve\``;
    if (options.follow) throw new CommandFailure(`no serve is running for this workspace: start \`yoi plugin serve\` to follow the log (the last serve's lines are in ${where})`, 'failed');
    if (options.json) printJson(io, { command: 'logs', status: 'ok', via: 'in-process', plugin: ref, live: false, source: 'file', files: persisted.files, lines: persisted.lines, missed: persisted.missed, note });
    else {
      io.stderr(term`yoi: ${note}` + '\n');
      if (persisted.missed > 0) io.stdout(`[${persisted.missed} line(s) were pushed out of the bounded log before serve wrote them]\n`);
      for (const line of persisted.lines) io.stdout(`${line.at} ${line.stream} ${escapeTerminal(line.text)}\n`);
    }
    return;
  }
  const serve = discovery.serve;
  let logs = await page(serve, ref, 0, null, 0);
  if (!options.follow) {
    if (options.json) printJson(io, { command: 'logs', status: 'ok', via: 'serve', live: true, ...logs });
    else printLines(io, logs, false);
    return;
  }
  const interrupted = new Promise<null>((resolve) => {
    process.once('SIGINT', () => resolve(null));
    process.once('SIGTERM', () => resolve(null));
  });
  for (;;) {
    printLines(io, logs, options.json === true);
    const next = await Promise.race([page(serve, ref, logs.next, logs.log_id, FOLLOW_WAIT_MS).catch((error: unknown) => error as Error), interrupted]);
    if (next === null) return;
    if (next instanceof Error) {
      if (next instanceof CommandFailure && next.code === 'serve_refused') {
        io.stderr('yoi: serve stopped; no more log lines\n');
        return;
      }
      throw next;
    }
    logs = next;
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { pluginRuntimeOf, type PluginHost } from '../host.js';
import type { GuestLogLine } from '../runtime/guest-log.js';

/** The longest a `wait_ms` long poll is held open. */
const LOGS_MAX_WAIT_MS = 30_000;

/** `GET /v1/plugins/:ref/logs` answers with this. */
export interface LogsPage {
  readonly plugin: string;
  /** Names the ring the sequence numbers belong to; it changes when serve restarts. */
  readonly log_id: string;
  readonly lines: readonly GuestLogLine[];
  /** Ask with `after=<next>` for the lines after these. */
  readonly next: number;
  /** Lines after `after` the bounded ring pushed out before they were read. */
  readonly missed: number;
  /** True when `log` named another ring (serve restarted): the page starts at the oldest kept line. */
  readonly restarted: boolean;
  /** Lines the ring ever pushed out, and guest output bytes dropped over the per-call budget. */
  readonly dropped_total: number;
  readonly budget_dropped_bytes: number;
}

function count(value: string | null, max: number): number {
  const n = Number(value ?? 0);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, max) : 0;
}

/**
 * `GET /v1/plugins/:ref/logs?after=SEQ&log=ID&wait_ms=N&limit=N`: the plugin's guest log lines
 * after SEQ. With `wait_ms`, an empty answer waits up to that long for a line (long poll), so
 * a follower gets every line once, in order, and learns how many the ring dropped in between.
 * Returns false when the path is not this route.
 */
export async function routeLogs(host: PluginHost, req: IncomingMessage, res: ServerResponse, url: URL, parts: readonly string[], shutdown: AbortSignal): Promise<boolean> {
  if (req.method !== 'GET' || parts[0] !== 'v1' || parts[1] !== 'plugins' || parts[3] !== 'logs' || parts.length !== 4) return false;
  const ref = parts[2]!;
  const runtime = pluginRuntimeOf(host, ref);
  if (!runtime) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'plugin is not enabled in this workspace' } }));
    return true;
  }
  const log = runtime.log;
  const named = url.searchParams.get('log');
  const restarted = named !== null && named !== log.id;
  const after = restarted ? 0 : count(url.searchParams.get('after'), Number.MAX_SAFE_INTEGER);
  const limit = count(url.searchParams.get('limit'), log.maxLines) || log.maxLines;
  const waitMs = count(url.searchParams.get('wait_ms'), LOGS_MAX_WAIT_MS);
  if (waitMs > 0 && !shutdown.aborted && log.since(after, 1).lines.length === 0) {
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), waitMs);
    const gone = () => stop.abort();
    res.once('close', gone);
    shutdown.addEventListener('abort', gone, { once: true });
    try {
      await log.waitFor(after, stop.signal);
    } finally {
      clearTimeout(timer);
      res.off('close', gone);
      shutdown.removeEventListener('abort', gone);
    }
    if (res.destroyed) return true;
  }
  const slice = log.since(after, limit);
  const page: LogsPage = { plugin: ref, log_id: log.id, lines: slice.lines, next: slice.next, missed: slice.dropped, restarted, dropped_total: log.dropped, budget_dropped_bytes: log.budgetDroppedBytes };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(page));
  return true;
}

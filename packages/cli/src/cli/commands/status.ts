import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import type { PluginStatus } from '@yoi-plugins/host/internal/status/status.js';
import { CommandFailure, printJson, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { defaultCacheDir } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import { term } from '../terminal.js';
import { withWorkspaceJournal } from './workspace-journal.js';
import { discoverServe, reportVia, serveRequest, type Discovery } from '../serve-client.js';

/** Status from the running `serve` when there is one, else what can be known without running plugins. */
type ShownStatus = PluginStatus & { readonly waiting_in_journal?: number; readonly cluster?: ClusterShown };

/** Several serve hosts: the plugin's owner and where its figures come from (serve's `withClusterView`). */
interface ClusterShown {
  readonly owner: string | null;
  readonly here: boolean;
  readonly lease_age_ms: number | null;
  readonly figures_from: string | null;
  readonly figures_age_ms: number | null;
  readonly stale: boolean | null;
}

function clusterLine(c: ClusterShown): string {
  const owner = c.owner === null ? 'no host holds its lease' : `owner ${c.owner}${c.here ? ' (this host)' : ''}, lease age ${((c.lease_age_ms ?? 0) / 1000).toFixed(1)} s`;
  const figures = c.here ? '' : c.figures_from === null ? '; no figures published by its owner (these are this host’s idle copy)' : `; figures from ${c.figures_from}, ${((c.figures_age_ms ?? 0) / 1000).toFixed(1)} s old${c.stale ? ' (STALE: its host may be gone or stalled)' : ''}`;
  return `    cluster: ${owner}${figures}`;
}

async function collect(io: CliIo, options: CommonOptions, ref: string | undefined, discovery: Discovery): Promise<{ source: 'serve' | 'offline'; plugins: ShownStatus[] }> {
  const stores = storeOptions(io, options);
  const live = discovery.serve ? await serveRequest(discovery.serve, 'GET', `/v1/status${ref ? `/${encodeURIComponent(ref)}` : ''}`, undefined, 30_000) : null;
  if (live?.status === 200) return { source: 'serve', plugins: (live.json as { plugins: PluginStatus[] }).plugins };
  if (live?.status === 404) throw new CommandFailure(`plugin \`${ref}\` is not enabled in this workspace`, 'not_enabled');
  const host = await PluginHost.fromWorkspace(stores, { cacheDir: defaultCacheDir(io.env) });
  try {
    const statuses = host.status(ref);
    if (ref && statuses.length === 0) throw new CommandFailure(`plugin \`${ref}\` is not enabled in this workspace`, 'not_enabled');
    // Dead letters and events waiting are in the workspace journal (read without running anything).
    const kept = await withWorkspaceJournal(
      stores.workspace,
      async (journal) => new Map(await Promise.all(statuses.map(async (s) => [s.plugin, journal ? { letters: (await journal.deadLetters(s.plugin)).length, waiting: (await journal.unacked(s.plugin)).length } : { letters: 0, waiting: 0 }] as const))),
      false,
    );
    return {
      source: 'offline',
      plugins: statuses.map((s) => ({ ...s, lifecycle: s.lifecycle === 'Ready' ? 'Stopped' : s.lifecycle, dead_letters: kept.get(s.plugin)?.letters ?? 0, waiting_in_journal: kept.get(s.plugin)?.waiting ?? 0 })),
    };
  } finally {
    await host.close();
  }
}

export async function runStatus(io: CliIo, ref: string | undefined, options: CommonOptions): Promise<void> {
  const discovery = await discoverServe(storeOptions(io, options).workspace);
  const { source, plugins } = await collect(io, options, ref, discovery);
  const via = source === 'serve' ? 'serve' : 'in-process';
  reportVia(io, via, discovery, options.json);
  if (options.json) {
    printJson(io, { command: 'status', via, source, plugins });
    return;
  }
  const out = [`plugin status (${source === 'serve' ? 'from the running serve' : 'no serve is running; nothing is executing'})`];
  if (plugins.length === 0) out.push('  (no enabled plugins)');
  for (const p of plugins) {
    out.push(term`- ${p.plugin} [${p.lifecycle}] world=${p.world ?? '-'} version=${p.version} restarts=${p.restarts} dead_letters=${p.dead_letters}`);
    if (p.cluster) out.push(term`${clusterLine(p.cluster)}`);
    if (p.waiting_in_journal) out.push(term`    waiting in the journal: ${p.waiting_in_journal} accepted event(s), delivered at the next start`);
    if (p.journal?.writing === 'failing') out.push(term`    journal: writes failing (${p.journal.last_error ?? 'unknown error'}); sources held, retrying`);
    if (p.queue) out.push(term`    queue: ${p.queue.depth}/${p.queue.capacity}; held back ${Math.round(p.queue.backpressure_ms)} ms`);
    if (p.counters) out.push(term`    events: ${Object.entries(p.counters).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    if (p.requests) out.push(term`    host requests: ${p.requests.in_flight}/${p.requests.capacity} in flight; ${p.requests.waiting} waiting for a slot`);
    const discarded = Object.entries(p.discards ?? {}).filter(([, v]) => v > 0);
    out.push(term`    discarded: ${discarded.length === 0 ? 'nothing' : discarded.map(([k, v]) => `${k}=${v}`).join(' ')}`);
    if (p.last_event) out.push(term`    last event: ${p.last_event.kind} on ${p.last_event.ingress} at ${p.last_event.at}`);
    for (const t of p.timers) out.push(term`    timer ${t.timer_id}: next ${t.next_at}${t.interval_ms ? ` every ${t.interval_ms} ms` : ''}; fired ${t.fired}`);
    for (const c of p.websocket_connections) out.push(term`    websocket: ${JSON.stringify(c)}`);
    if (p.last_error) out.push(term`    last error: ${p.last_error}`);
  }
  io.stdout(out.join('\n') + '\n');
}

import { PluginError } from '../errors.js';
import { pluginRuntimeOf, type PluginHost } from '../host.js';
import type { JsonValue } from '../manifest/types.js';
import type { GuestLogLine } from '../runtime/guest-log.js';
import type { ToolOutput } from '../tools/tool-output.js';
import type { OwnerHandler } from '../cluster/router.js';
import type { ServeStorage } from '../cluster/serve-engine.js';
import type { ClusterPluginView, PluginSummary } from '../cluster/status-board.js';
import type { PluginStatus } from '../status/status.js';
import type { Logger } from './log.js';

/** A tool call's answer through serve: the output, what the guest printed meanwhile, and (routed) the host that ran it. */
export interface ServedToolCall {
  readonly output: ToolOutput;
  readonly logs?: readonly GuestLogLine[];
  readonly logs_dropped?: number;
  readonly host?: string;
}

/** What dead-letter replay or drop did. */
type DlqOutcome = { readonly dropped: number } | { readonly replayed: number; readonly refused: string | null };

/** Room on the owner for its queue before the call's own deadline: a routed call waits at most this long in all. */
function routedTimeoutMs(host: PluginHost, plugin: string): number {
  const toolTimeoutMs = pluginRuntimeOf(host, plugin)?.limits.toolTimeoutMs ?? 10_000;
  return 2 * toolTimeoutMs + 2_000;
}

/** Runs a tool on this host (a bare or `<ref>/<tool>` name, or a plugin's tool), with the guest's lines printed meanwhile. */
async function callHere(host: PluginHost, plugin: string | undefined, tool: string, input: JsonValue): Promise<ServedToolCall> {
  // On a live instance, concurrent calls' lines may be among them.
  const log = pluginRuntimeOf(host, plugin ?? host.tools.get(tool)?.origin.plugin_ref ?? '')?.log;
  const mark = log?.written ?? 0;
  const output = plugin !== undefined ? await host.tools.callQualified(plugin, tool, input) : await host.tools.call(tool, input);
  const printed = log?.since(mark);
  return { output, ...(printed ? { logs: printed.lines, logs_dropped: printed.dropped } : {}) };
}

/**
 * A tool call from serve's control API or its MCP endpoint. A tool of a plugin with a service
 * (an instance-world plugin whose instance lives on one host) runs on the host owning that
 * service: here when this host holds its lease, else forwarded to the owner. Any other tool
 * (tool world) runs here. Failures are `PluginError`s (`CLUSTER_*` when routing failed).
 */
export async function callTool(host: PluginHost, storage: ServeStorage, plugin: string | undefined, tool: string, input: JsonValue): Promise<ServedToolCall> {
  const info = plugin !== undefined ? host.tools.getQualified(plugin, tool) : host.tools.get(tool);
  const ref = info?.origin.plugin_ref;
  if (!info || ref === undefined || !host.services.has(ref)) return callHere(host, plugin, tool, input);
  const routed = await storage.forward({ op: 'tool', plugin: ref, tool: info.name, input }, routedTimeoutMs(host, ref));
  if (routed.here) return callHere(host, plugin, tool, input);
  return { ...(routed.result as unknown as ServedToolCall), host: routed.owner };
}

/** Replays or drops a service's dead letters where the service runs (here, or forwarded to its owner). */
export async function changeDeadLetters(host: PluginHost, storage: ServeStorage, plugin: string, action: 'replay' | 'drop', ids: readonly string[] | 'all', log: Logger): Promise<DlqOutcome & { readonly host?: string }> {
  const routed = await storage.forward({ op: 'dlq', plugin, action, ids }, routedTimeoutMs(host, plugin));
  if (!routed.here) return { ...(routed.result as unknown as DlqOutcome), host: routed.owner };
  return deadLettersHere(host, plugin, action, ids, log);
}

async function deadLettersHere(host: PluginHost, plugin: string, action: 'replay' | 'drop', ids: readonly string[] | 'all', log: Logger): Promise<DlqOutcome> {
  const service = host.services.get(plugin);
  if (!service) throw new PluginError('PLUGIN_NOT_RUNNING', `no service for ${plugin} on this host`);
  if (action === 'drop') {
    const dropped = await service.dropDeadLetters(ids);
    log('info', 'dead letters dropped', { plugin, count: dropped });
    return { dropped };
  }
  const result = await service.replay(ids);
  log('info', 'dead letters replayed', { plugin, count: result.replayed });
  return result;
}

/** How this host answers another host's request for a plugin it owns (the router checked ownership first). */
export function ownerHandler(host: PluginHost, log: Logger): OwnerHandler {
  return async (request) => {
    if (request.op === 'tool') {
      log('info', 'routed tool call', { plugin: request.plugin, tool: request.tool });
      return { ok: true, result: (await callHere(host, request.plugin, request.tool, request.input)) as unknown as JsonValue };
    }
    return { ok: true, result: (await deadLettersHere(host, request.plugin, request.action, request.ids, log)) as unknown as JsonValue };
  };
}

/** The summaries this host publishes: the services it runs now. */
export function ownedSummaries(host: PluginHost, storage: ServeStorage): () => readonly PluginSummary[] {
  return () => {
    const here = new Set((storage.status().cluster?.plugins ?? []).filter((p) => p.here).map((p) => p.plugin));
    return host.status().filter((s) => here.has(s.plugin)).map(summaryOf);
  };
}

function summaryOf(status: PluginStatus): PluginSummary {
  const { plugin, lifecycle, restarts, dead_letters, queue, counters, discards, requests, last_event, last_error } = status;
  return { plugin, lifecycle, restarts, dead_letters, queue, counters, discards, requests, last_event, last_error };
}

/**
 * `/v1/status` on one host of several: each plugin's entry carries `cluster` (owner, lease age,
 * whether it runs here, and where its figures come from); for a service owned by another host,
 * the figures are that owner's published summary (marked `stale` when it is old) instead of
 * this host's idle copy.
 */
export function withClusterView(plugins: readonly PluginStatus[], view: readonly ClusterPluginView[] | null): readonly PluginStatus[] {
  if (view === null) return plugins;
  const byPlugin = new Map(view.map((v) => [v.plugin, v]));
  return plugins.map((status) => {
    const v = byPlugin.get(status.plugin);
    if (!v) return status;
    const cluster = { owner: v.owner, here: v.here, lease_age_ms: v.lease_age_ms, figures_from: v.here ? 'here' : (v.summary?.from ?? null), figures_age_ms: v.here ? 0 : (v.summary?.age_ms ?? null), stale: v.here ? false : (v.summary?.stale ?? null) };
    if (v.here || !v.summary) return { ...status, cluster };
    const { from: _from, age_ms: _age, stale: _stale, ...figures } = v.summary;
    return { ...status, ...figures, cluster };
  });
}

import { Counter, Gauge, type Registry } from 'prom-client';
import type { JetStreamLogStats } from '../journal/jetstream-journal.js';
import type { ClusterStatus } from './cluster-node.js';
import type { RouterCounters } from './router.js';
import type { StatusBoardCounters } from './status-board.js';
import { registerSnapshotCounters } from '../status/snapshot-counters.js';

type ServeClusterStatus = ClusterStatus & { readonly routing?: RouterCounters; readonly status_board?: StatusBoardCounters };

/**
 * The cluster's figures on a host's `/metrics` (several serve hosts on JetStream): every series
 * of the registry gets a `host` label, plus lease ownership per plugin, the lease counters and
 * the JetStream log counters. Computed from `ClusterNode.status()` at scrape time.
 */
export function clusterMetrics(registry: Registry, status: () => { readonly cluster?: ServeClusterStatus; readonly journal_log?: JetStreamLogStats }): void {
  const first = status().cluster;
  if (!first) return;
  registry.setDefaultLabels({ host: first.host_id });
  new Gauge({
    name: 'yoi_cluster_plugin_owned',
    help: 'Whether this host holds the lease of each plugin (and runs its service) now.',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of status().cluster?.plugins ?? []) this.set({ plugin: p.plugin }, p.here ? 1 : 0);
    },
  });
  new Gauge({
    name: 'yoi_cluster_live_hosts',
    help: 'Hosts of this workspace seen alive in the last placement round.',
    registers: [registry],
    collect() {
      this.set(status().cluster?.live_hosts.length ?? 0);
    },
  });
  registerSnapshotCounters(registry, [
    ['yoi_cluster_leases_acquired_total', 'Plugin leases this host took.', () => status().cluster?.counters.acquired],
    ['yoi_cluster_leases_lost_total', 'Plugin leases this host lost (not renewed in time, taken, or fenced); their services stopped here.', () => status().cluster?.counters.lost],
    ['yoi_cluster_leases_handed_off_total', 'Plugins this host handed to the host placement put them on.', () => status().cluster?.counters.handed_off],
    ['yoi_cluster_lease_renew_failures_total', 'Lease renewals without an answer from NATS.', () => status().cluster?.counters.renew_failures],
  ]);
  routingMetrics(registry, () => status().cluster);
  const logCount = (field: keyof JetStreamLogStats) => () => {
    const value = status().journal_log?.[field];
    return typeof value === 'number' ? value : 0;
  };
  registerSnapshotCounters(registry, [
    ['yoi_journal_conflicts_total', 'Writes refused because the plugin log changed on the server (read again).', logCount('conflicts')],
    ['yoi_journal_fenced_total', 'Writes refused because another host owns the plugin log.', logCount('fenced')],
    ['yoi_journal_unconfirmed_total', 'Writes the server did not acknowledge in time.', logCount('unconfirmed')],
    ['yoi_journal_compactions_total', 'Plugin logs rewritten as one snapshot.', logCount('compactions')],
  ]);
}

/** Routed requests (tool calls and dead-letter changes run on the owning host) and the status board's publishing. */
function routingMetrics(registry: Registry, cluster: () => ServeClusterStatus | undefined): void {
  registerSnapshotCounters(registry, [
    ['yoi_cluster_routed_requests_total', 'Requests this host sent to the host owning the plugin (instance-world tool calls, dead-letter replay/drop).', () => cluster()?.routing?.forwarded],
    ['yoi_cluster_routed_served_total', 'Requests this host ran for another host (it owned the plugin).', () => cluster()?.routing?.served],
    ['yoi_cluster_route_late_replies_total', 'Routed requests answered after the sender’s deadline (the sender had reported CLUSTER_OWNER_TIMEOUT).', () => cluster()?.routing?.late_replies],
    ['yoi_cluster_route_replies_too_large_total', 'Routed replies over their bound, replaced by a CLUSTER_ROUTE_FAILED error.', () => cluster()?.routing?.replies_too_large],
    ['yoi_cluster_status_publish_failures_total', 'Failed puts of this host’s entry on the cluster status board.', () => cluster()?.status_board?.publish_failures],
    ['yoi_cluster_status_summaries_omitted_total', 'Plugin summaries left out of this host’s status board entry (over its bound).', () => cluster()?.status_board?.summaries_omitted],
  ]);
  new Counter({
    name: 'yoi_cluster_route_refused_total',
    help: 'Routed requests this host refused: not_owner (it does not own the plugin; the sender asks again) or busy (too many running).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      const routing = cluster()?.routing;
      this.inc({ reason: 'not_owner' }, routing?.refused_not_owner ?? 0);
      this.inc({ reason: 'busy' }, routing?.refused_busy ?? 0);
    },
  });
  new Counter({
    name: 'yoi_cluster_route_failures_total',
    help: 'Requests this host routed that failed, by code (CLUSTER_NO_OWNER, CLUSTER_OWNER_TIMEOUT, CLUSTER_ROUTE_FAILED, or the owner’s error code).',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, count] of Object.entries(cluster()?.routing?.forward_failures ?? {})) this.inc({ code }, count);
    },
  });
}

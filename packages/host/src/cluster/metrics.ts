import { Counter, Gauge, type Registry } from 'prom-client';
import type { JetStreamLogStats } from '../journal/jetstream-journal.js';
import type { ClusterStatus } from './cluster-node.js';
import type { RouterCounters } from './router.js';
import type { StatusBoardCounters } from './status-board.js';

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
  const counters: [keyof ClusterStatus['counters'], string, string][] = [
    ['acquired', 'yoi_cluster_leases_acquired_total', 'Plugin leases this host took.'],
    ['lost', 'yoi_cluster_leases_lost_total', 'Plugin leases this host lost (not renewed in time, taken, or fenced); their services stopped here.'],
    ['handed_off', 'yoi_cluster_leases_handed_off_total', 'Plugins this host handed to the host placement put them on.'],
    ['renew_failures', 'yoi_cluster_lease_renew_failures_total', 'Lease renewals without an answer from NATS.'],
  ];
  for (const [field, name, help] of counters) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(status().cluster?.counters[field] ?? 0);
      },
    });
  }
  routingMetrics(registry, () => status().cluster);
  const log: [keyof JetStreamLogStats, string, string][] = [
    ['conflicts', 'yoi_journal_conflicts_total', 'Writes refused because the plugin log changed on the server (read again).'],
    ['fenced', 'yoi_journal_fenced_total', 'Writes refused because another host owns the plugin log.'],
    ['unconfirmed', 'yoi_journal_unconfirmed_total', 'Writes the server did not acknowledge in time.'],
    ['compactions', 'yoi_journal_compactions_total', 'Plugin logs rewritten as one snapshot.'],
  ];
  for (const [field, name, help] of log) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const value = status().journal_log?.[field];
        this.inc(typeof value === 'number' ? value : 0);
      },
    });
  }
}

/** Routed requests (tool calls and dead-letter changes run on the owning host) and the status board's publishing. */
function routingMetrics(registry: Registry, cluster: () => ServeClusterStatus | undefined): void {
  const counters: [string, string, (c: ServeClusterStatus) => number | undefined][] = [
    ['yoi_cluster_routed_requests_total', 'Requests this host sent to the host owning the plugin (instance-world tool calls, dead-letter replay/drop).', (c) => c.routing?.forwarded],
    ['yoi_cluster_routed_served_total', 'Requests this host ran for another host (it owned the plugin).', (c) => c.routing?.served],
    ['yoi_cluster_route_late_replies_total', 'Routed requests answered after the sender’s deadline (the sender had reported CLUSTER_OWNER_TIMEOUT).', (c) => c.routing?.late_replies],
    ['yoi_cluster_route_replies_too_large_total', 'Routed replies over their bound, replaced by a CLUSTER_ROUTE_FAILED error.', (c) => c.routing?.replies_too_large],
    ['yoi_cluster_status_publish_failures_total', 'Failed puts of this host’s entry on the cluster status board.', (c) => c.status_board?.publish_failures],
    ['yoi_cluster_status_summaries_omitted_total', 'Plugin summaries left out of this host’s status board entry (over its bound).', (c) => c.status_board?.summaries_omitted],
  ];
  for (const [name, help, read] of counters) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const c = cluster();
        this.inc((c && read(c)) ?? 0);
      },
    });
  }
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

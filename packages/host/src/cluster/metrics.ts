import { Counter, Gauge, type Registry } from 'prom-client';
import type { JetStreamLogStats } from '../journal/jetstream-journal.js';
import type { ClusterStatus } from './cluster-node.js';

/**
 * The cluster's figures on a host's `/metrics` (several serve hosts on JetStream): every series
 * of the registry gets a `host` label, plus lease ownership per plugin, the lease counters and
 * the JetStream log counters. Computed from `ClusterNode.status()` at scrape time.
 */
export function clusterMetrics(registry: Registry, status: () => { readonly cluster?: ClusterStatus; readonly journal_log?: JetStreamLogStats }): void {
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

import { Counter, Gauge, Registry } from 'prom-client';
import { LIFECYCLE_STATES } from '../service/lifecycle.js';
import { backgroundRewriteFailures } from '../sandbox/component-loader.js';
import type { JournalStats } from '../journal/journal.js';
import type { PluginStatus } from '../status/status.js';

type JournalStatus = { readonly engine: string; readonly writing: 'ok' | 'failing' } & JournalStats;

/** The journal's own figures: writes, failures, latency. */
function journalMetrics(registry: Registry, journal: () => JournalStatus): void {
  const counters: [keyof JournalStats, string, string][] = [
    ['appended', 'yoi_journal_events_appended_total', 'Events accepted into the journal.'],
    ['commits', 'yoi_journal_commits_total', 'Transactions committed.'],
    ['write_errors', 'yoi_journal_write_errors_total', 'Writes the journal could not make durable (each is retried; the service is Degraded meanwhile).'],
    ['flushes', 'yoi_journal_flushes_total', 'Durable writes (group commits).'],
    ['dead_letters_evicted', 'yoi_journal_dead_letters_evicted_total', 'Dead letters evicted to stay within the bounds.'],
  ];
  for (const [field, name, help] of counters) {
    new Counter({
      name,
      help,
      labelNames: ['engine'],
      registers: [registry],
      collect() {
        this.reset();
        const j = journal();
        const value = j[field];
        if (typeof value === 'number') this.inc({ engine: j.engine }, value);
      },
    });
  }
  new Gauge({
    name: 'yoi_journal_writing',
    help: 'Whether journal writes work (1) or fail and are being retried (0).',
    labelNames: ['engine'],
    registers: [registry],
    collect() {
      this.reset();
      const j = journal();
      this.set({ engine: j.engine }, j.writing === 'ok' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'yoi_journal_commit_latency_seconds',
    help: 'Durable-write latency of recent appends and commits.',
    labelNames: ['engine', 'quantile'],
    registers: [registry],
    collect() {
      this.reset();
      const j = journal();
      this.set({ engine: j.engine, quantile: '0.5' }, j.commit_p50_us / 1e6);
      this.set({ engine: j.engine, quantile: '0.99' }, j.commit_p99_us / 1e6);
    },
  });
}

/** Counters of each host-owned WebSocket connection (driver status fields) exported as `yoi_plugin_websocket_<field>_total`. */
const CONNECTION_COUNTERS: Readonly<Record<string, string>> = {
  frames_in: 'Frames read from the socket.',
  frames_out: 'Frames sent.',
  events_delivered: 'Events the service accepted from the connection.',
  send_failures: 'websocket_send commands that failed.',
  reconnects: 'Reconnects.',
  pauses: 'Times reading paused at the inbox high-water mark.',
  resumes: 'Times reading resumed at the inbox low-water mark.',
  binary_dropped: 'Binary frames skipped (the ingress does not declare websocket_binary).',
  skipped_undeclared: 'Events skipped (the ingress does not declare their kind).',
  refused: 'Events the service refused.',
  stale_frames: 'Frames of a socket already let go.',
  stale_sends: 'websocket_send commands refused because the socket whose event asked for them was replaced.',
  drops: 'Events lost outside any declared policy (refused + stale frames).',
  inbox_safety_closes: 'Connections closed because the inbox hit its byte safety limit.',
};

const CONNECTION_GAUGES: Readonly<Record<string, string>> = {
  inbox_depth: 'Events read and waiting for the service.',
  inbox_bytes: 'Estimated bytes of the events waiting in the inbox.',
  inbox_peak: 'Most events that ever waited in the inbox.',
};

/**
 * Prometheus metrics, computed from the status model at scrape time (the status model is
 * the single source; nothing here counts on its own).
 */
export function createMetrics(status: () => readonly PluginStatus[], journal?: () => JournalStatus): Registry {
  const registry = new Registry();
  if (journal) journalMetrics(registry, journal);
  new Counter({
    name: 'yoi_sandbox_background_rewrite_failures_total',
    help: "Background rewrites of a large guest's modules for in-thread execution that failed (the guest keeps running in a worker; the next start retries and logs why).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(backgroundRewriteFailures());
    },
  });
  const each = (fn: (s: PluginStatus) => void) => {
    for (const s of status()) fn(s);
  };
  new Gauge({
    name: 'yoi_plugin_lifecycle_state',
    help: 'Lifecycle state of each plugin (1 for the current state).',
    labelNames: ['plugin', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => {
        for (const state of LIFECYCLE_STATES) this.set({ plugin: s.plugin, state }, s.lifecycle === state ? 1 : 0);
      });
    },
  });
  new Counter({
    name: 'yoi_plugin_restarts_total',
    help: 'Instance restarts after traps, deadline overruns or failed status.',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => this.inc({ plugin: s.plugin }, s.restarts));
    },
  });
  new Counter({
    name: 'yoi_plugin_ingress_events_total',
    help: 'Ingress events by outcome: enqueued, dispatched, retried, failed, timed_out, dead_lettered, dropped, rejected.',
    labelNames: ['plugin', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => {
        for (const [outcome, value] of Object.entries(s.counters ?? {})) this.inc({ plugin: s.plugin, outcome }, value);
      });
    },
  });
  new Gauge({
    name: 'yoi_plugin_queue_depth',
    help: 'Events waiting in the ingress queue.',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => s.queue && this.set({ plugin: s.plugin }, s.queue.depth));
    },
  });
  new Gauge({
    name: 'yoi_plugin_queue_capacity',
    help: 'Capacity of the ingress queue.',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => s.queue && this.set({ plugin: s.plugin }, s.queue.capacity));
    },
  });
  new Counter({
    name: 'yoi_plugin_backpressure_seconds_total',
    help: 'Time sources were held back because the ingress queue was full.',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => s.queue && this.inc({ plugin: s.plugin }, s.queue.backpressure_ms / 1000));
    },
  });
  const POOL_COUNTERS = [
    ['hits', 'Tool calls that got a fresh instance ready in the pool (in-thread tool world).'],
    ['misses', 'Tool calls that found no ready instance and made their own inside their deadline.'],
    ['prepared', 'Fresh instances made ahead of a call.'],
    ['failures', 'Fresh instances that failed to be made ahead (the next call makes its own).'],
    ['drained', 'Ready instances discarded unused when their sandbox closed (unload, reload, stop).'],
  ] as const;
  for (const [field, help] of POOL_COUNTERS) {
    new Counter({
      name: `yoi_plugin_instance_pool_${field}_total`,
      help,
      labelNames: ['plugin'],
      registers: [registry],
      collect() {
        this.reset();
        each((s) => s.instance_pool && this.inc({ plugin: s.plugin }, s.instance_pool[field]));
      },
    });
  }
  const POOL_GAUGES = [
    ['ready', 'Fresh instances ready for the next tool calls.'],
    ['bytes', 'Linear memory held by the ready instances.'],
  ] as const;
  for (const [field, help] of POOL_GAUGES) {
    new Gauge({
      name: `yoi_plugin_instance_pool_${field}`,
      help,
      labelNames: ['plugin'],
      registers: [registry],
      collect() {
        this.reset();
        each((s) => s.instance_pool && this.set({ plugin: s.plugin }, s.instance_pool[field]));
      },
    });
  }
  new Gauge({
    name: 'yoi_plugin_dead_letters',
    help: 'Events in the dead-letter store.',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => this.set({ plugin: s.plugin }, s.dead_letters));
    },
  });
  new Counter({
    name: 'yoi_plugin_discarded_total',
    help: 'Work discarded, by where: queue drop policy, rejected commands, skipped timer ticks, evicted dead letters, ring buffers, guest log budget, WebSocket inbox.',
    labelNames: ['plugin', 'what'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => {
        for (const [what, value] of Object.entries(s.discards)) this.inc({ plugin: s.plugin, what }, value);
      });
    },
  });
  new Gauge({
    name: 'yoi_plugin_requests_in_flight',
    help: 'Host requests in flight (host_request_dispatch).',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => s.requests && this.set({ plugin: s.plugin }, s.requests.in_flight));
    },
  });
  new Gauge({
    name: 'yoi_plugin_requests_waiting',
    help: 'Output commands waiting for a host request slot (the queue and its sources are held meanwhile).',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => s.requests && this.set({ plugin: s.plugin }, s.requests.waiting));
    },
  });
  const connections = (fn: (plugin: string, connection: Record<string, unknown>, id: string) => void) =>
    each((s) => {
      for (const c of s.websocket_connections) fn(s.plugin, c as Record<string, unknown>, String((c as Record<string, unknown>)['id'] ?? 'websocket'));
    });
  for (const [field, help] of Object.entries(CONNECTION_COUNTERS)) {
    new Counter({
      name: `yoi_plugin_websocket_${field}_total`,
      help,
      labelNames: ['plugin', 'connection'],
      registers: [registry],
      collect() {
        this.reset();
        connections((plugin, c, id) => typeof c[field] === 'number' && this.inc({ plugin, connection: id }, c[field]));
      },
    });
  }
  for (const [field, help] of Object.entries(CONNECTION_GAUGES)) {
    new Gauge({
      name: `yoi_plugin_websocket_${field}`,
      help,
      labelNames: ['plugin', 'connection'],
      registers: [registry],
      collect() {
        this.reset();
        connections((plugin, c, id) => typeof c[field] === 'number' && this.set({ plugin, connection: id }, c[field]));
      },
    });
  }
  new Counter({
    name: 'yoi_plugin_websocket_paused_seconds_total',
    help: 'Time reading was paused for backpressure.',
    labelNames: ['plugin', 'connection'],
    registers: [registry],
    collect() {
      this.reset();
      connections((plugin, c, id) => typeof c['paused_ms'] === 'number' && this.inc({ plugin, connection: id }, c['paused_ms'] / 1000));
    },
  });
  new Gauge({
    name: 'yoi_plugin_websocket_connected',
    help: 'Whether the connection is connected (1) or not (0).',
    labelNames: ['plugin', 'connection'],
    registers: [registry],
    collect() {
      this.reset();
      connections((plugin, c, id) => this.set({ plugin, connection: id }, c['state'] === 'Connected' ? 1 : 0));
    },
  });
  new Counter({
    name: 'yoi_plugin_timer_ticks_late_total',
    help: 'Timer ticks that fired late (their time passed while the service was stopped or the host was down).',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => this.inc({ plugin: s.plugin }, s.timer_ticks_late ?? 0));
    },
  });
  new Gauge({
    name: 'yoi_plugin_timers',
    help: 'Active host timers.',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      each((s) => this.set({ plugin: s.plugin }, s.timers.length));
    },
  });
  return registry;
}

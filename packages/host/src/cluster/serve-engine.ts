import type { Journal } from '../journal/journal.js';
import type { JetStreamLogStats } from '../journal/jetstream-journal.js';
import type { Logger } from '../serve/log.js';
import type { ServiceEffects } from '../service/plugin-service.js';
import type { ServiceGate } from '../reload/service-gate.js';
import type { ClusterNode, ClusterStatus, PlacedService } from './cluster-node.js';
import type { OwnerHandler, OwnerRequest, RouterCounters } from './router.js';
import type { ClusterPluginView, PluginSummary, StatusBoard, StatusBoardCounters } from './status-board.js';
import type { JsonValue } from '../manifest/types.js';
import { readServeConfig, type ServeConfigOverrides } from './serve-config.js';

/** The services of a host, as serve hands them to the engine. */
interface ServiceSet {
  readonly services: ReadonlyMap<string, PlacedService>;
  startServices(): Promise<{ plugin: string; error: string }[]>;
}

/** What serve keeps its work in, and who decides which services run here. */
export interface ServeStorage {
  readonly journal: Journal;
  /** `lmdb`, `jetstream` or `embedder` (a journal the embedder passed in). */
  readonly kind: 'lmdb' | 'jetstream' | 'embedder';
  /** Where: the LMDB directory or the NATS servers (without credentials). */
  readonly where: string | null;
  /** Effects serve adds to its services (`mayAct` when several hosts share the workspace). */
  readonly effects: Pick<ServiceEffects, 'mayAct'>;
  /** Starts the services this host runs: all of them, or (several hosts) those whose lease it wins, as it wins them. */
  startServices(set: ServiceSet): Promise<{ plugin: string; error: string }[]>;
  /** Extra fields of `/v1/status`: the cluster view and the JetStream log counters. */
  status(): { readonly cluster?: ClusterStatus & { readonly routing: RouterCounters; readonly status_board: StatusBoardCounters }; readonly journal_log?: JetStreamLogStats };
  /**
   * Several hosts: every plugin with its owner and the owner's published status summary (the
   * cluster's one view, read from the status board); null on one host.
   */
  clusterView(): Promise<ClusterPluginView[] | null>;
  /**
   * Runs `request` where its plugin is owned: `{ here: true }` when that is this host (one host:
   * always), else the owner's result (`PluginError` with `CLUSTER_*` or the owner's code on failure).
   */
  forward(request: OwnerRequest, timeoutMs: number): Promise<{ readonly here: true } | { readonly here: false; readonly owner: string; readonly result: JsonValue }>;
  /**
   * Several hosts: answers the other hosts' requests with `handler` and publishes `summaries()`
   * to the status board. `started(plugin)` says whether the service runs here yet: a host that
   * just took a plugin over answers calls only once its service started (until then callers
   * ask again), so a call never brings up an instance the service did not start.
   */
  attach(handler: OwnerHandler, summaries: () => readonly PluginSummary[], started: (plugin: string) => boolean): Promise<void>;
  /** Reads a plugin's records again when another host owns (and writes) them, before the control API lists them. */
  refresh(plugin: string): Promise<void>;
  /** The host that runs the plugin when it is not this one (`"none"` when no host holds its lease), else null. */
  ownedElsewhere(plugin: string): string | null;
  /** Before the services stop for good (serve is stopping): take no more work. */
  quiesce(): void;
  /** Where a hot reload may start services (several hosts: the lease owner only); absent on one host. */
  readonly serviceGate?: ServiceGate;
  /** After the services stopped: release leases, close what this opened. */
  close(): Promise<void>;
}

export interface ServeStorageOptions extends ServeConfigOverrides {
  readonly workspace: string;
  /** An embedder's journal: used as it is (one host), never closed here. */
  readonly journal?: Journal;
  readonly deadLetterCount: number;
  readonly log: Logger;
}

function redact(servers: readonly string[]): string {
  return servers.map((url) => url.replace(/\/\/[^@/]*@/, '//***@')).join(', ');
}

/**
 * Opens serve's storage from `.yoi/serve.toml` and the command line: the embedded LMDB journal
 * (default), or JetStream shared with the other hosts of the workspace, with leases deciding
 * which host runs each service. The native LMDB binding and the NATS clients load only when used.
 */
export async function openServeStorage(options: ServeStorageOptions): Promise<ServeStorage> {
  const single = (journal: Journal, kind: ServeStorage['kind'], where: string | null, close: () => Promise<void>): ServeStorage => ({
    journal,
    kind,
    where,
    effects: {},
    startServices: (set) => set.startServices(),
    status: () => ({}),
    clusterView: async () => null,
    forward: async () => ({ here: true }),
    attach: async () => undefined,
    refresh: async () => undefined,
    ownedElsewhere: () => null,
    quiesce: () => undefined,
    close,
  });
  if (options.journal) return single(options.journal, 'embedder', null, async () => undefined);
  const config = await readServeConfig(options.workspace, options);
  const limits = { deadLetterCount: options.deadLetterCount };
  if (config.engine.kind === 'lmdb') {
    const { journalDir, openLmdbJournal } = await import('../journal/lmdb-journal.js');
    const dir = journalDir(options.workspace);
    const journal = await openLmdbJournal({ dir, limits });
    return single(journal, 'lmdb', dir, () => journal.close());
  }
  const { servers } = config.engine;
  const { openJetStreamJournal } = await import('../journal/jetstream-journal.js');
  const { ClusterNode } = await import('./cluster-node.js');
  const { OwnerRouter } = await import('./router.js');
  const { StatusBoard: Board, clusterView } = await import('./status-board.js');
  const journal = await openJetStreamJournal({ servers, prefix: config.cluster.prefix, replicas: config.cluster.replicas, requireClaims: true, writer: config.cluster.hostId, limits });
  let node: ClusterNode;
  try {
    node = await ClusterNode.open(config.cluster, servers, journal, options.log);
  } catch (error) {
    await journal.close();
    throw error;
  }
  const cluster = config.cluster;
  let started: (plugin: string) => boolean = () => false;
  const router = new OwnerRouter(node.connection, cluster.prefix, node.hostId, { lease: (plugin) => node.leaseOf(plugin), mayAct: (plugin) => node.mayAct(plugin) && started(plugin) }, options.log);
  let board: StatusBoard;
  try {
    board = await Board.open(node.connection, cluster.prefix, { hostId: node.hostId, everyMs: cluster.renewMs, ttlMs: Math.max(3 * cluster.leaseTtlMs, 10 * cluster.renewMs), replicas: cluster.replicas, timeoutMs: Math.max(1000, Math.min(5000, cluster.leaseTtlMs)), log: options.log });
  } catch (error) {
    await node.close();
    await journal.close();
    throw error;
  }
  options.log('info', 'cluster joined', { host_id: node.hostId, prefix: config.cluster.prefix, lease_ttl_ms: config.cluster.leaseTtlMs, servers: redact(servers) });
  return {
    journal,
    kind: 'jetstream',
    where: redact(servers),
    effects: { mayAct: (plugin) => node.mayAct(plugin) },
    async startServices(set) {
      await node.start(set.services);
      return [];
    },
    status: () => ({ cluster: { ...node.status(), routing: router.counters(), status_board: board.counters() }, journal_log: journal.logStats() }),
    clusterView: async () => clusterView(node.status().plugins, await board.read()),
    forward: (request, timeoutMs) => router.forward(request, timeoutMs),
    async attach(handler, summaries, isStarted) {
      started = isStarted;
      await router.serve(handler);
      board.start(summaries);
    },
    refresh: async (plugin) => {
      if (!node.mayAct(plugin)) await journal.refresh(plugin);
    },
    ownedElsewhere: (plugin) => (node.mayAct(plugin) ? null : (node.status().plugins.find((p) => p.plugin === plugin)?.owner ?? 'none')),
    quiesce: () => node.quiesce(),
    serviceGate: (plugin, change) => node.exclusive(plugin, change),
    async close() {
      await router.close();
      await board.stop();
      await node.close();
      await journal.close();
    },
  };
}

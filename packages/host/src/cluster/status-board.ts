import type { NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import { loadNatsClients } from '../journal/nats-clients.js';
import type { PluginStatus } from '../status/status.js';
import type { Logger } from '../serve/log.js';

/** What a host publishes about a plugin it runs: enough for the cluster's one view. */
export type PluginSummary = Pick<PluginStatus, 'plugin' | 'lifecycle' | 'restarts' | 'dead_letters' | 'queue' | 'counters' | 'discards' | 'requests' | 'last_event' | 'last_error'>;

/** One host's entry in `<prefix>_status`. */
interface BoardEntry {
  readonly host: string;
  readonly plugins: readonly PluginSummary[];
  /** Summaries left out to keep the entry under its bound. */
  readonly omitted: number;
}

/** A host's summaries as another host reads them. */
export interface PublishedStatus {
  readonly host: string;
  /** Since the server stored the entry (server clock against this host's: equal on one machine, skewed across machines). */
  readonly age_ms: number;
  /** Older than three publishing rounds: its host may be gone or stalled. */
  readonly stale: boolean;
  readonly plugins: readonly PluginSummary[];
  readonly omitted: number;
}

/** Publishing figures of the status board (nothing is left out silently). */
export interface StatusBoardCounters {
  /** Puts of this host's entry that failed (the previous entry stays until it expires or turns stale). */
  readonly publish_failures: number;
  /** Summaries left out of an entry to keep it under its bound. */
  readonly summaries_omitted: number;
}

/** An entry stays under this size (the server's max_payload is 1 MiB by default). */
const ENTRY_MAX_BYTES = 512 * 1024;

/**
 * The cluster's shared status board: a KV bucket `<prefix>_status` in which every host puts,
 * each round, the status summaries of the plugins it runs (one entry per host). An entry nobody
 * renews expires with the bucket's `max_age`; one older than three rounds is marked stale.
 */
export class StatusBoard {
  readonly #kv: KV;
  readonly #hostId: string;
  readonly #everyMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  #publishing: Promise<void> = Promise.resolve();
  #failures = 0;
  #omitted = 0;

  private constructor(kv: KV, hostId: string, everyMs: number, log: Logger) {
    this.#kv = kv;
    this.#hostId = hostId;
    this.#everyMs = everyMs;
    this.#log = log;
  }

  static async open(nc: NatsConnection, prefix: string, options: { hostId: string; everyMs: number; ttlMs: number; replicas: number; timeoutMs: number; log: Logger }): Promise<StatusBoard> {
    const { jetstream, kv: kvClient } = await loadNatsClients();
    const kvm = new kvClient.Kvm(jetstream.jetstream(nc, { timeout: options.timeoutMs }));
    const name = `${prefix}_status`;
    let kv: KV;
    try {
      kv = await kvm.create(name, { ttl: options.ttlMs, history: 1, replicas: options.replicas, storage: 'memory' });
    } catch {
      kv = await kvm.open(name);
    }
    return new StatusBoard(kv, options.hostId, options.everyMs, options.log);
  }

  /** Publishes `summaries()` now and every round until `stop`. */
  start(summaries: () => readonly PluginSummary[]): void {
    const round = () => {
      this.#publishing = this.#publish(summaries()).finally(() => {
        if (this.#timer !== null) this.#timer = setTimeout(round, this.#everyMs).unref();
      });
    };
    this.#timer = setTimeout(round, 0).unref();
  }

  async #publish(all: readonly PluginSummary[]): Promise<void> {
    let plugins = all;
    let text = JSON.stringify({ host: this.#hostId, plugins, omitted: 0 } satisfies BoardEntry);
    while (Buffer.byteLength(text) > ENTRY_MAX_BYTES && plugins.length > 0) {
      plugins = plugins.slice(0, Math.floor(plugins.length / 2));
      text = JSON.stringify({ host: this.#hostId, plugins, omitted: all.length - plugins.length } satisfies BoardEntry);
    }
    if (plugins.length < all.length) {
      this.#omitted += all.length - plugins.length;
      this.#log('warn', 'status summaries left out of the cluster board (entry over its bound)', { omitted: all.length - plugins.length, limit_bytes: ENTRY_MAX_BYTES });
    }
    try {
      await this.#kv.put(this.#hostId, text);
    } catch (error) {
      this.#failures += 1;
      this.#log('warn', 'publishing the status summary failed', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** Every host's entry, as the server holds them now. */
  async read(): Promise<PublishedStatus[]> {
    const keys: string[] = [];
    for await (const key of await this.#kv.keys()) keys.push(key);
    const now = Date.now();
    const entries: PublishedStatus[] = [];
    for (const key of keys) {
      const entry = await this.#kv.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      let body: BoardEntry;
      try {
        body = entry.json<BoardEntry>();
      } catch {
        continue;
      }
      const age = Math.max(0, now - entry.created.getTime());
      entries.push({ host: body.host, age_ms: age, stale: age > 3 * this.#everyMs, plugins: body.plugins, omitted: body.omitted });
    }
    return entries;
  }

  counters(): StatusBoardCounters {
    return { publish_failures: this.#failures, summaries_omitted: this.#omitted };
  }

  /** Stops publishing and removes this host's entry (it left). */
  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#publishing;
    await this.#kv.delete(this.#hostId).catch(() => undefined);
  }
}

/** A plugin in the cluster's one view: the lease as this host saw it, and its owner's published summary. */
export interface ClusterPluginView {
  readonly plugin: string;
  readonly owner: string | null;
  readonly lease_age_ms: number | null;
  readonly here: boolean;
  /** The owner's summary, or null when the owner published none (yet). */
  readonly summary: (PluginSummary & { readonly from: string; readonly age_ms: number; readonly stale: boolean }) | null;
}

/** Joins the lease view with the published summaries: each plugin with its owner's figures. */
export function clusterView(plugins: readonly { plugin: string; owner: string | null; lease_age_ms: number | null; here: boolean }[], published: readonly PublishedStatus[]): ClusterPluginView[] {
  return plugins.map((p) => {
    const entry = p.owner === null ? undefined : published.find((e) => e.host === p.owner);
    const summary = entry?.plugins.find((s) => s.plugin === p.plugin);
    return { ...p, summary: entry && summary ? { ...summary, from: entry.host, age_ms: entry.age_ms, stale: entry.stale } : null };
  });
}

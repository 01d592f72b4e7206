import type { NatsConnection } from '@nats-io/transport-node';
import { loadNatsClients } from '../journal/nats-clients.js';
import type { JetStreamJournal } from '../journal/jetstream-journal.js';
import { subjectToken } from '../journal/jetstream-log.js';
import type { Logger } from '../serve/log.js';
import { LeaseBuckets, type LeaseEntry } from './leases.js';
import { placeOf, type PlacementHost } from './placement.js';
import type { ClusterSettings } from './serve-config.js';

/** What the cluster needs of a service: start it here, stop it here. */
export interface PlacedService {
  start(): Promise<void>;
  stop(): Promise<unknown>;
}

/** A lease this host holds. */
interface Held {
  /** The lease's revision when this host took it: names this ownership in the journal's owner record. */
  readonly epoch: number;
  revision: number;
  /** performance.now() until which the lease is surely still this host's (request time + TTL − margin). */
  validUntil: number;
  readonly acquiredAt: number;
  handingOff: boolean;
}

interface ClusterPluginStatus {
  readonly plugin: string;
  /** The host holding the lease as of this host's last round, or null when none does. */
  readonly owner: string | null;
  readonly lease_age_ms: number | null;
  /** Whether this host owns it now (and so runs its service). */
  readonly here: boolean;
}

interface ClusterCounters {
  readonly acquired: number;
  readonly lost: number;
  readonly handed_off: number;
  readonly renew_failures: number;
  readonly rounds: number;
}

export interface ClusterStatus {
  readonly host_id: string;
  readonly prefix: string;
  readonly lease_ttl_ms: number;
  readonly live_hosts: readonly string[];
  readonly plugins: readonly ClusterPluginStatus[];
  readonly counters: ClusterCounters;
}

/** A lease is trusted locally until this share of its TTL has passed since the renewal was sent. */
const TRUST_SHARE = 0.8;
/** A joining host must be seen in this many consecutive rounds before plugins are handed to it. */
const STABLE_ROUNDS = 2;

/**
 * One `serve` host in a workspace shared over NATS JetStream. Each round it renews its entry
 * in the membership bucket, reads the live hosts, and for every service: renews the leases it
 * holds, takes the free ones that rendezvous hashing places on it (claiming the plugin's
 * journal log, then starting the service), hands over the ones placed elsewhere (stopping the
 * service before releasing the lease, so the next owner starts after this one stopped), and
 * gives up at once any lease it failed to renew in time or that the journal says another host
 * took (fenced). Commands run only while `mayAct` holds.
 */
export class ClusterNode {
  readonly settings: ClusterSettings;
  readonly #nc: NatsConnection;
  readonly #buckets: LeaseBuckets;
  readonly #journal: JetStreamJournal;
  readonly #log: Logger;
  readonly #held = new Map<string, Held>();
  readonly #work = new Map<string, Promise<void>>();
  readonly #owners = new Map<string, LeaseEntry | null>();
  readonly #seen = new Map<string, number>();
  #services: ReadonlyMap<string, PlacedService> = new Map();
  #live: PlacementHost[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();
  #acquiring = true;
  #stopped = false;
  #unwatchFenced: () => void;
  readonly #startedAt = new Date().toISOString();
  #counters = { acquired: 0, lost: 0, handed_off: 0, renew_failures: 0, rounds: 0 };

  private constructor(settings: ClusterSettings, nc: NatsConnection, buckets: LeaseBuckets, journal: JetStreamJournal, log: Logger) {
    this.settings = settings;
    this.#nc = nc;
    this.#buckets = buckets;
    this.#journal = journal;
    this.#log = log;
    this.#unwatchFenced = journal.onFenced((plugin) => this.#lose(plugin, 'the journal refused a write: another host took the plugin over'));
  }

  static async open(settings: ClusterSettings, servers: readonly string[], journal: JetStreamJournal, log: Logger): Promise<ClusterNode> {
    const nc = await (await loadNatsClients()).transport.connect({ servers: [...servers], name: `yoi-cluster-${settings.hostId}`, timeout: 10_000, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    try {
      const buckets = await LeaseBuckets.open(nc, settings.prefix, { ttlMs: settings.leaseTtlMs, replicas: settings.replicas, timeoutMs: Math.max(1000, Math.min(5000, settings.leaseTtlMs)) });
      if (buckets.ttlMs !== settings.leaseTtlMs) log('warn', 'the lease buckets exist with another TTL; using theirs', { configured_ms: settings.leaseTtlMs, bucket_ms: buckets.ttlMs });
      return new ClusterNode(settings, nc, buckets, journal, log);
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
  }

  get hostId(): string {
    return this.settings.hostId;
  }

  /** The connection the cluster's rounds use (shared with the router and the status board, closed by `close`). */
  get connection(): NatsConnection {
    return this.#nc;
  }

  /** The plugin's lease as the bucket holds it now (one read), or null when no host holds it. */
  async leaseOf(plugin: string): Promise<LeaseEntry | null> {
    return this.#buckets.lease(subjectToken(plugin));
  }

  /** Whether this host may act for the plugin now: it holds the lease, surely within its TTL, and its journal claim stands. */
  mayAct(plugin: string): boolean {
    const held = this.#held.get(plugin);
    return held !== undefined && performance.now() < held.validUntil && this.#journal.owns(plugin);
  }

  /**
   * Runs a reload's change of one plugin in that plugin's queue of lease work, so no lease
   * start, stop or hand-over interleaves with it; `owned`: this host holds the lease, so the
   * change may start the service. A plugin the change removed from this host gives its lease up.
   */
  exclusive<T>(plugin: string, change: (owned: boolean) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#enqueue(plugin, async () => {
        const held = this.#held.get(plugin);
        try {
          resolve(await change(held !== undefined));
        } catch (error) {
          reject(error as Error);
        }
        if (held && this.#held.get(plugin) === held && !this.#services.has(plugin)) {
          this.#held.delete(plugin);
          this.#journal.release(plugin);
          await this.#buckets.release(subjectToken(plugin), held.revision);
          this.#log('info', 'plugin lease released: the plugin is no longer enabled on this host', { plugin });
        }
      });
    });
  }

  /** Joins: announces this host, then places services round after round. The first round only announces, so hosts started together see each other first. */
  async start(services: ReadonlyMap<string, PlacedService>): Promise<void> {
    this.#services = services;
    await this.#buckets.heartbeat(this.#entry());
    // Renewals run on their own, so a slow membership read never delays them.
    this.#loop('lease renewal', () => this.#renewAll());
    this.#loop('placement', () => this.#placeAll());
  }

  /** Before the services stop for good: no new leases, no hand-offs; the held ones are still renewed. */
  quiesce(): void {
    this.#acquiring = false;
  }

  /** Leaves: stops the rounds, releases every lease (the services must be stopped already) and the membership entry. */
  async close(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    await Promise.all(this.#running);
    await Promise.all(this.#work.values());
    for (const [plugin, held] of this.#held) {
      this.#journal.release(plugin);
      await this.#buckets.release(subjectToken(plugin), held.revision);
    }
    this.#held.clear();
    await this.#buckets.leaveHost(this.hostId).catch(() => undefined);
    this.#unwatchFenced();
    await this.#nc.close().catch(() => undefined);
  }

  status(): ClusterStatus {
    const now = Date.now();
    const plugins = [...this.#services.keys()].sort().map((plugin): ClusterPluginStatus => {
      const held = this.#held.get(plugin);
      const owner = held ? { host: this.hostId, acquired_at: held.acquiredAt } : this.#owners.get(plugin);
      return { plugin, owner: owner?.host ?? null, lease_age_ms: owner ? Math.max(0, now - owner.acquired_at) : null, here: held !== undefined };
    });
    return { host_id: this.hostId, prefix: this.settings.prefix, lease_ttl_ms: this.#buckets.ttlMs, live_hosts: this.#live.map((h) => h.id).sort(), plugins, counters: { ...this.#counters } };
  }

  #entry(): { host: string; pid: number; started_at: string; plugins: string[] } {
    return { host: this.hostId, pid: process.pid, started_at: this.#startedAt, plugins: [...this.#services.keys()] };
  }

  #loop(name: string, work: () => Promise<void>): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      const run = work()
        .catch((error: unknown) => this.#log('warn', `cluster ${name} failed`, { error: messageOf(error) }))
        .finally(() => {
          this.#running.delete(run);
          this.#loop(name, work);
        });
      this.#running.add(run);
    }, this.settings.renewMs);
    timer.unref?.();
    this.#timers.add(timer);
  }

  /** Renews every held lease at once; a lease not renewed in time is given up first (a host paused past its lease). */
  async #renewAll(): Promise<void> {
    for (const [plugin, held] of this.#held) if (performance.now() >= held.validUntil) this.#lose(plugin, 'the lease was not renewed in time');
    await Promise.all([...this.#held].map(([plugin, held]) => this.#renew(plugin, held)));
  }

  async #renew(plugin: string, held: Held): Promise<void> {
    const sent = performance.now();
    let revision: number | null;
    try {
      revision = await this.#buckets.renew(subjectToken(plugin), { host: this.hostId, plugin, acquired_at: held.acquiredAt }, held.revision);
    } catch (error) {
      // No answer: the lease stays trusted until its local deadline, then is given up.
      this.#counters.renew_failures += 1;
      this.#log('warn', 'lease renewal failed', { plugin, error: messageOf(error) });
      return;
    }
    if (this.#held.get(plugin) !== held) return;
    if (revision === null) {
      this.#lose(plugin, 'the lease is no longer this host’s (it expired or another host took it)');
      return;
    }
    held.revision = revision;
    held.validUntil = sent + this.#buckets.ttlMs * TRUST_SHARE;
  }

  /** Announces this host, reads the live hosts, hands over what belongs elsewhere and takes what is free and belongs here. */
  async #placeAll(): Promise<void> {
    this.#counters.rounds += 1;
    await this.#buckets.heartbeat(this.#entry());
    const live = (await this.#buckets.liveHosts()).map((entry) => ({ id: entry.host, plugins: new Set(entry.plugins) }));
    this.#live = live;
    const ids = new Set(live.map((h) => h.id));
    for (const id of [...this.#seen.keys()]) if (!ids.has(id)) this.#seen.delete(id);
    for (const id of ids) this.#seen.set(id, (this.#seen.get(id) ?? 0) + 1);
    for (const plugin of this.#services.keys()) {
      if (this.#stopped) return;
      await this.#place(plugin, live);
    }
  }

  async #place(plugin: string, live: readonly PlacementHost[]): Promise<void> {
    const key = subjectToken(plugin);
    const held = this.#held.get(plugin);
    if (held) {
      const desired = placeOf(plugin, live);
      if (this.#acquiring && !held.handingOff && desired !== null && desired !== this.hostId && (this.#seen.get(desired) ?? 0) >= STABLE_ROUNDS) this.#handOff(plugin, held, desired);
      return;
    }
    const lease: LeaseEntry = { host: this.hostId, plugin, acquired_at: Date.now() };
    const current = await this.#buckets.lease(key);
    this.#owners.set(plugin, current);
    if (current || !this.#acquiring || this.#work.has(plugin)) return;
    if (placeOf(plugin, live) !== this.hostId) return;
    const sent = performance.now();
    const revision = await this.#buckets.acquire(key, lease);
    if (revision === null) return;
    if (!this.#acquiring || this.#stopped) {
      // serve began stopping meanwhile: give the lease straight back.
      await this.#buckets.release(key, revision);
      return;
    }
    const mine: Held = { epoch: revision, revision, validUntil: sent + this.#buckets.ttlMs * TRUST_SHARE, acquiredAt: lease.acquired_at, handingOff: false };
    this.#held.set(plugin, mine);
    this.#counters.acquired += 1;
    this.#log('info', 'plugin lease acquired', { plugin, host: this.hostId, epoch: revision });
    this.#enqueue(plugin, async () => {
      try {
        await this.#journal.claim(plugin, `${this.hostId}@${mine.epoch}`);
      } catch (error) {
        this.#log('error', 'claiming the plugin’s journal failed; lease released', { plugin, error: messageOf(error) });
        if (this.#held.get(plugin) === mine) {
          this.#held.delete(plugin);
          await this.#buckets.release(key, mine.revision);
        }
        return;
      }
      if (this.#held.get(plugin) !== mine) return;
      if (!this.#acquiring) {
        // serve is stopping: the service is not started here; the lease is released on close.
        return;
      }
      try {
        await this.#services.get(plugin)?.start();
        this.#log('info', 'service started here (lease owner)', { plugin, epoch: mine.epoch });
      } catch (error) {
        this.#log('error', 'service failed to start', { plugin, error: messageOf(error) });
      }
    });
  }

  /** Stops the service here, then releases the lease, so the next owner starts only after this one stopped. */
  #handOff(plugin: string, held: Held, to: string): void {
    held.handingOff = true;
    this.#log('info', 'handing plugin over', { plugin, to });
    this.#enqueue(plugin, async () => {
      await this.#services.get(plugin)?.stop();
      if (this.#held.get(plugin) !== held) return;
      this.#held.delete(plugin);
      this.#journal.release(plugin);
      await this.#buckets.release(subjectToken(plugin), held.revision);
      this.#counters.handed_off += 1;
      this.#log('info', 'plugin handed over', { plugin, to });
    });
  }

  /** The lease is gone (expired, taken, or the journal fenced this host): nothing more is written or run for it here, and its service stops. */
  #lose(plugin: string, reason: string): void {
    if (!this.#held.delete(plugin)) return;
    this.#journal.release(plugin);
    this.#counters.lost += 1;
    this.#log('warn', 'plugin lease lost; its service stops on this host', { plugin, reason });
    this.#enqueue(plugin, async () => {
      await this.#services.get(plugin)?.stop();
    });
  }

  /** Start/stop work of one plugin runs in order, one piece at a time. */
  #enqueue(plugin: string, work: () => Promise<void>): void {
    const previous = this.#work.get(plugin) ?? Promise.resolve();
    const next = previous
      .then(work)
      .catch((error: unknown) => this.#log('error', 'cluster work failed', { plugin, error: messageOf(error) }))
      .finally(() => {
        if (this.#work.get(plugin) === next) this.#work.delete(plugin);
      });
    this.#work.set(plugin, next);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import type { NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import { isJetStreamApiError, loadNatsClients } from '../journal/nats-clients.js';

/** What a host says about itself in the membership bucket (renewed every round; gone after the TTL). */
export interface HostEntry {
  readonly host: string;
  readonly pid: number;
  readonly started_at: string;
  /** Identities of the services this host can run. */
  readonly plugins: readonly string[];
}

/** The lease on one plugin: who owns it, since when (the owner's clock). */
export interface LeaseEntry {
  readonly host: string;
  readonly plugin: string;
  readonly acquired_at: number;
}

export interface LeaseRecord extends LeaseEntry {
  /** The KV revision of this entry: a renewal must name it (compare-and-set). */
  readonly revision: number;
}

/**
 * The two KV buckets of a workspace's hosts: `<prefix>_hosts` (membership) and
 * `<prefix>_leases` (one lease per plugin), both with the lease TTL as their `max_age`, so an
 * entry nobody renews disappears on the server's clock. Every lease change is a
 * compare-and-set on the entry's revision.
 */
export class LeaseBuckets {
  readonly hosts: KV;
  readonly leases: KV;
  /** The TTL the server applies (the buckets' max_age), which may differ from this host's setting if another host created them. */
  readonly ttlMs: number;

  private constructor(hosts: KV, leases: KV, ttlMs: number) {
    this.hosts = hosts;
    this.leases = leases;
    this.ttlMs = ttlMs;
  }

  static async open(nc: NatsConnection, prefix: string, options: { ttlMs: number; replicas: number; timeoutMs: number }): Promise<LeaseBuckets> {
    const { jetstream, kv } = await loadNatsClients();
    const kvm = new kv.Kvm(jetstream.jetstream(nc, { timeout: options.timeoutMs }));
    const bucket = async (name: string): Promise<KV> => {
      try {
        return await kvm.create(name, { ttl: options.ttlMs, history: 1, replicas: options.replicas, storage: 'file' });
      } catch {
        // Created by a host with other settings: use it as it is (its TTL is what counts).
        return kvm.open(name);
      }
    };
    const hosts = await bucket(`${prefix}_hosts`);
    const leases = await bucket(`${prefix}_leases`);
    const ttlMs = Math.min((await hosts.status()).ttl || options.ttlMs, (await leases.status()).ttl || options.ttlMs);
    return new LeaseBuckets(hosts, leases, ttlMs);
  }

  async heartbeat(entry: HostEntry): Promise<void> {
    await this.hosts.put(entry.host, JSON.stringify(entry));
  }

  async leaveHost(host: string): Promise<void> {
    await this.hosts.delete(host);
  }

  /** Live hosts (entries renewed within the TTL). */
  async liveHosts(): Promise<HostEntry[]> {
    const keys: string[] = [];
    for await (const key of await this.hosts.keys()) keys.push(key);
    const entries: HostEntry[] = [];
    for (const key of keys) {
      const entry = await this.hosts.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      try {
        entries.push(entry.json<HostEntry>());
      } catch {
        // not ours: ignored
      }
    }
    return entries;
  }

  async lease(key: string): Promise<LeaseRecord | null> {
    const entry = await this.leases.get(key);
    if (!entry || entry.operation !== 'PUT') return null;
    try {
      return { ...entry.json<LeaseEntry>(), revision: entry.revision };
    } catch {
      return null;
    }
  }

  /** Takes a free lease; null when another host holds it. */
  async acquire(key: string, entry: LeaseEntry): Promise<number | null> {
    try {
      return await this.leases.create(key, JSON.stringify(entry));
    } catch (error) {
      if (isJetStreamApiError(error) || /wrong last sequence|exists/i.test(String(error))) return null;
      throw error;
    }
  }

  /** Renews a held lease; null when it is no longer this revision (expired, or taken). */
  async renew(key: string, entry: LeaseEntry, revision: number): Promise<number | null> {
    try {
      return await this.leases.update(key, JSON.stringify(entry), revision);
    } catch (error) {
      if (isJetStreamApiError(error)) return null;
      throw error;
    }
  }

  /** Gives a lease up (only if it is still this revision). */
  async release(key: string, revision: number): Promise<void> {
    await this.leases.delete(key, { previousSeq: revision }).catch(() => undefined);
  }
}

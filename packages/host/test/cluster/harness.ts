/**
 * Several `yoi plugin serve` processes sharing one workspace over a real nats-server (issue
 * H): each host gets its own copy of the workspace (as separate machines would), with
 * `.yoi/serve.toml` naming the engine, the cluster prefix, its host id and a short lease TTL.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { ClusterStatus } from '../../src/cluster/cluster-node.js';
import { openJetStreamJournal, type JetStreamJournal } from '../../src/journal/jetstream-journal.js';
import type { PluginStatus } from '../../src/status/status.js';
import { ServeChild } from '../fixtures/serve-child.js';
import { TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { transpileCached } from '../../src/sandbox/transpile-cache.js';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { subjectToken } from '../../src/journal/jetstream-log.js';

/** Short leases keep the tests fast; a loaded machine may still lose a lease now and then, which the accounting tolerates. */
export const LEASE_TTL_MS = 2000;
export const RENEW_MS = 400;

export interface ClusterStatusReply {
  readonly cluster: ClusterStatus;
  readonly plugins: PluginStatus[];
}

export class ServeHost {
  readonly id: string;
  readonly workspace: string;
  readonly child: ServeChild;
  killedAt: number | null = null;
  /** SIGSTOPped: its control API does not answer. */
  paused = false;

  constructor(id: string, workspace: string, child: ServeChild) {
    this.id = id;
    this.workspace = workspace;
    this.child = child;
  }

  get alive(): boolean {
    return this.child.running && this.killedAt === null && !this.paused;
  }

  async status(): Promise<ClusterStatusReply> {
    return this.child.api<ClusterStatusReply>('GET', '/v1/status');
  }

  async metrics(): Promise<string> {
    const info = await this.child.ready();
    const response = await fetch(`http://${info.host}:${info.port}/metrics`, { headers: { authorization: `Bearer ${info.token}` }, signal: AbortSignal.timeout(15_000) });
    return response.text();
  }
}

/** Copies the enabled workspace once per host and writes each host's serve.toml. */
export function hostWorkspaces(root: string, template: string, natsUrl: string, prefix: string, count: number, lease = { ttlMs: LEASE_TTL_MS, renewMs: RENEW_MS }): { id: string; workspace: string }[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `h${i}`;
    const workspace = join(root, `ws-${id}`);
    cpSync(template, workspace, { recursive: true });
    writeFileSync(
      join(workspace, '.yoi', 'serve.toml'),
      `engine = "${natsUrl}"\n\n[cluster]\nprefix = "${prefix}"\nhost_id = "${id}"\nlease_ttl_ms = ${lease.ttlMs}\nrenew_ms = ${lease.renewMs}\n`,
    );
    return { id, workspace };
  });
}

export function spawnHosts(t: TestContext, hosts: readonly { id: string; workspace: string }[], env: NodeJS.ProcessEnv): ServeHost[] {
  return hosts.map(({ id, workspace }) => new ServeHost(id, workspace, ServeChild.spawn(t, workspace, env)));
}

/** The host running `plugin` now, as that host itself reports it (lease held and service live), or null. */
export async function ownerOf(hosts: readonly ServeHost[], plugin: string): Promise<ServeHost | null> {
  for (const host of hosts) {
    if (!host.alive) continue;
    const reply = await host.status().catch(() => null);
    const mine = reply?.cluster.plugins.find((p) => p.plugin === plugin);
    const service = reply?.plugins.find((p) => p.plugin === plugin);
    if (mine?.here && (service?.lifecycle === 'Running' || service?.lifecycle === 'Degraded')) return host;
  }
  return null;
}

/** Polls until `fn` returns a value (a bound, not a timing assertion). */
export async function poll<T>(fn: () => Promise<T | null | undefined | false>, what: string, ms = 60_000, every = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

/** The workspace's journal on the server, read by the test (no claims: reads only). */
export function readClusterJournal(url: string, prefix: string): Promise<JetStreamJournal> {
  return openJetStreamJournal({ servers: url, prefix });
}

/** Transpiles built plugins into the shared cache first, so hosts starting together do not all transpile at once (a cold cache costs seconds each). */
export async function warmTranspileCache(pluginDirs: readonly string[]): Promise<void> {
  for (const dir of pluginDirs) await transpileCached(readFileSync(join(dir, 'plugin.component.wasm')), TEST_TRANSPILE_CACHE);
}

/**
 * Reads a plugin's log message by message and checks fencing from the record itself: each
 * message names its writer (`Yoi-Writer`), each claim (and snapshot) carries the owner record
 * `"<host>@<lease revision>"`, and every message must be written by the owner in force. Returns
 * the problems and the owners in order.
 */
export async function logOwnership(url: string, prefix: string, plugin: string): Promise<{ problems: string[]; owners: string[]; messages: number }> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const stream = `${prefix}_journal`;
    const subject = `${prefix}.journal.${subjectToken(plugin)}`;
    const info = await jsm.streams.info(stream);
    const problems: string[] = [];
    const owners: string[] = [];
    let owner: string | null = null;
    let messages = 0;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (!message || message.subject !== subject) continue;
      messages++;
      const writer = message.header.get('Yoi-Writer');
      let claimed: string | null = null;
      try {
        const tx = JSON.parse(new TextDecoder().decode(message.data)) as { m: [string, string | number, string | null][] };
        const record = tx.m.find(([kind, key]) => kind === 'meta' && key === 'owner');
        if (record?.[2]) claimed = (JSON.parse(record[2]) as string).split('@')[0]!;
      } catch {
        // a part of a longer transaction: only its writer is checked
      }
      if (claimed !== null && claimed !== owner) {
        owner = claimed;
        owners.push(`${claimed}@${seq}`);
      }
      if (writer !== owner) problems.push(`message ${seq} of ${plugin} written by ${writer ?? '(no writer)'} while ${owner ?? 'nobody'} owned the log`);
    }
    return { problems, owners, messages };
  } finally {
    await nc.close();
  }
}

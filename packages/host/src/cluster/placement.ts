import { createHash } from 'node:crypto';

/** A live host as placement sees it: its id and the plugins it can run (its workspace's services). */
export interface PlacementHost {
  readonly id: string;
  readonly plugins: ReadonlySet<string>;
}

function score(host: string, plugin: string): bigint {
  return createHash('sha256').update(host).update('\u0000').update(plugin).digest().readBigUInt64BE(0);
}

/**
 * Where a plugin belongs: rendezvous (highest-random-weight) hashing over the live hosts that
 * can run it. Every host computes the same answer from the same membership, and a host joining
 * or leaving moves only the plugins it wins or held. Null when no live host can run it.
 */
export function placeOf(plugin: string, hosts: readonly PlacementHost[]): string | null {
  let best: string | null = null;
  let bestScore = -1n;
  for (const host of hosts) {
    if (!host.plugins.has(plugin)) continue;
    const s = score(host.id, plugin);
    if (s > bestScore || (s === bestScore && best !== null && host.id < best)) {
      best = host.id;
      bestScore = s;
    }
  }
  return best;
}

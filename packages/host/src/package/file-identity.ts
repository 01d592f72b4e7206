import type { BigIntStats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-write.js';

/**
 * Facts that are costly to recompute from a file's bytes (a package digest, a sha256) kept by
 * the file's *identity*: device, inode, size, and modification and status-change times in
 * nanoseconds. Writing a file moves its mtime and ctime, and replacing it gives a new inode;
 * an unprivileged process can set mtime but not ctime. So a file whose identity is unchanged
 * is taken to hold the bytes the fact was computed from.
 *
 * One hole remains, as in git's index ("racily clean" files): timestamps advance in clock
 * ticks (milliseconds), so a file rewritten with the same size within one tick of being read
 * can keep its identity. A fact is therefore recorded only for a file that had not changed
 * for SETTLE_NS before it was read; a file changed more recently is re-read next time.
 *
 * What is trusted: the cache file itself (it lives in the transpile cache directory, whose
 * JavaScript the host runs anyway, and which no fs grant can reach) and the filesystem's
 * timestamps. Bit rot that changes bytes without a write is not detected while cached.
 */
export const SETTLE_NS = 2_000_000_000n;

/** At most this many facts per cache file; the oldest are dropped first. */
export const MAX_IDENTITY_ENTRIES = 4096;
const MAX_CACHE_FILE_BYTES = 2 * 1024 * 1024;
const FORMAT = 1;

export function fileIdentity(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/** True when the file had not changed for SETTLE_NS before `readAtNs` (wall clock, ns). */
function settledBefore(stats: BigIntStats, readAtNs: bigint): boolean {
  const changed = stats.mtimeNs > stats.ctimeNs ? stats.mtimeNs : stats.ctimeNs;
  return readAtNs - changed >= SETTLE_NS;
}

/** Wall-clock now in nanoseconds, the clock file timestamps are on. */
export function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

const shared = new Map<string, Promise<IdentityCache>>();

interface Entry {
  readonly identity: string;
  readonly value: string;
}

/**
 * Facts by key (an absolute path) and identity; in memory, or loaded from and saved to one
 * JSON file. A missing, unreadable or malformed file is an empty cache; a failed save is
 * ignored (the facts are recomputed next time). Concurrent savers: the last one wins.
 */
export class IdentityCache {
  readonly #path: string | null;
  readonly #entries: Map<string, Entry>;
  readonly #clock: () => bigint;
  #dirty = false;

  private constructor(path: string | null, entries: Map<string, Entry>, clock: () => bigint) {
    this.#path = path;
    this.#entries = entries;
    this.#clock = clock;
  }

  /** A cache that is never saved; `clock` (wall-clock ns) decides when a file has settled. */
  static inMemory(clock: () => bigint = wallClockNs): IdentityCache {
    return new IdentityCache(null, new Map(), clock);
  }

  /** The one cache of this process for `path` (loaded once; every user sees the others' facts). */
  static shared(path: string): Promise<IdentityCache> {
    let cache = shared.get(path);
    if (!cache) {
      cache = IdentityCache.load(path);
      shared.set(path, cache);
    }
    return cache;
  }

  static async load(path: string, clock: () => bigint = wallClockNs): Promise<IdentityCache> {
    const entries = new Map<string, Entry>();
    try {
      const text = await readFile(path, 'utf8');
      const parsed = text.length <= MAX_CACHE_FILE_BYTES ? (JSON.parse(text) as { format?: unknown; entries?: unknown }) : null;
      if (parsed?.format === FORMAT && Array.isArray(parsed.entries)) {
        for (const item of parsed.entries.slice(-MAX_IDENTITY_ENTRIES)) {
          const [key, identity, value] = Array.isArray(item) && item.length === 3 ? (item as unknown[]) : [];
          if (typeof key === 'string' && typeof identity === 'string' && typeof value === 'string') entries.set(key, { identity, value });
        }
      }
    } catch {
      // no cache yet, or a damaged one: start empty
    }
    return new IdentityCache(path, entries, clock);
  }

  /** Now, on this cache's clock: take it before reading a file whose fact may be recorded. */
  now(): bigint {
    return this.#clock();
  }

  /** The fact recorded for `key` under exactly this identity, if any. */
  lookup(key: string, identity: string): string | undefined {
    const entry = this.#entries.get(key);
    return entry && entry.identity === identity ? entry.value : undefined;
  }

  /**
   * Records `value` for the file `key` with these stats, read at `readAtNs` (from `now()`),
   * when the file had settled by then; otherwise forgets whatever was recorded for `key`.
   */
  record(key: string, stats: BigIntStats, value: string, readAtNs: bigint): void {
    if (!settledBefore(stats, readAtNs)) return this.forget(key);
    const identity = fileIdentity(stats);
    const entry = this.#entries.get(key);
    if (entry && entry.identity === identity && entry.value === value) return;
    this.#entries.delete(key);
    this.#entries.set(key, { identity, value });
    while (this.#entries.size > MAX_IDENTITY_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    this.#dirty = true;
  }

  forget(key: string): void {
    if (this.#entries.delete(key)) this.#dirty = true;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Writes the file (atomically) when something changed; never throws. */
  async save(): Promise<void> {
    if (!this.#dirty || this.#path === null) return;
    this.#dirty = false;
    const entries = [...this.#entries].map(([key, entry]) => [key, entry.identity, entry.value]);
    try {
      await writeFileAtomic(this.#path, JSON.stringify({ format: FORMAT, entries }), 0o600);
    } catch {
      // a read-only or full cache directory: recompute next time
    }
  }
}

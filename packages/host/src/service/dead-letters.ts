import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-write.js';
import { dirname, join } from 'node:path';
import type { IngressEvent } from './ingress-event.js';
import { rfc3339, uuidv7 } from './ids.js';

/** The dead-letter file of a plugin ref (`project:x` → `x.project.jsonl`) inside a state directory. */
export function deadLetterFile(dir: string, identity: string): string {
  const colon = identity.indexOf(':');
  return join(dir, `${identity.slice(colon + 1)}.${identity.slice(0, colon)}.jsonl`);
}

export interface DeadLetter {
  readonly id: string;
  readonly plugin: string;
  readonly ingress: string;
  readonly event: IngressEvent;
  readonly attempts: number;
  readonly last_error: string;
  readonly dead_lettered_at: string;
}

/**
 * Events whose delivery failed every attempt. Bounded (oldest evicted first, counted), and
 * persisted as JSON lines when a file is given, so an operator can list, replay or drop
 * them after the host restarts.
 */
export class DeadLetterStore {
  readonly capacity: number;
  readonly #path: string | null;
  #entries: DeadLetter[] = [];
  #evicted = 0;
  #writeErrors = 0;
  #lastWriteError: string | null = null;
  #writing: Promise<void> = Promise.resolve();

  constructor(capacity: number, path: string | null = null) {
    this.capacity = capacity;
    this.#path = path;
  }

  /** Loads persisted entries (missing or corrupt lines are skipped), after every pending write has landed. */
  async load(): Promise<void> {
    if (!this.#path) return;
    await this.#writing;
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch {
      return;
    }
    const entries: DeadLetter[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const entry = JSON.parse(line) as DeadLetter;
        if (typeof entry.id === 'string' && entry.event) entries.push(entry);
      } catch {
        // a torn last line after a crash: skip it
      }
    }
    this.#entries = entries.slice(-this.capacity);
  }

  get evicted(): number {
    return this.#evicted;
  }

  /** Writes that failed (the entries stay in memory; the file misses them). */
  get writeErrors(): number {
    return this.#writeErrors;
  }

  get lastWriteError(): string | null {
    return this.#lastWriteError;
  }

  list(): readonly DeadLetter[] {
    return [...this.#entries];
  }

  add(entry: Omit<DeadLetter, 'id' | 'dead_lettered_at'>): DeadLetter {
    const full: DeadLetter = { id: uuidv7(), dead_lettered_at: rfc3339(), ...entry };
    this.#entries.push(full);
    let rewrite = false;
    while (this.#entries.length > this.capacity) {
      this.#entries.shift();
      this.#evicted++;
      rewrite = true;
    }
    this.#persist(rewrite ? null : full);
    return full;
  }

  /** Removes entries by id (all when `ids` is 'all'); returns what was removed. */
  remove(ids: readonly string[] | 'all'): DeadLetter[] {
    const removed = ids === 'all' ? this.#entries : this.#entries.filter((e) => ids.includes(e.id));
    this.#entries = ids === 'all' ? [] : this.#entries.filter((e) => !ids.includes(e.id));
    if (removed.length > 0) this.#persist(null);
    return removed;
  }

  /** Appends one line, or rewrites the whole file (after removals/evictions). */
  #persist(appended: DeadLetter | null): void {
    const path = this.#path;
    if (!path) return;
    const snapshot = appended ? null : this.#entries.map((e) => JSON.stringify(e) + '\n').join('');
    this.#writing = this.#writing.then(async () => {
      await mkdir(dirname(path), { recursive: true });
      if (appended) await appendFile(path, JSON.stringify(appended) + '\n', { mode: 0o600 });
      else await writeFileAtomic(path, snapshot!, 0o600);
    }).catch((error: unknown) => {
      this.#writeErrors++;
      this.#lastWriteError = error instanceof Error ? error.message : String(error);
    });
  }

  /** Resolves when pending writes are on disk. */
  flush(): Promise<void> {
    return this.#writing;
  }
}

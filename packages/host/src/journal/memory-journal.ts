import { JournalCore, type JournalCoreOptions, type RecordStore } from './journal-core.js';
import { RECORD_KINDS, type Mutation, type RecordKind } from './records.js';

/** Records in memory, keyed like the durable store; a write applies all its mutations at once. */
class MemoryStore implements RecordStore {
  readonly #records = new Map<RecordKind, Map<string, Map<number | string, string>>>(RECORD_KINDS.map((kind) => [kind, new Map()]));
  failure: string | null = null;

  #plugin(kind: RecordKind, plugin: string): Map<number | string, string> | undefined {
    return this.#records.get(kind)!.get(plugin);
  }

  keys(kind: RecordKind, plugin: string): Iterable<number | string> {
    return this.#sorted(kind, plugin).map(([key]) => key);
  }

  entries(kind: RecordKind, plugin: string): Iterable<readonly [number | string, string]> {
    return this.#sorted(kind, plugin);
  }

  get(kind: RecordKind, plugin: string, key: number | string): string | undefined {
    return this.#plugin(kind, plugin)?.get(key);
  }

  #sorted(kind: RecordKind, plugin: string): [number | string, string][] {
    const records = [...(this.#plugin(kind, plugin) ?? [])];
    return records.sort(([a], [b]) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
  }

  persist(mutations: readonly Mutation[]): Promise<void> {
    if (this.failure !== null) return Promise.reject(new Error(this.failure));
    for (const { kind, plugin, key, value } of mutations) {
      const byPlugin = this.#records.get(kind)!;
      let records = byPlugin.get(plugin);
      if (value === null) {
        records?.delete(key);
        if (records?.size === 0) byPlugin.delete(plugin);
        continue;
      }
      if (!records) byPlugin.set(plugin, (records = new Map()));
      records.set(key, value);
    }
    return Promise.resolve();
  }

  describeFailure(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
  }

  async close(): Promise<void> {}
}

/**
 * A journal with the semantics and bounds of the durable one, kept in memory: for tests and
 * embedders who want no durability. Nothing survives the process.
 */
export class MemoryJournal extends JournalCore {
  readonly #store: MemoryStore;

  constructor(options: JournalCoreOptions = {}) {
    const store = new MemoryStore();
    super('memory', store, options);
    this.#store = store;
  }

  /**
   * Makes every following write fail with `reason` (as a full disk would), or writes work again
   * with `null`. Nothing of a failed write is stored. For tests of degraded operation.
   */
  setWriteFailure(reason: string | null): void {
    this.#store.failure = reason;
  }
}

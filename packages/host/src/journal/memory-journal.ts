import { JournalCore, type JournalCoreOptions, type RecordStore } from './journal-core.js';
import { RecordMap } from './record-map.js';
import type { Mutation } from './records.js';

/** Records in memory, keyed like the durable store; a write applies all its mutations at once. */
class MemoryStore extends RecordMap implements RecordStore {
  failure: string | null = null;

  persist(mutations: readonly Mutation[]): Promise<void> {
    if (this.failure !== null) return Promise.reject(new Error(this.failure));
    this.apply(mutations);
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

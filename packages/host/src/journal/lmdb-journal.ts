import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import type { Database, Key, RootDatabase } from 'lmdb';
import { JournalCore, resolveLimits, type JournalCoreOptions, type RecordStore } from './journal-core.js';
import { JournalWriteError } from './journal.js';
import { RECORD_KINDS, type Mutation, type RecordKind } from './records.js';
import { acquireWriterLock, type WriterLock } from './writer-lock.js';

/** The journal directory of a workspace: `<workspace>/.yoi/state/journal`. */
export function journalDir(workspace: string): string {
  return join(resolve(workspace), '.yoi', 'state', 'journal');
}

/** Where {@link openLmdbJournal} keeps the journal, and its bounds. */
export interface LmdbJournalOptions extends JournalCoreOptions {
  /** The directory holding the LMDB environment (`data.mdb`, `lock.mdb`); created if missing. */
  readonly dir: string;
}

const JOURNAL_OPEN_FAILED = 'YOI_JOURNAL_OPEN';

/** One named database per record kind; keys are `[plugin, seq | order | key]` (ordered-binary), values JSON text. */
const DATABASE_NAMES: Readonly<Record<RecordKind, string>> = {
  event: 'events',
  attempt: 'attempts',
  outbox: 'outbox',
  state: 'state',
  dead: 'dead-letters',
  timer: 'timers',
  meta: 'meta',
};
const NUMBER_KEYED = new Set<RecordKind>(['event', 'attempt', 'outbox', 'dead']);

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, value]) => [value, name]));
const ERROR_HINTS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EIO: 'input/output error, after a short write: the disk may be full',
  EFBIG: 'file too large for the file system or the process limit',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EDQUOT: 'disk quota exceeded',
  MDB_MAP_FULL: 'the LMDB map is full',
  MDB_PANIC: 'the LMDB environment failed; reopen the journal',
};
const LMDB_ERRORS = new Map<number, string>([
  [-30792, 'MDB_MAP_FULL'],
  [-30795, 'MDB_PANIC'],
]);

function rangeStart(kind: RecordKind, plugin: string): Key {
  return [plugin, NUMBER_KEYED.has(kind) ? 0 : ''];
}

class LmdbStore implements RecordStore {
  readonly #root: RootDatabase<string, Key>;
  readonly #dbs: Readonly<Record<RecordKind, Database<string, Key>>>;
  readonly #lock: WriterLock;

  constructor(root: RootDatabase<string, Key>, dbs: Readonly<Record<RecordKind, Database<string, Key>>>, lock: WriterLock) {
    this.#root = root;
    this.#dbs = dbs;
    this.#lock = lock;
  }

  *keys(kind: RecordKind, plugin: string): Iterable<number | string> {
    for (const key of this.#dbs[kind].getKeys({ start: rangeStart(kind, plugin) })) {
      const [owner, id] = key as [string, number | string];
      if (owner !== plugin) return;
      yield id;
    }
  }

  *entries(kind: RecordKind, plugin: string): Iterable<readonly [number | string, string]> {
    for (const { key, value } of this.#dbs[kind].getRange({ start: rangeStart(kind, plugin) })) {
      const [owner, id] = key as [string, number | string];
      if (owner !== plugin) return;
      yield [id, value];
    }
  }

  get(kind: RecordKind, plugin: string, key: number | string): string | undefined {
    return this.#dbs[kind].get([plugin, key]);
  }

  /**
   * One LMDB write transaction for the whole group (`batch`). With `overlappingSync` off,
   * LMDB syncs the data pages before it writes the meta page that makes the transaction
   * visible, so the promise resolves only once everything is on stable storage, and a failed
   * write or sync leaves the previous transaction in place.
   */
  persist(mutations: readonly Mutation[]): Promise<void> {
    let seen: unknown = null;
    // lmdb-js hands the individual writes of a batch a promise of their own, which rejects
    // with the batch: observe them so a failure is reported once, through the batch promise.
    const observe = (result: unknown): void => {
      if (result !== seen && typeof (result as Promise<unknown> | null)?.then === 'function') {
        seen = result;
        (result as Promise<unknown>).then(undefined, () => undefined);
      }
    };
    let written: Promise<boolean>;
    try {
      written = this.#root.batch(() => {
        for (const { kind, plugin, key, value } of mutations) {
          const db = this.#dbs[kind];
          observe(value === null ? db.remove([plugin, key]) : db.put([plugin, key], value));
        }
      });
    } catch (error) {
      return Promise.reject(error);
    }
    return written.then(
      () => undefined,
      async (error: unknown) => {
        throw await rootCause(error);
      },
    );
  }

  describeFailure(error: unknown): string {
    const code = (error as { code?: unknown } | null)?.code;
    const name = typeof code === 'number' ? (LMDB_ERRORS.get(code) ?? ERRNO_NAMES.get(code)) : typeof code === 'string' ? code : undefined;
    const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').slice(0, 160);
    if (name && ERROR_HINTS[name]) return `${ERROR_HINTS[name]} (${name}: ${message})`;
    return name ? `${name}: ${message}` : message;
  }

  async close(): Promise<void> {
    try {
      await this.#root.close();
    } finally {
      this.#lock.release();
    }
  }
}

/** lmdb-js rejects a failed commit with a generic error whose `commitError` promise carries the cause (errno). */
async function rootCause(error: unknown): Promise<unknown> {
  const commitError = (error as { commitError?: Promise<unknown> } | null)?.commitError;
  if (!commitError || typeof commitError.then !== 'function') return error;
  let timer: NodeJS.Timeout | undefined;
  const fallback = new Promise<unknown>((resolve) => {
    timer = setTimeout(() => resolve(error), 1000);
    timer.unref();
  });
  try {
    return await Promise.race([commitError.then(() => error, (cause: unknown) => cause), fallback]);
  } finally {
    clearTimeout(timer);
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The durable journal of a workspace on LMDB (one environment per workspace). Every append and
 * commit resolves only after its transaction is synced to stable storage; calls issued in the
 * same tick share one transaction and one sync.
 */
export class LmdbJournal extends JournalCore {
  readonly dir: string;

  private constructor(dir: string, store: LmdbStore, options: JournalCoreOptions) {
    super('lmdb', store, options);
    this.dir = dir;
  }

  static async open(options: LmdbJournalOptions): Promise<LmdbJournal> {
    const dir = resolve(options.dir);
    resolveLimits(options.limits);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new JournalWriteError(`cannot create the journal directory ${dir}: ${(error as Error).message}`.slice(0, 300), JOURNAL_OPEN_FAILED, { cause: error });
    }
    // lmdb (a native addon) is loaded by the first journal opened, not with the library.
    const { open: openLmdb } = await import('lmdb');
    const lock = acquireWriterLock(dir);
    try {
      const root = openLmdb<string, Key>({
        path: dir,
        noSubdir: false,
        encoding: 'string',
        // Durable commits: the sync happens inside the commit, before the new meta page.
        overlappingSync: false,
        noSync: false,
        noMetaSync: false,
        // Every write goes through one explicit `batch` per group; lmdb-js's own event-turn
        // batch would wrap it in a second, hidden commit promise that nobody observes.
        eventTurnBatching: false,
        maxDbs: 12,
      });
      const dbs = Object.fromEntries(RECORD_KINDS.map((kind) => [kind, root.openDB<string, Key>(DATABASE_NAMES[kind], { encoding: 'string' })])) as Record<RecordKind, Database<string, Key>>;
      syncDirectory(dir);
      return new LmdbJournal(dir, new LmdbStore(root, dbs, lock), options);
    } catch (error) {
      lock.release();
      throw new JournalWriteError(`cannot open the journal at ${dir}: ${(error as Error).message}`.slice(0, 300), JOURNAL_OPEN_FAILED, { cause: error });
    }
  }
}

/** Opens (or creates) the LMDB journal in `dir`; see `journalDir(workspace)`. */
export function openLmdbJournal(options: LmdbJournalOptions): Promise<LmdbJournal> {
  return LmdbJournal.open(options);
}

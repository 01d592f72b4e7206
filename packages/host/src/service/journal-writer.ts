import { JournalWriteError, type CommitResult, type Journal, type JournalEvent, type JournalTransaction, type NewJournalEvent } from '../journal/journal.js';
import { systemClock, type Clock } from './clock.js';
import { backoffMs } from './policy.js';

type Op = (
  | { readonly plugin: string; readonly kind: 'append'; readonly events: readonly NewJournalEvent[]; readonly resolve: (value: readonly JournalEvent[]) => void; readonly reject: (error: unknown) => void }
  | { readonly plugin: string; readonly kind: 'commit'; readonly tx: JournalTransaction; readonly resolve: (value: CommitResult) => void; readonly reject: (error: unknown) => void }
) & { settled?: Promise<unknown> };

export interface WriterHealth {
  /** A write for `plugin` failed: it is retried until it works. */
  failed(plugin: string, error: JournalWriteError): void;
  /** Writing works again for `plugin` (its held writes are stored). */
  recovered(plugin: string): void;
}

/** Why a write was given up: the plugin's service stopped while the write waited. */
class WriteAbandoned extends Error {
  constructor(plugin: string) {
    super(`the write for ${plugin} was given up: its service stopped`);
    this.name = 'WriteAbandoned';
  }
}

/**
 * Writes of every service to one journal, in order. Writes issued while a flush is under way
 * go out together in the next one (the journal turns calls of one tick into one durable
 * transaction), so the journal costs one sync per group, not per event. A write the disk
 * refuses is held, with everything after it, and retried with backoff until it works: no
 * later write overtakes it, and the services it belongs to are told (Degraded, sources held).
 */
export class JournalWriter {
  readonly journal: Journal;
  readonly #clock: Clock;
  readonly #health: Set<WriterHealth> = new Set();
  #pending: Op[] = [];
  #flushing = false;
  #failures = 0;
  #failedPlugins = new Set<string>();
  #lastError: string | null = null;
  #cancelRetry: (() => void) | null = null;
  #closed = false;
  #inFlight = new Set<Op>();
  /** Plugins whose service is stopping: while writing fails, their writes are given up, not held. */
  readonly #givingUp = new Set<string>();

  constructor(journal: Journal, clock: Clock = systemClock) {
    this.journal = journal;
    this.#clock = clock;
  }

  get healthy(): boolean {
    return this.#failures === 0;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  /** Writes waiting or being written. */
  pendingFor(plugin: string): number {
    return this.#pending.filter((op) => op.plugin === plugin).length;
  }

  watch(health: WriterHealth): () => void {
    this.#health.add(health);
    return () => this.#health.delete(health);
  }

  append(plugin: string, events: readonly NewJournalEvent[]): Promise<readonly JournalEvent[]> {
    let op!: Op;
    const promise = new Promise<readonly JournalEvent[]>((resolve, reject) => (op = { plugin, kind: 'append', events, resolve, reject }));
    op.settled = promise.catch(() => undefined);
    this.#submit(op);
    return promise;
  }

  commit(plugin: string, tx: JournalTransaction): Promise<CommitResult> {
    let op!: Op;
    const promise = new Promise<CommitResult>((resolve, reject) => (op = { plugin, kind: 'commit', tx, resolve, reject }));
    op.settled = promise.catch(() => undefined);
    this.#submit(op);
    return promise;
  }

  /** Resolves once every write of `plugin` issued so far has settled (stored, refused or given up). */
  async settled(plugin: string): Promise<void> {
    await Promise.all(this.#pending.filter((op) => op.plugin === plugin).map((op) => op.settled));
  }

  /**
   * The service of `plugin` is stopping: from now on, while writing fails, its writes are
   * given up (rejected with `WriteAbandoned`) instead of held, so the stop cannot hang on a
   * full disk. What they would have stored stays unacknowledged and comes back at the next start.
   */
  giveUp(plugin: string): void {
    this.#givingUp.add(plugin);
    if (this.#failures > 0) this.abandon(plugin);
  }

  /** The service of `plugin` runs again: its writes are held and retried as usual. */
  keep(plugin: string): void {
    this.#givingUp.delete(plugin);
  }

  /** Gives up the writes of `plugin` still waiting (its service stopped); they reject with `WriteAbandoned`. */
  abandon(plugin: string): number {
    const kept: Op[] = [];
    let given = 0;
    for (const op of this.#pending) {
      if (op.plugin !== plugin || (this.#flushing && this.#inFlight.has(op))) {
        kept.push(op);
        continue;
      }
      given++;
      op.reject(new WriteAbandoned(plugin));
    }
    this.#pending = kept;
    return given;
  }

  /** Stops retrying; every waiting write rejects. */
  close(): void {
    this.#closed = true;
    this.#cancelRetry?.();
    for (const op of this.#pending.splice(0)) op.reject(new JournalWriteError('the journal writer is closed', 'YOI_JOURNAL_CLOSED'));
  }

  #submit(op: Op): void {
    if (this.#closed) {
      op.reject(new JournalWriteError('the journal writer is closed', 'YOI_JOURNAL_CLOSED'));
      return;
    }
    if (this.#failures > 0 && this.#givingUp.has(op.plugin)) {
      op.reject(new WriteAbandoned(op.plugin));
      return;
    }
    this.#pending.push(op);
    if (!this.#flushing && this.#cancelRetry === null) {
      this.#flushing = true;
      queueMicrotask(() => void this.#flush());
    }
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    const group = [...this.#pending];
    this.#inFlight = new Set(group);
    // Issued in one synchronous run: the journal makes them one transaction, in this order.
    const results = await Promise.allSettled(group.map((op) => (op.kind === 'append' ? this.journal.append(op.plugin, op.events) : this.journal.commit(op.plugin, op.tx))));
    this.#inFlight = new Set();
    const held: Op[] = [];
    let writeError: JournalWriteError | null = null;
    results.forEach((result, i) => {
      const op = group[i]!;
      if (result.status === 'rejected' && result.reason instanceof JournalWriteError && result.reason.code !== 'YOI_JOURNAL_CLOSED') {
        writeError = result.reason;
        if (this.#givingUp.has(op.plugin)) op.reject(new WriteAbandoned(op.plugin));
        else held.push(op);
      } else if (result.status === 'fulfilled') (op.resolve as (value: unknown) => void)(result.value);
      else op.reject(result.reason);
    });
    const flushed = new Set(group);
    this.#pending = [...held, ...this.#pending.filter((op) => !flushed.has(op))];
    if (writeError) {
      // Nothing of a failed write is stored: hold it, and everything after it, and try again later.
      this.#failures++;
      this.#lastError = (writeError as JournalWriteError).message;
      for (const plugin of new Set(held.map((op) => op.plugin))) {
        if (this.#failedPlugins.has(plugin)) continue;
        this.#failedPlugins.add(plugin);
        for (const h of this.#health) h.failed(plugin, writeError);
      }
      this.#flushing = false;
      this.#cancelRetry = this.#clock.setTimer(backoffMs(100, 5_000, this.#failures), () => {
        this.#cancelRetry = null;
        if (this.#pending.length > 0 && !this.#flushing) void this.#flush();
      });
      return;
    }
    if (this.#failures > 0) {
      this.#failures = 0;
      this.#lastError = null;
      const recovered = [...this.#failedPlugins];
      this.#failedPlugins.clear();
      for (const plugin of recovered) for (const h of this.#health) h.recovered(plugin);
    }
    if (this.#pending.length > 0) void this.#flush();
    else this.#flushing = false;
  }

  /** Tries a held write now instead of at the next backoff (a test, or an operator who freed space). */
  retryNow(): void {
    if (this.#cancelRetry === null) return;
    this.#cancelRetry();
    this.#cancelRetry = null;
    if (this.#pending.length > 0 && !this.#flushing) void this.#flush();
  }
}

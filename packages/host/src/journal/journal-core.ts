import type { JsonValue } from '../manifest/types.js';
import type { IngressEvent } from '../service/ingress-event.js';
import type { JournalErrorCode } from './error-codes.js';
import { PluginBook, planAppend, planCommit, type CommitPlanResult, type Plan, type RecordReader } from './book.js';
import {
  DEFAULT_JOURNAL_LIMITS,
  JournalRejectedError,
  JournalWriteError,
  type CommitResult,
  type DurableTimer,
  type Journal,
  type JournalDeadLetter,
  type JournalEvent,
  type JournalLimits,
  type JournalStats,
  type JournalTransaction,
  type NewJournalEvent,
  type OutboxEntry,
} from './journal.js';
import { LatencyWindow } from './latency-window.js';
import { checkPlugin, type Mutation, type StoredEvent } from './records.js';

/** Where an engine keeps records: synchronous reads of committed records, one atomic durable write per group. */
export interface RecordStore extends RecordReader {
  /** Makes all mutations durable in one atomic transaction; rejects (with the cause) when nothing of them was stored. */
  persist(mutations: readonly Mutation[]): Promise<void>;
  /**
   * Optional, for stores whose atomic unit is one plugin (the JetStream log): makes each unit
   * durable atomically on its own, all units of a group in one round of writes awaited
   * together, and reports each unit's outcome (in order). When present it is used instead of
   * `persist`, and a unit that fails fails only the calls of its plugin.
   */
  persistEach?(units: readonly PersistUnit[]): Promise<readonly PersistOutcome[]>;
  /**
   * Optional: called before a group is validated, with the plugins it touches. Resolves with
   * the plugins whose records the store re-read meanwhile (e.g. after a write whose outcome was
   * unknown), so their books are loaded again before validation.
   */
  prepare?(plugins: ReadonlySet<string>): Promise<Iterable<string>>;
  /** A short operator-facing reason for a failed `persist`. */
  describeFailure(error: unknown): string;
  close(): Promise<void>;
}

/** The writes of one plugin in a group. */
export interface PersistUnit {
  readonly plugin: string;
  readonly mutations: readonly Mutation[];
}

export type PersistOutcome = { readonly stored: true } | { readonly stored: false; readonly cause: unknown };

/**
 * A failed write a store classifies itself: its code becomes the `JournalWriteError` code, and
 * `outcomeUnknown` says the store could not learn whether the write was stored (a server that
 * stopped answering), which the error message then says instead of "nothing was stored".
 */
export class RecordStoreError extends Error {
  readonly code: JournalErrorCode;
  readonly outcomeUnknown: boolean;
  constructor(message: string, code: JournalErrorCode, outcomeUnknown = false, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RecordStoreError';
    this.code = code;
    this.outcomeUnknown = outcomeUnknown;
  }
}

/** Options every journal engine takes: bounds and time. */
export interface JournalCoreOptions {
  readonly limits?: Partial<JournalLimits>;
  /** Epoch-ms clock for `accepted_at` / `committed_at` (tests inject one). */
  readonly clock?: () => number;
}

const JOURNAL_CLOSED = 'YOI_JOURNAL_CLOSED';
const MESSAGE_MAX = 300;

type Operation =
  | { readonly kind: 'append'; readonly plugin: string; readonly events: readonly NewJournalEvent[]; readonly started: number; resolve(value: readonly JournalEvent[]): void; reject(error: unknown): void }
  | { readonly kind: 'commit'; readonly plugin: string; readonly tx: JournalTransaction; readonly started: number; resolve(value: CommitResult): void; reject(error: unknown): void };

export function resolveLimits(limits: Partial<JournalLimits> = {}): JournalLimits {
  const resolved = { ...DEFAULT_JOURNAL_LIMITS, ...limits };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`journal limit ${name} must be a positive integer`);
  }
  return resolved;
}

/**
 * The engine-independent journal: validation against per-plugin books, group commit (every
 * append and commit issued before the next macrotask shares one durable write; while a write
 * is in flight, new calls gather into the next one), bounded errors and statistics. Engines
 * supply a `RecordStore`.
 */
export class JournalCore implements Journal {
  readonly engine: string;
  readonly limits: JournalLimits;
  readonly #store: RecordStore;
  readonly #clock: () => number;
  readonly #books = new Map<string, PluginBook>();
  #pending: Operation[] = [];
  #draining: Promise<void> | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  readonly #latency = new LatencyWindow(1024);
  #appended = 0;
  #commits = 0;
  #writeErrors = 0;
  #flushes = 0;
  #rejected = 0;
  #evicted = 0;
  #lastWriteError: string | null = null;

  constructor(engine: string, store: RecordStore, options: JournalCoreOptions = {}) {
    this.engine = engine;
    this.#store = store;
    this.limits = resolveLimits(options.limits);
    this.#clock = options.clock ?? Date.now;
  }

  append(plugin: string, events: readonly NewJournalEvent[]): Promise<readonly JournalEvent[]> {
    return new Promise((resolve, reject) => this.#enqueue({ kind: 'append', plugin, events, started: performance.now(), resolve, reject }));
  }

  commit(plugin: string, tx: JournalTransaction): Promise<CommitResult> {
    return new Promise((resolve, reject) => this.#enqueue({ kind: 'commit', plugin, tx, started: performance.now(), resolve, reject }));
  }

  async unacked(plugin: string): Promise<readonly JournalEvent[]> {
    const id = this.#readable(plugin);
    const attempts = new Map<number | string, number>();
    for (const [seq, text] of this.#store.entries('attempt', id)) attempts.set(seq, Number(text));
    const events: JournalEvent[] = [];
    for (const [seq, text] of this.#store.entries('event', id)) {
      const stored = JSON.parse(text) as StoredEvent;
      const attempt = attempts.get(seq);
      const event = (attempt === undefined ? stored.event : { ...(stored.event as object), attempt }) as IngressEvent;
      events.push({ seq: seq as number, ingress: stored.ingress, event, accepted_at: stored.accepted_at });
    }
    return events;
  }

  async outbox(plugin: string): Promise<readonly OutboxEntry[]> {
    const id = this.#readable(plugin);
    return Array.from(this.#store.entries('outbox', id), ([, text]) => JSON.parse(text) as OutboxEntry);
  }

  async state(plugin: string): Promise<Readonly<Record<string, JsonValue>>> {
    const id = this.#readable(plugin);
    return Object.fromEntries(Array.from(this.#store.entries('state', id), ([key, text]) => [key, JSON.parse(text) as JsonValue]));
  }

  async deadLetters(plugin: string): Promise<readonly JournalDeadLetter[]> {
    const id = this.#readable(plugin);
    return Array.from(this.#store.entries('dead', id), ([, text]) => JSON.parse(text) as JournalDeadLetter);
  }

  async timers(plugin: string): Promise<readonly DurableTimer[]> {
    const id = this.#readable(plugin);
    const timers = Array.from(this.#store.entries('timer', id), ([, text]) => JSON.parse(text) as DurableTimer);
    return timers.sort((a, b) => a.next_at - b.next_at || (a.timer_id < b.timer_id ? -1 : a.timer_id > b.timer_id ? 1 : 0));
  }

  stats(): JournalStats {
    return {
      appended: this.#appended,
      commits: this.#commits,
      write_errors: this.#writeErrors,
      commit_p50_us: this.#latency.percentile(0.5),
      commit_p99_us: this.#latency.percentile(0.99),
      flushes: this.#flushes,
      rejected: this.#rejected,
      dead_letters_evicted: this.#evicted,
      last_write_error: this.#lastWriteError,
    };
  }

  /** Waits for every call issued so far, then closes the store. Later calls reject with `YOI_JOURNAL_CLOSED`. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#closing = (async () => {
        while (this.#draining) await this.#draining;
        await this.#store.close();
      })();
    }
    return this.#closing;
  }

  #closedError(): JournalWriteError {
    return new JournalWriteError(`the ${this.engine} journal is closed`, JOURNAL_CLOSED);
  }

  #readable(plugin: string): string {
    if (this.#closed) throw this.#closedError();
    return checkPlugin(plugin);
  }

  #enqueue(operation: Operation): void {
    if (this.#closed) {
      operation.reject(this.#closedError());
      return;
    }
    this.#pending.push(operation);
    // The first call of a tick schedules the write; the rest of the tick joins it.
    this.#draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const group = this.#pending;
        this.#pending = [];
        try {
          await this.#runGroup(group);
        } catch (error) {
          // Unexpected (e.g. a throwing clock): fail this group's calls, not the journal.
          this.#writeErrors += group.length;
          const failure = this.#writeError(error);
          for (const operation of group) operation.reject(failure);
        }
      }
    } finally {
      this.#draining = null;
    }
  }

  #book(plugin: string): PluginBook {
    let book = this.#books.get(plugin);
    if (!book) {
      book = PluginBook.load(plugin, this.#store);
      this.#books.set(plugin, book);
    }
    return book;
  }

  async #runGroup(group: readonly Operation[]): Promise<void> {
    if (this.#store.prepare) {
      const plugins = new Set<string>();
      for (const operation of group) {
        try {
          plugins.add(checkPlugin(operation.plugin));
        } catch {
          // refused below, with the rest of its validation
        }
      }
      for (const plugin of await this.#store.prepare(plugins)) this.#books.delete(plugin);
    }
    const now = this.#clock();
    const planned: { operation: Operation; plan: Plan<unknown> }[] = [];
    // Per plugin, in call order: the writes of its planned calls, and the last value of each meta record.
    const writes = new Map<string, { mutations: Mutation[]; metas: Map<string, Mutation>; calls: { operation: Operation; plan: Plan<unknown> }[] }>();
    // Dead letters written earlier in this group are not in the store yet.
    const pendingDead = new Map<string, string>();
    for (const operation of group) {
      let plan: Plan<unknown>;
      let plugin: string;
      try {
        plugin = checkPlugin(operation.plugin);
        const book = this.#book(plugin);
        plan =
          operation.kind === 'append'
            ? planAppend(book, plugin, operation.events, now)
            : planCommit(book, plugin, operation.tx, this.limits, now, (order) => pendingDead.get(`${plugin}\u0000${order}`) ?? this.#store.get('dead', plugin, order));
        plan.apply();
      } catch (error) {
        if (error instanceof JournalRejectedError) {
          this.#rejected += 1;
          operation.reject(error);
        } else {
          this.#writeErrors += 1;
          operation.reject(this.#writeError(error));
        }
        continue;
      }
      let unit = writes.get(plugin);
      if (!unit) writes.set(plugin, (unit = { mutations: [], metas: new Map(), calls: [] }));
      for (const mutation of plan.mutations) {
        if (mutation.kind === 'meta') {
          unit.metas.set(String(mutation.key), mutation);
          continue;
        }
        unit.mutations.push(mutation);
        if (mutation.kind === 'dead' && mutation.value !== null) pendingDead.set(`${mutation.plugin}\u0000${mutation.key}`, mutation.value);
      }
      const call = { operation, plan };
      unit.calls.push(call);
      planned.push(call);
    }
    if (planned.length === 0) return;
    const units: PersistUnit[] = [];
    for (const [plugin, unit] of writes) {
      unit.mutations.push(...unit.metas.values());
      if (unit.mutations.length > 0) units.push({ plugin, mutations: unit.mutations });
    }
    const failed = new Map<string, unknown>();
    if (units.length > 0) {
      const outcomes = await this.#persist(units);
      units.forEach((unit, i) => {
        const outcome = outcomes[i];
        if (!outcome?.stored) failed.set(unit.plugin, outcome ? outcome.cause : new Error('the store reported no outcome'));
      });
      if (failed.size < units.length) this.#flushes += 1;
    }
    if (failed.size === 0) this.#lastWriteError = null;
    const finished = performance.now();
    for (const [plugin, unit] of writes) {
      if (failed.has(plugin)) {
        // Nothing of this plugin's writes was stored: forget what its book assumed and read it again.
        this.#books.delete(plugin);
        const error = this.#writeError(failed.get(plugin));
        this.#writeErrors += unit.calls.length;
        for (const { operation } of unit.calls) operation.reject(error);
        continue;
      }
      for (const { operation, plan } of unit.calls) {
        this.#latency.record((finished - operation.started) * 1000);
        if (operation.kind === 'append') {
          const events = plan.result as JournalEvent[];
          this.#appended += events.length;
          operation.resolve(events);
        } else {
          const { evicted } = plan.result as CommitPlanResult;
          this.#commits += 1;
          this.#evicted += evicted.length;
          operation.resolve({ evicted });
        }
      }
    }
  }

  /** One outcome per unit: through `persistEach` where the store has it, else one atomic `persist` of everything. */
  async #persist(units: readonly PersistUnit[]): Promise<readonly PersistOutcome[]> {
    if (this.#store.persistEach) return this.#store.persistEach(units);
    try {
      await this.#store.persist(units.flatMap((unit) => unit.mutations));
      return units.map(() => ({ stored: true }) as const);
    } catch (cause) {
      return units.map(() => ({ stored: false, cause }) as const);
    }
  }

  #writeError(cause: unknown): JournalWriteError {
    let reason: string;
    try {
      reason = this.#store.describeFailure(cause);
    } catch {
      reason = 'unknown failure';
    }
    const classified = cause instanceof RecordStoreError ? cause : null;
    const outcome = classified?.outcomeUnknown ? 'it was not confirmed, so it may have been stored' : 'nothing of this write was stored';
    let message = `journal write failed (${this.engine}): ${reason}; ${outcome}`;
    if (message.length > MESSAGE_MAX) message = `${message.slice(0, MESSAGE_MAX)}…`;
    this.#lastWriteError = message;
    return new JournalWriteError(message, classified?.code, { cause });
  }
}

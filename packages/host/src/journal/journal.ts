import type { JsonValue } from '../manifest/types.js';
import type { IngressEvent } from '../service/ingress-event.js';
import type { JournalErrorCode } from './error-codes.js';

/**
 * The durable journal of a workspace (decisions §6, issue F): accepted ingress events, the
 * transactional outbox of output commands, durable plugin state, durable timers and dead
 * letters. An event counts as accepted only once `append` has resolved; it stays unacknowledged
 * until a `commit` acknowledges it, and every unacknowledged event is handed back by `unacked`
 * after a crash or restart (at-least-once).
 *
 * One interface, several engines: the embedded store (LMDB) is the default; issue H adds NATS
 * JetStream. Every implementation passes the same conformance suite
 * (`test/journal/conformance.ts`).
 *
 * Everything is scoped by plugin identity (`builtin:example.echo`). Sequence numbers are per
 * plugin, strictly increasing, never reused (also not after a restart).
 */
export interface Journal {
  /** Human-readable engine name for status (`lmdb`, `memory`, `jetstream`). */
  readonly engine: string;

  /**
   * Accepts events durably, in order. Resolves once they are on stable storage (group commit:
   * appends issued in the same tick share one flush). Rejects with a `JournalWriteError` when
   * the store cannot write (disk full); nothing of a rejected call was accepted.
   */
  append(plugin: string, events: readonly NewJournalEvent[]): Promise<readonly JournalEvent[]>;

  /** Unacknowledged events of a plugin in sequence order (with their last recorded attempt). */
  unacked(plugin: string): Promise<readonly JournalEvent[]>;

  /**
   * Commits one transaction atomically: acknowledgements, attempt updates, outbox additions and
   * completions, state changes, dead-letter changes and timer changes. All or nothing.
   * Rejects with a `JournalWriteError` when the store cannot write.
   */
  commit(plugin: string, tx: JournalTransaction): Promise<CommitResult>;

  /** Outbox commands not yet marked done, in the order they were committed. */
  outbox(plugin: string): Promise<readonly OutboxEntry[]>;

  /** The plugin's durable state (small key → JSON value map). */
  state(plugin: string): Promise<Readonly<Record<string, JsonValue>>>;

  /** Dead letters, oldest first. */
  deadLetters(plugin: string): Promise<readonly JournalDeadLetter[]>;

  /** Durable timers. */
  timers(plugin: string): Promise<readonly DurableTimer[]>;

  /** Counters and commit latency for status, metrics and benchmarks. */
  stats(): JournalStats;

  /** Flushes and closes; further calls reject. Idempotent. */
  close(): Promise<void>;
}

export interface NewJournalEvent {
  readonly ingress: string;
  readonly event: IngressEvent;
  /**
   * `JSON.stringify(event)` when the caller already made it (the service serialises each event
   * once); the journal stores this text instead of serialising the event again. Not stored
   * on its own, and never returned.
   */
  readonly json?: string;
}

export interface JournalEvent extends NewJournalEvent {
  readonly seq: number;
  /** Epoch ms when the event was accepted. */
  readonly accepted_at: number;
}

export interface OutboxEntry {
  /** The output command's `command_id`: the idempotency key of its execution. */
  readonly command_id: string;
  /** The event whose handling produced it. */
  readonly source_seq: number;
  /** The validated command envelope as the guest sent it (kind, payload, ids). */
  readonly command: JsonValue;
  readonly committed_at: number;
}

export interface JournalDeadLetter {
  readonly id: string;
  readonly ingress: string;
  readonly event: IngressEvent;
  readonly attempts: number;
  readonly last_error: string;
  readonly dead_lettered_at: string;
}

export interface DurableTimer {
  readonly timer_id: string;
  readonly ingress: string;
  /** Epoch ms of the next tick. */
  readonly next_at: number;
  readonly interval_ms: number | null;
  readonly data: JsonValue | null;
}

export interface JournalTransaction {
  /** Events whose handling is finished (handled, dead-lettered, or otherwise settled). */
  readonly ack?: readonly number[];
  /** Attempt counters to record for events still unacknowledged (redelivery resumes from here). */
  readonly attempts?: readonly { readonly seq: number; readonly attempt: number }[];
  readonly outboxAdd?: readonly Omit<OutboxEntry, 'committed_at'>[];
  readonly outboxDone?: readonly string[];
  /** State changes: a key set to a value, or removed when the value is `null`. */
  readonly state?: Readonly<Record<string, JsonValue | null>>;
  readonly deadLetterAdd?: readonly JournalDeadLetter[];
  readonly deadLetterRemove?: readonly string[];
  readonly timerSet?: readonly DurableTimer[];
  readonly timerDelete?: readonly string[];
}

export interface CommitResult {
  /** Dead letters evicted (oldest first) to keep the store within its count and byte bounds. */
  readonly evicted: readonly JournalDeadLetter[];
}

export interface JournalStats {
  readonly appended: number;
  readonly commits: number;
  readonly write_errors: number;
  /** Durable-write latency of appends and commits in microseconds (recent window). */
  readonly commit_p50_us: number;
  readonly commit_p99_us: number;
  /** Durable writes made: appends and commits issued in the same tick share one (group commit). */
  readonly flushes?: number;
  /** Calls refused with a `JournalRejectedError` (nothing of them took effect). `write_errors` counts calls rejected with a `JournalWriteError`. */
  readonly rejected?: number;
  /** Dead letters evicted to stay within the bounds (each also returned in a `CommitResult`). */
  readonly dead_letters_evicted?: number;
  /** The message of the last failed write, or null when the last write succeeded (or none failed). */
  readonly last_write_error?: string | null;
}

/**
 * Bounds applied by every journal engine. Sizes are UTF-8 bytes of JSON text: a dead letter
 * counts `JSON.stringify(letter)`, a state entry its key plus `JSON.stringify(value)`.
 */
export interface JournalLimits {
  /** Dead letters kept per plugin; older ones are evicted and reported in `CommitResult`. */
  readonly deadLetterCount: number;
  readonly deadLetterBytes: number;
  /** Durable state per plugin. */
  readonly stateKeys: number;
  readonly stateBytes: number;
}

/**
 * Longest plugin identity, state key, `command_id`, dead-letter id and timer id a journal
 * accepts, in UTF-8 bytes (longer ones are refused with a `JournalRejectedError`).
 */
export const JOURNAL_KEY_MAX_BYTES = 512;

export const DEFAULT_JOURNAL_LIMITS: JournalLimits = {
  deadLetterCount: 1000,
  deadLetterBytes: 16 * 1024 * 1024,
  stateKeys: 256,
  stateBytes: 256 * 1024,
};

/** A write the store could not make durable (disk full, read-only, closed). Nothing of it took effect. */
export class JournalWriteError extends Error {
  readonly code: JournalErrorCode;
  constructor(message: string, code: JournalErrorCode = 'YOI_JOURNAL_WRITE', options?: ErrorOptions) {
    super(message, options);
    this.name = 'JournalWriteError';
    this.code = code;
  }
}

/** A transaction the journal refuses (state over its bounds, unknown sequence): a plugin error, not a disk error. */
export class JournalRejectedError extends Error {
  readonly code: JournalErrorCode;
  constructor(message: string, code: JournalErrorCode = 'YOI_JOURNAL_REJECTED') {
    super(message);
    this.name = 'JournalRejectedError';
    this.code = code;
  }
}

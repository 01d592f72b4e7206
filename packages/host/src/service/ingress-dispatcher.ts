import { boundText, redactText } from '../diagnostics.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import type { Clock } from './clock.js';
import type { DeadLetter, DeadLetterStore } from './dead-letters.js';
import { rfc3339 } from './ids.js';
import { ingressEventProblem, type IngressEvent } from './ingress-event.js';
import { IngressQueue, type QueuedEvent } from './ingress-queue.js';
import { backoffMs, type ServicePolicy } from './policy.js';
import type { ServiceEvent } from './service-events.js';

export interface DispatchCounters {
  enqueued: number;
  dispatched: number;
  retried: number;
  failed: number;
  timed_out: number;
  dead_lettered: number;
  dropped: number;
  rejected: number;
}

export type RefusalReason = 'invalid' | 'denied' | 'unavailable' | 'failed' | 'stopped' | 'disabled' | 'full';

export type EnqueueOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: RefusalReason; readonly message: string };

export type Refusal = Extract<EnqueueOutcome, { ok: false }>;

/** The outcome of one delivery attempt. */
export interface Attempt {
  readonly ok: boolean;
  readonly error?: string;
  readonly timedOut?: boolean;
  readonly retryAfterMs?: number;
}

export interface LastEvent {
  readonly kind: string;
  readonly ingress: string;
  readonly at: string;
  readonly correlation_id: string;
}

/** What the dispatcher needs from the service around it. */
export interface DispatchHooks {
  /** Why the lifecycle refuses events now, or null when it takes them. */
  refusal(): Refusal | null;
  /** Waits until the instance can take an event; false when it never will (stopping, disabled, failed). */
  whenDeliverable(): Promise<boolean>;
  /** Delivers one event to the instance and runs its commands. */
  attempt(ingress: string, event: IngressEvent): Promise<Attempt>;
  diagnose(kind: string, message: string, error?: boolean): void;
  notify(event: Omit<ServiceEvent, 'plugin'>): void;
}

/**
 * Ingress dispatch of one service: validation before queueing, the bounded queue with
 * backpressure or an explicit drop policy, serial delivery, redelivery with backoff and
 * `attempt` incremented, and the dead-letter store once the attempts are used up.
 */
export class IngressDispatcher {
  readonly counters: DispatchCounters = { enqueued: 0, dispatched: 0, retried: 0, failed: 0, timed_out: 0, dead_lettered: 0, dropped: 0, rejected: 0 };
  readonly deadLetters: DeadLetterStore;
  readonly #record: ResolvedPlugin;
  readonly #policy: ServicePolicy;
  readonly #clock: Clock;
  readonly #hooks: DispatchHooks;
  readonly #queue: IngressQueue;
  #inFlight: QueuedEvent | null = null;
  #loop: Promise<void> | null = null;
  #idleWaiters: (() => void)[] = [];
  #cancelSleep: (() => void) | null = null;
  #pausedSince: number | null = null;
  #pausedMs = 0;
  #lastEvent: LastEvent | null = null;

  constructor(record: ResolvedPlugin, policy: ServicePolicy, clock: Clock, deadLetters: DeadLetterStore, hooks: DispatchHooks) {
    this.#record = record;
    this.#policy = policy;
    this.#clock = clock;
    this.deadLetters = deadLetters;
    this.#hooks = hooks;
    this.#queue = new IngressQueue(policy.queueCapacity);
  }

  get depth(): number {
    return this.#queue.depth;
  }

  get capacity(): number {
    return this.#queue.capacity;
  }

  get inFlight(): QueuedEvent | null {
    return this.#inFlight;
  }

  get lastEvent(): LastEvent | null {
    return this.#lastEvent;
  }

  /** Total time sources spent held back by a full queue. */
  get backpressureMs(): number {
    return this.#pausedMs + (this.#pausedSince !== null ? this.#clock.now() - this.#pausedSince : 0);
  }

  get isIdle(): boolean {
    return this.#queue.depth === 0 && this.#inFlight === null && this.#queue.waiting === 0;
  }

  /** Takes events again and runs the dispatch loop (start, restart after stop, re-enable). */
  open(): void {
    this.#queue.reopen();
    this.#loop ??= this.#run();
  }

  /** Refuses new events and wakes a redelivery backoff; returns what was still queued. */
  close(): QueuedEvent[] {
    this.#queue.close();
    this.#cancelSleep?.();
    const drained = this.#queue.drain();
    this.#checkIdle();
    return drained;
  }

  /** Resolves when the dispatch loop has ended (after `close`). */
  async finished(): Promise<void> {
    await this.#loop;
  }

  #refuse(outcome: Refusal): Refusal {
    this.counters.rejected++;
    this.#hooks.diagnose(outcome.reason === 'invalid' ? 'InvalidEvent' : outcome.reason === 'full' ? 'QueueFull' : 'Rejected', `ingress event rejected: ${outcome.message}`, true);
    this.#hooks.notify({ kind: 'rejected', level: 'warn', message: 'ingress event rejected', fields: { reason: outcome.reason, error: outcome.message } });
    return outcome;
  }

  /** Why this event may not be queued now, or null. */
  check(ingress: string, event: IngressEvent): Refusal | null {
    const closed = this.#hooks.refusal();
    if (closed) return closed;
    const problem = ingressEventProblem(this.#record, ingress, event);
    return problem ? { ok: false, reason: problem.kind, message: problem.message } : null;
  }

  /** Queues an event, waiting while the queue is full (backpressure: the source is held, nothing is lost). */
  async deliver(ingress: string, event: IngressEvent): Promise<EnqueueOutcome> {
    const refused = this.check(ingress, event);
    if (refused) return this.#refuse(refused);
    const full = this.#queue.depth >= this.#queue.capacity;
    if (full && this.#pausedSince === null) this.#pausedSince = this.#clock.now();
    const accepted = await this.#queue.put({ ingress, event, enqueuedAt: this.#clock.now() });
    if (this.#pausedSince !== null && this.#queue.waiting === 0) {
      this.#pausedMs += this.#clock.now() - this.#pausedSince;
      this.#pausedSince = null;
    }
    if (!accepted) return this.#refuse({ ok: false, reason: 'stopped', message: 'plugin service stopped before the event could be queued' });
    this.counters.enqueued++;
    return { ok: true };
  }

  /** Queues an event without waiting; when full, follows the ingress's drop policy (default: refuse). */
  offer(ingress: string, event: IngressEvent): EnqueueOutcome {
    const refused = this.check(ingress, event);
    if (refused) return this.#refuse(refused);
    const policy = this.#policy.dropPolicy[ingress] ?? 'block';
    const result = this.#queue.offer({ ingress, event, enqueuedAt: this.#clock.now() }, policy);
    if (!result.accepted) {
      if (policy === 'drop_newest') {
        this.#dropped(`ingress event dropped by the drop_newest policy of ingress ${ingress} (queue full, capacity ${this.#queue.capacity})`, event);
        return { ok: true };
      }
      return this.#refuse({ ok: false, reason: 'full', message: `plugin ingress queue is full (capacity ${this.#queue.capacity})` });
    }
    if (result.dropped) this.#dropped(`oldest queued ingress event dropped by the drop_oldest policy of ingress ${ingress}`, result.dropped.event);
    this.counters.enqueued++;
    return { ok: true };
  }

  #dropped(message: string, event: IngressEvent): void {
    this.counters.dropped++;
    this.#hooks.diagnose('Dropped', `${message}: ${event.kind} ${event.correlation_id}`);
    this.#hooks.notify({ kind: 'dropped', level: 'warn', message: 'ingress event dropped by policy', fields: { correlation_id: event.correlation_id, event_kind: event.kind, detail: message } });
  }

  /**
   * Queues an event beyond the capacity, for work the service holds a bounded slot for (a
   * host response, a command rejection). Never waits; refused only by the lifecycle or the
   * event's validity.
   */
  pushReserved(ingress: string, event: IngressEvent): EnqueueOutcome {
    const refused = this.check(ingress, event);
    if (refused) return refused;
    if (!this.#queue.pushReserved({ ingress, event, enqueuedAt: this.#clock.now() })) return { ok: false, reason: 'stopped', message: 'plugin service stopped before the event could be queued' };
    this.counters.enqueued++;
    return { ok: true };
  }

  /** Resolves when nothing is queued, in flight or waiting for queue space. */
  idle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #checkIdle(): void {
    if (this.isIdle) for (const waiter of this.#idleWaiters.splice(0)) waiter();
  }

  deadLetter(item: QueuedEvent, attempts: number, error: string): DeadLetter {
    this.counters.dead_lettered++;
    const evictedBefore = this.deadLetters.evicted;
    const reason = boundText(redactText(error, 512), 512);
    this.#hooks.diagnose('DeadLettered', `ingress event ${item.event.correlation_id} dead-lettered after ${attempts} attempt(s): ${reason}`);
    const letter = this.deadLetters.add({ plugin: this.#record.identity, ingress: item.ingress, event: { ...item.event, attempt: Math.max(1, attempts) }, attempts, last_error: reason });
    this.#hooks.notify({ kind: 'dead_letter', level: 'warn', message: 'ingress event dead-lettered', fields: { correlation_id: item.event.correlation_id, event_kind: item.event.kind, attempts, error: reason, dead_letter_id: letter.id } });
    const evicted = this.deadLetters.evicted - evictedBefore;
    if (evicted > 0) {
      this.#hooks.diagnose('DeadLetterEvicted', `${evicted} oldest dead letter(s) evicted to stay within ${this.deadLetters.capacity}`, true);
      this.#hooks.notify({ kind: 'dead_letter_evicted', level: 'error', message: 'oldest dead letters evicted', fields: { count: evicted, capacity: this.deadLetters.capacity } });
    }
    return letter;
  }

  async #run(): Promise<void> {
    for (;;) {
      this.#checkIdle();
      const item = await this.#queue.take();
      if (!item) break;
      this.#inFlight = item;
      try {
        await this.#deliverWithRetries(item);
      } catch (error) {
        // Never let one event stop the loop: record it and keep nothing back.
        this.deadLetter(item, item.event.attempt, `delivery failed inside the host: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        this.#inFlight = null;
      }
    }
    this.#loop = null;
    this.#checkIdle();
  }

  async #deliverWithRetries(item: QueuedEvent): Promise<void> {
    let attempt = item.event.attempt;
    for (;;) {
      if (!(await this.#hooks.whenDeliverable())) {
        this.deadLetter(item, attempt - 1, 'plugin service stopped taking events before delivery');
        return;
      }
      const event: IngressEvent = { ...item.event, attempt };
      this.#lastEvent = { kind: event.kind, ingress: item.ingress, at: rfc3339(this.#clock.now()), correlation_id: event.correlation_id };
      const result = await this.#hooks.attempt(item.ingress, event);
      if (result.ok) {
        this.counters.dispatched++;
        return;
      }
      this.counters.failed++;
      if (result.timedOut) this.counters.timed_out++;
      const error = result.error ?? 'delivery failed';
      this.#hooks.diagnose(result.timedOut ? 'DispatchTimeout' : 'DispatchFailed', `ingress delivery ${attempt}/${this.#policy.maxAttempts} failed: ${error}`, true);
      if (attempt >= this.#policy.maxAttempts) {
        this.deadLetter(item, attempt, error);
        return;
      }
      this.counters.retried++;
      const delay = result.retryAfterMs ?? backoffMs(this.#policy.retryBaseMs, this.#policy.retryMaxMs, attempt);
      this.#hooks.notify({ kind: 'retry', level: 'warn', message: 'ingress event will be redelivered', fields: { correlation_id: event.correlation_id, event_kind: event.kind, attempt, next_attempt: attempt + 1, delay_ms: delay, error } });
      await this.#sleep(delay);
      attempt++;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancel = this.#clock.setTimer(ms, done);
      const self = this;
      function done() {
        cancel();
        self.#cancelSleep = null;
        resolve();
      }
      this.#cancelSleep = done;
    });
  }
}

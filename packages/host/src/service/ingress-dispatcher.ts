import { boundText, redactText } from '../diagnostics.js';
import type { JournalDeadLetter, JournalEvent } from '../journal/journal.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import type { Clock } from './clock.js';
import { rfc3339, uuidv7 } from './ids.js';
import { Deque } from './deque.js';
import { checkIngressEvent, type IngressEvent } from './ingress-event.js';
import { IngressQueue, type QueuedEvent } from './ingress-queue.js';
import type { JournalWriter } from './journal-writer.js';
import { backoffMs, type ServicePolicy } from './policy.js';
import type { ServiceEvent } from './service-events.js';

/** A service's ingress counters since the host was built. */
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

/**
 * Why an offered event was refused (see {@link EnqueueOutcome}).
 * @public
 */
export type RefusalReason = 'invalid' | 'denied' | 'unavailable' | 'failed' | 'stopped' | 'disabled' | 'full';

/** Whether an offered event was accepted (journaled and queued), and why not when it was refused. */
export type EnqueueOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: RefusalReason; readonly message: string };

export type Refusal = Extract<EnqueueOutcome, { ok: false }>;

const ACCEPTED: EnqueueOutcome = Object.freeze({ ok: true });

/** The outcome of one delivery attempt. */
export interface Attempt {
  readonly ok: boolean;
  readonly error?: string;
  readonly timedOut?: boolean;
  readonly retryAfterMs?: number;
}

/** The last event handed to a plugin, as status shows it. */
export interface LastEvent {
  readonly kind: string;
  readonly ingress: string;
  readonly at: string;
  readonly correlation_id: string;
}

/** How a batch went: the first `handled` events were handled; `failure` is the attempt of the next one, if it failed. */
export interface BatchOutcome {
  readonly handled: number;
  readonly failure?: Attempt;
}

/** Batches delivered so far: how many, how many events they held, the largest. */
export interface BatchCounters {
  readonly batches: number;
  readonly events: number;
  readonly largest: number;
}

/** What the dispatcher needs from the service around it. */
export interface DispatchHooks {
  /** Why the lifecycle refuses events now, or null when it takes them. */
  refusal(): Refusal | null;
  /** Waits until the instance can take an event; false when it never will (stopping, disabled, failed). */
  whenDeliverable(): Promise<boolean>;
  /** Delivers one event to the instance, commits its handling, and leaves its commands to the outbox. */
  attempt(item: QueuedEvent, event: IngressEvent): Promise<Attempt>;
  /**
   * Delivers queued events in order, each with its own deadline, stopping at the first that is
   * not handled (or when `proceed()` turns false before the next one), and commits the
   * handling of those handled in one durable write. Without it, events go one by one.
   */
  attemptBatch?(batch: readonly QueuedEvent[], proceed: () => boolean): Promise<BatchOutcome>;
  /** An event went to the dead-letter store; `evicted` were pushed out to keep it within its bounds. */
  deadLettered(letter: JournalDeadLetter, evicted: readonly JournalDeadLetter[]): void;
  diagnose(kind: string, message: string, error?: boolean): void;
  notify(event: Omit<ServiceEvent, 'plugin'>): void;
}

/**
 * Ingress dispatch of one service: validation before an event is accepted, acceptance into
 * the journal (an event counts as accepted once it is stored there), the bounded queue with
 * backpressure or an explicit drop policy, serial delivery, redelivery with backoff and
 * `attempt` incremented, and the dead-letter store once the attempts are used up.
 */
export class IngressDispatcher {
  readonly counters: DispatchCounters = { enqueued: 0, dispatched: 0, retried: 0, failed: 0, timed_out: 0, dead_lettered: 0, dropped: 0, rejected: 0 };
  readonly #record: ResolvedPlugin;
  readonly #policy: ServicePolicy;
  readonly #clock: Clock;
  readonly #writer: JournalWriter;
  readonly #hooks: DispatchHooks;
  readonly #queue: IngressQueue;
  #inFlight: QueuedEvent | null = null;
  /** Events taken into a batch that stopped before them: delivered next, before the queue. */
  readonly #held = new Deque<QueuedEvent>();
  #batches = { batches: 0, events: 0, largest: 0 };
  #loop: Promise<void> | null = null;
  #idleWaiters: (() => void)[] = [];
  #cancelSleep: (() => void) | null = null;
  #pausedSince: number | null = null;
  #pausedMs = 0;
  /** Events reserved in this synchronous run, appended to the journal together at its end. */
  #group: { readonly ingress: string; readonly event: IngressEvent; readonly json: string }[] = [];
  #groupOutcome: Promise<EnqueueOutcome> | null = null;
  #settleGroup: ((outcome: EnqueueOutcome) => void) | null = null;
  #accepting = 0;
  #lastDelivered: { readonly item: QueuedEvent; readonly at: number } | null = null;

  constructor(record: ResolvedPlugin, policy: ServicePolicy, clock: Clock, writer: JournalWriter, hooks: DispatchHooks) {
    this.#record = record;
    this.#policy = policy;
    this.#clock = clock;
    this.#writer = writer;
    this.#hooks = hooks;
    this.#queue = new IngressQueue(policy.queueCapacity);
  }

  get #plugin(): string {
    return this.#record.identity;
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
    const last = this.#lastDelivered;
    return last && { kind: last.item.event.kind, ingress: last.item.ingress, at: rfc3339(last.at), correlation_id: last.item.event.correlation_id };
  }

  get batching(): BatchCounters {
    return { ...this.#batches };
  }

  /** Total time sources spent held back by a full queue. */
  get backpressureMs(): number {
    return this.#pausedMs + (this.#pausedSince !== null ? this.#clock.now() - this.#pausedSince : 0);
  }

  get isIdle(): boolean {
    return this.#queue.depth === 0 && this.#inFlight === null && this.#held.length === 0 && this.#queue.waiting === 0 && this.#accepting === 0;
  }

  /** Takes events again and runs the dispatch loop (start, start after stop, re-enable). */
  open(): void {
    this.#queue.reopen();
    this.#loop ??= this.#run();
  }

  /** Refuses new events and wakes a redelivery backoff; returns what was still queued (it stays in the journal). */
  close(): QueuedEvent[] {
    this.#queue.close();
    this.#cancelSleep?.();
    const drained = [...this.#held.drain(), ...this.#queue.drain()];
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

  /** Why this event may not be accepted now, or null. */
  check(ingress: string, event: IngressEvent): Refusal | null {
    const checked = this.#check(ingress, event);
    return typeof checked === 'string' ? null : checked;
  }

  /** The refusal, or the event's JSON text (made once, here, for the journal and the guest). */
  #check(ingress: string, event: IngressEvent): Refusal | string {
    const closed = this.#hooks.refusal();
    if (closed) return closed;
    const checked = checkIngressEvent(this.#record, ingress, event);
    return checked.ok ? checked.json : { ok: false, reason: checked.kind, message: checked.message };
  }

  /**
   * Accepts an event, waiting while the queue is full and while the journal cannot write
   * (backpressure: the source is held, nothing is lost). `ok` means it is in the journal.
   */
  deliver(ingress: string, event: IngressEvent): Promise<EnqueueOutcome> {
    const json = this.#check(ingress, event);
    if (typeof json !== 'string') return Promise.resolve(this.#refuse(json));
    if (this.#queue.tryReserve()) return this.#accept(ingress, event, json);
    return this.#deliverWhenPlaced(ingress, event, json);
  }

  /** The backpressure path of `deliver`: waits for a place, then joins the group being accepted. */
  async #deliverWhenPlaced(ingress: string, event: IngressEvent, json: string): Promise<EnqueueOutcome> {
    if (this.#pausedSince === null) this.#pausedSince = this.#clock.now();
    const placed = await this.#queue.reserve();
    if (this.#pausedSince !== null && this.#queue.waiting === 0) {
      this.#pausedMs += this.#clock.now() - this.#pausedSince;
      this.#pausedSince = null;
    }
    if (!placed) return this.#refuse({ ok: false, reason: 'stopped', message: 'plugin service stopped before the event could be accepted' });
    return this.#accept(ingress, event, json);
  }

  /** Accepts an event without waiting for a place; when full, follows the ingress's drop policy (default: refuse). */
  offer(ingress: string, event: IngressEvent): Promise<EnqueueOutcome> {
    const json = this.#check(ingress, event);
    if (typeof json !== 'string') return Promise.resolve(this.#refuse(json));
    if (!this.#queue.tryReserve()) {
      const policy = this.#policy.dropPolicy[ingress] ?? 'block';
      const oldest = policy === 'drop_oldest' ? this.#queue.evictOldest() : undefined;
      if (oldest) {
        this.#dropped(`oldest queued ingress event dropped by the drop_oldest policy of ingress ${ingress}`, oldest.event);
        this.#settle(oldest.seq);
      } else if (policy === 'drop_newest') {
        this.#dropped(`ingress event dropped by the drop_newest policy of ingress ${ingress} (queue full, capacity ${this.#queue.capacity})`, event);
        return Promise.resolve(ACCEPTED);
      } else return Promise.resolve(this.#refuse({ ok: false, reason: 'full', message: `plugin ingress queue is full (capacity ${this.#queue.capacity})` }));
    }
    return this.#accept(ingress, event, json);
  }

  /**
   * Writes a reserved event to the journal and queues it in its place. The events reserved in
   * one synchronous run go to the journal together: one append, one promise for all of them.
   * They share its outcome, as they would each have had the same one: the dispatcher checked
   * each event already, so the journal can refuse such an append only for a reason that holds
   * for the plugin (its identity, a closed or failing journal), never for one event of it.
   */
  #accept(ingress: string, event: IngressEvent, json: string): Promise<EnqueueOutcome> {
    this.#accepting++;
    this.#group.push({ ingress, event, json });
    if (this.#groupOutcome === null) {
      this.#groupOutcome = new Promise((resolve) => (this.#settleGroup = resolve));
      queueMicrotask(() => this.#appendGroup());
    }
    return this.#groupOutcome;
  }

  #appendGroup(): void {
    const group = this.#group;
    const settle = this.#settleGroup!;
    this.#group = [];
    this.#groupOutcome = null;
    this.#settleGroup = null;
    this.#writer.append(this.#plugin, group).then(
      (stored) => {
        const now = this.#clock.now();
        for (let i = 0; i < group.length; i++) {
          const { ingress, event, json } = group[i]!;
          this.#queue.push({ ingress, event, enqueuedAt: now, seq: stored[i]!.seq, json });
        }
        this.counters.enqueued += group.length;
        this.#accepting -= group.length;
        settle(ACCEPTED);
        this.#checkIdle();
      },
      (error: unknown) => {
        const refusal: Refusal = { ok: false, reason: 'stopped', message: `the event could not be accepted: ${error instanceof Error ? error.message : String(error)}` };
        for (let i = 0; i < group.length; i++) {
          this.#queue.unreserve();
          this.#refuse(refusal);
        }
        this.#accepting -= group.length;
        settle(refusal);
        this.#checkIdle();
      },
    );
  }

  /** Acknowledges an event that will not be delivered (dropped by policy). */
  #settle(seq: number): void {
    this.#writer.commit(this.#plugin, { ack: [seq] }).catch((error: unknown) => this.#hooks.diagnose('JournalError', `acknowledging dropped event ${seq} failed: ${String(error)}`, true));
  }

  #dropped(message: string, event: IngressEvent): void {
    this.counters.dropped++;
    this.#hooks.diagnose('Dropped', `${message}: ${event.kind} ${event.correlation_id}`);
    this.#hooks.notify({ kind: 'dropped', level: 'warn', message: 'ingress event dropped by policy', fields: { correlation_id: event.correlation_id, event_kind: event.kind, detail: message } });
  }

  /**
   * Queues events the host already accepted into the journal, beyond the capacity: responses,
   * rejections, and (`kept`) events accepted before a restart, which are not counted again.
   */
  queueAccepted(events: readonly JournalEvent[], kept = false): number {
    let queued = 0;
    for (const stored of events) {
      if (!this.#queue.pushBeyond({ ingress: stored.ingress, event: stored.event, enqueuedAt: this.#clock.now(), seq: stored.seq })) break;
      if (!kept) this.counters.enqueued++;
      queued++;
    }
    return queued;
  }

  /** Resolves when nothing is queued, in flight, being accepted or waiting for a place. */
  idle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #checkIdle(): void {
    if (this.isIdle) for (const waiter of this.#idleWaiters.splice(0)) waiter();
  }

  /** Moves an event to the dead-letter store and acknowledges it, in one commit. */
  async deadLetter(item: QueuedEvent, attempts: number, error: string): Promise<void> {
    const reason = boundText(redactText(error, 512), 512);
    const letter: JournalDeadLetter = { id: uuidv7(this.#clock.now()), ingress: item.ingress, event: { ...item.event, attempt: Math.max(1, attempts) }, attempts, last_error: reason, dead_lettered_at: rfc3339(this.#clock.now()) };
    const result = await this.#writer.commit(this.#plugin, { ack: [item.seq], deadLetterAdd: [letter] });
    this.counters.dead_lettered++;
    this.#hooks.diagnose('DeadLettered', `ingress event ${item.event.correlation_id} dead-lettered after ${attempts} attempt(s): ${reason}`);
    this.#hooks.notify({ kind: 'dead_letter', level: 'warn', message: 'ingress event dead-lettered', fields: { correlation_id: item.event.correlation_id, event_kind: item.event.kind, attempts, error: reason, dead_letter_id: letter.id } });
    this.#hooks.deadLettered(letter, result.evicted);
  }

  async #run(): Promise<void> {
    const limit = this.#hooks.attemptBatch ? Math.max(1, this.#policy.ingressBatch) : 1;
    for (;;) {
      this.#checkIdle();
      const item = this.#held.shift() ?? (await this.#queue.take());
      if (!item) break;
      // What is queued now joins the batch (up to the limit); nothing waits for more to arrive.
      const batch = [item];
      while (batch.length < limit) {
        const next = this.#held.shift() ?? this.#queue.takeNow();
        if (!next) break;
        batch.push(next);
      }
      this.#inFlight = item;
      try {
        await this.#deliverBatch(batch);
      } catch (error) {
        // A journal that cannot be written, or a stop that gave up the write: the event stays
        // unacknowledged in the journal and is delivered again at the next start.
        this.#hooks.diagnose('DeliveryHeld', `ingress event ${item.event.correlation_id} stays in the journal: ${error instanceof Error ? error.message : String(error)}`, true);
      } finally {
        this.#inFlight = null;
      }
    }
    this.#loop = null;
    this.#checkIdle();
  }

  /**
   * One wake-up of the instance: the batch's events in order until one is not handled. That
   * one goes through redelivery as a single event would; the events after it wait (held, in
   * order) and are delivered after it, so order and attempt numbering are those of one-by-one
   * delivery.
   */
  async #deliverBatch(batch: readonly QueuedEvent[]): Promise<void> {
    const attemptBatch = this.#hooks.attemptBatch;
    if (!attemptBatch) {
      await this.#deliverWithRetries(batch[0]!);
      return;
    }
    // Not deliverable (stopping, disabled): the events stay in the journal for the next start.
    if (!(await this.#hooks.whenDeliverable())) return;
    this.#lastDelivered = { item: batch[0]!, at: this.#clock.now() };
    const outcome = await attemptBatch.call(this.#hooks, batch, () => !this.#queue.closed);
    this.counters.dispatched += outcome.handled;
    const attempted = outcome.handled + (outcome.failure ? 1 : 0);
    if (attempted > 0) {
      this.#lastDelivered = { item: batch[attempted - 1]!, at: this.#clock.now() };
      this.#batches.batches++;
      this.#batches.events += attempted;
      this.#batches.largest = Math.max(this.#batches.largest, attempted);
    }
    // Once closed, what was not delivered stays in the journal (as the queue's events do).
    if (attempted < batch.length && !this.#queue.closed) this.#held.unshift(...batch.slice(attempted));
    if (outcome.failure) await this.#deliverWithRetries(batch[outcome.handled]!, outcome.failure);
  }

  /** Delivers one event until it is handled or dead-lettered; `failed` is the outcome of an attempt already made. */
  async #deliverWithRetries(item: QueuedEvent, failed?: Attempt): Promise<void> {
    let attempt = item.event.attempt;
    let result = failed;
    for (;;) {
      if (!result) {
        // Not deliverable (stopping, disabled): the event stays in the journal for the next start.
        if (!(await this.#hooks.whenDeliverable())) return;
        const event: IngressEvent = attempt === item.event.attempt ? item.event : { ...item.event, attempt };
        this.#lastDelivered = { item, at: this.#clock.now() };
        result = await this.#hooks.attempt(item, event);
        if (result.ok) {
          this.counters.dispatched++;
          return;
        }
      }
      const event = item.event;
      this.counters.failed++;
      if (result.timedOut) this.counters.timed_out++;
      const error = result.error ?? 'delivery failed';
      this.#hooks.diagnose(result.timedOut ? 'DispatchTimeout' : 'DispatchFailed', `ingress delivery ${attempt}/${this.#policy.maxAttempts} failed: ${error}`, true);
      if (attempt >= this.#policy.maxAttempts) {
        await this.deadLetter(item, attempt, error);
        return;
      }
      // Recorded, so a redelivery after a restart goes on counting from here.
      await this.#writer.commit(this.#plugin, { attempts: [{ seq: item.seq, attempt }] });
      this.counters.retried++;
      const delay = result.retryAfterMs ?? backoffMs(this.#policy.retryBaseMs, this.#policy.retryMaxMs, attempt);
      this.#hooks.notify({ kind: 'retry', level: 'warn', message: 'ingress event will be redelivered', fields: { correlation_id: event.correlation_id, event_kind: event.kind, attempt, next_attempt: attempt + 1, delay_ms: delay, error } });
      await this.#sleep(delay);
      attempt++;
      result = undefined;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const self = this;
      let cancel: (() => void) | null = null;
      function done() {
        cancel?.();
        self.#cancelSleep = null;
        resolve();
      }
      this.#cancelSleep = done;
      cancel = this.#clock.setTimer(ms, done);
    });
  }
}

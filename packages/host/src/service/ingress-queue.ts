import type { IngressEvent } from './ingress-event.js';

export interface QueuedEvent {
  readonly ingress: string;
  readonly event: IngressEvent;
  readonly enqueuedAt: number;
}

/** What a full queue does with one more event from a source: wait (default) or drop. */
export type DropPolicy = 'block' | 'drop_newest' | 'drop_oldest';

export type OfferResult = { readonly accepted: true; readonly dropped?: QueuedEvent } | { readonly accepted: false; readonly reason: 'full' | 'closed' };

/**
 * A bounded FIFO with backpressure. `put` waits while the queue is full (sources that can
 * wait are held, nothing is lost); `offer` never waits and follows the drop policy. Waiters
 * are served in arrival order. `close` fails pending puts and refuses new events.
 */
export class IngressQueue {
  readonly capacity: number;
  readonly #items: QueuedEvent[] = [];
  readonly #spaceWaiters: { item: QueuedEvent; resolve: (ok: boolean) => void }[] = [];
  #itemWaiter: ((item: QueuedEvent | null) => void) | null = null;
  #closed = false;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('queue capacity must be a positive integer');
    this.capacity = capacity;
  }

  get depth(): number {
    return this.#items.length;
  }

  /** Sources currently held back because the queue is full. */
  get waiting(): number {
    return this.#spaceWaiters.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #push(item: QueuedEvent): void {
    const waiter = this.#itemWaiter;
    if (waiter) {
      this.#itemWaiter = null;
      waiter(item);
    } else this.#items.push(item);
  }

  /** Adds an event, waiting for space; resolves false if the queue closes first. */
  put(item: QueuedEvent): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#items.length < this.capacity && this.#spaceWaiters.length === 0) {
      this.#push(item);
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.#spaceWaiters.push({ item, resolve }));
  }

  /** Adds an event without waiting, applying the drop policy when full. */
  offer(item: QueuedEvent, policy: DropPolicy): OfferResult {
    if (this.#closed) return { accepted: false, reason: 'closed' };
    if (this.#items.length < this.capacity && this.#spaceWaiters.length === 0) {
      this.#push(item);
      return { accepted: true };
    }
    if (policy === 'drop_oldest' && this.#items.length > 0) {
      const dropped = this.#items.shift()!;
      this.#items.push(item);
      return { accepted: true, dropped };
    }
    return { accepted: false, reason: 'full' };
  }

  /**
   * Adds an event beyond the capacity without waiting. Only for work the service already
   * holds a bounded slot for (a host response, a command rejection), which must never wait
   * behind the source it would otherwise deadlock with. False once closed.
   */
  pushReserved(item: QueuedEvent): boolean {
    if (this.#closed) return false;
    this.#push(item);
    return true;
  }

  /** Puts an event back at the head (a redelivery keeps its place in line). */
  unshift(item: QueuedEvent): void {
    this.#items.unshift(item);
  }

  /** The next event, waiting for one; null once closed and drained. */
  take(): Promise<QueuedEvent | null> {
    const item = this.#items.shift();
    if (item) {
      this.#admitWaiter();
      return Promise.resolve(item);
    }
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#itemWaiter = (next) => {
        resolve(next);
        if (next) this.#admitWaiter();
      };
    });
  }

  #admitWaiter(): void {
    while (this.#items.length < this.capacity && this.#spaceWaiters.length > 0) {
      const waiter = this.#spaceWaiters.shift()!;
      this.#push(waiter.item);
      waiter.resolve(true);
    }
  }

  /** Removes and returns everything queued (for dead-lettering on disable). */
  drain(): QueuedEvent[] {
    const items = this.#items.splice(0);
    return items;
  }

  close(): void {
    this.#closed = true;
    for (const waiter of this.#spaceWaiters.splice(0)) waiter.resolve(false);
    const taker = this.#itemWaiter;
    this.#itemWaiter = null;
    taker?.(null);
  }

  /** Reopens after a close (operator re-enable). */
  reopen(): void {
    this.#closed = false;
  }
}

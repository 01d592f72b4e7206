import { Deque } from './deque.js';
import type { IngressEvent } from './ingress-event.js';

export interface QueuedEvent {
  readonly ingress: string;
  readonly event: IngressEvent;
  readonly enqueuedAt: number;
  /** The event's sequence number in the journal (it is accepted, and stays there until acknowledged). */
  readonly seq: number;
  /** `JSON.stringify(event)`, made once when the event was accepted (absent: serialise when delivered). */
  readonly json?: string;
}

/** What a full queue does with one more event from a source: wait (default) or drop. */
export type DropPolicy = 'block' | 'drop_newest' | 'drop_oldest';

interface Entry {
  readonly item: QueuedEvent;
  /** Whether the event took one of the `capacity` places (host events queued beyond it do not). */
  readonly placed: boolean;
}

/**
 * The in-memory line of accepted events of one service, bounded for sources. A source first
 * takes a place (`reserve`, waiting while all `capacity` places are taken: the source is held,
 * nothing is lost), then the event is written to the journal, then queued into its place
 * (`push`); the place frees when the dispatcher takes the event. Events the host itself owes
 * the plugin (a response, a rejection, events kept from before a restart) are queued beyond
 * the capacity (`pushBeyond`), bounded by whatever produced them. Waiters are served in
 * arrival order; `close` fails pending reservations.
 */
export class IngressQueue {
  readonly capacity: number;
  readonly #items = new Deque<Entry>();
  #placed = 0;
  #reserved = 0;
  readonly #spaceWaiters = new Deque<(ok: boolean) => void>();
  #itemWaiter: ((item: QueuedEvent | null) => void) | null = null;
  #closed = false;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('queue capacity must be a positive integer');
    this.capacity = capacity;
  }

  get depth(): number {
    return this.#items.length;
  }

  /** Sources currently held back because every place is taken. */
  get waiting(): number {
    return this.#spaceWaiters.length;
  }

  /** Places taken by events being written to the journal. */
  get reserved(): number {
    return this.#reserved;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get #free(): boolean {
    return this.#placed + this.#reserved < this.capacity;
  }

  /** Takes a place for one event, waiting while the queue is full; false once closed. */
  reserve(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#free && this.#spaceWaiters.length === 0) {
      this.#reserved++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.#spaceWaiters.push(resolve));
  }

  /** Takes a place without waiting; false when full or closed. */
  tryReserve(): boolean {
    if (this.#closed || !this.#free || this.#spaceWaiters.length > 0) return false;
    this.#reserved++;
    return true;
  }

  /** Gives a reserved place back (the event was not accepted). */
  unreserve(): void {
    this.#reserved--;
    this.#admitWaiters();
  }

  /**
   * Queues an accepted event into the place reserved for it. Once closed the event is not
   * queued (it stays in the journal for the next start) and false is returned.
   */
  push(item: QueuedEvent): boolean {
    this.#reserved--;
    if (this.#closed) {
      this.#admitWaiters();
      return false;
    }
    this.#placed++;
    this.#enqueue({ item, placed: true });
    return true;
  }

  /** Queues an accepted event beyond the capacity. False once closed (it stays in the journal). */
  pushBeyond(item: QueuedEvent): boolean {
    if (this.#closed) return false;
    this.#enqueue({ item, placed: false });
    return true;
  }

  #enqueue(entry: Entry): void {
    const taker = this.#itemWaiter;
    if (taker) {
      this.#itemWaiter = null;
      if (entry.placed) this.#placed--;
      taker(entry.item);
      this.#admitWaiters();
    } else this.#items.push(entry);
  }

  /** Removes the oldest event that holds a place and turns its place into a reservation (drop_oldest). */
  evictOldest(): QueuedEvent | undefined {
    const index = this.#items.findIndex((e) => e.placed);
    if (index < 0) return undefined;
    const entry = this.#items.removeAt(index);
    this.#placed--;
    this.#reserved++;
    return entry!.item;
  }

  /** The next event, waiting for one; null once closed. */
  take(): Promise<QueuedEvent | null> {
    const item = this.takeNow();
    if (item) return Promise.resolve(item);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#itemWaiter = resolve;
    });
  }

  /** The next event if one is queued now (a batch takes what is already there), else undefined. */
  takeNow(): QueuedEvent | undefined {
    const entry = this.#items.shift();
    if (!entry) return undefined;
    if (entry.placed) {
      this.#placed--;
      this.#admitWaiters();
    }
    return entry.item;
  }

  #admitWaiters(): void {
    while (this.#free && this.#spaceWaiters.length > 0) {
      this.#reserved++;
      this.#spaceWaiters.shift()!(true);
    }
  }

  /** Removes and returns everything queued (it stays in the journal). */
  drain(): QueuedEvent[] {
    const items = this.#items.drain();
    this.#placed = 0;
    return items.map((e) => e.item);
  }

  close(): void {
    this.#closed = true;
    for (const waiter of this.#spaceWaiters.drain()) waiter(false);
    const taker = this.#itemWaiter;
    this.#itemWaiter = null;
    taker?.(null);
  }

  /** Reopens after a close (start again, operator re-enable). */
  reopen(): void {
    this.#closed = false;
  }
}

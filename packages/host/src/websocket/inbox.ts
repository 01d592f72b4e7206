import type { JsonValue } from '../manifest/types.js';
import { Deque } from '../service/deque.js';

/** An event read from a connection, waiting for the ingress to accept it. */
export interface Inbound {
  readonly kind: string;
  readonly payload: JsonValue;
  /** Estimated memory held while it waits (payload bytes plus a fixed overhead). */
  readonly bytes: number;
}

/** Rough per-event cost beyond its payload (the object, its strings, the event envelope). */
export const INBOUND_OVERHEAD_BYTES = 128;

/** Where the inbox pauses the socket, resumes it, and closes the connection as a last resort. */
export interface InboxMarks {
  /** Pause reading at this many waiting events … */
  readonly high: number;
  /** … and resume when no more than this many wait (and bytes are below a quarter of `highBytes` and of `maxBytes`). */
  readonly low: number;
  /** Pause reading at this many waiting bytes (counting what the socket has already buffered). */
  readonly highBytes: number;
  /** Safety limit: above this the connection is closed and re-dialled once the inbox drains. */
  readonly maxBytes: number;
}

/** A FIFO of inbound events with byte accounting (O(1) push and shift). */
export class Inbox {
  readonly #items = new Deque<Inbound>();
  #bytes = 0;
  #peak = 0;

  get length(): number {
    return this.#items.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The most events that ever waited at once. */
  get peak(): number {
    return this.#peak;
  }

  push(item: Inbound): void {
    this.#items.push(item);
    this.#bytes += item.bytes;
    if (this.length > this.#peak) this.#peak = this.length;
  }

  peek(): Inbound | undefined {
    return this.#items.at(0);
  }

  /** The item `index` places behind the head. */
  at(index: number): Inbound | undefined {
    return this.#items.at(index);
  }

  shift(): Inbound | undefined {
    return this.#counted(this.#items.shift());
  }

  /** Removes the item `index` places behind the head (rare: O(n)). */
  removeAt(index: number): Inbound | undefined {
    return this.#counted(this.#items.removeAt(index));
  }

  #counted(item: Inbound | undefined): Inbound | undefined {
    if (item) this.#bytes -= item.bytes;
    return item;
  }

  /** Whether reading must pause: `buffered` is what the socket already holds and will still emit. */
  overHigh(marks: InboxMarks, buffered: number): boolean {
    return this.length >= marks.high || this.#bytes + buffered >= marks.highBytes;
  }

  underLow(marks: InboxMarks): boolean {
    return this.length <= marks.low && this.#bytes <= Math.min(marks.highBytes, marks.maxBytes) / 4;
  }
}

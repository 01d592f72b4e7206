import type { RequestSlots } from '../commands/executors/types.js';

/** A counting semaphore for host requests in flight; waiters are served in arrival order. */
export class RequestSlotPool implements RequestSlots {
  readonly capacity: number;
  #used = 0;
  readonly #waiters: (() => void)[] = [];
  #waitedTotal = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('maxPendingRequests must be a positive integer');
    this.capacity = capacity;
  }

  get inUse(): number {
    return this.#used;
  }

  /** Commands currently waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** How many commands ever had to wait for a slot. */
  get waitedTotal(): number {
    return this.#waitedTotal;
  }

  acquire(): Promise<() => void> {
    if (this.#used < this.capacity && this.#waiters.length === 0) {
      this.#used++;
      return Promise.resolve(this.#releaser());
    }
    this.#waitedTotal++;
    return new Promise((resolve) =>
      this.#waiters.push(() => {
        this.#used++;
        resolve(this.#releaser());
      }),
    );
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#used--;
      const next = this.#waiters.shift();
      next?.();
    };
  }
}

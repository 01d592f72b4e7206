/**
 * A first-in first-out line with O(1) `push` and `shift` (an array with a moving head,
 * compacted once the consumed prefix outweighs the rest), for the ingress queue, the
 * sources waiting for a place in it and a connection's inbox. `Array.prototype.shift` moves every element: with
 * thousands of sources waiting, that was a measurable share of each event's host work.
 */
export class Deque<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Puts items back at the front, in their order. */
  unshift(...items: T[]): void {
    if (items.length === 0) return;
    if (this.#head >= items.length) {
      this.#head -= items.length;
      for (let i = 0; i < items.length; i++) this.#items[this.#head + i] = items[i];
    } else {
      this.#items = [...items, ...this.#items.slice(this.#head)];
      this.#head = 0;
    }
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** The item `index` places behind the front, or undefined. */
  at(index: number): T | undefined {
    return index >= 0 && index < this.length ? this.#items[this.#head + index] : undefined;
  }

  /** Index (from the front) of the first item that satisfies `predicate`, or -1. */
  findIndex(predicate: (item: T) => boolean): number {
    for (let i = this.#head; i < this.#items.length; i++) if (predicate(this.#items[i] as T)) return i - this.#head;
    return -1;
  }

  /** Removes the item at `index` (from the front); O(n), for the rare eviction. */
  removeAt(index: number): T | undefined {
    if (index < 0 || index >= this.length) return undefined;
    const [item] = this.#items.splice(this.#head + index, 1);
    return item;
  }

  /** Removes and returns everything, front first. */
  drain(): T[] {
    const items = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return items;
  }
}

/** A bounded list that keeps the newest `capacity` items (status lists are never unbounded). */
export class Ring<T> {
  readonly #items: (T | Deferred<T>)[] = [];
  #head = 0;
  #dropped = 0;

  constructor(readonly capacity: number) {}

  push(item: T): void {
    this.#add(item);
  }

  /** Adds an item made only if it is read (`toArray`) before it is pushed out: no formatting for entries nobody looks at. */
  pushLazy(make: () => T): void {
    this.#add(new Deferred(make));
  }

  #add(item: T | Deferred<T>): void {
    if (this.#items.length < this.capacity) {
      this.#items.push(item);
      return;
    }
    // Full: overwrite the oldest in place (O(1), unlike shift).
    this.#items[this.#head] = item;
    this.#head = (this.#head + 1) % this.capacity;
    this.#dropped++;
  }

  toArray(): T[] {
    const ordered = [...this.#items.slice(this.#head), ...this.#items.slice(0, this.#head)];
    return ordered.map((item) => (item instanceof Deferred ? item.value : item));
  }

  get dropped(): number {
    return this.#dropped;
  }
}

class Deferred<T> {
  #make: (() => T) | null;
  #value: T | undefined;

  constructor(make: () => T) {
    this.#make = make;
  }

  get value(): T {
    if (this.#make) {
      this.#value = this.#make();
      this.#make = null;
    }
    return this.#value as T;
  }
}

/** A bounded list that keeps the newest `capacity` items (status lists are never unbounded). */
export class Ring<T> {
  readonly #items: T[] = [];
  #dropped = 0;

  constructor(readonly capacity: number) {}

  push(item: T): void {
    this.#items.push(item);
    if (this.#items.length > this.capacity) {
      this.#items.shift();
      this.#dropped++;
    }
  }

  toArray(): T[] {
    return [...this.#items];
  }

  get dropped(): number {
    return this.#dropped;
  }
}

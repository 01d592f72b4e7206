/**
 * The outbox stage of a service: work that acts on the world (requests, sends, domain
 * events) runs here in commit order, each piece once the commit that holds it is durable,
 * while the dispatcher goes on delivering the next events. `room()` bounds how far the
 * dispatcher may run ahead.
 */
export class OutboxRunner {
  readonly limit: number;
  readonly #onError: (error: unknown) => void;
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #waiters: (() => void)[] = [];

  constructor(limit: number, onError: (error: unknown) => void) {
    this.limit = limit;
    this.#onError = onError;
  }

  /** Scheduled pieces not finished yet. */
  get pending(): number {
    return this.#pending;
  }

  /** Runs `work` (counted as `weight` pieces: the events it acts for) after everything scheduled before it; resolves when it has run. */
  schedule(work: () => Promise<void>, weight = 1): Promise<void> {
    this.#pending += weight;
    const piece = this.#tail
      .then(work)
      .catch((error: unknown) => this.#onError(error))
      .finally(() => {
        this.#pending -= weight;
        for (const waiter of this.#waiters.splice(0)) waiter();
      });
    this.#tail = piece;
    return piece;
  }

  /** Waits while `limit` or more pieces are pending. */
  async room(): Promise<void> {
    while (this.#pending >= this.limit) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves once nothing is pending. */
  async idle(): Promise<void> {
    while (this.#pending > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}

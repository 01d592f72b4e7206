/**
 * Background work a service started and must not lose track of (host requests in flight,
 * lifecycle follow-ups): every promise is held until it settles, its failure is reported,
 * and `settled()` lets stop wait for all of it.
 */
export class TaskSet {
  readonly #running = new Set<Promise<void>>();
  readonly #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  get size(): number {
    return this.#running.size;
  }

  track(work: Promise<unknown>): void {
    const task: Promise<void> = work.then(
      () => undefined,
      (error: unknown) => this.#onError(error),
    );
    this.#running.add(task);
    void task.finally(() => this.#running.delete(task));
  }

  /** Resolves once everything tracked so far (and anything it started meanwhile) has settled. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }
}

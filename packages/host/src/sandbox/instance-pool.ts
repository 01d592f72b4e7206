import type { GuestInstance } from './worker/guest-instance.js';

/**
 * The never-used instances a tool-world sandbox keeps ready, and what happened to them.
 * Snake case: it is part of a plugin's status as it is.
 * @public
 */
export interface InstancePoolStatus {
  /** Most instances kept ready. */
  readonly capacity: number;
  /** Instances ready now. */
  readonly ready: number;
  /** Linear memory held by the ready instances (bytes). */
  readonly bytes: number;
  /** Calls that got a ready instance. */
  readonly hits: number;
  /** Calls that found none ready and made their own instance inside their deadline. */
  readonly misses: number;
  /** Instances made ahead of a call. */
  readonly prepared: number;
  /** Instances that failed to be made ahead (guest start code trapped or overran); the next call makes its own. */
  readonly failures: number;
  /** Ready instances discarded unused because the sandbox closed (unload, reload, stop). */
  readonly drained: number;
}

export interface InstancePoolOptions {
  readonly capacity: number;
  /** Makes one instance under its own deadline; throws when it cannot. */
  readonly make: () => GuestInstance;
  /** Told about each instance that failed to be made ahead (the pool stops refilling until the next take). */
  readonly onFailure: (error: unknown) => void;
}

/**
 * A bounded pool of fresh (never called) instances for the tool world, where every call gets
 * an instance of its own. Calls take from it in microseconds; it is refilled one instance per
 * event-loop turn after the caller has its result (setImmediate), so refilling never sits on a
 * call's path and a burst of callers interleaves with it. An instance leaves the pool exactly
 * once, so the isolation promise (no instance ever serves two calls) holds as without a pool.
 */
export class InstancePool {
  readonly #options: InstancePoolOptions;
  readonly #ready: GuestInstance[] = [];
  #scheduled = false;
  #closed = false;
  /** After a failed preparation the pool waits for the next take, so a broken start-up is not retried in a loop. */
  #failed = false;
  #hits = 0;
  #misses = 0;
  #prepared = 0;
  #failures = 0;
  #drained = 0;

  constructor(options: InstancePoolOptions) {
    this.#options = options;
  }

  /** A ready instance (removed from the pool), or null (a miss: the caller makes its own). Schedules a refill either way. */
  take(): GuestInstance | null {
    const instance = this.#ready.pop() ?? null;
    if (instance) this.#hits++;
    else this.#misses++;
    this.#failed = false;
    this.refill();
    return instance;
  }

  /**
   * Adds an instance the caller made but will not use (the first one made when the sandbox
   * starts). Kept even at capacity 0, when the pool is empty: it is made already, and the first
   * call takes it instead of making another.
   */
  add(instance: GuestInstance): void {
    if (this.#closed || this.#ready.length >= Math.max(1, this.#options.capacity)) return;
    this.#ready.push(instance);
    this.#prepared++;
  }

  /** Makes instances, one per event-loop turn, until the pool is full. */
  refill(): void {
    if (this.#scheduled || this.#closed || this.#failed || this.#ready.length >= this.#options.capacity) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#closed || this.#ready.length >= this.#options.capacity) return;
      try {
        const instance = this.#options.make();
        if (this.#closed) return;
        this.#ready.push(instance);
        this.#prepared++;
      } catch (error) {
        this.#failures++;
        this.#failed = true;
        this.#options.onFailure(error);
        return;
      }
      this.refill();
    }).unref();
  }

  /** Discards every ready instance; later takes miss and nothing is refilled. Idempotent. */
  drain(): void {
    this.#closed = true;
    this.#drained += this.#ready.length;
    this.#ready.length = 0;
  }

  get status(): InstancePoolStatus {
    let bytes = 0;
    for (const instance of this.#ready) for (const memory of instance.memories) bytes += memory.buffer.byteLength;
    return {
      capacity: this.#options.capacity,
      ready: this.#ready.length,
      bytes,
      hits: this.#hits,
      misses: this.#misses,
      prepared: this.#prepared,
      failures: this.#failures,
      drained: this.#drained,
    };
  }
}

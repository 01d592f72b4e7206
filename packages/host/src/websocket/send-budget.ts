/**
 * The send budget of one connection: at most `limit` frames in any `windowMs`. Send times are
 * kept in order in a ring, so each send costs O(1) amortised (expired times leave from the
 * front once each) instead of a scan of the whole window. Memory is bounded by `limit`.
 */
export class SendBudget {
  readonly limit: number;
  readonly windowMs: number;
  #times: Float64Array;
  #head = 0;
  #count = 0;

  constructor(limit: number, windowMs: number) {
    this.limit = Math.max(1, limit);
    this.windowMs = windowMs;
    this.#times = new Float64Array(Math.min(this.limit, 64));
  }

  /** Frames sent within the window ending at `now`. */
  used(now: number): number {
    this.#expire(now);
    return this.#count;
  }

  /** Whether one more frame may be sent at `now`. */
  hasRoom(now: number): boolean {
    return this.used(now) < this.limit;
  }

  /** Records a frame sent at `now` (call only after `hasRoom`). */
  record(now: number): void {
    if (this.#count === this.#times.length) this.#grow();
    this.#times[(this.#head + this.#count) % this.#times.length] = now;
    this.#count++;
  }

  #expire(now: number): void {
    while (this.#count > 0 && now - this.#times[this.#head]! >= this.windowMs) {
      this.#head = (this.#head + 1) % this.#times.length;
      this.#count--;
    }
  }

  #grow(): void {
    const size = Math.min(this.limit, this.#times.length * 2);
    const next = new Float64Array(Math.max(size, this.#count + 1));
    for (let i = 0; i < this.#count; i++) next[i] = this.#times[(this.#head + i) % this.#times.length]!;
    this.#times = next;
    this.#head = 0;
  }
}

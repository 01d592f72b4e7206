/** The most recent `capacity` latency samples (µs), for percentiles in status and benchmarks. */
export class LatencyWindow {
  readonly #samples: Float64Array;
  #next = 0;
  #filled = 0;

  constructor(capacity = 1024) {
    this.#samples = new Float64Array(capacity);
  }

  record(micros: number): void {
    this.#samples[this.#next] = micros;
    this.#next = (this.#next + 1) % this.#samples.length;
    this.#filled = Math.min(this.#filled + 1, this.#samples.length);
  }

  /** The sample at quantile `q` (0 < q ≤ 1) by the nearest-rank method; 0 without samples. */
  percentile(q: number): number {
    if (this.#filled === 0) return 0;
    const sorted = this.#samples.slice(0, this.#filled).sort();
    return Math.round(sorted[Math.min(this.#filled - 1, Math.max(0, Math.ceil(q * this.#filled) - 1))]!);
  }
}

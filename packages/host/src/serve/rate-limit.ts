/**
 * Keeps a noisy log from flooding stderr: at most `perWindow` lines per key in each window.
 * Lines held back are counted, and the next line admitted for that key says how many.
 */
export class LogRateLimiter {
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, { windowStart: number; written: number; suppressed: number }>();

  constructor(perWindow = 10, windowMs = 10_000, now: () => number = Date.now) {
    this.#perWindow = perWindow;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Null when the line must be held back; otherwise how many lines for `key` were held back before it. */
  admit(key: string): { readonly suppressed: number } | null {
    const now = this.#now();
    let entry = this.#keys.get(key);
    if (!entry || now - entry.windowStart >= this.#windowMs) {
      entry = { windowStart: now, written: 0, suppressed: entry?.suppressed ?? 0 };
      this.#keys.set(key, entry);
    }
    if (entry.written >= this.#perWindow) {
      entry.suppressed++;
      return null;
    }
    entry.written++;
    const suppressed = entry.suppressed;
    entry.suppressed = 0;
    return { suppressed };
  }

  /** Keys with lines held back that no later line has reported yet. */
  pending(): { key: string; suppressed: number }[] {
    return [...this.#keys.entries()].filter(([, e]) => e.suppressed > 0).map(([key, e]) => ({ key, suppressed: e.suppressed }));
  }

  /** Like `pending`, and counts those as reported (the caller reports them now). */
  takePending(): { key: string; suppressed: number }[] {
    const pending = this.pending();
    for (const { key } of pending) this.#keys.get(key)!.suppressed = 0;
    return pending;
  }
}

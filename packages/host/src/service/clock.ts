/**
 * Time as the service sees it: restart and retry backoff, host timers and the status poll
 * all go through one clock, so tests can drive them step by step instead of sleeping.
 */
export interface Clock {
  now(): number;
  /**
   * Runs `fn` after `ms`; returns a function that cancels it. A `background` timer does not
   * keep the process alive on its own (plugin timers, the status poll); restart and retry
   * backoff do.
   */
  setTimer(ms: number, fn: () => void, options?: { readonly background?: boolean }): () => void;
}

/** The real clock (`Date.now`, `setTimeout`). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn, options) {
    const handle = setTimeout(fn, Math.max(0, ms));
    if (options?.background) handle.unref();
    return () => clearTimeout(handle);
  },
};

/**
 * The interrupt word and the watchdog's control words, in one shared page (a shared
 * `WebAssembly.Memory`, so the checker module can read word 0 with an atomic load).
 *
 * FLAG: 0 idle; a positive token while a guest call runs under a deadline; the negated token
 * once the watchdog interrupted that call (the checker traps when it is negative). The
 * watchdog only ever flips the token it read (compareExchange), so it never interrupts a
 * later call. DEADLINE (Float64, ms on the shared clock) belongs to the armed token.
 * WAKE_AT is when the watchdog will look again on its own; a call whose deadline is earlier
 * bumps NUDGE and wakes it. Disarming wakes nobody.
 */
export const FLAG = 0;
export const NUDGE = 1;
/** Float64 index (byte offset 8). */
export const DEADLINE_F64 = 1;
/** Float64 index (byte offset 16). */
export const WAKE_AT_F64 = 2;

/** Milliseconds on a clock both threads read the same way. */
export function sharedClock(): number {
  return performance.timeOrigin + performance.now();
}

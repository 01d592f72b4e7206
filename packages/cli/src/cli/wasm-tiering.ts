import { setFlagsFromString } from 'node:v8';

/**
 * For a command that runs a guest for one call and exits: guests stay on V8's baseline
 * compiler (Liftoff) for the life of the process. Otherwise V8 optimises a guest's hot Wasm
 * functions on background threads once they have run a little — a QuickJS guest's
 * interpreter loop (one ~56 kB function) gets there within its first call, whatever the
 * tiering budget — and a process cannot exit before a running compilation ends: 0.3 s of CPU
 * (over 1 s of wall time on a loaded machine) for code that never runs again. The price: a
 * long, compute-bound call runs baseline code all the way (`serve` keeps tiering on).
 * Both flags are needed: without dynamic tiering alone, V8 optimises every function eagerly.
 * Process-wide, so only for one-shot commands; call it before any component is compiled.
 */
export function favourShortGuestRuns(): void {
  setFlagsFromString('--no-wasm-dynamic-tiering');
  setFlagsFromString('--no-wasm-tier-up');
}

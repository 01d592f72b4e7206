import { setFlagsFromString } from 'node:v8';

/** How much a Wasm function runs on V8's baseline compiler before it is optimised (V8's default: 1.8 M). */
const ONE_SHOT_TIERING_BUDGET = 50_000_000;

/**
 * For a command that runs a guest for one call and exits. V8 optimises a guest's hot Wasm
 * functions on background threads once they have run a little (a QuickJS guest's interpreter
 * gets there within its first call), and a process cannot exit before those compilations
 * end: ~100 ms of CPU for code that never runs again. A larger budget keeps short calls on
 * the baseline compiler; a long-running call still gets its hot functions optimised.
 * Process-wide, so only for one-shot commands; call it before any component is compiled.
 */
export function favourShortGuestRuns(): void {
  setFlagsFromString(`--wasm-tiering-budget=${ONE_SHOT_TIERING_BUDGET}`);
}

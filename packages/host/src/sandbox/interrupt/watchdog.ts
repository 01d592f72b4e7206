import { Worker } from 'node:worker_threads';
import { CHECKER_MODULE, INTERRUPT_CHECK, INTERRUPT_MODULE } from './instrument.js';
import { DEADLINE_F64, FLAG, NUDGE, sharedClock, WAKE_AT_F64 } from './watchdog-layout.js';

/**
 * Deadlines for guests that run on this thread: one watchdog thread per process (started on
 * first use, unref'd) interrupts the armed call when its deadline passes. An instrumented
 * module (instrument.ts) imports `check` from here; it traps once the flag is set.
 */
export class Watchdog {
  readonly #words: Int32Array;
  readonly #times: Float64Array;
  readonly #check: () => void;
  #token = 0;

  private constructor() {
    const SharedMemory = WebAssembly.Memory as unknown as new (descriptor: { initial: number; maximum: number; shared: boolean }) => WebAssembly.Memory;
    const memory = new SharedMemory({ initial: 1, maximum: 1, shared: true });
    const buffer = memory.buffer as unknown as SharedArrayBuffer;
    this.#words = new Int32Array(buffer);
    this.#times = new Float64Array(buffer);
    this.#times[WAKE_AT_F64] = Number.POSITIVE_INFINITY;
    const checker = new WebAssembly.Instance(new WebAssembly.Module(CHECKER_MODULE), { yoi: { flag: memory } });
    this.#check = checker.exports[INTERRUPT_CHECK] as () => void;
    const thread = new Worker(new URL('./watchdog-thread.js', import.meta.url), { workerData: buffer, resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1, stackSizeMb: 1 } });
    thread.unref();
  }

  static #shared: Watchdog | null = null;

  static get shared(): Watchdog {
    return (Watchdog.#shared ??= new Watchdog());
  }

  /** What every instrumented module imports. */
  get imports(): WebAssembly.Imports {
    return { [INTERRUPT_MODULE]: { [INTERRUPT_CHECK]: this.#check } };
  }

  get armed(): boolean {
    return Atomics.load(this.#words, FLAG) !== 0;
  }

  /** Starts the deadline of a call on this thread. Calls do not nest. */
  arm(deadlineMs: number): void {
    if (Atomics.load(this.#words, FLAG) !== 0) throw new Error('an interruptible call is already running on this thread');
    this.#token = this.#token >= 0x7ffffffe ? 1 : this.#token + 1;
    const deadline = sharedClock() + deadlineMs;
    this.#times[DEADLINE_F64] = deadline;
    Atomics.store(this.#words, FLAG, this.#token);
    if (deadline < this.#times[WAKE_AT_F64]!) {
      Atomics.add(this.#words, NUDGE, 1);
      Atomics.notify(this.#words, NUDGE);
    }
  }

  /** Ends the call's deadline; true when the watchdog had interrupted it. */
  disarm(): boolean {
    return Atomics.exchange(this.#words, FLAG, 0) < 0;
  }

  /** Throws when the running call was interrupted (for host code between guest steps). */
  throwIfInterrupted(): void {
    if (Atomics.load(this.#words, FLAG) < 0) throw new WebAssembly.RuntimeError('interrupted: the call reached its deadline');
  }

  /**
   * Sleeps up to `ms` on behalf of the running guest (an inert `poll`/`block`), waking early
   * and throwing when the watchdog interrupts the call.
   */
  sleep(ms: number): void {
    const token = Atomics.load(this.#words, FLAG);
    if (token < 0) this.throwIfInterrupted();
    if (token > 0) Atomics.wait(this.#words, FLAG, token, ms);
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    this.throwIfInterrupted();
  }
}

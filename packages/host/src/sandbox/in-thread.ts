import { pathToFileURL } from 'node:url';
import { boundText, redactText } from '../diagnostics.js';
import { PluginError } from '../errors.js';
import { Watchdog } from './interrupt/watchdog.js';
import { InstancePool } from './instance-pool.js';
import { IO_LIMITS } from './limits.js';
import { NOT_STARTED, type SandboxCounters } from './sandbox.js';
import type { GuestLogSink } from './sandbox-worker.js';
import { toError } from './sandbox-worker.js';
import { classifyFailure, FAILURE_CODES } from './worker/failure-cause.js';
import { bytesOver, evidenceOf, instantiateGuest, type Glue, type GuestInstance } from './worker/guest-instance.js';
import { inertImports, resetLogBudget } from './worker/inert.js';

export interface InThreadOptions {
  readonly gluePath: string;
  /** Core modules instrumented for interruption (interrupt/instrument.ts) and memory-capped. */
  readonly modules: Readonly<Record<string, WebAssembly.Module>>;
  readonly mode: 'tool' | 'instance';
  readonly memoryBytes: number;
  readonly inertInterfaces: readonly string[];
  readonly onLog?: GuestLogSink | undefined;
  /** Deadline for instantiating (guest start code runs then), default 10 s. */
  readonly startupMs?: number;
  /** Tool world: most never-used instances kept ready for the next calls (default 2; 0 makes each call's own). */
  readonly spareInstances?: number;
}

/** Ready instances a tool-world sandbox keeps by default: a burst of two calls pays no instantiation. */
const DEFAULT_SPARE_INSTANCES = 2;

/**
 * A component whose imports never block, run on the calling thread: no thread hop, and the
 * deadline is enforced by the watchdog thread flipping a shared flag that the instrumented
 * guest checks at function entries and loop headers (and that inert waits watch). A call
 * that reaches its deadline traps; the instance is discarded (instance world: the sandbox is
 * lost, as when a worker is killed). Same surface and errors as ComponentSandbox; calls run
 * one at a time by construction, so nothing ever waits in a queue.
 */
export class InThreadSandbox {
  readonly #options: InThreadOptions;
  readonly #glue: Glue;
  readonly #imports: Record<string, unknown>;
  readonly #watchdog = Watchdog.shared;
  /** Instance world: the one instance (null after a trap until the next is made). */
  #instance: GuestInstance | null = null;
  #spareScheduled = false;
  /** Tool world: fresh instances, each for exactly one call. */
  readonly #pool: InstancePool | null;
  #running = false;
  #closed: PluginError | null = null;
  #lost = false;
  readonly #counters = { admitted: 0, refusedFull: 0, expiredInQueue: 0, deadlineKills: 0, workersStarted: 0, workersLost: 0 };

  private constructor(options: InThreadOptions, glue: Glue) {
    this.#options = options;
    this.#glue = glue;
    const log = options.onLog ?? (() => undefined);
    this.#imports = inertImports(options.inertInterfaces, log, (ms) => this.#watchdog.sleep(ms));
    this.#pool =
      options.mode === 'tool'
        ? new InstancePool({
            capacity: Math.max(0, options.spareInstances ?? DEFAULT_SPARE_INSTANCES),
            make: () => this.#instantiate(options.startupMs ?? 10_000),
            onFailure: (error) => log('stderr', `[host] preparing a spare instance failed (the next call makes its own): ${boundText(redactText(error instanceof Error ? error.message : String(error)), 300)}`),
          })
        : null;
  }

  static async start(options: InThreadOptions): Promise<InThreadSandbox> {
    const glue = (await import(pathToFileURL(options.gluePath).href)) as Glue;
    const sandbox = new InThreadSandbox(options, glue);
    try {
      const first = sandbox.#instantiate(options.startupMs ?? 10_000);
      if (sandbox.#pool) {
        sandbox.#pool.add(first);
        sandbox.#pool.refill();
      } else sandbox.#instance = first;
    } catch (error) {
      if (error instanceof PluginError) throw error;
      const { detail } = classifyFailure({ kind: 'thrown', error, instance: null });
      throw new PluginError('COMPONENT_INVALID', `component could not be instantiated: ${boundText(redactText(detail), 300)}`);
    }
    sandbox.#counters.workersStarted++;
    return sandbox;
  }

  /** Where this sandbox runs its guest. */
  readonly execution = 'in-thread' as const;

  get alive(): boolean {
    return this.#closed === null && !this.#lost;
  }

  get counters(): SandboxCounters {
    return this.#pool ? { ...this.#counters, instancePool: this.#pool.status } : { ...this.#counters };
  }

  get queued(): number {
    return 0;
  }

  get workers(): number {
    return this.alive ? 1 : 0;
  }

  /** Instantiates under its own deadline (guest start code runs here). */
  #instantiate(deadlineMs: number): GuestInstance {
    this.#watchdog.arm(deadlineMs);
    try {
      return instantiateGuest(this.#glue, this.#options.modules, this.#imports, this.#watchdog.imports);
    } finally {
      if (this.#watchdog.disarm()) {
        // eslint-disable-next-line no-unsafe-finally
        throw new PluginError('SANDBOX_TIMEOUT', `preparing the next component instance took longer than ${deadlineMs} ms`);
      }
    }
  }

  call(fn: string, args: readonly (string | number)[], deadlineMs: number, deadlineAt = performance.now() + deadlineMs): Promise<string> {
    if (this.#closed) return Promise.reject(new PluginError('SANDBOX_CLOSED', `component sandbox is not running: ${this.#closed.message}`));
    if (this.#lost) return Promise.reject(new PluginError('PLUGIN_NOT_RUNNING', NOT_STARTED.reason, { cause: NOT_STARTED }));
    if (this.#running) {
      this.#counters.refusedFull++;
      return Promise.reject(new PluginError('PLUGIN_BUSY', 'plugin is busy: a call to it is already running on this thread'));
    }
    this.#counters.admitted++;
    if (performance.now() >= deadlineAt) {
      this.#counters.expiredInQueue++;
      return Promise.reject(new PluginError('PLUGIN_BUSY', `plugin is busy: the call waited its whole ${deadlineMs} ms deadline behind other calls and did not run`));
    }
    try {
      return Promise.resolve(this.#run(fn, args, deadlineMs));
    } catch (error) {
      return Promise.reject(error as PluginError);
    }
  }

  #run(fn: string, args: readonly (string | number)[], deadlineMs: number): string {
    const dropped = resetLogBudget();
    if (dropped > 0) this.#options.onLog?.('stderr', `[host] ${dropped} bytes of guest output over the per-call budget were dropped`);
    this.#running = true;
    let instance: GuestInstance | null = null;
    let value: unknown;
    let failure: { error: unknown } | null = null;
    this.#watchdog.arm(deadlineMs);
    try {
      // A tool-world instance serves exactly one call: it leaves the pool (or is made) for this call alone.
      instance = (this.#pool ? this.#pool.take() : this.#instance) ?? instantiateGuest(this.#glue, this.#options.modules, this.#imports, this.#watchdog.imports);
      if (!this.#pool) this.#instance = instance;
      const exported = instance.exports[fn];
      if (typeof exported !== 'function') throw new Error(`component does not export ${fn}`);
      value = exported(...args);
    } catch (error) {
      failure = { error };
    } finally {
      const interrupted = this.#watchdog.disarm();
      this.#running = false;
      if (interrupted && failure) {
        this.#instance = null;
        this.#counters.deadlineKills++;
        if (this.#options.mode === 'instance') {
          this.#lost = true;
          this.#counters.workersLost++;
        }
      }
      if (failure && !interrupted) this.#instance = null; // jco refuses to re-enter an instance after a trap
      if (failure && interrupted) {
        const { cause, detail } = classifyFailure({ kind: 'deadline', deadlineMs });
        // eslint-disable-next-line no-unsafe-finally
        throw new PluginError(FAILURE_CODES[cause], `component call \`${fn}\` ${detail}; the instance was stopped`);
      }
    }
    this.#prepareSpare();
    if (failure) {
      const { cause, detail } = classifyFailure({ kind: 'thrown', error: failure.error, instance: evidenceOf(instance, this.#options.memoryBytes) });
      throw toError({ kind: 'guest', cause, detail });
    }
    if (typeof value !== 'string') throw toError({ kind: 'guest', cause: 'error', detail: `component export ${fn} did not return a string` });
    const bytes = bytesOver(value, IO_LIMITS.guestOutputBytes);
    if (bytes !== null) throw toError({ kind: 'output_too_large', bytes, limit: IO_LIMITS.guestOutputBytes });
    return value;
  }

  /** Instance world: the next instance after a trap, made after the caller has its result (a failed one is retried by the next call, under its deadline). */
  #prepareSpare(): void {
    if (this.#pool || this.#instance || this.#spareScheduled || !this.alive) return;
    this.#spareScheduled = true;
    setImmediate(() => {
      this.#spareScheduled = false;
      if (this.#instance || !this.alive || this.#running) return;
      try {
        this.#instance = this.#instantiate(this.#options.startupMs ?? 10_000);
      } catch {
        this.#instance = null;
      }
    }).unref();
  }

  /** Discards the instance; later calls fail with `SANDBOX_CLOSED`. Idempotent. */
  async close(reason = new PluginError('SANDBOX_CLOSED', 'component sandbox was closed')): Promise<void> {
    this.#closed ??= reason;
    this.#instance = null;
    this.#pool?.drain();
  }
}

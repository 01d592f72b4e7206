import { PluginError } from '../errors.js';
import { DEFAULT_LIMITS, IO_LIMITS } from './limits.js';
import type { InstancePoolStatus } from './instance-pool.js';
import { SandboxWorker, type GuestLogSink, type HostSession, type WorkerOptions } from './sandbox-worker.js';

export type { HostSession } from './sandbox-worker.js';

export interface SandboxOptions {
  readonly gluePath: string;
  readonly modules: Readonly<Record<string, WebAssembly.Module>>;
  readonly mode: 'tool' | 'instance';
  readonly memoryBytes: number;
  readonly hostInterfaces: readonly string[];
  readonly inertInterfaces: readonly string[];
  /** A new host session for each worker, so concurrent calls never share pull WebSockets. */
  readonly hostSession: () => HostSession;
  readonly onLog?: GuestLogSink;
  /** Deadline for a worker to load the glue and instantiate (default 10 s). */
  readonly startupMs?: number;
  /**
   * How long a call may block the host thread waiting for a fast result before it waits
   * asynchronously (default 300 µs; 0 never blocks). Short calls then cost a futex wake
   * instead of two event-loop turns. A guest host call ends the wait at once.
   */
  readonly syncWaitMicros?: number;
  /** Calls that may wait for a worker; one more is refused with `PLUGIN_BUSY` (default 256). */
  readonly maxQueued?: number;
  /** Workers a tool-world sandbox may run calls on at once (default 2; instance world: always 1). */
  readonly maxWorkers?: number;
  /** Old-generation heap of each worker in MiB (default 256). */
  readonly workerHeapMib?: number;
}

/** What happened to the calls a sandbox was asked to run; every refusal and kill is counted. */
export interface SandboxCounters {
  /** Calls taken into the queue. */
  readonly admitted: number;
  /** Calls refused because the queue was full. */
  readonly refusedFull: number;
  /** Calls whose deadline passed before they started; they never ran. */
  readonly expiredInQueue: number;
  /** Calls stopped at their deadline (each killed its worker). */
  readonly deadlineKills: number;
  /** Workers started, the first included. */
  readonly workersStarted: number;
  /** Workers that died (deadline, crash, a failed preparation), not counting close. */
  readonly workersLost: number;
  /** Tool world run in-thread: the pool of fresh instances calls take from. */
  readonly instancePool?: InstancePoolStatus;
}

/**
 * Marks a call that never reached a worker because its instance-world worker died first.
 * PluginRuntime runs such a call on the next instance with what is left of its deadline.
 */
export const NOT_STARTED: { readonly reason: string } = Object.freeze({ reason: 'the instance stopped before this call started' });

export function notStarted(error: unknown): boolean {
  return error instanceof PluginError && error.cause === NOT_STARTED;
}

interface Queued {
  readonly fn: string;
  readonly args: readonly (string | number)[];
  readonly deadlineMs: number;
  readonly deadlineAt: number;
  readonly resolve: (value: string) => void;
  readonly reject: (error: PluginError) => void;
  timer: NodeJS.Timeout | null;
}

/**
 * One plugin's component, run in worker threads. A call is admitted into a bounded queue
 * (full: `PLUGIN_BUSY`), and its deadline runs from admission: a call that has not started
 * when its deadline passes fails with `PLUGIN_BUSY` and never runs. A call that started gets
 * its whole deadline to finish (so a caller waits at most twice the deadline); one that
 * overruns it kills its worker (`SANDBOX_TIMEOUT`), and only that call fails.
 *
 * Tool world (a fresh instance per call): up to `maxWorkers` workers run calls at once; a
 * dead worker is replaced, and a second one is started when calls wait. Instance world: one
 * worker; when it dies the sandbox is not alive, and calls that were still waiting fail with
 * `NOT_STARTED` as their cause so the owner can run them on the next instance.
 */
export class ComponentSandbox {
  readonly #options: SandboxOptions;
  readonly #maxWorkers: number;
  readonly #maxQueued: number;
  readonly #workers = new Set<SandboxWorker>();
  readonly #starting = new Set<Promise<unknown>>();
  readonly #queue: Queued[] = [];
  #growthFailed = false;
  #closed: PluginError | null = null;
  #lost = false;
  readonly #counters = { admitted: 0, refusedFull: 0, expiredInQueue: 0, deadlineKills: 0, workersStarted: 0, workersLost: 0 };

  private constructor(options: SandboxOptions) {
    this.#options = options;
    this.#maxWorkers = options.mode === 'instance' ? 1 : Math.max(1, options.maxWorkers ?? DEFAULT_LIMITS.toolWorkers);
    this.#maxQueued = Math.max(0, options.maxQueued ?? DEFAULT_LIMITS.queuedCalls);
  }

  static async start(options: SandboxOptions): Promise<ComponentSandbox> {
    const sandbox = new ComponentSandbox(options);
    sandbox.#adopt(await SandboxWorker.start(sandbox.#workerOptions()));
    return sandbox;
  }

  /** Where this sandbox runs its guest. */
  readonly execution = 'worker' as const;

  get alive(): boolean {
    return this.#closed === null && !this.#lost;
  }

  get counters(): SandboxCounters {
    return { ...this.#counters };
  }

  /** Calls waiting for a worker now. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Workers alive now. */
  get workers(): number {
    let live = 0;
    for (const worker of this.#workers) if (worker.alive) live++;
    return live;
  }

  /**
   * Calls an export (glue name, e.g. `handleTool`): it must start within `deadlineMs` of
   * admission and then finish within `deadlineMs`. An owner moving a call from a lost
   * instance passes the start deadline (`performance.now()` time) the call already had.
   */
  call(fn: string, args: readonly (string | number)[], deadlineMs: number, deadlineAt = performance.now() + deadlineMs): Promise<string> {
    if (this.#closed) return Promise.reject(new PluginError('SANDBOX_CLOSED', `component sandbox is not running: ${this.#closed.message}`));
    if (this.#lost) return Promise.reject(new PluginError('PLUGIN_NOT_RUNNING', NOT_STARTED.reason, { cause: NOT_STARTED }));
    if (this.#queue.length >= this.#maxQueued) {
      this.#counters.refusedFull++;
      return Promise.reject(new PluginError('PLUGIN_BUSY', `plugin is busy: ${this.#queue.length} calls are already waiting (the limit); try again later`));
    }
    return new Promise<string>((resolve, reject) => {
      const entry: Queued = { fn, args, deadlineMs, deadlineAt, resolve, reject, timer: null };
      entry.timer = setTimeout(() => this.#expire(entry), Math.max(0, deadlineAt - performance.now()));
      this.#queue.push(entry);
      this.#counters.admitted++;
      this.#pump();
    });
  }

  #expire(entry: Queued): void {
    const at = this.#queue.indexOf(entry);
    if (at < 0) return;
    this.#queue.splice(at, 1);
    this.#expired(entry);
  }

  #expired(entry: Queued): void {
    this.#counters.expiredInQueue++;
    entry.reject(new PluginError('PLUGIN_BUSY', `plugin is busy: the call waited its whole ${entry.deadlineMs} ms deadline behind other calls and did not run`));
  }

  /** Hands waiting calls to idle workers, then starts a worker if calls still wait. */
  #pump(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const worker = this.#idleWorker();
      if (!worker) break;
      const entry = this.#queue.shift()!;
      if (entry.timer) clearTimeout(entry.timer);
      if (performance.now() >= entry.deadlineAt) {
        this.#expired(entry);
        continue;
      }
      // Started in time: the guest gets its whole deadline, so a kill always means the guest overran.
      worker.run(entry.fn, entry.args, entry.deadlineMs).then(
        (value) => {
          entry.resolve(value);
          this.#pump();
        },
        (error: PluginError) => {
          if (error.code === 'SANDBOX_TIMEOUT') this.#counters.deadlineKills++;
          entry.reject(error);
          this.#pump();
        },
      );
    }
    this.#grow();
  }

  #idleWorker(): SandboxWorker | null {
    for (const worker of this.#workers) {
      if (!worker.alive) this.#workers.delete(worker);
      else if (!worker.busy) return worker;
    }
    return null;
  }

  #grow(keepOneWarm = false): void {
    if (this.#closed || this.#lost) return;
    const live = this.workers;
    if (this.#queue.length === 0 && !(keepOneWarm && live + this.#starting.size === 0)) return;
    if (live + this.#starting.size >= this.#maxWorkers) return;
    // One failed start while others work is enough: do not retry on every call.
    if (this.#growthFailed && live > 0) return;
    const starting = SandboxWorker.start(this.#workerOptions()).then(
      async (worker) => {
        this.#starting.delete(starting);
        this.#growthFailed = false;
        if (this.#closed) {
          await worker.close();
          return;
        }
        this.#adopt(worker);
        this.#pump();
      },
      (error: unknown) => {
        this.#starting.delete(starting);
        this.#growthFailed = true;
        if (this.workers > 0 || this.#starting.size > 0) return;
        const reason = error instanceof PluginError ? error : new PluginError('SANDBOX_CRASHED', 'component worker could not be started');
        for (const entry of this.#queue.splice(0)) {
          if (entry.timer) clearTimeout(entry.timer);
          entry.reject(reason);
        }
      },
    );
    this.#starting.add(starting);
  }

  #adopt(worker: SandboxWorker): void {
    this.#counters.workersStarted++;
    this.#workers.add(worker);
    worker.onDeath = () => this.#onWorkerDeath(worker);
  }

  #onWorkerDeath(worker: SandboxWorker): void {
    this.#workers.delete(worker);
    if (this.#closed) return;
    this.#counters.workersLost++;
    if (this.#options.mode === 'instance') {
      // The instance and its state are gone; its owner decides whether and when to start another.
      this.#lost = true;
      for (const entry of this.#queue.splice(0)) {
        if (entry.timer) clearTimeout(entry.timer);
        entry.reject(new PluginError('PLUGIN_NOT_RUNNING', NOT_STARTED.reason, { cause: NOT_STARTED }));
      }
      return;
    }
    // A replacement starts now, not when the next call arrives: a call right after a deadline
    // kill should not spend its own deadline waiting for a worker to boot.
    queueMicrotask(() => {
      this.#pump();
      this.#grow(true);
    });
  }

  #workerOptions(): WorkerOptions {
    const options = this.#options;
    return {
      gluePath: options.gluePath,
      modules: options.modules,
      mode: options.mode,
      memoryBytes: options.memoryBytes,
      maxOutputBytes: IO_LIMITS.guestOutputBytes,
      maxHostArgumentBytes: IO_LIMITS.hostCallArgumentBytes,
      hostInterfaces: options.hostInterfaces,
      inertInterfaces: options.inertInterfaces,
      session: options.hostSession(),
      onLog: options.onLog,
      startupMs: options.startupMs ?? 10_000,
      syncWaitMs: (options.syncWaitMicros ?? 300) / 1000,
      heapMib: options.workerHeapMib ?? 256,
    };
  }

  /** Stops every worker; waiting and running calls fail with `SANDBOX_CLOSED`. Idempotent. */
  async close(): Promise<void> {
    const reason = (this.#closed ??= new PluginError('SANDBOX_CLOSED', 'component sandbox was closed'));
    for (const entry of this.#queue.splice(0)) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.reject(reason);
    }
    await Promise.all([...this.#starting]);
    await Promise.all([...this.#workers].map((worker) => worker.close(reason)));
    this.#workers.clear();
  }
}

import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { boundText, redactText } from '../diagnostics.js';
import { PluginError, type ErrorCode } from '../errors.js';
import { CallState, PREPARED_COUNTER, type CallResult, type GuestErrorKind, type SandboxWorkerData, type WorkerMessage } from './worker/protocol.js';

export type HostDispatcher = (iface: string, fn: string, args: readonly (string | number)[]) => Promise<string>;
export type GuestLogSink = (stream: 'stdout' | 'stderr', text: string) => void;

export interface SandboxOptions {
  readonly gluePath: string;
  readonly modules: Readonly<Record<string, WebAssembly.Module>>;
  readonly mode: 'tool' | 'instance';
  readonly memoryBytes: number;
  readonly hostInterfaces: readonly string[];
  readonly inertInterfaces: readonly string[];
  readonly dispatch: HostDispatcher;
  readonly onLog?: GuestLogSink;
  /** Deadline for the worker to load the glue and instantiate (default 10 s). */
  readonly startupMs?: number;
  /**
   * How long a call may block the host thread waiting for a fast result before it waits
   * asynchronously (default 300 µs; 0 never blocks). Short calls then cost a futex wake
   * instead of two event-loop turns. A guest host call ends the wait at once.
   */
  readonly syncWaitMicros?: number;
}

const GUEST_ERROR_CODES: Record<GuestErrorKind, ErrorCode> = {
  trap: 'SANDBOX_TRAP',
  stack_overflow: 'SANDBOX_STACK_OVERFLOW',
  out_of_memory: 'SANDBOX_OUT_OF_MEMORY',
  error: 'SANDBOX_TRAP',
};

interface Pending {
  resolve(value: string): void;
  reject(error: PluginError): void;
}

/**
 * One component in its own worker thread. Calls are serial and each has a wall-clock
 * deadline that includes host-call time; on overrun the worker is terminated (the only way
 * to stop a spinning guest) and the sandbox is dead. Traps leave the worker alive: the
 * worker re-instantiates from its compiled modules before the next call.
 */
export class ComponentSandbox {
  readonly #worker: Worker;
  readonly #signal: Int32Array;
  readonly #replyPort: MessageChannel['port1'];
  readonly #dispatch: HostDispatcher;
  readonly #onLog: GuestLogSink | undefined;
  readonly #callSignal: Int32Array;
  readonly #callPort: MessageChannel['port1'];
  readonly #syncWaitMs: number;
  readonly #mode: 'tool' | 'instance';
  #pending = new Map<number, Pending>();
  #nextId = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #dead: PluginError | null = null;
  #preparing: NodeJS.Timeout | null = null;
  #preparationsExpected = 0;
  #preparationsSeen = 0;
  readonly #prepareMs: number;

  private constructor(
    worker: Worker,
    signal: Int32Array,
    replyPort: MessageChannel['port1'],
    callSignal: Int32Array,
    callPort: MessageChannel['port1'],
    options: SandboxOptions,
  ) {
    this.#worker = worker;
    this.#signal = signal;
    this.#replyPort = replyPort;
    this.#callSignal = callSignal;
    this.#callPort = callPort;
    this.#syncWaitMs = (options.syncWaitMicros ?? 300) / 1000;
    this.#mode = options.mode;
    this.#prepareMs = options.startupMs ?? 10_000;
    callPort.on('message', (result: CallResult) => this.#onResult(result));
    callPort.unref();
    this.#dispatch = options.dispatch;
    this.#onLog = options.onLog;
  }

  static async start(options: SandboxOptions): Promise<ComponentSandbox> {
    const signalBuffer = new SharedArrayBuffer(8);
    const channel = new MessageChannel();
    const callSignal = new SharedArrayBuffer(16);
    const callChannel = new MessageChannel();
    const workerData: SandboxWorkerData = {
      gluePath: options.gluePath,
      modules: options.modules,
      mode: options.mode,
      memoryBytes: options.memoryBytes,
      hostInterfaces: options.hostInterfaces,
      inertInterfaces: options.inertInterfaces,
      hostSignal: signalBuffer,
      hostReplyPort: channel.port2,
      callSignal,
      callPort: callChannel.port2,
    };
    const worker = new Worker(new URL('./worker/entry.js', import.meta.url), {
      workerData,
      transferList: [channel.port2, callChannel.port2],
      // Caps the glue's JS heap; Wasm linear memory is capped in the core modules instead.
      resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
      stdout: true,
      stderr: true,
    });
    // The guest never reaches process stdio; whatever the worker prints is dropped.
    worker.stdout.resume();
    worker.stderr.resume();
    const sandbox = new ComponentSandbox(worker, new Int32Array(signalBuffer), channel.port1, new Int32Array(callSignal), callChannel.port1, options);
    await sandbox.#waitReady(options.startupMs ?? 10_000);
    return sandbox;
  }

  get alive(): boolean {
    return this.#dead === null;
  }

  #waitReady(startupMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        void this.#kill(new PluginError('SANDBOX_TIMEOUT', `component did not start within ${startupMs} ms`));
        reject(this.#dead);
      }, startupMs);
      const onMessage = (message: WorkerMessage) => {
        if (message.type === 'ready') {
          cleanup();
          resolve();
        } else if (message.type === 'init-error') {
          cleanup();
          void this.#kill(new PluginError('COMPONENT_INVALID', `component could not be instantiated: ${redactText(message.message)}`));
          reject(this.#dead);
        }
      };
      const onExit = () => {
        cleanup();
        reject(new PluginError('SANDBOX_CRASHED', 'component worker exited during startup'));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.#worker.off('message', onMessage);
        this.#worker.off('exit', onExit);
        this.#worker.on('message', (m: WorkerMessage) => this.#onMessage(m));
        this.#worker.on('exit', () => this.#onExit());
        this.#worker.on('error', (error) => this.#onWorkerError(error));
      };
      this.#worker.on('message', onMessage);
      this.#worker.on('exit', onExit);
      this.#worker.on('error', () => undefined);
    });
  }

  #onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case 'host':
        void this.#serveHostCall(message.seq, message.iface, message.fn, message.args);
        return;
      case 'log':
        this.#onLog?.(message.stream, message.text);
        return;

      default:
        return;
    }
  }

  /**
   * After a call that used up (tool world) or poisoned its instance, the worker prepares the
   * next one outside any call. Guest start code runs then, so it gets a deadline too.
   */
  #watchPreparation(): void {
    this.#preparationsExpected++;
    if (this.#preparing || this.#dead) return;
    const check = () => {
      this.#preparing = null;
      const done = Atomics.load(this.#callSignal, PREPARED_COUNTER);
      if (done >= this.#preparationsExpected) return;
      if (done > this.#preparationsSeen) {
        // Behind, but moving (calls keep coming): look again later.
        this.#preparationsSeen = done;
        this.#preparing = setTimeout(check, this.#prepareMs);
        this.#preparing.unref();
        return;
      }
      void this.#kill(new PluginError('SANDBOX_TIMEOUT', `preparing the next component instance took longer than ${this.#prepareMs} ms; the worker was stopped`));
    };
    this.#preparing = setTimeout(check, this.#prepareMs);
    this.#preparing.unref();
  }

  #onResult(result: CallResult): void {
    if (this.#mode === 'tool' || !result.ok) this.#watchPreparation();
    Atomics.compareExchange(this.#callSignal, 0, CallState.DONE, CallState.IDLE);
    const pending = this.#pending.get(result.id);
    if (!pending) return;
    this.#pending.delete(result.id);
    if (result.ok) pending.resolve(result.value);
    else pending.reject(toError(result));
  }

  async #serveHostCall(seq: number, iface: string, fn: string, args: readonly (string | number)[]): Promise<void> {
    let value: string;
    try {
      value = await this.#dispatch(iface, fn, args);
    } catch (error) {
      value = JSON.stringify({ error: { code: 'host_error', message: boundText(redactText(error instanceof Error ? error.message : String(error))) } });
    }
    if (this.#dead) return;
    this.#replyPort.postMessage({ seq, value });
    Atomics.store(this.#signal, 0, 1);
    Atomics.notify(this.#signal, 0);
  }

  #onWorkerError(error: unknown): void {
    if (!this.#dead) {
      const detail = boundText(redactText(error instanceof Error ? error.message : String(error)), 200);
      this.#dead = new PluginError('SANDBOX_CRASHED', `component worker failed: ${detail}`);
    }
  }

  #onExit(): void {
    if (!this.#dead) this.#dead = new PluginError('SANDBOX_CRASHED', 'component worker exited unexpectedly');
    for (const pending of this.#pending.values()) pending.reject(this.#dead);
    this.#pending.clear();
  }

  async #kill(reason: PluginError): Promise<void> {
    if (!this.#dead) this.#dead = reason;
    if (this.#preparing) clearTimeout(this.#preparing);
    this.#preparing = null;
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
    this.#replyPort.close();
    this.#callPort.close();
    await this.#worker.terminate();
  }

  /** Calls an export (glue name, e.g. `handleTool`) within `deadlineMs`; serial with other calls. */
  call(fn: string, args: readonly (string | number)[], deadlineMs: number): Promise<string> {
    const run = this.#queue.then(() => this.#callNow(fn, args, deadlineMs));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #callNow(fn: string, args: readonly (string | number)[], deadlineMs: number): Promise<string> {
    if (this.#dead) return Promise.reject(new PluginError('SANDBOX_CLOSED', `component sandbox is not running: ${this.#dead.message}`));
    const id = ++this.#nextId;
    this.#callPort.postMessage({ id, fn, args });
    Atomics.store(this.#callSignal, 0, CallState.CALL);
    Atomics.notify(this.#callSignal, 0);
    const fast = this.#waitBriefly(id);
    if (fast) return fast.ok ? Promise.resolve(fast.value) : Promise.reject(toError(fast));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        void this.#kill(new PluginError('SANDBOX_TIMEOUT', `component call \`${fn}\` exceeded its ${deadlineMs} ms deadline; the instance was stopped`));
      }, deadlineMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  /** Blocks for up to the sync-wait window for the result of call `id`. */
  #waitBriefly(id: number): CallResult | null {
    if (this.#syncWaitMs <= 0) return null;
    const until = performance.now() + this.#syncWaitMs;
    while (Atomics.load(this.#callSignal, 0) === CallState.CALL) {
      const left = until - performance.now();
      if (left <= 0) return null;
      Atomics.wait(this.#callSignal, 0, CallState.CALL, left);
    }
    if (Atomics.load(this.#callSignal, 0) !== CallState.DONE) return null;
    let result = receiveMessageOnPort(this.#callPort)?.message as CallResult | undefined;
    // DONE is set just before the result is posted; give the post a moment to land.
    for (let spins = 0; result === undefined && spins < 100; spins++) result = receiveMessageOnPort(this.#callPort)?.message as CallResult | undefined;
    if (result === undefined) return null; // it will arrive through the async path
    Atomics.compareExchange(this.#callSignal, 0, CallState.DONE, CallState.IDLE);
    if (this.#mode === 'tool' || !result.ok) this.#watchPreparation();
    if (result.id !== id) {
      this.#onResult(result);
      return null;
    }
    return result;
  }

  /** Stops the worker; pending calls fail with SANDBOX_CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.#dead) {
      await this.#worker.terminate();
      return;
    }
    await this.#kill(new PluginError('SANDBOX_CLOSED', 'component sandbox was closed'));
  }
}

function toError(result: Extract<CallResult, { ok: false }>): PluginError {
  return new PluginError(GUEST_ERROR_CODES[result.error.kind], guestErrorMessage(result.error.kind, result.error.message));
}

function guestErrorMessage(kind: GuestErrorKind, message: string): string {
  switch (kind) {
    case 'stack_overflow':
      return 'component exceeded its stack (deep recursion)';
    case 'out_of_memory':
      return `component ran out of memory: ${boundText(redactText(message), 200)}`;
    default:
      return `component trapped: ${boundText(redactText(message), 200)}`;
  }
}

import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { boundText, redactText } from '../diagnostics.js';
import { PluginError } from '../errors.js';
import { classifyFailure, FAILURE_CODES, type FailureCause } from './worker/failure-cause.js';
import { CALL_BUFFER_BYTES, CallBuffer } from './worker/call-buffer.js';
import { CallState, PREPARED_COUNTER, type CallFailure, type CallPortMessage, type CallResult, type SandboxWorkerData, type WorkerMessage } from './worker/protocol.js';

type HostDispatcher = (iface: string, fn: string, args: readonly (string | number)[]) => Promise<string>;
export type GuestLogSink = (stream: 'stdout' | 'stderr', text: string) => void;

/** The host side of one worker's guest host calls; `endCall` releases what a call left open (pull WebSockets). */
export interface HostSession {
  readonly dispatch: HostDispatcher;
  endCall(): void;
}

export interface WorkerOptions {
  readonly gluePath: string;
  readonly modules: Readonly<Record<string, WebAssembly.Module>>;
  readonly mode: 'tool' | 'instance';
  readonly memoryBytes: number;
  readonly maxOutputBytes: number;
  readonly maxHostArgumentBytes: number;
  readonly hostInterfaces: readonly string[];
  readonly inertInterfaces: readonly string[];
  readonly session: HostSession;
  readonly onLog?: GuestLogSink | undefined;
  /** Deadline for the worker to load the glue and instantiate, and for preparing each later instance. */
  readonly startupMs: number;
  /** How long a call may block the host thread waiting for a fast result (ms; 0 never blocks). */
  readonly syncWaitMs: number;
  /** Old-generation heap of the worker (the glue's JS heap; Wasm memory is capped separately). */
  readonly heapMib: number;
}

interface Running {
  readonly id: number;
  resolve(value: string): void;
  reject(error: PluginError): void;
}

/**
 * One component in its own worker thread, running one call at a time. A call that overruns
 * its deadline terminates the worker (the only way to stop a spinning guest): that call fails
 * with `SANDBOX_TIMEOUT` and the worker is dead; whoever owns it starts another. Traps leave
 * the worker alive: it re-instantiates from its compiled modules before the next call.
 */
export class SandboxWorker {
  readonly #worker: Worker;
  readonly #signal: Int32Array;
  readonly #replyPort: MessageChannel['port1'];
  readonly #session: HostSession;
  readonly #onLog: GuestLogSink | undefined;
  readonly #callSignal: Int32Array;
  readonly #callPort: MessageChannel['port1'];
  readonly #callBuffer: CallBuffer;
  readonly #syncWaitMs: number;
  readonly #mode: 'tool' | 'instance';
  readonly #prepareMs: number;
  #running: Running | null = null;
  #nextId = 0;
  #dead: PluginError | null = null;
  #preparing: NodeJS.Timeout | null = null;
  #preparationsExpected = 0;
  #preparationsSeen = 0;
  #onDeath: (() => void) | null = null;

  private constructor(worker: Worker, signal: Int32Array, replyPort: MessageChannel['port1'], callSignal: Int32Array, callPort: MessageChannel['port1'], callBuffer: CallBuffer, options: WorkerOptions) {
    this.#callBuffer = callBuffer;
    this.#worker = worker;
    this.#signal = signal;
    this.#replyPort = replyPort;
    this.#callSignal = callSignal;
    this.#callPort = callPort;
    this.#syncWaitMs = options.syncWaitMs;
    this.#mode = options.mode;
    this.#prepareMs = options.startupMs;
    this.#session = options.session;
    this.#onLog = options.onLog;
    callPort.on('message', (message: CallPortMessage) => this.#onCallPort(message));
    callPort.unref();
  }

  static async start(options: WorkerOptions): Promise<SandboxWorker> {
    const signalBuffer = new SharedArrayBuffer(8);
    const channel = new MessageChannel();
    const callSignal = new SharedArrayBuffer(16);
    const callChannel = new MessageChannel();
    const callBuffer = new SharedArrayBuffer(CALL_BUFFER_BYTES);
    const workerData: SandboxWorkerData = {
      gluePath: options.gluePath,
      modules: options.modules,
      mode: options.mode,
      memoryBytes: options.memoryBytes,
      maxOutputBytes: options.maxOutputBytes,
      maxHostArgumentBytes: options.maxHostArgumentBytes,
      hostInterfaces: options.hostInterfaces,
      inertInterfaces: options.inertInterfaces,
      hostSignal: signalBuffer,
      hostReplyPort: channel.port2,
      callSignal,
      callPort: callChannel.port2,
      callBuffer,
    };
    const worker = new Worker(new URL('./worker/entry.js', import.meta.url), {
      workerData,
      transferList: [channel.port2, callChannel.port2],
      // Caps the glue's JS heap; Wasm linear memory is capped in the core modules instead.
      resourceLimits: { maxOldGenerationSizeMb: options.heapMib, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
      stdout: true,
      stderr: true,
    });
    // The guest never reaches process stdio; whatever the worker prints is dropped.
    worker.stdout.resume();
    worker.stderr.resume();
    const sandbox = new SandboxWorker(worker, new Int32Array(signalBuffer), channel.port1, new Int32Array(callSignal), callChannel.port1, new CallBuffer(callBuffer), options);
    await sandbox.#waitReady(options.startupMs);
    return sandbox;
  }

  get alive(): boolean {
    return this.#dead === null;
  }

  get busy(): boolean {
    return this.#running !== null;
  }

  /** Called once when the worker dies (deadline, crash, close), after the running call was failed. */
  set onDeath(listener: () => void) {
    this.#onDeath = listener;
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
          void this.#kill(new PluginError('COMPONENT_INVALID', `component could not be instantiated: ${boundText(redactText(message.message), 300)}`));
          reject(this.#dead);
        }
      };
      const onExit = () => {
        cleanup();
        this.#dead ??= new PluginError('SANDBOX_CRASHED', 'component worker exited during startup');
        this.#session.endCall();
        reject(this.#dead);
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
    const running = this.#running;
    // A result for no running call is ignored before it counts: it must not make the host wait for a preparation.
    if (!running || running.id !== result.id) return;
    if (this.#mode === 'tool' || !result.ok) this.#watchPreparation();
    Atomics.compareExchange(this.#callSignal, 0, CallState.DONE, CallState.IDLE);
    this.#running = null;
    this.#session.endCall();
    if (result.ok) running.resolve(result.value);
    else running.reject(toError(result.error));
  }

  async #serveHostCall(seq: number, iface: string, fn: string, args: readonly (string | number)[]): Promise<void> {
    let value: string;
    try {
      value = await this.#session.dispatch(iface, fn, args);
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
    this.#dead ??= new PluginError('SANDBOX_CRASHED', 'component worker exited unexpectedly');
    this.#failRunning(this.#dead);
  }

  #failRunning(reason: PluginError): void {
    const running = this.#running;
    this.#running = null;
    if (this.#preparing) clearTimeout(this.#preparing);
    this.#preparing = null;
    this.#session.endCall();
    running?.reject(reason);
    const listener = this.#onDeath;
    this.#onDeath = null;
    listener?.();
  }

  async #kill(reason: PluginError): Promise<void> {
    if (this.#dead) return;
    this.#dead = reason;
    this.#replyPort.close();
    this.#callPort.close();
    this.#failRunning(reason);
    await this.#worker.terminate();
  }

  /** Runs an export (glue name, e.g. `handleTool`); the worker must be idle. It is killed `deadlineMs` from now. */
  run(fn: string, args: readonly (string | number)[], deadlineMs: number): Promise<string> {
    if (this.#dead) return Promise.reject(this.#dead);
    if (this.#running) return Promise.reject(new PluginError('PLUGIN_BUSY', 'component worker is already running a call'));
    const id = ++this.#nextId;
    const promise = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        const { cause, detail } = classifyFailure({ kind: 'deadline', deadlineMs });
        void this.#kill(new PluginError(FAILURE_CODES[cause], `component call \`${fn}\` ${detail}; the instance was stopped`));
      }, deadlineMs);
      this.#running = {
        id,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
    const request = { id, fn, args };
    if (!this.#callBuffer.writeRequest(request)) this.#callPort.postMessage(request);
    Atomics.store(this.#callSignal, 0, CallState.CALL);
    Atomics.notify(this.#callSignal, 0);
    if (!this.#waitBriefly()) this.#watchAsync(id);
    return promise;
  }

  /**
   * Settles the running call `id` when the worker flips the call word to DONE, without a port
   * message: Atomics.waitAsync wakes this thread's event loop on the worker's notify (a host
   * call's HOST notify too, which only re-arms the wait: host calls arrive as messages).
   */
  #watchAsync(id: number): void {
    if (this.#running?.id !== id || this.#dead) return;
    const state = Atomics.load(this.#callSignal, 0);
    if (state === CallState.DONE) {
      this.#collect();
      return;
    }
    const waited = waitAsync(this.#callSignal, 0, state);
    if (waited.async) void waited.value.then(() => this.#watchAsync(id));
    else queueMicrotask(() => this.#watchAsync(id));
  }

  /**
   * Blocks for up to the sync-wait window; a result that lands in it settles the running call
   * now. False when the call is still running (or serving a host call) after the window.
   */
  #waitBriefly(): boolean {
    if (this.#syncWaitMs <= 0) return false;
    const until = performance.now() + this.#syncWaitMs;
    while (Atomics.load(this.#callSignal, 0) === CallState.CALL) {
      const left = until - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.#callSignal, 0, CallState.CALL, left);
    }
    if (Atomics.load(this.#callSignal, 0) !== CallState.DONE) return false;
    this.#collect();
    return true;
  }

  /**
   * After DONE: hands on the guest output posted before the result (and ignores stray
   * results), then settles the running call from the call buffer, or from the port when the
   * result travels there (a failure, or too large for the buffer).
   */
  #collect(): void {
    const running = this.#running;
    if (!running) return;
    this.#drainPort();
    if (this.#running !== running) return; // settled by a result on the port
    const result = this.#callBuffer.readResult();
    if (result !== null) {
      this.#onResult({ id: result.id, ok: true, value: result.value });
      return;
    }
    // DONE is set just before a port result is posted; give the post a moment to land.
    for (let spins = 0; this.#running === running && spins < 100; spins++) this.#drainPort();
    // otherwise it arrives through the port listener
  }

  /** Everything waiting on the call port, in order: guest output, then any result. */
  #drainPort(): void {
    for (;;) {
      const message = receiveMessageOnPort(this.#callPort)?.message as CallPortMessage | undefined;
      if (message === undefined) return;
      this.#onCallPort(message);
    }
  }

  #onCallPort(message: CallPortMessage): void {
    if ('type' in message) this.#onLog?.(message.stream, message.text);
    else this.#onResult(message);
  }

  /** Stops the worker; a running call fails with `reason`. Idempotent. */
  async close(reason = new PluginError('SANDBOX_CLOSED', 'component sandbox was closed')): Promise<void> {
    if (this.#dead) {
      await this.#worker.terminate();
      return;
    }
    await this.#kill(reason);
  }
}

/** `Atomics.waitAsync` (ES2024; Node >= 16 has it, the project's lib is ES2023). */
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> } }).waitAsync;

export function toError(failure: CallFailure): PluginError {
  if (failure.kind === 'output_too_large') {
    return new PluginError('TOOL_OUTPUT_INVALID', `guest output exceeds ${failure.limit} bytes (${failure.bytes} bytes; refused inside the sandbox)`);
  }
  return new PluginError(FAILURE_CODES[failure.cause], guestFailureMessage(failure.cause, failure.detail));
}

function guestFailureMessage(cause: FailureCause, detail: string): string {
  const bounded = boundText(redactText(detail), 200);
  switch (cause) {
    case 'stack_overflow':
      return `component exceeded its stack: ${bounded}`;
    case 'out_of_memory':
      return `component ran out of memory: ${bounded}`;
    case 'error':
      return `component failed: ${bounded}`;
    default:
      return `component trapped: ${bounded}`;
  }
}

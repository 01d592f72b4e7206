import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { inertImports, resetLogBudget } from './inert.js';
import { CallState, PREPARED_COUNTER, type CallRequest, type CallResult, type GuestErrorKind, type HostReply, type SandboxWorkerData, type WorkerMessage } from './protocol.js';

// The worker runs one plugin's component. It imports nothing from the host above sandbox/:
// everything it may touch arrives in workerData (compiled modules, the glue path, the
// interfaces it may link). After start-up it never returns to its event loop: it sleeps in
// Atomics.wait until the host posts a call, runs it synchronously, and posts the result.
// Guest host calls block the same way while the main thread does the work.

const data = workerData as SandboxWorkerData;
const port = parentPort!;
const hostSignal = new Int32Array(data.hostSignal);
const callSignal = new Int32Array(data.callSignal);
let hostSeq = 0;

function post(message: WorkerMessage): void {
  port.postMessage(message);
}

/** A synchronous guest import whose work happens on the main thread: post, block, read the reply. */
function hostCall(iface: string, fn: string, args: (string | number)[]): string {
  const seq = ++hostSeq;
  Atomics.store(hostSignal, 0, 0);
  post({ type: 'host', seq, iface, fn, args });
  // A host waiting synchronously for the result must go back to its event loop to serve us.
  Atomics.store(callSignal, 0, CallState.HOST);
  Atomics.notify(callSignal, 0);
  try {
    for (;;) {
      if (Atomics.load(hostSignal, 0) === 0) {
        Atomics.wait(hostSignal, 0, 0);
        continue;
      }
      const reply = receiveMessageOnPort(data.hostReplyPort)?.message as HostReply | undefined;
      if (reply === undefined) {
        // The reply is posted before the signal flips; give the port a moment.
        Atomics.wait(hostSignal, 1, 0, 1);
        continue;
      }
      Atomics.store(hostSignal, 0, 0);
      if (reply.seq !== seq) continue;
      return reply.value;
    }
  } finally {
    Atomics.store(callSignal, 0, CallState.CALL);
  }
}

function hostImports(): Record<string, Record<string, (...args: never[]) => string>> {
  const out: Record<string, Record<string, (...args: never[]) => string>> = {};
  for (const iface of data.hostInterfaces) {
    switch (iface) {
      case 'yoi:host/request':
        out[iface] = { request: (json: string) => hostCall(iface, 'request', [json]) };
        break;
      case 'yoi:host/fs':
        out[iface] = {
          read: (json: string) => hostCall(iface, 'read', [json]),
          list: (json: string) => hostCall(iface, 'list', [json]),
          write: (json: string) => hostCall(iface, 'write', [json]),
        };
        break;
      case 'yoi:host/websocket':
        out[iface] = {
          open: (json: string) => hostCall(iface, 'open', [json]),
          sendText: (handle: number, text: string) => hostCall(iface, 'send-text', [handle, text]),
          recv: (handle: number, timeoutMs: number) => hostCall(iface, 'recv', [handle, timeoutMs]),
          close: (handle: number) => hostCall(iface, 'close', [handle]),
        };
        break;
    }
  }
  return out;
}

type Exports = Record<string, (...args: unknown[]) => unknown>;
type Glue = {
  instantiate(
    getCoreModule: (path: string) => WebAssembly.Module,
    imports: Record<string, unknown>,
    instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance,
  ): Exports | PromiseLike<Exports>;
};

const glue = (await import(pathToFileURL(data.gluePath).href)) as Glue;
const imports = { ...hostImports(), ...inertImports(data.inertInterfaces, (stream, text) => post({ type: 'log', stream, text })) };
let memories: WebAssembly.Memory[] = [];

function nearMemoryCap(): boolean {
  return memories.some((m) => m.buffer.byteLength + 65536 > data.memoryBytes);
}

/**
 * Instantiates the component. With a synchronous module getter and instantiateCore, jco's
 * generated `instantiate` completes synchronously (the async form can also wait behind V8's
 * background compiler on small machines).
 */
function instantiate(): Exports {
  memories = [];
  const result = glue.instantiate(
    (path) => {
      const module = data.modules[path];
      if (!module) throw new Error(`core module ${path} is missing`);
      return module;
    },
    imports,
    (module, moduleImports) => {
      const instance = new WebAssembly.Instance(module, moduleImports);
      for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) memories.push(value);
      return instance;
    },
  );
  if (typeof (result as PromiseLike<Exports>).then === 'function') throw new Error('component instantiation did not complete synchronously');
  return result as Exports;
}

function classify(error: unknown): { kind: GuestErrorKind; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RangeError && /call stack/i.test(message)) return { kind: 'stack_overflow', message: 'guest exceeded its stack' };
  if (error instanceof WebAssembly.RuntimeError || /wasm trap|unreachable/i.test(message)) {
    return nearMemoryCap() || /out of memory/i.test(message) ? { kind: 'out_of_memory', message } : { kind: 'trap', message };
  }
  if (error instanceof RangeError && /memory|array buffer|typed array/i.test(message)) return { kind: 'out_of_memory', message };
  return { kind: 'error', message };
}

let current: Exports | null = null;
try {
  current = instantiate();
  post({ type: 'ready' });
} catch (error) {
  post({ type: 'init-error', message: classify(error).message });
  process.exit(0);
}

function run(request: CallRequest): CallResult {
  const dropped = resetLogBudget();
  if (dropped > 0) post({ type: 'log', stream: 'stderr', text: `[host] ${dropped} bytes of guest output over the per-call budget were dropped` });
  try {
    current ??= instantiate();
    const instance = current;
    if (data.mode === 'tool') current = null; // this instance serves exactly one call
    const fn = instance[request.fn];
    if (typeof fn !== 'function') throw new Error(`component does not export ${request.fn}`);
    const value = fn(...request.args);
    if (typeof value !== 'string') throw new Error(`component export ${request.fn} did not return a string`);
    return { id: request.id, ok: true, value };
  } catch (error) {
    const classified = classify(error);
    current = null; // jco refuses to re-enter an instance after a trap
    return { id: request.id, ok: false, error: classified };
  }
}

for (;;) {
  let state: number;
  while ((state = Atomics.load(callSignal, 0)) !== CallState.CALL) Atomics.wait(callSignal, 0, state);
  const request = receiveMessageOnPort(data.callPort)?.message as CallRequest | undefined;
  if (request === undefined) {
    Atomics.wait(callSignal, 1, 0, 1);
    continue;
  }
  const result = run(request);
  // DONE before the post: once the result is out, the host may already be issuing the next
  // CALL, which a later DONE would overwrite.
  Atomics.store(callSignal, 0, CallState.DONE);
  data.callPort.postMessage(result);
  Atomics.notify(callSignal, 0);
  if (current === null) {
    // Prepare the next instance (tool world: the spare) before sleeping. The host watches
    // this with a deadline: guest start code runs here too.
    try {
      current = instantiate();
    } catch {
      current = null;
    }
    Atomics.add(callSignal, PREPARED_COUNTER, 1);
  }
}

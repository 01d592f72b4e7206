import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { inertImports } from './inert.js';
import type { CallRequest, GuestErrorKind, HostReply, SandboxWorkerData, WorkerMessage } from './protocol.js';

// The worker runs one plugin's component. It imports nothing from the host above sandbox/:
// everything it may touch arrives in workerData (compiled modules, the glue path, the
// interfaces it may link) and every host call goes through the blocking bridge below.

const data = workerData as SandboxWorkerData;
const port = parentPort!;
const signal = new Int32Array(data.hostSignal);
let hostSeq = 0;

function post(message: WorkerMessage): void {
  port.postMessage(message);
}

const HOST_FAILURE = (message: string) => JSON.stringify({ error: { code: 'host_unavailable', message } });

/** A synchronous guest import whose work happens on the main thread: post, block, read the reply. */
function hostCall(iface: string, fn: string, args: (string | number)[]): string {
  const seq = ++hostSeq;
  Atomics.store(signal, 0, 0);
  post({ type: 'host', seq, iface, fn, args });
  for (;;) {
    const state = Atomics.load(signal, 0);
    if (state === 0) {
      Atomics.wait(signal, 0, 0);
      continue;
    }
    const reply = receiveMessageOnPort(data.hostReplyPort)?.message as HostReply | undefined;
    if (reply === undefined) {
      // The reply is posted before the signal flips; give the port a moment.
      Atomics.wait(signal, 1, 0, 1);
      continue;
    }
    Atomics.store(signal, 0, 0);
    if (reply.seq !== seq) continue;
    return reply.value;
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

type Glue = {
  instantiate(
    getCoreModule: (path: string) => WebAssembly.Module,
    imports: Record<string, unknown>,
    instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance,
  ): Promise<Record<string, (...args: unknown[]) => unknown>>;
};

const glue = (await import(pathToFileURL(data.gluePath).href)) as Glue;
const imports = { ...hostImports(), ...inertImports(data.inertInterfaces, (stream, text) => post({ type: 'log', stream, text })) };

let memories: WebAssembly.Memory[] = [];

function nearMemoryCap(): boolean {
  return memories.some((m) => m.buffer.byteLength + 65536 > data.memoryBytes);
}

function instantiate(): Promise<Record<string, (...args: unknown[]) => unknown>> {
  // jco returns a thenable, not a Promise
  return Promise.resolve(glue.instantiate(
    (path) => {
      const module = data.modules[path];
      if (!module) throw new Error(`core module ${path} is missing`);
      return module;
    },
    imports,
    // Synchronous instantiation: the async form can wait behind V8's background compiler.
    (module, moduleImports) => {
      const instance = new WebAssembly.Instance(module, moduleImports);
      for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) memories.push(value);
      return instance;
    },
  ));
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

let current: Promise<Record<string, (...args: unknown[]) => unknown>> | null = null;
let poisoned = false;

try {
  current = instantiate();
  await current;
  post({ type: 'ready' });
} catch (error) {
  post({ type: 'init-error', message: classify(error).message });
}

port.on('message', async (request: CallRequest) => {
  if (request.type !== 'call') return;
  try {
    if (poisoned || current === null) {
      memories = [];
      current = instantiate();
      poisoned = false;
    }
    const instance = await current;
    if (data.mode === 'tool') current = null; // this instance serves exactly one call
    const fn = instance[request.fn];
    if (typeof fn !== 'function') throw new Error(`component does not export ${request.fn}`);
    const value = fn(...request.args);
    if (typeof value !== 'string') throw new Error(`component export ${request.fn} did not return a string`);
    post({ type: 'result', id: request.id, ok: true, value });
  } catch (error) {
    poisoned = true; // jco refuses to re-enter an instance after a trap
    post({ type: 'result', id: request.id, ok: false, error: classify(error) });
  }
  if (data.mode === 'tool' && current === null) {
    // Prepare the spare for the next call off the hot path.
    memories = [];
    current = instantiate();
    current.catch(() => undefined);
  }
});

import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { CallBuffer } from './call-buffer.js';
import { classifyFailure } from './failure-cause.js';
import { bytesOver, evidenceOf, instantiateGuest, type Glue, type GuestInstance } from './guest-instance.js';
import { inertImports, resetLogBudget } from './inert.js';
import { CallState, PREPARED_COUNTER, type CallPortMessage, type CallRequest, type CallResult, type HostReply, type SandboxWorkerData, type WorkerMessage } from './protocol.js';

// The worker runs one plugin's component. It imports nothing from the host above sandbox/:
// everything it may touch arrives in workerData (compiled modules, the glue path, the
// interfaces it may link). It sleeps in Atomics.wait until the host posts a call, runs it
// synchronously, posts the result, prepares the next instance if needed, and only then
// returns to its event loop once (see the end of this file). Guest host calls block the
// same way while the main thread does the work.

const data = workerData as SandboxWorkerData;
const port = parentPort!;
const hostSignal = new Int32Array(data.hostSignal);
const callSignal = new Int32Array(data.callSignal);
const callBuffer = new CallBuffer(data.callBuffer);
let hostSeq = 0;

function post(message: WorkerMessage): void {
  port.postMessage(message);
}

/** A synchronous guest import whose work happens on the main thread: post, block, read the reply. */
function hostCall(iface: string, fn: string, args: (string | number)[]): string {
  // Every host API refuses arguments this large; refusing here keeps them off the host thread.
  const oversized = argumentBytesOver(args, data.maxHostArgumentBytes);
  if (oversized !== null) {
    return JSON.stringify({ error: { code: 'too_large', message: `host call arguments (${oversized} bytes) exceed ${data.maxHostArgumentBytes} bytes` } });
  }
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

function argumentBytesOver(args: readonly (string | number)[], limit: number): number | null {
  let total = 0;
  for (const arg of args) if (typeof arg === 'string') total += Buffer.byteLength(arg, 'utf8');
  return total > limit ? total : null;
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

const glue = (await import(pathToFileURL(data.gluePath).href)) as Glue;
const log = (stream: 'stdout' | 'stderr', text: string): void => data.callPort.postMessage({ type: 'log', stream, text } satisfies CallPortMessage);
const imports = { ...hostImports(), ...inertImports(data.inertInterfaces, log) };

type Instance = GuestInstance;
const instantiate = (): Instance => instantiateGuest(glue, data.modules, imports);

let current: Instance | null = null;
try {
  current = instantiate();
  post({ type: 'ready' });
} catch (error) {
  post({ type: 'init-error', message: classifyFailure({ kind: 'thrown', error, instance: null }).detail });
  process.exit(0);
}

function run(request: CallRequest): CallResult {
  const dropped = resetLogBudget();
  if (dropped > 0) log('stderr', `[host] ${dropped} bytes of guest output over the per-call budget were dropped`);
  let instance: Instance | null = null;
  try {
    instance = current ??= instantiate();
    if (data.mode === 'tool') current = null; // this instance serves exactly one call
    const fn = instance.exports[request.fn];
    if (typeof fn !== 'function') throw new Error(`component does not export ${request.fn}`);
    const value = fn(...request.args);
    if (typeof value !== 'string') throw new Error(`component export ${request.fn} did not return a string`);
    const bytes = bytesOver(value, data.maxOutputBytes);
    if (bytes !== null) return { id: request.id, ok: false, error: { kind: 'output_too_large', bytes, limit: data.maxOutputBytes } };
    return { id: request.id, ok: true, value };
  } catch (error) {
    const { cause, detail } = classifyFailure({ kind: 'thrown', error, instance: evidenceOf(instance, data.memoryBytes) });
    current = null; // jco refuses to re-enter an instance after a trap
    return { id: request.id, ok: false, error: { kind: 'guest', cause, detail } };
  }
}

/**
 * One turn of the event loop. jco's glue queues promise jobs on every instantiation and call
 * (about 0.2 MiB per instance); they run, and free what they hold, only when the worker's
 * stack unwinds. Without this turn, 1,500 tool-world calls exhausted the worker's heap.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

for (;;) {
  let state: number;
  while ((state = Atomics.load(callSignal, 0)) !== CallState.CALL) Atomics.wait(callSignal, 0, state);
  const request = callBuffer.readRequest() ?? (receiveMessageOnPort(data.callPort)?.message as CallRequest | undefined);
  if (request === undefined) {
    Atomics.wait(callSignal, 1, 0, 1);
    continue;
  }
  const result = run(request);
  if (result.ok && callBuffer.writeResult(result.id, result.value)) {
    Atomics.store(callSignal, 0, CallState.DONE);
  } else {
    callBuffer.markOnPort();
    // DONE before the post: once the result is out, the host may already be issuing the next
    // CALL, which a later DONE would overwrite.
    Atomics.store(callSignal, 0, CallState.DONE);
    data.callPort.postMessage(result);
  }
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
  // After the spare is ready, so the next call does not wait for an instantiation.
  await yieldToEventLoop();
}

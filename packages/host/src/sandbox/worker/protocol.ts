import type { MessagePort } from 'node:worker_threads';
import type { FailureCause } from './failure-cause.js';

/**
 * Messages between the host (main thread) and a sandbox worker. Plain data only: structured
 * cloning drops classes, so errors travel as `{ kind, message }`.
 */

/** How a call failed inside the worker: a classified guest failure, or a result over the output bound. */
export type CallFailure =
  | { readonly kind: 'guest'; readonly cause: FailureCause; readonly detail: string }
  | { readonly kind: 'output_too_large'; readonly bytes: number; readonly limit: number };

export interface SandboxWorkerData {
  /** File path of the transpiled glue module (instantiation mode, no imports). */
  readonly gluePath: string;
  /** Compiled, memory-capped core modules by file name. */
  readonly modules: Readonly<Record<string, WebAssembly.Module>>;
  /** `tool`: a fresh component instance per call (one spare kept ready); `instance`: one long-lived instance. */
  readonly mode: 'tool' | 'instance';
  /** The linear-memory cap the modules were compiled with, to tell out-of-memory from other traps. */
  readonly memoryBytes: number;
  /** Largest result (UTF-8 bytes) posted to the host; a larger one is refused inside the worker. */
  readonly maxOutputBytes: number;
  /** Largest total of one host call's string arguments; a larger call is answered `too_large` inside the worker. */
  readonly maxHostArgumentBytes: number;
  /** Host interfaces to link, unversioned (`yoi:host/request`), already authorised. */
  readonly hostInterfaces: readonly string[];
  /** Inert WASI interfaces to link, unversioned (`wasi:clocks/wall-clock`). */
  readonly inertInterfaces: readonly string[];
  /** Int32 control word the worker waits on during a host call. */
  readonly hostSignal: SharedArrayBuffer;
  /** Port on which host-call replies arrive (read synchronously by the blocked worker). */
  readonly hostReplyPort: MessagePort;
  /** Int32 control word of the call channel (see CallState). */
  readonly callSignal: SharedArrayBuffer;
  /** Calls arrive and results leave on this port; both sides may read it synchronously. */
  readonly callPort: MessagePort;
  /** Where a call and its successful result cross without a port message (call-buffer.ts); the port carries the rest. */
  readonly callBuffer: SharedArrayBuffer;
}

/**
 * The call channel's control word. The worker sleeps in `Atomics.wait` until CALL, so a
 * call costs a futex wake rather than an event-loop turn; the host may wait briefly and
 * synchronously for DONE. HOST tells a waiting host that the guest needs the main thread.
 */
export const CallState = { IDLE: 0, CALL: 1, DONE: 2, HOST: 3 } as const;

/** Index in the call control buffer where the worker counts instances it has prepared. */
export const PREPARED_COUNTER = 2;

export type CallResult =
  | { readonly id: number; readonly ok: true; readonly value: string }
  | { readonly id: number; readonly ok: false; readonly error: CallFailure };

/**
 * Guest output travels on the call port, ahead of the result of the call that printed it, so
 * the host has a call's lines by the time the call returns.
 */
interface LogMessage {
  readonly type: 'log';
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

/** What the worker posts on the call port: results, and the guest output before them. */
export type CallPortMessage = CallResult | LogMessage;

export interface CallRequest {
  readonly id: number;
  /** Export name as the glue exposes it (camelCase: `handleTool`). */
  readonly fn: string;
  readonly args: readonly (string | number)[];
}

export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly message: string }
  | { readonly type: 'host'; readonly seq: number; readonly iface: string; readonly fn: string; readonly args: readonly (string | number)[] };

export interface HostReply {
  readonly seq: number;
  readonly value: string;
}

import type { ErrorCode } from '../../errors.js';

/**
 * Why a guest call failed. The one place a failure's cause is decided: the worker classifies
 * what a call threw, the host classifies a deadline kill, and both map the cause to its error
 * code through `FAILURE_CODES`. Pure (no host imports), so the worker can load it.
 */
export type FailureCause = 'out_of_memory' | 'stack_overflow' | 'unreachable' | 'trap' | 'deadline' | 'error';

export const FAILURE_CODES: Readonly<Record<FailureCause, ErrorCode>> = {
  out_of_memory: 'SANDBOX_OUT_OF_MEMORY',
  stack_overflow: 'SANDBOX_STACK_OVERFLOW',
  unreachable: 'SANDBOX_TRAP',
  trap: 'SANDBOX_TRAP',
  deadline: 'SANDBOX_TIMEOUT',
  error: 'SANDBOX_TRAP',
};

/** What the instance looked like when the call failed (read from its exports, not from any message). */
export interface InstanceEvidence {
  /** Current byte size of each linear memory the instance defines. */
  readonly memoryBytes: readonly number[];
  /** The cap every memory was compiled with. */
  readonly memoryCapBytes: number;
  /** Value of an exported `__stack_pointer` global (the shadow stack of C, Rust and QuickJS guests), if any. */
  readonly stackPointer: number | null;
}

export type FailureEvidence =
  | { readonly kind: 'deadline'; readonly deadlineMs: number }
  | { readonly kind: 'thrown'; readonly error: unknown; readonly instance: InstanceEvidence | null };

export interface ClassifiedFailure {
  readonly cause: FailureCause;
  /** Unbounded, unredacted detail; the host bounds and redacts it before showing it. */
  readonly detail: string;
}

/**
 * A trap counts as out of memory when a memory stood within this distance of its cap: the
 * allocation that failed asked for more than was left. A guest that asks for far more than
 * its cap in one step while using little is reported as a plain trap.
 */
export function memoryHeadroomBytes(capBytes: number): number {
  return Math.max(2 * 1024 * 1024, Math.floor(capBytes / 16));
}

/** V8 raises this when the engine's own stack (shared by Wasm and the glue) runs out; only the message tells it apart from other RangeErrors. */
const ENGINE_STACK_MESSAGE = /maximum call stack size exceeded/i;
/** The trap kind of a WebAssembly.RuntimeError exists only in its message. */
const UNREACHABLE_MESSAGE = /\bunreachable\b/i;

export function classifyFailure(evidence: FailureEvidence): ClassifiedFailure {
  if (evidence.kind === 'deadline') return { cause: 'deadline', detail: `exceeded its ${evidence.deadlineMs} ms deadline` };
  const { error, instance } = evidence;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RangeError && ENGINE_STACK_MESSAGE.test(message)) return { cause: 'stack_overflow', detail: 'the engine stack was exhausted (deep recursion)' };
  if (!(error instanceof WebAssembly.RuntimeError)) return { cause: 'error', detail: message };
  // A shadow stack grows down from its start; a pointer below address 0 means it ran past its end.
  if (instance?.stackPointer !== null && instance?.stackPointer !== undefined && instance.stackPointer < 0) {
    return { cause: 'stack_overflow', detail: 'the guest stack was exhausted (deep recursion)' };
  }
  if (instance && instance.memoryBytes.some((bytes) => instance.memoryCapBytes - bytes < memoryHeadroomBytes(instance.memoryCapBytes))) {
    const used = Math.max(...instance.memoryBytes);
    return { cause: 'out_of_memory', detail: `linear memory at ${mib(used)} of its ${mib(instance.memoryCapBytes)} cap (${message})` };
  }
  return { cause: UNREACHABLE_MESSAGE.test(message) ? 'unreachable' : 'trap', detail: message };
}

function mib(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
}

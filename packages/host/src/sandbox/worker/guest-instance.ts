import type { InstanceEvidence } from './failure-cause.js';

/**
 * One component instance made from jco's glue, and what a failed call is classified from.
 * Shared by the worker (entry.ts) and the in-thread sandbox; pure, so the worker can load it.
 */
type Exports = Record<string, (...args: unknown[]) => unknown>;

export type Glue = {
  instantiate(
    getCoreModule: (path: string) => WebAssembly.Module,
    imports: Record<string, unknown>,
    instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance,
  ): Exports | PromiseLike<Exports>;
};

/** `WebAssembly.Global` (Node's typings do not declare it). */
interface WasmGlobal {
  readonly value: unknown;
}
const WasmGlobalClass = (WebAssembly as unknown as { Global: abstract new (...args: never[]) => WasmGlobal }).Global;

export interface GuestInstance {
  readonly exports: Exports;
  readonly memories: readonly WebAssembly.Memory[];
  readonly stackPointer: WasmGlobal | null;
}

/**
 * Instantiates the component. With a synchronous module getter and instantiateCore, jco's
 * generated `instantiate` completes synchronously (the async form can also wait behind V8's
 * background compiler on small machines). `coreImports` are added to every core module's
 * imports (the interrupt check of instrumented modules).
 */
export function instantiateGuest(glue: Glue, modules: Readonly<Record<string, WebAssembly.Module>>, imports: Record<string, unknown>, coreImports?: WebAssembly.Imports): GuestInstance {
  const memories: WebAssembly.Memory[] = [];
  let stackPointer: WasmGlobal | null = null;
  const result = glue.instantiate(
    (path) => {
      const module = modules[path];
      if (!module) throw new Error(`core module ${path} is missing`);
      return module;
    },
    imports,
    (module, moduleImports) => {
      const instance = new WebAssembly.Instance(module, coreImports ? { ...moduleImports, ...coreImports } : moduleImports);
      for (const [name, value] of Object.entries(instance.exports)) {
        if (value instanceof WebAssembly.Memory) memories.push(value);
        else if (name === '__stack_pointer' && value instanceof WasmGlobalClass) stackPointer = value;
      }
      return instance;
    },
  );
  if (typeof (result as PromiseLike<Exports>).then === 'function') throw new Error('component instantiation did not complete synchronously');
  return { exports: result as Exports, memories, stackPointer };
}

export function evidenceOf(instance: GuestInstance | null, memoryCapBytes: number): InstanceEvidence | null {
  if (!instance) return null;
  let stackPointer: number | null = null;
  try {
    const value: unknown = instance.stackPointer?.value;
    if (typeof value === 'number') stackPointer = value;
  } catch {
    // an unreadable global is no evidence
  }
  return { memoryBytes: instance.memories.map((m) => m.buffer.byteLength), memoryCapBytes, stackPointer };
}

/** UTF-8 size of `text` when it is over `limit`, else null (at most 3 bytes per UTF-16 unit: a short string cannot be over). */
export function bytesOver(text: string, limit: number): number | null {
  if (text.length <= limit / 3) return null;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > limit ? bytes : null;
}

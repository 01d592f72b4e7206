import { setFlagsFromString } from 'node:v8';
import { boundText, redactText } from '../diagnostics.js';
import { PluginError } from '../errors.js';
import { COMPONENT_WORLDS } from '../manifest/types.js';
import { readDigestedPackageFile } from '../package/archive-file.js';
import { CORE_MODULE_MESSAGE, detectComponentFormat } from '../package/component-format.js';
import { digestMatches } from '../package/digest.js';
import { packageDigestCache } from '../store/digest-cache.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { componentWorldProblem, HOST_INTERFACES, isInertImport } from './component-world.js';
import { capModuleMemory, WASM_PAGE_BYTES } from './memory-cap.js';
import { binaryenVersion, CHECK_INTERVAL, INSTRUMENT_FORMAT, instrumentInterrupts, instrumentInterruptsOffThread } from './interrupt/instrument.js';
import { defaultCacheDir, derivedModuleCached, transpileCached, type TranspiledComponent } from './transpile-cache.js';

export interface LoadedComponent {
  readonly world: 'tool' | 'instance';
  readonly transpiled: TranspiledComponent;
  /**
   * Compiled, memory-capped core modules by file name (shareable with workers), for running in a
   * worker. Compiled at load when the guest must run in a worker; for one that may run in-thread
   * only if it ever does not (that path compiles the interruptible rewrite instead), since
   * compiling a QuickJS engine costs as much as the rest of a cold tool call's guest work.
   */
  workerModules(): Promise<Readonly<Record<string, WebAssembly.Module>>>;
  /** Unversioned host interfaces to link (`yoi:host/request`). */
  readonly hostInterfaces: readonly string[];
  /** Unversioned inert WASI interfaces to link. */
  readonly inertInterfaces: readonly string[];
  /** No host API that blocks (every host API does): the guest may run on the host thread (in-thread.ts). */
  readonly mayRunInThread: boolean;
}

export interface LoaderOptions {
  readonly cacheDir?: string;
  readonly memoryBytes: number;
}

/**
 * Core modules up to this size are made interruptible inline when not cached (binaryen:
 * ~2 ms for a WAT guest); a larger one (a QuickJS guest: 1.3 MB, 2–4 s) may be deferred.
 */
const INLINE_INSTRUMENT_BYTES = 256 * 1024;

/** Thrown when a large module's interruptible rewrite is not cached yet and is being made in the background. */
export class InterruptiblePending extends Error {}

/** Rewrites running in the background, by cache key, so each is made once. */
const background = new Map<string, { readonly startNow: () => void; readonly done: Promise<void> }>();

/**
 * QuickJS-based components use Wasm extended constant expressions, which V8 ships behind a
 * flag on Node 20. Turns the flag on (process-wide) when this engine lacks the feature; a no-op
 * elsewhere and on later calls. Importing the host never does this: the first component load
 * calls it, and an embedder that compiles Wasm itself first may call it earlier.
 */
export function enableWasmExtendedConst(): void {
  // (module (global i32 (i32.add (i32.const 1) (i32.const 2))))
  const probe = Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 6, 9, 1, 127, 0, 65, 1, 65, 2, 106, 11);
  if (!WebAssembly.validate(probe)) setFlagsFromString('--experimental-wasm-extended-const');
}

const compiled = new Map<string, Promise<Readonly<Record<string, WebAssembly.Module>>>>();

function unversioned(name: string): string {
  const at = name.indexOf('@');
  return at < 0 ? name : name.slice(0, at);
}

/**
 * Turns a resolved record into something a sandbox can run: re-reads the package and
 * re-verifies its digest, checks the bytes are a component whose exports match the declared
 * world and whose imports are all allowed (each host interface only with its grant), then
 * transpiles (cached). The core modules are compiled with the memory cap here only for a guest
 * that must run in a worker (see {@link LoadedComponent.workerModules}).
 */
export async function loadComponent(record: ResolvedPlugin, options: LoaderOptions): Promise<LoadedComponent> {
  enableWasmExtendedConst();
  const runtime = record.manifest.runtime;
  if (runtime === undefined) throw new PluginError('COMPONENT_INVALID', 'plugin runtime is not declared');
  if (runtime.kind !== 'wasm-component') {
    throw new PluginError('COMPONENT_INVALID', runtime.kind === 'wasm' ? 'legacy raw wasm plugin runtime is not supported; use wasm-component' : `unsupported plugin runtime kind \`${runtime.kind}\``);
  }
  if (runtime.world === undefined || !(COMPONENT_WORLDS as readonly string[]).includes(runtime.world) || runtime.component === undefined) {
    throw new PluginError('COMPONENT_INVALID', 'unsupported or missing plugin component world');
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const digests = await packageDigestCache(process.env, cacheDir);
  const read = await readDigestedPackageFile(record.packagePath, digests);
  if (!read.ok) throw new PluginError('PACKAGE_INVALID', `resolved plugin package could not be read: ${read.diagnostic.message}`);
  await digests.save();
  const { files, digest } = read.value;
  if (!digestMatches(record.digest, digest)) {
    throw new PluginError('DIGEST_MISMATCH', `resolved plugin package digest does not match current package content (now ${digest})`);
  }
  const bytes = files.get(runtime.component);
  if (bytes === undefined) throw new PluginError('COMPONENT_INVALID', 'plugin runtime component artifact is missing from the package');
  const format = detectComponentFormat(bytes);
  if (format === 'core-module') throw new PluginError('COMPONENT_INVALID', `component is incompatible: ${CORE_MODULE_MESSAGE}`);
  if (format === 'placeholder') throw new PluginError('COMPONENT_INVALID', 'component is incompatible: the runtime artifact is not a WebAssembly component');

  let transpiled: TranspiledComponent;
  try {
    transpiled = await transpileCached(bytes, cacheDir);
  } catch (error) {
    throw new PluginError('TRANSPILE_FAILED', `component is incompatible: ${boundText(redactText(error instanceof Error ? error.message : String(error)), 200)}`, { cause: error });
  }
  const problem = componentWorldProblem(transpiled.interface, runtime.world, record);
  if (problem) throw new PluginError(problem.startsWith('plugin host API') || problem.startsWith('unsupported component import') ? 'COMPONENT_IMPORT_DENIED' : 'COMPONENT_INVALID', problem);

  const hostInterfaces = transpiled.interface.imports.filter((i) => HOST_INTERFACES[i] !== undefined).map(unversioned);
  const mayRunInThread = hostInterfaces.length === 0;
  const workerModules = () => compileCapped(transpiled, options.memoryBytes, null);
  if (!mayRunInThread) await workerModules();
  return {
    world: runtime.world === 'yoi:plugin/tool@1.0.0' ? 'tool' : 'instance',
    transpiled,
    workerModules,
    mayRunInThread,
    hostInterfaces,
    inertInterfaces: transpiled.interface.imports.filter(isInertImport).map(unversioned),
  };
}

/**
 * Compiles the core modules with the memory cap; with `interrupt` (a cache directory), from
 * their interruptible rewrite (interrupt/instrument.ts, cached beside the transpiled entry).
 * Memoised per entry, cap and kind.
 */
interface InterruptOptions {
  readonly cacheDir: string;
  /** When a large module is not cached: rewrite it in a background thread and throw InterruptiblePending. */
  readonly deferLarge: boolean;
}

function compileCapped(transpiled: TranspiledComponent, memoryBytes: number, interrupt: InterruptOptions | null): Promise<Readonly<Record<string, WebAssembly.Module>>> {
  const maxPages = Math.max(1, Math.floor(memoryBytes / WASM_PAGE_BYTES));
  const memoKey = `${transpiled.key}:${maxPages}:${interrupt ? 'interruptible' : 'plain'}`;
  // The promise is memoised, so plugins sharing a component (started concurrently) compile it once.
  let memo = compiled.get(memoKey);
  if (!memo) {
    memo = compileModules(transpiled, maxPages, interrupt);
    compiled.set(memoKey, memo);
    memo.catch(() => compiled.delete(memoKey));
  }
  return memo;
}

async function compileModules(transpiled: TranspiledComponent, maxPages: number, interrupt: InterruptOptions | null): Promise<Readonly<Record<string, WebAssembly.Module>>> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const recipe = interrupt ? await interruptibleRecipe() : '';
  const out: Record<string, WebAssembly.Module> = {};
  // Every large module not cached is queued before InterruptiblePending is thrown: a component
  // may hold more than one (a QuickJS guest: the engine and the WASI adapter), and queueing
  // only the first would leave the next start pending again.
  let pending: InterruptiblePending | null = null;
  for (const file of transpiled.coreFiles) {
    const path = join(transpiled.dir, file);
    let bytes: Uint8Array;
    if (!interrupt) bytes = await readFile(path);
    else {
      try {
        const input = { sha256: transpiled.coreSha256[file]!, read: () => readFile(path) };
        const produce = (original: Uint8Array) => (interrupt.deferLarge && original.length > INLINE_INSTRUMENT_BYTES ? rewriteInBackground(original, recipe, interrupt.cacheDir) : instrumentInterrupts(original));
        bytes = (await derivedModuleCached(input, recipe, produce, interrupt.cacheDir)).bytes;
      } catch (error) {
        if (error instanceof InterruptiblePending) {
          pending = pending ? new InterruptiblePending(joinPendingMessages(pending.message, error.message)) : error;
          continue;
        }
        throw new PluginError('COMPONENT_INVALID', `component cannot be made interruptible: ${boundText(redactText(error instanceof Error ? error.message : String(error)), 200)}`);
      }
    }
    if (pending) continue;
    let capped: Uint8Array;
    try {
      capped = capModuleMemory(bytes, maxPages).bytes;
    } catch (error) {
      throw new PluginError('COMPONENT_INVALID', `component memory cannot be capped: ${error instanceof Error ? error.message : String(error)}`);
    }
    out[file] = new WebAssembly.Module(capped);
  }
  if (pending) throw pending;
  return out;
}

/** One pending message for several modules: the first one's text, plus any failure another one reports. */
function joinPendingMessages(first: string, next: string): string {
  const failure = next.indexOf(PREVIOUS_FAILURE);
  return failure < 0 || first.includes(next.slice(failure)) ? first : `${first}; ${next.slice(failure)}`;
}

/** The recipe (derivedModuleCached) of a module's interruptible rewrite: the rewrite and every version it depends on. */
export async function interruptibleRecipe(): Promise<string> {
  return `interrupt:${INSTRUMENT_FORMAT}:binaryen@${await binaryenVersion()}:every-${CHECK_INTERVAL}`;
}

/**
 * A background rewrite starts after this delay and holds no process open: a short-lived
 * process (a CLI call) exits without paying for it, a long-lived one (serve) caches it.
 */
const BACKGROUND_DELAY_MS = 1000;

function rewriteInBackground(input: Uint8Array, recipe: string, cacheDir: string): never {
  const key = `${cacheDir}:${recipe}:${input.length}:${Buffer.from(input.subarray(0, 64)).toString('hex')}`;
  if (!background.has(key)) {
    let startNow = (): void => undefined;
    const started = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, BACKGROUND_DELAY_MS);
      timer.unref();
      startNow = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    // A failure is kept (never swallowed): the next start's pending message reports it, and it is counted.
    const done = started.then(() => derivedModuleCached(input, recipe, instrumentInterruptsOffThread, cacheDir)).then(
      () => {
        backgroundFailures.delete(key);
      },
      (error: unknown) => {
        backgroundFailureCount += 1;
        backgroundFailures.set(key, boundText(redactText(error instanceof Error ? error.message : String(error)), 200));
      },
    );
    background.set(key, { startNow, done });
    void done.finally(() => background.delete(key));
  }
  const failure = backgroundFailures.get(key);
  const previous = failure === undefined ? '' : `; ${PREVIOUS_FAILURE} ${failure}`;
  throw new InterruptiblePending(`its interruptible modules are being prepared in the background (until then, and for this instance, it runs in a worker)${previous}`);
}

const PREVIOUS_FAILURE = 'the previous background rewrite failed:';

/** The last failure of a background rewrite, by its key (cleared when one succeeds). */
const backgroundFailures = new Map<string, string>();
let backgroundFailureCount = 0;

/** How many background rewrites have failed in this process (each is reported by the next start that needs it). */
export function backgroundRewriteFailures(): number {
  return backgroundFailureCount;
}

/** Starts every waiting background rewrite now and settles when none is left (tests, benchmarks). */
export async function backgroundRewritesSettled(): Promise<void> {
  while (background.size > 0) {
    const pending = [...background.values()];
    for (const entry of pending) entry.startNow();
    await Promise.all(pending.map((entry) => entry.done));
  }
}

/**
 * The component's core modules, instrumented for interruption and capped: what an in-thread
 * sandbox runs. With `deferLarge`, a large module not yet cached throws InterruptiblePending
 * at once and is rewritten in a background thread for the next start.
 */
export function interruptibleModules(component: LoadedComponent, options: LoaderOptions & { readonly deferLarge?: boolean }): Promise<Readonly<Record<string, WebAssembly.Module>>> {
  return compileCapped(component.transpiled, options.memoryBytes, { cacheDir: options.cacheDir ?? defaultCacheDir(), deferLarge: options.deferLarge ?? false });
}

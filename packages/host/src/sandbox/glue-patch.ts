/**
 * Deterministic edits of jco's generated glue, made when it enters the transpile cache.
 *
 * On every instantiation the glue probes for JSPI once per realloc / post-return function:
 *
 *     try { realloc0Async = WebAssembly.promising(exports5.cabi_realloc); }
 *     catch(err) { realloc0Async = exports5.cabi_realloc; }
 *
 * Where JSPI is missing (Node 20 and 22) each probe throws "WebAssembly.promising is not a
 * function", and to word that message V8 re-parses the whole function around the call — for
 * a QuickJS guest a 7,000-line instantiation generator. Measured: 13–17 ms of a 15–19 ms
 * instantiation, against ~1 ms for creating its nine core instances.
 *
 * The edit puts a `typeof` check in front of each probe that takes the catch branch's
 * assignment without throwing. Where JSPI exists the original `try` runs unchanged, so the
 * outcome is the same on every engine.
 */
const JSPI_PROBE = /try \{\s*([A-Za-z_$][\w$]*) = WebAssembly\.promising\(([A-Za-z_$][\w$.]*)\);\s*\} catch\s*\((\w+)\) \{\s*\1 = \2;\s*\}/g;

export interface GluePatch {
  readonly text: string;
  /** How many JSPI probes were guarded. */
  readonly guarded: number;
  /** Calls to `WebAssembly.promising` left outside the guard (0 for every jco output seen so far). */
  readonly unguarded: number;
}

export function guardJspiProbes(glue: string): GluePatch {
  let guarded = 0;
  const text = glue.replace(JSPI_PROBE, (probe: string, target: string, fallback: string) => {
    guarded++;
    return `if (typeof WebAssembly.promising !== 'function') { ${target} = ${fallback}; } else ${probe}`;
  });
  const unguarded = (text.match(/WebAssembly\.promising\(/g) ?? []).length - guarded;
  return { text, guarded, unguarded };
}

/**
 * jco's glue calls `_debugLog(...)` about ten times per export call, and each call reads
 * `process.env.JCO_DEBUG` (a getenv through Node's env interceptor): measured ~7% of a warm
 * in-thread WAT call. The edit reads the variable once, when the glue is loaded; with it unset
 * `_debugLog` is an empty function V8 inlines away (argument objects included).
 */
const DEBUG_LOG = /const _debugLog = \(\.\.\.args\) => \{\s*if \(!globalThis\?\.process\?\.env\?\.JCO_DEBUG\) \{ return; \}\s*console\.debug\(\.\.\.args\);\s*\};/g;

export function hoistDebugLogCheck(glue: string): { readonly text: string; readonly hoisted: number } {
  let hoisted = 0;
  const text = glue.replace(DEBUG_LOG, () => {
    hoisted++;
    return 'const _debugLog = globalThis?.process?.env?.JCO_DEBUG ? (...args) => { console.debug(...args); } : () => {};';
  });
  return { text, hoisted };
}

/** Every edit, in order. */
export function patchGlue(glue: string): string {
  return hoistDebugLogCheck(guardJspiProbes(glue).text).text;
}

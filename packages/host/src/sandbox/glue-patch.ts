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

/**
 * Before it copies a string into guest memory, the glue counts its UTF-8 length (and its code
 * points) in a JavaScript loop over every UTF-16 unit: measured ~2 µs for an ingress event's
 * 200-character JSON, against ~0.3 µs for `Buffer.byteLength`, which counts the same (a lone
 * surrogate is 3 bytes, as `encodeInto` writes U+FFFD for it). The code-point count is never
 * read by the glue, so the edit is made only when no `.codepoints` is read anywhere in it.
 */
const UTF8_LENGTH_LOOP =
  /let len = 0;\s*let codepoints = 0;\s*for \(let i = 0; i < s\.length; i\+\+\) \{\s*const ch = s\.charCodeAt\(i\);\s*codepoints\+\+;\s*if \(ch < 0x80\) \{ len \+= 1; \}\s*else if \(ch < 0x800\) \{ len \+= 2; \}\s*else if \(ch >= 0xd800 && ch <= 0xdbff &&\s*i \+ 1 < s\.length &&\s*\(s\.charCodeAt\(i \+ 1\) & 0xfc00\) === 0xdc00\) \{\s*len \+= 4;\s*i\+\+;\s*\} else \{ len \+= 3; \}\s*\}(\s*const ptr = realloc\(0, 0, 1, len\);[\s\S]*?)const res = \{ ptr, len, codepoints \};/g;

export function countUtf8Natively(glue: string): { readonly text: string; readonly counted: number } {
  if (glue.includes('.codepoints')) return { text: glue, counted: 0 };
  let counted = 0;
  const text = glue.replace(UTF8_LENGTH_LOOP, (_loop: string, rest: string) => {
    counted++;
    return `const len = _utf8ByteLength(s, 'utf8');${rest}const res = { ptr, len };`;
  });
  // `Buffer` is a getter on the global object: read it once, when the glue is loaded.
  return { text: counted > 0 ? text.replace(/^(\s*)function _utf8AllocateAndEncode\(/m, '$1const _utf8ByteLength = Buffer.byteLength;\n$1function _utf8AllocateAndEncode(') : text, counted };
}

/** Every edit, in order. */
export function patchGlue(glue: string): string {
  return countUtf8Natively(hoistDebugLogCheck(guardJspiProbes(glue).text).text).text;
}

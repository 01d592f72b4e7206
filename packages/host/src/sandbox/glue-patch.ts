/**
 * One deterministic edit of jco's generated glue, made when it enters the transpile cache.
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

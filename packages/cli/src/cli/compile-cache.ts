import module from 'node:module';

type EnableCompileCache = (directory?: string) => unknown;

/**
 * On Node >= 22.1, V8's compiled code of the modules this process loads is kept on disk and
 * reused by the next process (`module.enableCompileCache`); Node 20 lacks it, and nothing
 * happens there. The cache lives where Node puts it by default: `$NODE_COMPILE_CACHE`, else
 * `<os.tmpdir()>/node-compile-cache`; `NODE_DISABLE_COMPILE_CACHE=1` turns it off. Node reports
 * a cache it cannot use (an unwritable folder) in its return value, never by throwing, and a
 * command never fails over it. Only modules loaded after this call benefit, so the CLI's entry
 * calls it before it imports the rest.
 */
export function enableCompileCache(): void {
  const enable = (module as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
  if (typeof enable !== 'function') return;
  try {
    enable();
  } catch {
    // A cache is an optimisation: without it the command runs as on Node 20.
  }
}

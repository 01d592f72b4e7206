import { fileURLToPath } from 'node:url';

/**
 * The `builtin:` store the CLI ships: the example plugins, packed at build time
 * (scripts/after-build.mjs) into this package's `builtin/`. The host itself ships no store;
 * the CLI passes this one as `builtinDir` unless `YOI_BUILTIN_DIR` names another.
 */
export function shippedBuiltinDir(): string {
  return fileURLToPath(new URL('../../../builtin', import.meta.url));
}

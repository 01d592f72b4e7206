import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';
import { writeFileAtomic } from '../atomic-write.js';
import type { JsonValue } from '../manifest/types.js';

/**
 * Input validators that outlive the process. For each schema ajv generates the source of its
 * validation function ("standalone code"); the source is kept in the cache directory, keyed
 * by the schema, ajv's version and our options, and a later process evaluates it instead of
 * loading ajv (~50 ms) and compiling again (~5–10 ms). Both paths run the same generated
 * function, so they accept, reject and report exactly alike.
 *
 * The cache directory is the transpile cache: a host control location no fs grant can reach,
 * whose JavaScript the host runs anyway. Each entry names its key and the sha256 of its code;
 * an entry that fails either check, or does not evaluate, is compiled and written again.
 */
const require = createRequire(import.meta.url);
const AJV_OPTIONS = { allErrors: false, strict: false, validateSchema: false } as const;
const ENTRY_FORMAT = 1;
export const VALIDATORS_DIR = '.validators';

interface Entry {
  readonly format: number;
  readonly key: string;
  readonly sha256: string;
  readonly code: string;
}

let ajv: AjvClass | undefined;
let ajvVersion: string | undefined;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** ajv's version, read without loading ajv itself. */
function versionOfAjv(): string {
  return (ajvVersion ??= (JSON.parse(readFileSync(require.resolve('ajv/package.json'), 'utf8')) as { version: string }).version);
}

function validatorKey(schema: JsonValue): string {
  return sha256(JSON.stringify([ENTRY_FORMAT, versionOfAjv(), AJV_OPTIONS, schema]));
}

/** Evaluates standalone code as a CommonJS module whose `require` resolves from this package (ajv's runtime helpers). */
function evaluate(code: string): ValidateFunction {
  const module = { exports: {} as unknown };
  new Function('require', 'module', 'exports', code)(require, module, module.exports);
  const validate = module.exports as ValidateFunction;
  if (typeof validate !== 'function') throw new Error('standalone validator did not export a function');
  return validate;
}

function cached(path: string, key: string): ValidateFunction | null {
  try {
    const entry = JSON.parse(readFileSync(path, 'utf8')) as Entry;
    if (entry.format !== ENTRY_FORMAT || entry.key !== key || typeof entry.code !== 'string' || sha256(entry.code) !== entry.sha256) return null;
    return evaluate(entry.code);
  } catch {
    return null;
  }
}

function compiled(schema: JsonValue): { validate: ValidateFunction; code: string } {
  const { Ajv } = require('ajv') as typeof import('ajv');
  const standalone = (require('ajv/dist/standalone') as typeof import('ajv/dist/standalone/index.js')).default;
  ajv ??= new Ajv({ ...AJV_OPTIONS, code: { source: true } });
  const validate = ajv.compile(schema as object);
  return { validate, code: standalone(ajv, validate) };
}

export interface ValidatorSource {
  readonly validate: ValidateFunction;
  readonly fromCache: boolean;
  /** Settles when a newly compiled validator has been stored (or failed to be); never rejects. */
  readonly stored: Promise<void>;
}

/**
 * The validator of `schema`: from `cacheDir` when an intact entry is there, else compiled with
 * ajv and stored (in the background; a failed write only means compiling again next time).
 * Without a cache directory, compiled every time.
 */
export function loadValidator(schema: JsonValue, cacheDir: string | null): ValidatorSource {
  if (cacheDir === null) return { validate: compiled(schema).validate, fromCache: false, stored: Promise.resolve() };
  const key = validatorKey(schema);
  const path = join(cacheDir, VALIDATORS_DIR, `${key}.json`);
  const hit = cached(path, key);
  if (hit) return { validate: hit, fromCache: true, stored: Promise.resolve() };
  const { validate, code } = compiled(schema);
  const entry: Entry = { format: ENTRY_FORMAT, key, sha256: sha256(code), code };
  const stored = writeFileAtomic(path, JSON.stringify(entry)).catch(() => undefined);
  return { validate, fromCache: false, stored };
}

import type { ValidateFunction } from 'ajv';
import { boundText } from '../diagnostics.js';
import type { JsonValue } from '../manifest/types.js';
import { defaultCacheDir } from '../sandbox/transpile-cache.js';
import { loadValidator } from './validator-cache.js';

/**
 * Validates tool input against the tool's `input_schema` before the guest sees it (Yoi only
 * checked that it was JSON). Schemas are the restricted subset already checked at
 * registration, so compiling cannot meet unsupported keywords.
 *
 * A schema's validator is made when its tool is first called, from the validator cache when
 * it holds one (validator-cache.ts): registering the tools of a workspace (every `list`,
 * `show`, `status`) costs neither ajv's start-up nor one compilation per tool.
 */
export function compileInputSchema(schema: JsonValue, cacheDir: string | null = defaultCacheDir()): ValidateFunction {
  let compiled: ValidateFunction | undefined;
  const validate = ((input: unknown) => {
    compiled ??= loadValidator(schema, cacheDir).validate;
    const valid = compiled(input);
    validate.errors = compiled.errors ?? null;
    return valid;
  }) as ValidateFunction;
  return validate;
}

/** Returns null when valid, else `<path>: <message>` with a `$`-rooted path. */
export function inputProblem(validate: ValidateFunction, input: unknown): string | null {
  if (validate(input)) return null;
  const error = validate.errors?.[0];
  if (!error) return '$: input is invalid';
  const path = '$' + error.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s.replace(/~1/g, '/').replace(/~0/g, '~')}`)).join('');
  const extra = error.keyword === 'additionalProperties' ? ` (\`${String((error.params as { additionalProperty?: string }).additionalProperty).slice(0, 64)}\`)` : error.keyword === 'required' ? '' : '';
  return boundText(`${path}: ${error.message ?? 'is invalid'}${extra}`);
}

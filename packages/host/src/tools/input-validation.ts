import { Ajv, type ValidateFunction } from 'ajv';
import { boundText } from '../diagnostics.js';
import type { JsonValue } from '../manifest/types.js';

/**
 * Validates tool input against the tool's `input_schema` before the guest sees it (Yoi only
 * checked that it was JSON). Schemas are the restricted subset already checked at
 * registration, so compiling cannot meet unsupported keywords.
 */
const ajv = new Ajv({ allErrors: false, strict: false, validateSchema: false });

export function compileInputSchema(schema: JsonValue): ValidateFunction {
  return ajv.compile(schema as object);
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

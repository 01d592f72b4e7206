/**
 * Thrown host errors. Match on `code`, not on the class: the library may be loaded twice
 * (a global CLI and an embedded copy), so `instanceof` is answered by a shared brand.
 */
export type ErrorCode =
  | 'PACKAGE_INVALID'
  | 'DIGEST_MISMATCH'
  | 'COMPONENT_INVALID'
  | 'COMPONENT_IMPORT_DENIED'
  | 'TRANSPILE_FAILED'
  | 'SANDBOX_TIMEOUT'
  | 'SANDBOX_TRAP'
  | 'SANDBOX_STACK_OVERFLOW'
  | 'SANDBOX_OUT_OF_MEMORY'
  | 'SANDBOX_CRASHED'
  | 'SANDBOX_CLOSED'
  | 'TOOL_NOT_FOUND'
  | 'TOOL_DENIED'
  | 'TOOL_INPUT_INVALID'
  | 'TOOL_OUTPUT_INVALID'
  | 'PLUGIN_NOT_RUNNING'
  | 'PLUGIN_BUSY'
  | 'PLUGIN_START_FAILED';

const kBrand = Symbol.for('yoi.plugin.error');

export class PluginError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && kBrand in value;
  }
  readonly [kBrand] = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'PluginError';
  }
}

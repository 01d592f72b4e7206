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
  | 'PLUGIN_START_FAILED'
  | 'CLUSTER_NO_OWNER'
  | 'CLUSTER_OWNER_TIMEOUT'
  | 'CLUSTER_ROUTE_FAILED';

/** What each code means, one line each. docs/errors.md is generated from this table (scripts/errors-doc.mjs). */
export const ERROR_CODE_DESCRIPTIONS: Readonly<Record<ErrorCode, string>> = {
  PACKAGE_INVALID: 'the resolved plugin package could not be read as a valid package',
  DIGEST_MISMATCH: "the package's content no longer matches the digest it was resolved (enabled) with",
  COMPONENT_INVALID: 'the runtime is not a supported WebAssembly component (missing runtime, legacy raw wasm, unknown world, malformed component)',
  COMPONENT_IMPORT_DENIED: 'the component imports a host interface it was not granted, or one the host does not provide',
  TRANSPILE_FAILED: 'the component could not be transpiled to run on this host (incompatible component)',
  SANDBOX_TIMEOUT: 'the component did not start, prepare or answer a call within its deadline; its worker was stopped',
  SANDBOX_TRAP: 'the guest trapped (unreachable, a runtime trap or an uncaught guest error)',
  SANDBOX_STACK_OVERFLOW: "the guest exhausted its stack",
  SANDBOX_OUT_OF_MEMORY: 'the guest reached its memory limit',
  SANDBOX_CRASHED: "the component's worker failed or exited unexpectedly",
  SANDBOX_CLOSED: 'the sandbox was closed (plugin stopped or host shutting down); the call did not run',
  TOOL_NOT_FOUND: 'no such tool is declared or registered',
  TOOL_DENIED: "the plugin's tool surface is not enabled, or a permission the tool needs is not granted",
  TOOL_INPUT_INVALID: "the tool input is not JSON, is too large, or does not match the tool's input_schema",
  TOOL_OUTPUT_INVALID: "the guest's output breaks the ToolOutput rules, is too large, or reports a tool error",
  PLUGIN_NOT_RUNNING: 'the plugin is not running (refused, stopped, or its instance stopped before the call started)',
  PLUGIN_BUSY: "the plugin's call queue is full, or a call waited its whole deadline without running; try again",
  PLUGIN_START_FAILED: "the plugin's start export failed or returned an invalid result",
  CLUSTER_NO_OWNER: 'several hosts (`serve --engine nats://…`): no host holds the lease of the service the call is for, or the host holding it is gone; the call did not run; try again once a host took it over',
  CLUSTER_OWNER_TIMEOUT: 'several hosts: the host owning the service did not answer within the deadline; the call may or may not have run there',
  CLUSTER_ROUTE_FAILED: 'several hosts: the call could not be forwarded to the owning host (NATS unreachable, request or reply over its bound, an answer that could not be read); the call did not run, or its outcome is unknown',
};

const kBrand = Symbol.for('yoi.plugin.error');

/** An error the host throws or rejects with; `code` says what happened ({@link ErrorCode}). */
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

import type { JsonValue } from '../manifest/types.js';
import type { ExecutionLimits } from '../sandbox/limits.js';
import type { SandboxCounters } from '../sandbox/sandbox.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import type { PluginRuntime, RuntimeState } from './plugin-runtime.js';

/**
 * A read-only view of one plugin's runtime, as {@link PluginHost.runtimes} hands it out: what
 * the plugin is and how its sandbox is doing. It has no way to start, call or close the
 * plugin — tools are called through {@link PluginHost.tools}, services are driven through
 * {@link PluginHost.services}.
 */
export interface PluginRuntimeView {
  /** The enabled, resolved plugin this runtime runs. */
  readonly record: ResolvedPlugin;
  /** The execution limits in force: the host's base limits with the enablement's overrides. */
  readonly limits: ExecutionLimits;
  /** Where the runtime is: `ready` (not started), `starting`, `running`, `failed` or `stopped`. */
  readonly state: RuntimeState;
  /** The component world once the component is loaded; null before. */
  readonly world: 'tool' | 'instance' | null;
  /** Where the guest runs once loaded (a worker thread, or in the host's thread); null before. */
  readonly execution: 'worker' | 'in-thread' | null;
  /** The last `component_status` the instance reported (instance world); null when none. */
  readonly componentStatus: JsonValue | null;
  /** The last failure of this runtime, bounded and redacted; null when none. */
  readonly lastError: string | null;
  /** What the current sandbox did with its calls (a copy); null before it started. */
  readonly sandboxCounters: SandboxCounters | null;
}

const VIEW_FIELDS = ['record', 'limits', 'state', 'world', 'execution', 'componentStatus', 'lastError', 'sandboxCounters'] as const satisfies readonly (keyof PluginRuntimeView)[];

/** A frozen object whose getters read `runtime`: the runtime itself never leaves the host. */
export function runtimeView(runtime: PluginRuntime): PluginRuntimeView {
  const view = {};
  for (const field of VIEW_FIELDS) Object.defineProperty(view, field, { get: () => runtime[field], enumerable: true });
  return Object.freeze(view) as PluginRuntimeView;
}

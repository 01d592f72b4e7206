/** Execution limits. An enablement's `[plugins.enabled.limits]` may lower or raise them within the host maxima. */
export interface ExecutionLimits {
  /** Wall-clock deadline of one tool call, counted from admission (queue wait and host-call time included). */
  readonly toolTimeoutMs: number;
  /** Deadline of `start`, `status` and `stop`. */
  readonly lifecycleTimeoutMs: number;
  /** Deadline of one ingress handler call. */
  readonly ingressTimeoutMs: number;
  /** Linear-memory cap per instance. */
  readonly memoryBytes: number;
  /** Calls that may wait for a plugin's sandbox; one more is refused with `PLUGIN_BUSY`. */
  readonly queuedCalls: number;
  /** Worker threads a tool-world plugin may run calls on at once (an instance-world plugin has one). */
  readonly toolWorkers: number;
}

/** The execution limits of a plugin whose enablement sets none (decisions §5). */
export const DEFAULT_LIMITS: ExecutionLimits = {
  toolTimeoutMs: 10_000,
  lifecycleTimeoutMs: 5_000,
  ingressTimeoutMs: 5_000,
  memoryBytes: 256 * 1024 * 1024,
  queuedCalls: 256,
  toolWorkers: 2,
};

/** The largest value an enablement may ask for; anything above is refused when the enablement is read. */
export const HOST_MAXIMA: ExecutionLimits = {
  toolTimeoutMs: 120_000,
  lifecycleTimeoutMs: 60_000,
  ingressTimeoutMs: 60_000,
  memoryBytes: 2 * 1024 * 1024 * 1024,
  queuedCalls: 4096,
  toolWorkers: 8,
};

/** Bounds on what crosses the component boundary (as in Yoi). */
export const IO_LIMITS = {
  toolInputBytes: 64 * 1024,
  /** Any export's result; enforced inside the worker before the result crosses to the host thread. */
  guestOutputBytes: 64 * 1024,
  /** The arguments of one guest host call, enforced inside the worker (every host API's own bound is lower). */
  hostCallArgumentBytes: 64 * 1024,
  summaryBytes: 1024,
} as const;

/** An enablement's `[plugins.enabled.limits]`: each key optional, none above {@link HOST_MAXIMA}. */
export interface LimitOverrides {
  readonly tool_timeout_ms?: number;
  readonly lifecycle_timeout_ms?: number;
  readonly ingress_timeout_ms?: number;
  readonly memory_mib?: number;
  readonly queued_calls?: number;
  readonly tool_workers?: number;
}

export type LimitKey = keyof LimitOverrides;

const MIB = 1024 * 1024;

/** Each enablement key: the field it sets, and how a key's value converts to that field's unit. */
const LIMIT_KEYS: Readonly<Record<LimitKey, { readonly field: keyof ExecutionLimits; readonly scale: number; readonly unit: string }>> = {
  tool_timeout_ms: { field: 'toolTimeoutMs', scale: 1, unit: 'ms' },
  lifecycle_timeout_ms: { field: 'lifecycleTimeoutMs', scale: 1, unit: 'ms' },
  ingress_timeout_ms: { field: 'ingressTimeoutMs', scale: 1, unit: 'ms' },
  memory_mib: { field: 'memoryBytes', scale: MIB, unit: 'MiB' },
  queued_calls: { field: 'queuedCalls', scale: 1, unit: 'calls' },
  tool_workers: { field: 'toolWorkers', scale: 1, unit: 'workers' },
};

export const LIMIT_KEY_NAMES = Object.keys(LIMIT_KEYS) as readonly LimitKey[];

/** The host maximum of an enablement key, in that key's unit (`memory_mib` → 2048). */
export function hostMaximum(key: LimitKey): number {
  const { field, scale } = LIMIT_KEYS[key];
  return Math.floor(HOST_MAXIMA[field] / scale);
}

/** Why an enablement value is refused, or null: integers from 1 up to the host maximum. */
export function limitProblem(key: LimitKey, value: unknown): string | null {
  const max = hostMaximum(key);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) return `must be a positive integer (at most ${max} ${LIMIT_KEYS[key].unit})`;
  if (value > max) return `is ${value} ${LIMIT_KEYS[key].unit}, above the host maximum of ${max} ${LIMIT_KEYS[key].unit}`;
  return null;
}

/**
 * Applies enablement overrides to `base`. Overrides were checked against the host maxima when
 * the enablement was read; this still clamps, so a value built in code cannot exceed them.
 */
export function effectiveLimits(overrides: LimitOverrides | undefined, base: ExecutionLimits = DEFAULT_LIMITS): ExecutionLimits {
  const out: Record<keyof ExecutionLimits, number> = { ...base };
  for (const key of LIMIT_KEY_NAMES) {
    const value = overrides?.[key];
    if (value === undefined) continue;
    const { field, scale } = LIMIT_KEYS[key];
    out[field] = Math.max(1, Math.min(value * scale, HOST_MAXIMA[field]));
  }
  return out;
}

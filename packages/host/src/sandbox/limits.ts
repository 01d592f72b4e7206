/** Execution limits. An enablement's `[plugins.enabled.limits]` may lower or raise them within the host maxima. */
export interface ExecutionLimits {
  /** Wall-clock deadline of one tool call, host-call time included. */
  readonly toolTimeoutMs: number;
  /** Deadline of `start`, `status` and `stop`. */
  readonly lifecycleTimeoutMs: number;
  /** Deadline of one ingress handler call. */
  readonly ingressTimeoutMs: number;
  /** Linear-memory cap per instance. */
  readonly memoryBytes: number;
}

export const DEFAULT_LIMITS: ExecutionLimits = {
  toolTimeoutMs: 10_000,
  lifecycleTimeoutMs: 5_000,
  ingressTimeoutMs: 5_000,
  memoryBytes: 256 * 1024 * 1024,
};

export const HOST_MAXIMA: ExecutionLimits = {
  toolTimeoutMs: 120_000,
  lifecycleTimeoutMs: 60_000,
  ingressTimeoutMs: 60_000,
  memoryBytes: 2 * 1024 * 1024 * 1024,
};

/** Bounds on what crosses the component boundary (as in Yoi). */
export const IO_LIMITS = {
  toolInputBytes: 64 * 1024,
  guestOutputBytes: 64 * 1024,
  summaryBytes: 1024,
} as const;

export interface LimitOverrides {
  readonly tool_timeout_ms?: number;
  readonly lifecycle_timeout_ms?: number;
  readonly ingress_timeout_ms?: number;
  readonly memory_mib?: number;
}

/** Applies enablement overrides, clamped to [1, host maximum]. */
export function effectiveLimits(overrides: LimitOverrides | undefined, base: ExecutionLimits = DEFAULT_LIMITS): ExecutionLimits {
  const clamp = (value: number | undefined, fallback: number, max: number) => (value === undefined ? fallback : Math.max(1, Math.min(value, max)));
  return {
    toolTimeoutMs: clamp(overrides?.tool_timeout_ms, base.toolTimeoutMs, HOST_MAXIMA.toolTimeoutMs),
    lifecycleTimeoutMs: clamp(overrides?.lifecycle_timeout_ms, base.lifecycleTimeoutMs, HOST_MAXIMA.lifecycleTimeoutMs),
    ingressTimeoutMs: clamp(overrides?.ingress_timeout_ms, base.ingressTimeoutMs, HOST_MAXIMA.ingressTimeoutMs),
    memoryBytes: overrides?.memory_mib === undefined ? base.memoryBytes : clamp(overrides.memory_mib * 1024 * 1024, base.memoryBytes, HOST_MAXIMA.memoryBytes),
  };
}

import type { DropPolicy } from './ingress-queue.js';

/** How a service is supervised. Every field has a default; embedders may override any. */
export interface ServicePolicy {
  /** Ingress queue capacity per instance. */
  readonly queueCapacity: number;
  /**
   * Queued events handed to the instance per wake-up (1 = one by one). A batch stops at the
   * first event not handled; the handling of the events before it commits in one durable write.
   */
  readonly ingressBatch: number;
  /** Deliveries per event before it is dead-lettered (1 = no retry). */
  readonly maxAttempts: number;
  /** First redelivery delay; doubles per attempt with ±20 % jitter, up to retryMaxMs. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** First restart delay after a trap, deadline overrun or failed status; doubles, capped. */
  readonly restartBaseMs: number;
  readonly restartMaxMs: number;
  /** More restarts than this within restartWindowMs opens the circuit: Disabled. */
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  /** Dead letters kept per plugin (oldest evicted first, counted). */
  readonly deadLetterCapacity: number;
  /** Active host timers per plugin. */
  readonly maxTimers: number;
  /** `host_request_dispatch` requests in flight per plugin. */
  readonly maxPendingRequests: number;
  /** Per-ingress behaviour of `offer` when the queue is full (default: block = refuse and let the source wait). */
  readonly dropPolicy: Readonly<Record<string, DropPolicy>>;
  /** How often a running instance's `status` export is polled (0 = never). */
  readonly statusPollMs: number;
}

export const DEFAULT_SERVICE_POLICY: ServicePolicy = {
  queueCapacity: 1024,
  ingressBatch: 32,
  maxAttempts: 5,
  retryBaseMs: 200,
  retryMaxMs: 30_000,
  restartBaseMs: 500,
  restartMaxMs: 30_000,
  maxRestarts: 5,
  restartWindowMs: 60_000,
  deadLetterCapacity: 1000,
  maxTimers: 32,
  maxPendingRequests: 32,
  dropPolicy: {},
  statusPollMs: 0,
};

/** Exponential backoff with ±20 % jitter: base · 2^(n−1), capped. */
export function backoffMs(base: number, max: number, n: number, random: () => number = Math.random): number {
  const raw = Math.min(max, base * 2 ** Math.max(0, n - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

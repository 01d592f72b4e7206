import { DISCARD_KINDS } from '../service/discards.js';
import type { ServiceEvent, ServiceEventHook } from '../service/service-events.js';
import type { PluginStatus } from '../status/status.js';
import type { Logger } from './log.js';
import { LogRateLimiter } from './rate-limit.js';

/** Event kinds bounded by the service itself (backoff, the circuit): never held back. */
const UNLIMITED = new Set<ServiceEvent['kind']>(['lifecycle', 'circuit']);

/**
 * Service events as JSON log lines: lifecycle transitions and circuit changes always, and
 * retries, dead letters, rejections and drops rate-limited per plugin and kind.
 */
export function serviceEventLogger(log: Logger, limiter = new LogRateLimiter()): ServiceEventHook {
  return (event) => {
    let suppressed = 0;
    if (!UNLIMITED.has(event.kind)) {
      const admitted = limiter.admit(`${event.plugin}\u0000${event.kind}`);
      if (!admitted) return;
      suppressed = admitted.suppressed;
    }
    log(event.level, event.message, { plugin: event.plugin, event: event.kind, ...event.fields, ...(suppressed > 0 ? { suppressed_before: suppressed } : {}) });
  };
}

/**
 * Logs every increase of a plugin's discard counters, at most one line per plugin and
 * counter per sample (the sampling interval is the rate limit). Covers the counters that
 * other parts keep (the WebSocket driver's inbox, ring buffers, the guest log budget).
 */
export class DiscardWatch {
  readonly #status: () => readonly PluginStatus[];
  readonly #log: Logger;
  readonly #seen = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;

  constructor(status: () => readonly PluginStatus[], log: Logger) {
    this.#status = status;
    this.#log = log;
    this.sample(false);
  }

  /** Samples every `ms` until `stop`. */
  every(ms: number): this {
    this.#timer = setInterval(() => this.sample(), ms);
    this.#timer.unref();
    return this;
  }

  sample(report = true): void {
    for (const plugin of this.#status()) {
      for (const what of DISCARD_KINDS) {
        const key = `${plugin.plugin}\u0000${what}`;
        const total = plugin.discards[what];
        const before = this.#seen.get(key) ?? 0;
        if (total < before) this.#seen.set(key, total); // a reloaded plugin's counters start again
        if (total <= before) continue;
        this.#seen.set(key, total);
        if (report) this.#log('warn', 'work discarded', { plugin: plugin.plugin, what, count: total - before, total });
      }
    }
  }

  /** Stops sampling after one last sample. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.sample();
  }
}

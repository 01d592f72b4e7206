import type { JsonValue } from '../manifest/types.js';
import { rfc3339 } from './ids.js';

export interface TimerSpec {
  readonly timerId: string;
  readonly ingress: string;
  readonly delayMs: number;
  readonly intervalMs?: number;
  readonly data?: JsonValue;
}

export interface TimerStatus {
  readonly timer_id: string;
  readonly ingress: string;
  readonly interval_ms: number | null;
  readonly next_at: string;
  readonly fired: number;
}

export type TimerFire = (timer: TimerSpec, payload: JsonValue) => Promise<void>;

interface Active {
  spec: TimerSpec;
  handle: NodeJS.Timeout;
  nextAt: number;
  fired: number;
  pending: boolean;
}

/**
 * Host timers for one service (`timer_set` / `timer_cancel`): how a plugin beats a heartbeat
 * without a loop. A timer with the same id replaces the old one. An interval timer does not
 * stack ticks: while a tick is still waiting for queue space, later ticks are skipped and
 * counted.
 */
export class TimerSet {
  readonly max: number;
  readonly #fire: TimerFire;
  readonly #timers = new Map<string, Active>();
  #skipped = 0;

  constructor(max: number, fire: TimerFire) {
    this.max = max;
    this.#fire = fire;
  }

  get size(): number {
    return this.#timers.size;
  }

  get skipped(): number {
    return this.#skipped;
  }

  has(id: string): boolean {
    return this.#timers.has(id);
  }

  set(spec: TimerSpec): void {
    this.cancel(spec.timerId);
    const active: Active = { spec, handle: setTimeout(() => this.#tick(active), spec.delayMs), nextAt: Date.now() + spec.delayMs, fired: 0, pending: false };
    active.handle.unref();
    this.#timers.set(spec.timerId, active);
  }

  #tick(active: Active): void {
    if (this.#timers.get(active.spec.timerId) !== active) return;
    if (active.spec.intervalMs !== undefined) {
      active.nextAt = Date.now() + active.spec.intervalMs;
      active.handle = setTimeout(() => this.#tick(active), active.spec.intervalMs);
      active.handle.unref();
    } else this.#timers.delete(active.spec.timerId);
    if (active.pending) {
      this.#skipped++;
      return;
    }
    active.fired++;
    active.pending = true;
    const payload: JsonValue = { timer_id: active.spec.timerId, fired_at: rfc3339(), count: active.fired, data: active.spec.data ?? null };
    void this.#fire(active.spec, payload).finally(() => {
      active.pending = false;
    });
  }

  cancel(id: string): boolean {
    const active = this.#timers.get(id);
    if (!active) return false;
    clearTimeout(active.handle);
    this.#timers.delete(id);
    return true;
  }

  cancelAll(): void {
    for (const id of [...this.#timers.keys()]) this.cancel(id);
  }

  status(): TimerStatus[] {
    return [...this.#timers.values()].map((t) => ({
      timer_id: t.spec.timerId,
      ingress: t.spec.ingress,
      interval_ms: t.spec.intervalMs ?? null,
      next_at: rfc3339(t.nextAt),
      fired: t.fired,
    }));
  }
}

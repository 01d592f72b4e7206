import type { JsonValue } from '../manifest/types.js';
import { systemClock, type Clock } from './clock.js';
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
  cancel: (() => void) | null;
  nextAt: number;
  fired: number;
  pending: boolean;
  /** The next tick fell due while the timer was suspended or the host was down. */
  late: boolean;
}

/**
 * Host timers for one service (`timer_set` / `timer_cancel`): how a plugin beats a heartbeat
 * without a loop. A timer with the same id replaces the old one. An interval timer does not
 * stack ticks: while a tick is still waiting for queue space, later ticks are skipped and
 * counted. While the service is stopped or disabled the timers are suspended, not forgotten:
 * `resume` re-arms them, and a tick whose time passed meanwhile fires at once, counted late.
 */
export class TimerSet {
  readonly max: number;
  readonly #fire: TimerFire;
  readonly #clock: Clock;
  readonly #timers = new Map<string, Active>();
  #suspended = false;
  #skipped = 0;
  #late = 0;

  constructor(max: number, fire: TimerFire, clock: Clock = systemClock) {
    this.max = max;
    this.#fire = fire;
    this.#clock = clock;
  }

  get size(): number {
    return this.#timers.size;
  }

  /** Interval ticks skipped because the previous tick was still waiting for queue space. */
  get skipped(): number {
    return this.#skipped;
  }

  /** Ticks that fired after their time because the timers were suspended or the host was down. */
  get late(): number {
    return this.#late;
  }

  /** The ids of the active timers (a fresh set). */
  ids(): Set<string> {
    return new Set(this.#timers.keys());
  }

  has(id: string): boolean {
    return this.#timers.has(id);
  }

  /** Arms (or replaces) a timer; returns when its first tick is due (epoch ms). */
  set(spec: TimerSpec): number {
    return this.#place(spec, this.#clock.now() + spec.delayMs);
  }

  /**
   * Brings back a timer kept across a restart. One whose tick fell due meanwhile ticks as soon
   * as the timers run, marked late (an interval timer once, however many intervals it missed).
   */
  restore(spec: TimerSpec, nextAt: number): void {
    this.#place(spec, nextAt);
  }

  #place(spec: TimerSpec, nextAt: number): number {
    this.cancel(spec.timerId);
    const active: Active = { spec, cancel: null, nextAt, fired: 0, pending: false, late: false };
    this.#timers.set(spec.timerId, active);
    if (!this.#suspended) this.#arm(active);
    return nextAt;
  }

  #arm(active: Active): void {
    const now = this.#clock.now();
    if (active.nextAt < now) {
      // Its time passed while the timers were not running: tick now, once.
      if (active.spec.intervalMs !== undefined) active.nextAt += Math.floor((now - active.nextAt) / active.spec.intervalMs) * active.spec.intervalMs;
      active.late = true;
    }
    active.cancel = this.#clock.setTimer(active.nextAt - this.#clock.now(), () => this.#tick(active), { background: true });
  }

  #tick(active: Active): void {
    if (this.#timers.get(active.spec.timerId) !== active) return;
    const now = this.#clock.now();
    const lateMs = active.late ? Math.max(0, now - active.nextAt) : 0;
    if (active.late) this.#late++;
    active.late = false;
    if (active.spec.intervalMs !== undefined) {
      active.nextAt = now + active.spec.intervalMs;
      this.#arm(active);
    } else this.#timers.delete(active.spec.timerId);
    if (active.pending) {
      this.#skipped++;
      return;
    }
    active.fired++;
    active.pending = true;
    const payload: JsonValue = {
      timer_id: active.spec.timerId,
      fired_at: rfc3339(now),
      count: active.fired,
      data: active.spec.data ?? null,
      ...(lateMs > 0 ? { late_ms: lateMs } : {}),
    };
    void this.#fire(active.spec, payload).finally(() => {
      active.pending = false;
    });
  }

  cancel(id: string): boolean {
    const active = this.#timers.get(id);
    if (!active) return false;
    active.cancel?.();
    this.#timers.delete(id);
    return true;
  }

  cancelAll(): void {
    for (const id of [...this.#timers.keys()]) this.cancel(id);
  }

  /** Stops every timer without forgetting it. */
  suspend(): void {
    this.#suspended = true;
    for (const active of this.#timers.values()) {
      active.cancel?.();
      active.cancel = null;
    }
  }

  /** Re-arms the suspended timers; the ones already due tick now, marked late. */
  resume(): void {
    if (!this.#suspended) return;
    this.#suspended = false;
    for (const active of this.#timers.values()) this.#arm(active);
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

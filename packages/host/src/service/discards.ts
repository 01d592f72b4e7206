/**
 * Every place a service can discard work, counted (issue F: nothing is discarded silently).
 * Shown in the status model, `/v1/status` and `/metrics`; `serve` logs increases.
 */
export interface DiscardCounters {
  /** Events dropped by an explicit per-ingress drop policy (`drop_newest`, `drop_oldest`). */
  readonly queue_dropped: number;
  /** Output commands rejected (invalid, ungranted, not run with a rejected batch, failed to execute). */
  readonly commands_rejected: number;
  /** `command_rejected` events not sent because the ingress does not declare that kind. */
  readonly rejection_events_not_declared: number;
  /** `command_rejected` events not sent for rejections caused while handling a `command_rejected` event. */
  readonly rejection_events_suppressed: number;
  /** `command_rejected` events the queue refused (the service was stopping). */
  readonly rejection_events_undelivered: number;
  /** Interval timer ticks skipped because the previous tick was still waiting for queue space. */
  readonly timer_ticks_skipped: number;
  /** Timer ticks the service refused (it was stopping or disabled). */
  readonly timer_ticks_undelivered: number;
  /** Oldest dead letters evicted to keep the store within its bound. */
  readonly dead_letters_evicted: number;
  /** Dead-letter writes that failed (the entries are only in memory). */
  readonly dead_letter_write_errors: number;
  /** Service diagnostics pushed out of their bounded ring. */
  readonly diagnostics_dropped: number;
  /** Command results pushed out of their bounded ring. */
  readonly command_results_dropped: number;
  /** Guest log lines pushed out of the bounded plugin log. */
  readonly guest_log_lines_dropped: number;
  /** Guest output bytes over the per-call log budget. */
  readonly guest_log_bytes_dropped: number;
  /** WebSocket events lost outside any declared policy: refused by the service, or frames of a socket already let go (the driver's `drops`). */
  readonly websocket_frames_dropped: number;
  /** Binary frames dropped because the ingress does not declare `websocket_binary`. */
  readonly websocket_binary_dropped: number;
  /** WebSocket events skipped because the ingress's `event_kinds` does not list their kind. */
  readonly websocket_skipped_undeclared: number;
  /** Connections closed (and re-dialled) because the driver's inbox hit its byte safety limit. */
  readonly websocket_inbox_safety_closes: number;
}

type Counted = 'commands_rejected' | 'rejection_events_not_declared' | 'rejection_events_suppressed' | 'rejection_events_undelivered' | 'timer_ticks_undelivered';
type Retired = 'websocket_frames_dropped' | 'websocket_binary_dropped' | 'websocket_skipped_undeclared' | 'websocket_inbox_safety_closes';

/** Driver connection counters (see `websocket/driver.ts`) behind each WebSocket discard counter. */
export const WEBSOCKET_DISCARDS: Readonly<Record<Retired, string>> = {
  websocket_frames_dropped: 'drops',
  websocket_binary_dropped: 'binary_dropped',
  websocket_skipped_undeclared: 'skipped_undeclared',
  websocket_inbox_safety_closes: 'inbox_safety_closes',
};
type Live = Omit<DiscardCounters, Counted>;

/** The service's own discard counts, plus those of WebSocket drivers a fresh one replaced. */
export class DiscardTally {
  readonly #counted: Record<Counted, number> = {
    commands_rejected: 0,
    rejection_events_not_declared: 0,
    rejection_events_suppressed: 0,
    rejection_events_undelivered: 0,
    timer_ticks_undelivered: 0,
  };
  readonly #retired: Record<Retired, number> = { websocket_frames_dropped: 0, websocket_binary_dropped: 0, websocket_skipped_undeclared: 0, websocket_inbox_safety_closes: 0 };

  add(what: Counted, n = 1): void {
    this.#counted[what] += n;
  }

  retire(what: Retired, n: number): void {
    this.#retired[what] += n;
  }

  /** Everything, with the counters other parts keep (`live`) merged in. */
  snapshot(live: Live): DiscardCounters {
    return {
      ...live,
      ...this.#counted,
      websocket_frames_dropped: live.websocket_frames_dropped + this.#retired.websocket_frames_dropped,
      websocket_binary_dropped: live.websocket_binary_dropped + this.#retired.websocket_binary_dropped,
      websocket_skipped_undeclared: live.websocket_skipped_undeclared + this.#retired.websocket_skipped_undeclared,
      websocket_inbox_safety_closes: live.websocket_inbox_safety_closes + this.#retired.websocket_inbox_safety_closes,
    };
  }
}

export const DISCARD_KINDS: readonly (keyof DiscardCounters)[] = [
  'queue_dropped',
  'commands_rejected',
  'rejection_events_not_declared',
  'rejection_events_suppressed',
  'rejection_events_undelivered',
  'timer_ticks_skipped',
  'timer_ticks_undelivered',
  'dead_letters_evicted',
  'dead_letter_write_errors',
  'diagnostics_dropped',
  'command_results_dropped',
  'guest_log_lines_dropped',
  'guest_log_bytes_dropped',
  'websocket_frames_dropped',
  'websocket_binary_dropped',
  'websocket_skipped_undeclared',
  'websocket_inbox_safety_closes',
];

/** Sums the driver's connection counters into the WebSocket discard counters. */
export function websocketDiscards(connections: readonly unknown[]): Record<keyof typeof WEBSOCKET_DISCARDS, number> {
  const sums = { websocket_frames_dropped: 0, websocket_binary_dropped: 0, websocket_skipped_undeclared: 0, websocket_inbox_safety_closes: 0 };
  for (const connection of connections) {
    const c = connection as Record<string, unknown>;
    for (const [what, field] of Object.entries(WEBSOCKET_DISCARDS) as [keyof typeof sums, string][]) {
      const value = c[field];
      if (typeof value === 'number') sums[what] += value;
    }
  }
  return sums;
}

/** The discards of a plugin without a service: only its guest log can drop anything. */
export function runtimeDiscards(log: { readonly dropped: number; readonly budgetDroppedBytes: number }): DiscardCounters {
  const zero = Object.fromEntries(DISCARD_KINDS.map((kind) => [kind, 0])) as Record<keyof DiscardCounters, number>;
  return { ...zero, guest_log_lines_dropped: log.dropped, guest_log_bytes_dropped: log.budgetDroppedBytes };
}

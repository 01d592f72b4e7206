/**
 * The lifecycle of a supervised plugin as one state machine (decisions §6, issue F).
 *
 * Every state change goes through `transition`, which refuses anything the table does not
 * list. Operations that take time (start, stop, restart, enable, disable) run one at a time
 * through `run`; the generation counter lets a stop or disable invalidate work that was
 * scheduled or begun before it, so an outdated restart can never revive a stopped service.
 */
export type LifecycleState = 'Ready' | 'Starting' | 'Running' | 'Degraded' | 'Stopping' | 'Stopped' | 'Failed' | 'Restarting' | 'Disabled';

/** Every {@link LifecycleState}. */
export const LIFECYCLE_STATES: readonly LifecycleState[] = ['Ready', 'Starting', 'Running', 'Degraded', 'Stopping', 'Stopped', 'Failed', 'Restarting', 'Disabled'];

/**
 * Allowed transitions. `Degraded` is a running instance whose host cannot persist or deliver
 * (the journal cannot write): its sources are held until writing works again.
 */
export const TRANSITIONS: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = {
  Ready: ['Starting', 'Stopping', 'Disabled'],
  Starting: ['Running', 'Degraded', 'Failed', 'Stopping', 'Disabled'],
  Running: ['Degraded', 'Restarting', 'Stopping', 'Disabled'],
  Degraded: ['Running', 'Restarting', 'Stopping', 'Disabled'],
  Restarting: ['Running', 'Degraded', 'Restarting', 'Stopping', 'Disabled'],
  Stopping: ['Stopped'],
  Stopped: ['Starting', 'Disabled'],
  Failed: ['Starting', 'Stopping', 'Disabled'],
  Disabled: ['Starting'],
};

/** States in which the instance is live and events are delivered to it. */
export function isLive(state: LifecycleState): boolean {
  return state === 'Running' || state === 'Degraded';
}

export interface Transition {
  readonly from: LifecycleState;
  readonly to: LifecycleState;
  readonly reason: string;
  readonly generation: number;
}

export class IllegalTransition extends Error {
  constructor(from: LifecycleState, to: LifecycleState) {
    super(`illegal lifecycle transition ${from} → ${to}`);
    this.name = 'IllegalTransition';
  }
}

export class Lifecycle {
  #state: LifecycleState = 'Ready';
  #generation = 0;
  #tail: Promise<unknown> = Promise.resolve();
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  readonly #onTransition: (transition: Transition) => void;

  constructor(onTransition: (transition: Transition) => void) {
    this.#onTransition = onTransition;
  }

  get state(): LifecycleState {
    return this.#state;
  }

  /** Incremented by every operation that supersedes earlier ones (start, stop, disable, restart). */
  get generation(): number {
    return this.#generation;
  }

  /** Lifecycle operations running or waiting for their turn. */
  get pending(): number {
    return this.#inFlight;
  }

  can(to: LifecycleState): boolean {
    return TRANSITIONS[this.#state].includes(to);
  }

  transition(to: LifecycleState, reason: string): void {
    const from = this.#state;
    if (!this.can(to)) throw new IllegalTransition(from, to);
    this.#state = to;
    this.#onTransition({ from, to, reason, generation: this.#generation });
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** Starts a new generation: whatever was scheduled under the old one must not act any more. */
  supersede(): number {
    return ++this.#generation;
  }

  isCurrent(generation: number): boolean {
    return generation === this.#generation;
  }

  /** Runs `op` after every earlier operation has finished (successfully or not). */
  run<T>(op: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    const result = this.#tail.then(op);
    this.#tail = result.then(
      () => this.#inFlight--,
      () => this.#inFlight--,
    );
    return result;
  }

  /** Resolves at the next transition. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

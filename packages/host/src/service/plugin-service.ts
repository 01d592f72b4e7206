import { runBatch } from '../commands/batch.js';
import type { CommandResult } from '../commands/envelope.js';
import type { DomainEvent, ExecutionContext, WebSocketCommands } from '../commands/executors/index.js';
import { boundText, redactText } from '../diagnostics.js';
import { PluginError } from '../errors.js';
import type { JsonValue } from '../manifest/types.js';
import type { PluginRuntime } from '../runtime/plugin-runtime.js';
import { systemClock, type Clock } from './clock.js';
import { deadLetterFile, DeadLetterStore } from './dead-letters.js';
import { DiscardTally, websocketDiscards, type DiscardCounters } from './discards.js';
import { readHandlerReply } from './handler-reply.js';
import { rfc3339 } from './ids.js';
import { newIngressEvent, type IngressEvent } from './ingress-event.js';
import { IngressDispatcher, type Attempt, type DispatchCounters, type EnqueueOutcome, type LastEvent, type Refusal } from './ingress-dispatcher.js';
import { isLive, Lifecycle, type LifecycleState, type Transition } from './lifecycle.js';
import { backoffMs, DEFAULT_SERVICE_POLICY, type ServicePolicy } from './policy.js';
import { RequestSlotPool } from './request-slots.js';
import { Ring } from './ring.js';
import type { ServiceEvent, ServiceEventHook } from './service-events.js';
import { TaskSet } from './tasks.js';
import { TimerSet, type TimerStatus } from './timers.js';

export type { LifecycleState } from './lifecycle.js';
export type { DispatchCounters, EnqueueOutcome } from './ingress-dispatcher.js';
export type { DomainEvent, WebSocketCommands } from '../commands/executors/index.js';
export type { DiscardCounters } from './discards.js';

/** The event kind that tells a plugin one of its output commands was rejected (our addition). */
export const COMMAND_REJECTED = 'command_rejected';

export interface ServiceEffects {
  appendDomainEvent?(event: DomainEvent): void | Promise<void>;
  websocket?: WebSocketCommands;
}

export interface ServiceDiagnostic {
  readonly at: string;
  readonly kind: string;
  readonly state: LifecycleState;
  readonly message: string;
}

export interface ServiceOptions {
  readonly policy?: Partial<ServicePolicy>;
  readonly effects?: ServiceEffects;
  /** Directory for persisted dead letters (`<dir>/<plugin id>.jsonl`); in memory when absent. */
  readonly stateDir?: string;
  /** Time for backoff, timers and the status poll (tests drive it by hand). */
  readonly clock?: Clock;
  /** Told about lifecycle transitions, circuit changes, retries, dead letters, rejections and drops. */
  readonly onEvent?: ServiceEventHook;
}

export interface StopReport {
  readonly plugin: string;
  readonly in_flight: string | null;
  readonly undelivered: number;
  readonly state: LifecycleState;
}

/**
 * The host-managed service of one instance-world plugin. It composes three parts: the
 * lifecycle state machine (start, stop, restart, enable, disable — one at a time), ingress
 * dispatch (queue, retries, dead letters) and the output-command executors, plus host
 * timers, the WebSocket driver it runs and the status poll.
 */
export class PluginService {
  readonly runtime: PluginRuntime;
  readonly policy: ServicePolicy;
  readonly diagnostics = new Ring<ServiceDiagnostic>(64);
  readonly commandResults = new Ring<CommandResult>(32);
  readonly #lifecycle: Lifecycle;
  readonly #dispatcher: IngressDispatcher;
  readonly #timers: TimerSet;
  readonly #slots: RequestSlotPool;
  readonly #tasks: TaskSet;
  readonly #clock: Clock;
  readonly #onEvent: ServiceEventHook | undefined;
  readonly #tally = new DiscardTally();
  #effects: ServiceEffects;
  #driverFactory: (() => WebSocketCommands) | null = null;
  #driver: WebSocketCommands | null = null;
  #restarts = 0;
  #restartTimes: number[] = [];
  #consecutiveRestarts = 0;
  #cancelRestart: (() => void) | null = null;
  #lastError: string | null = null;
  /** A `diagnostic_status_update`, shown until the next lifecycle call or status poll replaces it. */
  #statusUpdate: { readonly value: JsonValue } | null = null;
  #polling = false;
  #cancelPoll: (() => void) | null = null;
  /** An instance close begun outside an operation (the circuit opening); the next start waits for it. */
  #closing: Promise<void> | null = null;

  constructor(runtime: PluginRuntime, options: ServiceOptions = {}) {
    this.runtime = runtime;
    this.policy = { ...DEFAULT_SERVICE_POLICY, ...options.policy };
    this.#effects = options.effects ?? {};
    this.#driver = this.#effects.websocket ?? null;
    this.#clock = options.clock ?? systemClock;
    this.#onEvent = options.onEvent;
    this.#lifecycle = new Lifecycle((transition) => this.#transitioned(transition));
    this.#tasks = new TaskSet((error) => this.#diagnose('HostError', `background work failed: ${messageOf(error)}`, true));
    this.#slots = new RequestSlotPool(this.policy.maxPendingRequests);
    this.#timers = new TimerSet(this.policy.maxTimers, (timer, payload) => this.#fireTimer(timer.ingress, timer.timerId, payload), this.#clock);
    const deadLetters = new DeadLetterStore(this.policy.deadLetterCapacity, options.stateDir ? deadLetterFile(options.stateDir, runtime.record.identity) : null);
    this.#dispatcher = new IngressDispatcher(runtime.record, this.policy, this.#clock, deadLetters, {
      refusal: () => this.#refusal(),
      whenDeliverable: () => this.#whenDeliverable(),
      attempt: (ingress, event) => this.#attempt(ingress, event),
      diagnose: (kind, message, error) => this.#diagnose(kind, message, error),
      notify: (event) => this.#notify(event),
    });
    runtime.onFailure((error) => this.#instanceFailed(error.message));
  }

  /**
   * Attaches the WebSocket driver that feeds this service and executes its websocket_*
   * commands. Given a factory, every start (and re-enable) runs a fresh driver, so its
   * connections open again.
   */
  attachWebSocketDriver(driver: WebSocketCommands | (() => WebSocketCommands)): void {
    if (typeof driver === 'function') {
      this.#driverFactory = driver;
      this.#driver = null;
    } else {
      this.#driverFactory = null;
      this.#driver = driver;
    }
  }

  /** Status of the host-owned connections (empty without a driver). */
  connections(): JsonValue[] {
    return this.#driver?.status?.() ?? [];
  }

  /** Records a diagnostic from a component of this service (the WebSocket driver). */
  diagnose(kind: string, message: string): void {
    this.#diagnose(kind, message, kind.endsWith('Error'));
  }

  get identity(): string {
    return this.runtime.record.identity;
  }

  get state(): LifecycleState {
    return this.#lifecycle.state;
  }

  get restarts(): number {
    return this.#restarts;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  get counters(): DispatchCounters {
    return this.#dispatcher.counters;
  }

  get deadLetters(): DeadLetterStore {
    return this.#dispatcher.deadLetters;
  }

  get queueDepth(): number {
    return this.#dispatcher.depth;
  }

  get timers(): readonly TimerStatus[] {
    return this.#timers.status();
  }

  get componentStatus(): JsonValue | null {
    return this.#statusUpdate ? this.#statusUpdate.value : this.runtime.componentStatus;
  }

  get lastEvent(): LastEvent | null {
    return this.#dispatcher.lastEvent;
  }

  /** Total time sources spent held back by a full queue. */
  get backpressureMs(): number {
    return this.#dispatcher.backpressureMs;
  }

  /** Host requests in flight and commands waiting for a request slot. */
  get requests(): { readonly in_flight: number; readonly waiting: number; readonly capacity: number } {
    return { in_flight: this.#slots.inUse, waiting: this.#slots.waiting, capacity: this.#slots.capacity };
  }

  /** Every place this service can discard work, counted. */
  get discards(): DiscardCounters {
    return this.#tally.snapshot({
      queue_dropped: this.counters.dropped,
      timer_ticks_skipped: this.#timers.skipped,
      dead_letters_evicted: this.deadLetters.evicted,
      dead_letter_write_errors: this.deadLetters.writeErrors,
      diagnostics_dropped: this.diagnostics.dropped,
      command_results_dropped: this.commandResults.dropped,
      guest_log_lines_dropped: this.runtime.log.dropped,
      guest_log_bytes_dropped: this.runtime.log.budgetDroppedBytes,
      ...websocketDiscards(this.connections()),
    });
  }

  // ---- lifecycle -------------------------------------------------------------------------

  #transitioned(transition: Transition): void {
    this.#diagnose('Lifecycle', `${transition.from} → ${transition.to}: ${transition.reason}`);
    const level = transition.to === 'Failed' || transition.to === 'Disabled' ? 'error' : transition.to === 'Restarting' || transition.to === 'Degraded' ? 'warn' : 'info';
    this.#notify({ kind: 'lifecycle', level, message: `service ${transition.to}`, fields: { from: transition.from, to: transition.to, reason: transition.reason } });
  }

  /** Starts the instance (`start` with the enablement config), its sources and the dispatch loop. A start failure fails closed (Failed). */
  start(): Promise<void> {
    return this.#lifecycle.run(async () => {
      const state = this.#lifecycle.state;
      if (state !== 'Ready' && state !== 'Stopped' && state !== 'Failed') return;
      await this.#bringUp('service start requested');
    });
  }

  /** Re-enables a Disabled (or Failed) service: everything a start does, with the restart window cleared. */
  enable(): Promise<void> {
    return this.#lifecycle.run(async () => {
      const state = this.#lifecycle.state;
      if (state !== 'Disabled' && state !== 'Failed') return;
      this.#restartTimes = [];
      if (state === 'Disabled') this.#notify({ kind: 'circuit', level: 'info', message: 'circuit closed by the operator' });
      await this.#bringUp('service re-enabled by the operator');
    });
  }

  /** Replaces the running instance now (an operator's restart); sources and queue stay. */
  restart(reason = 'restart requested by the operator'): Promise<void> {
    return this.#lifecycle.run(async () => {
      const state = this.#lifecycle.state;
      if (!isLive(state) && state !== 'Restarting') return;
      this.#cancelRestartTimer();
      const generation = this.#lifecycle.supersede();
      this.#lifecycle.transition('Restarting', reason);
      await this.#replaceInstance(generation);
    });
  }

  /** Opens the circuit by hand: sources stop, queued events are dead-lettered, the instance is stopped. */
  disable(reason = 'disabled by the operator'): Promise<void> {
    this.#lifecycle.supersede();
    this.#cancelRestartTimer();
    return this.#lifecycle.run(async () => {
      if (!this.#lifecycle.can('Disabled')) return;
      await this.#openCircuit(reason, 'operator').teardown;
    });
  }

  /**
   * Stops: sources and timers stop, the queue closes, the in-flight event keeps its deadline,
   * host requests in flight finish, `stop` is called, and events never delivered go to the
   * dead-letter store so that nothing is lost. Supersedes any restart scheduled or under way.
   */
  stop(): Promise<StopReport> {
    this.#lifecycle.supersede();
    this.#cancelRestartTimer();
    return this.#lifecycle.run(() => this.#stopNow());
  }

  async #bringUp(reason: string): Promise<void> {
    const generation = this.#lifecycle.supersede();
    this.#lifecycle.transition('Starting', reason);
    await this.#closing;
    await this.deadLetters.load();
    try {
      await this.runtime.restart();
    } catch (error) {
      if (!this.#lifecycle.isCurrent(generation)) return;
      this.#lastError = this.#clean(`plugin component start failed: ${messageOf(error)}`);
      this.#lifecycle.transition('Failed', this.#lastError);
      throw error;
    }
    this.#statusUpdate = null;
    if (!this.#lifecycle.isCurrent(generation)) return;
    this.#consecutiveRestarts = 0;
    this.#lifecycle.transition('Running', 'component instance started; ingress queue is running');
    this.#attachSources();
    this.#refreshStatus();
  }

  async #stopNow(): Promise<StopReport> {
    const state = this.#lifecycle.state;
    const inFlight = this.#dispatcher.inFlight?.event.correlation_id ?? null;
    if (state === 'Stopped' || state === 'Disabled') return { plugin: this.identity, in_flight: null, undelivered: 0, state };
    this.#lifecycle.transition('Stopping', 'service stop requested; ingress queue is closed');
    const undelivered = this.#detachSources();
    for (const item of undelivered) this.#dispatcher.deadLetter(item, item.event.attempt - 1, 'plugin service stopped before delivery');
    await this.#dispatcher.finished();
    await this.#tasks.settled();
    await this.runtime.close('plugin service is stopped');
    this.#statusUpdate = null;
    await this.deadLetters.flush();
    this.#lifecycle.transition('Stopped', 'service stopped');
    return { plugin: this.identity, in_flight: inFlight, undelivered: undelivered.length, state: 'Stopped' };
  }

  /** Sources, timers, the driver and the status poll: everything a start brings up. */
  #attachSources(): void {
    this.#dispatcher.open();
    this.#timers.resume();
    if (this.#driverFactory) {
      this.#retireDriver();
      this.#driver = this.#driverFactory();
    }
    this.#driver?.start?.();
    this.#polling = true;
    this.#armPoll();
  }

  /** Stops what feeds the queue and closes it; returns the events it still held. */
  #detachSources(): ReturnType<IngressDispatcher['close']> {
    this.#driver?.stop?.();
    this.#timers.suspend();
    this.#polling = false;
    this.#cancelPoll?.();
    this.#cancelPoll = null;
    return this.#dispatcher.close();
  }

  /** Keeps the drop counts of a driver that a fresh one replaces. */
  #retireDriver(): void {
    if (!this.#driver) return;
    this.#driver.stop?.();
    for (const [what, n] of Object.entries(websocketDiscards(this.#driver.status?.() ?? []))) this.#tally.retire(what as keyof ReturnType<typeof websocketDiscards>, n);
    this.#driver = null;
  }

  #cancelRestartTimer(): void {
    this.#cancelRestart?.();
    this.#cancelRestart = null;
  }

  /** A trap, deadline overrun, crash or failed status of the current instance. */
  #instanceFailed(reason: string): void {
    if (!isLive(this.#lifecycle.state)) return;
    this.#scheduleRestart(reason);
  }

  #scheduleRestart(reason: string): void {
    const now = this.#clock.now();
    this.#restartTimes = this.#restartTimes.filter((t) => now - t < this.policy.restartWindowMs);
    this.#restartTimes.push(now);
    if (this.#restartTimes.length > this.policy.maxRestarts) {
      void this.#openCircuit(`restarted ${this.policy.maxRestarts} times within ${this.policy.restartWindowMs} ms; last failure: ${reason}`, 'circuit').teardown.catch((error) =>
        this.#diagnose('HostError', `disabling failed: ${messageOf(error)}`, true),
      );
      return;
    }
    this.#restarts++;
    this.#consecutiveRestarts++;
    const delay = backoffMs(this.policy.restartBaseMs, this.policy.restartMaxMs, this.#consecutiveRestarts);
    const generation = this.#lifecycle.generation;
    this.#lastError = this.#clean(reason);
    this.#lifecycle.transition('Restarting', `restarting in ${delay} ms after: ${this.#lastError}`);
    this.#cancelRestartTimer();
    this.#cancelRestart = this.#clock.setTimer(delay, () => {
      this.#cancelRestart = null;
      void this.#lifecycle.run(() => this.#scheduledRestart(generation)).catch((error) => this.#diagnose('HostError', `restart failed: ${messageOf(error)}`, true));
    });
  }

  async #scheduledRestart(generation: number): Promise<void> {
    if (!this.#lifecycle.isCurrent(generation) || this.#lifecycle.state !== 'Restarting') return;
    await this.#replaceInstance(generation);
  }

  async #replaceInstance(generation: number): Promise<void> {
    try {
      await this.runtime.restart();
    } catch (error) {
      if (!this.#lifecycle.isCurrent(generation)) return;
      this.#diagnose('ServiceFailed', `restart failed: ${messageOf(error)}`, true);
      this.#scheduleRestart(messageOf(error));
      return;
    }
    // A stop or disable that came meanwhile owns the instance now and closes it.
    if (!this.#lifecycle.isCurrent(generation)) return;
    this.#statusUpdate = null;
    this.#lifecycle.transition('Running', `instance restarted (restart ${this.#restarts})`);
    this.#refreshStatus();
  }

  /**
   * Disabled: sources stop, the queue closes and the instance refuses calls at once; waiting
   * for the in-flight event and the instance's `stop` takes its turn behind any lifecycle
   * operation under way.
   */
  #openCircuit(reason: string, by: 'circuit' | 'operator'): { teardown: Promise<void> } {
    this.#lastError = this.#clean(by === 'circuit' ? `circuit open: ${reason}` : reason);
    this.#lifecycle.transition('Disabled', this.#lastError);
    this.#notify({ kind: 'circuit', level: 'error', message: by === 'circuit' ? 'circuit open: service disabled after repeated failures' : 'service disabled by the operator', fields: { reason: this.#lastError } });
    this.#lifecycle.supersede();
    const undelivered = this.#detachSources();
    for (const item of undelivered) this.#dispatcher.deadLetter(item, item.event.attempt - 1, `plugin service disabled: ${reason}`);
    const closing = this.runtime.close(`plugin service is disabled: ${this.#lastError}`);
    this.#closing = closing;
    const teardown = async () => {
      await closing;
      await this.#dispatcher.finished();
      await this.#tasks.settled();
      await this.deadLetters.flush();
    };
    return { teardown: by === 'operator' ? teardown() : this.#lifecycle.run(teardown) };
  }

  // ---- ingress ---------------------------------------------------------------------------

  #refusal(): Refusal | null {
    const state = this.#lifecycle.state;
    switch (state) {
      case 'Running':
      case 'Degraded':
      case 'Restarting':
        return null;
      case 'Failed':
        return { ok: false, reason: 'failed', message: `plugin service is failed: ${this.#lastError ?? 'service is failed'}` };
      case 'Disabled':
        return { ok: false, reason: 'disabled', message: 'plugin service is disabled; an operator must re-enable it' };
      case 'Stopping':
      case 'Stopped':
        return { ok: false, reason: 'stopped', message: `plugin service rejects ingress while ${state.toLowerCase()}` };
      default:
        return { ok: false, reason: 'unavailable', message: `plugin service is not running (state ${state})` };
    }
  }

  async #whenDeliverable(): Promise<boolean> {
    while (this.#lifecycle.state === 'Restarting' || this.#lifecycle.state === 'Starting') await this.#lifecycle.changed();
    return isLive(this.#lifecycle.state);
  }

  /** Queues an event, waiting while the queue is full (backpressure: the source is held, nothing is lost). */
  deliver(ingress: string, event: IngressEvent): Promise<EnqueueOutcome> {
    return this.#dispatcher.deliver(ingress, event);
  }

  /** Queues an event without waiting; when full, follows the ingress's drop policy (default: refuse). */
  offer(ingress: string, event: IngressEvent): EnqueueOutcome {
    return this.#dispatcher.offer(ingress, event);
  }

  /** Builds an event from parts and delivers it (waiting for space). */
  emit(ingress: string, kind: string, source: string, payload: JsonValue): Promise<EnqueueOutcome> {
    return this.deliver(ingress, newIngressEvent(ingress, kind, source, payload));
  }

  /** Resolves when nothing is queued, in flight, awaiting a host response or otherwise under way. */
  async idle(): Promise<void> {
    for (;;) {
      await this.#dispatcher.idle();
      if (this.#tasks.size === 0) {
        if (this.#dispatcher.isIdle) return;
        continue;
      }
      await this.#tasks.settled();
    }
  }

  async #attempt(ingress: string, event: IngressEvent): Promise<Attempt> {
    let raw: string;
    try {
      raw = await this.runtime.callIngress(ingress, JSON.stringify(event));
    } catch (error) {
      if (error instanceof PluginError) return { ok: false, error: error.message, timedOut: error.code === 'SANDBOX_TIMEOUT' };
      return { ok: false, error: messageOf(error) };
    }
    const reply = readHandlerReply(raw, this.policy.retryMaxMs);
    if (reply.kind === 'failed') return { ok: false, error: reply.error };
    if (reply.kind === 'retry') return { ok: false, error: reply.error, ...(reply.retryAfterMs !== undefined ? { retryAfterMs: reply.retryAfterMs } : {}) };
    const results = await runBatch(reply.output, event, this.runtime.record, { maxTimers: this.policy.maxTimers }, this.#executionContext(event));
    for (const result of results) this.#recordResult(result, ingress, event);
    return { ok: true };
  }

  #executionContext(event: IngressEvent): ExecutionContext {
    const sink = this.#effects.appendDomainEvent;
    return {
      record: this.runtime.record,
      secrets: this.runtime.secrets,
      event,
      timers: this.#timers,
      websocket: this.#driver ?? undefined,
      appendDomainEvent: sink ? (domainEvent) => sink.call(this.#effects, domainEvent) : undefined,
      requestSlots: this.#slots,
      setComponentStatus: (status) => {
        this.#statusUpdate = { value: status };
      },
      deliverResponse: async (ingress, kind, source, payload) => this.#deliverOwn(ingress, newIngressEvent(ingress, kind, source, payload)),
      background: (work) => this.#tasks.track(work),
    };
  }

  /** Queues an event the host itself produced for work it accepted; if the queue is closed, it is dead-lettered. */
  #deliverOwn(ingress: string, event: IngressEvent): void {
    const outcome = this.#dispatcher.pushReserved(ingress, event);
    if (outcome.ok) return;
    this.#dispatcher.deadLetter({ ingress, event, enqueuedAt: this.#clock.now() }, 0, `${event.kind} could not be queued: ${outcome.message}`);
  }

  #recordResult(result: CommandResult, ingress: string, event: IngressEvent): void {
    this.commandResults.push(result);
    const label = `service output command ${result.command_id ?? '(no valid command_id)'} (${result.kind ?? 'unknown kind'}): ${result.message}`;
    this.#diagnose(`ServiceOutputCommand${result.status}`, label, result.status !== 'Recorded');
    if (result.status === 'Recorded') return;
    this.#tally.add('commands_rejected');
    this.#notify({
      kind: 'command_rejected',
      level: 'warn',
      message: 'output command rejected',
      fields: { command_id: result.command_id ?? null, command_kind: result.kind ?? null, source_event_id: event.correlation_id, status: result.status, reason: result.message },
    });
    this.#tellPlugin(result, ingress, event);
  }

  /** Delivers a `command_rejected` event on the ingress whose handler produced the command. */
  #tellPlugin(result: CommandResult, ingress: string, event: IngressEvent): void {
    if (event.kind === COMMAND_REJECTED) {
      // A rejection caused while handling a rejection is not fed back again (no loops); it is counted.
      this.#tally.add('rejection_events_suppressed');
      return;
    }
    const declared = this.runtime.record.manifest.ingresses.find((i) => i.name === ingress);
    if (!declared || (declared.event_kinds.length > 0 && !declared.event_kinds.includes(COMMAND_REJECTED))) {
      this.#tally.add('rejection_events_not_declared');
      return;
    }
    const payload: JsonValue = {
      command_id: result.command_id ?? null,
      correlation_id: result.correlation_id ?? null,
      source_event_id: event.correlation_id,
      command_kind: result.kind ?? null,
      status: result.status,
      reason: result.message,
    };
    const rejection = newIngressEvent(ingress, COMMAND_REJECTED, `host:output_commands`, payload);
    const outcome = this.#dispatcher.pushReserved(ingress, rejection);
    if (!outcome.ok) {
      this.#tally.add('rejection_events_undelivered');
      this.#diagnose('RejectionUndelivered', `command_rejected for ${result.command_id ?? '(no command_id)'} not delivered: ${outcome.message}`, true);
    }
  }

  async #fireTimer(ingress: string, timerId: string, payload: JsonValue): Promise<void> {
    const outcome = await this.emit(ingress, 'timer', `timer:${timerId}`, payload);
    if (!outcome.ok) {
      this.#tally.add('timer_ticks_undelivered');
      this.#diagnose('TimerUndelivered', `timer ${timerId} event not delivered: ${outcome.message}`);
      this.#notify({ kind: 'timer', level: 'warn', message: 'timer tick not delivered', fields: { timer_id: timerId, reason: outcome.message } });
    }
  }

  /** Replays dead letters (all, or by id) through the queue with `attempt` reset to 1. */
  async replay(ids: readonly string[] | 'all'): Promise<{ replayed: number; refused: string | null }> {
    const closed = this.#refusal();
    if (closed) return { replayed: 0, refused: closed.message };
    const entries = this.deadLetters.remove(ids);
    let replayed = 0;
    for (const entry of entries) {
      const outcome = await this.deliver(entry.ingress, { ...entry.event, attempt: 1 });
      if (outcome.ok) replayed++;
      else this.deadLetters.add({ plugin: entry.plugin, ingress: entry.ingress, event: entry.event, attempts: entry.attempts, last_error: `replay refused: ${outcome.message}` });
    }
    return { replayed, refused: null };
  }

  // ---- status ----------------------------------------------------------------------------

  #armPoll(): void {
    if (!this.#polling || this.policy.statusPollMs <= 0) return;
    this.#cancelPoll?.();
    this.#cancelPoll = this.#clock.setTimer(this.policy.statusPollMs, () => {
      this.#cancelPoll = null;
      this.#tasks.track(this.pollStatus().finally(() => this.#armPoll()));
    }, { background: true });
  }

  /** A lifecycle change: ask the fresh instance for its status now. */
  #refreshStatus(): void {
    this.#tasks.track(this.pollStatus());
  }

  /** Calls the guest's `status`; its answer becomes the component status. A failed status restarts the instance. */
  async pollStatus(): Promise<JsonValue | null> {
    if (!isLive(this.#lifecycle.state)) return this.componentStatus;
    try {
      await this.runtime.status();
    } catch (error) {
      this.#instanceFailed(`plugin component status failed: ${messageOf(error)}`);
      return this.componentStatus;
    }
    if (this.runtime.state === 'failed') this.#instanceFailed(this.runtime.lastError ?? 'status reported failure');
    else this.#statusUpdate = null;
    return this.componentStatus;
  }

  // ---- diagnostics -----------------------------------------------------------------------

  #clean(message: string): string {
    return boundText(redactText(this.runtime.secrets.redact(message), 512), 512);
  }

  #diagnose(kind: string, message: string, error = false): void {
    const bounded = this.#clean(message);
    if (error) this.#lastError = bounded;
    this.diagnostics.push({ at: rfc3339(this.#clock.now()), kind, state: this.#lifecycle.state, message: bounded });
  }

  #notify(event: Omit<ServiceEvent, 'plugin'>): void {
    if (!this.#onEvent) return;
    const fields: Record<string, string | number | boolean | null> = {};
    for (const [key, value] of Object.entries(event.fields ?? {})) fields[key] = typeof value === 'string' ? this.#clean(value) : value;
    try {
      this.#onEvent({ plugin: this.identity, kind: event.kind, level: event.level, message: event.message, fields });
    } catch {
      // an embedder's hook must not break the service
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import { planBatch, runCommand, STATE_LIMITS, type BatchPlan, type PlanView } from '../commands/batch.js';
import { commandResult, revalidateCommand, type CommandResult, type ValidatedCommand } from '../commands/envelope.js';
import { EXECUTORS, type DomainEvent, type ExecutionContext, type WebSocketCommands } from '../commands/executors/index.js';
import { boundText, redactText } from '../diagnostics.js';
import { PluginError } from '../errors.js';
import { MemoryJournal } from '../journal/memory-journal.js';
import { JournalRejectedError, type DurableTimer, type JournalDeadLetter, type JournalEvent, type JournalTransaction, type OutboxEntry } from '../journal/journal.js';
import type { JsonValue } from '../manifest/types.js';
import type { PluginRuntime } from '../runtime/plugin-runtime.js';
import { systemClock, type Clock } from './clock.js';
import { DiscardTally, websocketDiscards, type DiscardCounters } from './discards.js';
import { continuesBatch, readHandlerReply, type HandlerReply } from './handler-reply.js';
import { isEnvelopeId, rfc3339 } from './ids.js';
import { ingressEventProblem, newIngressEvent, type IngressEvent } from './ingress-event.js';
import { IngressDispatcher, type Attempt, type BatchCounters, type BatchOutcome, type DispatchCounters, type EnqueueOutcome, type LastEvent, type Refusal } from './ingress-dispatcher.js';
import type { QueuedEvent } from './ingress-queue.js';
import { JournalWriter } from './journal-writer.js';
import { isLive, Lifecycle, type LifecycleState, type Transition } from './lifecycle.js';
import { OutboxRunner } from './outbox-runner.js';
import { backoffMs, DEFAULT_SERVICE_POLICY, type ServicePolicy } from './policy.js';
import { RequestSlotPool } from './request-slots.js';
import { declaredSchedules, isScheduleTimerId } from './schedules.js';
import { Ring } from './ring.js';
import type { ServiceEvent, ServiceEventHook } from './service-events.js';
import { TaskSet } from './tasks.js';
import { TimerSet, type TimerSpec, type TimerStatus } from './timers.js';

export type { LifecycleState } from './lifecycle.js';
export type { BatchCounters, DispatchCounters, EnqueueOutcome } from './ingress-dispatcher.js';
export type { DomainEvent, WebSocketCommands } from '../commands/executors/index.js';
export type { DiscardCounters } from './discards.js';

/**
 * The event kind that tells a plugin one of its output commands was rejected (our addition).
 * @public
 */
export const COMMAND_REJECTED = 'command_rejected';
/**
 * The event kind that hands a plugin its durable state after each (re)start (our addition).
 * @public
 */
export const STATE_RESTORED = 'state_restored';

/** Diagnostics that are log lines too (the others have their own service event, or are the guest's business). */
const LOGGED_DIAGNOSTICS = new Set(['HostError', 'JournalError', 'Redelivery', 'OutboxRerun', 'DeliveryHeld', 'StateNotHandedOver', 'StateHandoverFailed', 'RejectionUndelivered']);

/** How many handled events may wait for their outbox commands before the dispatcher waits too. */
const OUTBOX_AHEAD = 64;

/**
 * Where a service's output commands act on the world: the sink for `domain_event` commands, and the
 * WebSocket commands (default: the host's own driver).
 */
export interface ServiceEffects {
  appendDomainEvent?(event: DomainEvent): void | Promise<void>;
  websocket?: WebSocketCommands;
  /**
   * Several hosts (`serve --engine nats://…`): whether this host still owns the plugin (its
   * lease is valid). Checked right before each outbox command runs; a command this host may no
   * longer run stays in the outbox for the new owner.
   */
  mayAct?(plugin: string): boolean;
}

/** One diagnostic of a service (bounded list in status). */
export interface ServiceDiagnostic {
  readonly at: string;
  readonly kind: string;
  readonly state: LifecycleState;
  readonly message: string;
}

/** A dead letter as the control API and the CLI show it. */
export interface DeadLetter extends JournalDeadLetter {
  readonly plugin: string;
}

export interface ServiceOptions {
  readonly policy?: Partial<ServicePolicy>;
  readonly effects?: ServiceEffects;
  /** Where accepted events, the outbox, state, timers and dead letters are kept (default: a journal in memory). */
  readonly writer?: JournalWriter;
  /** Time for backoff, timers and the status poll (tests drive it by hand). */
  readonly clock?: Clock;
  /** Told about lifecycle transitions, circuit changes, retries, dead letters, rejections and drops. */
  readonly onEvent?: ServiceEventHook;
}

/** What a stopped service left: the event in flight and the events still waiting in the journal. */
export interface StopReport {
  readonly plugin: string;
  readonly in_flight: string | null;
  /** Events accepted but not handled yet: they stay in the journal and are delivered at the next start. */
  readonly waiting: number;
  /** Same as `waiting` (kept for callers of the earlier report). */
  readonly undelivered: number;
  readonly state: LifecycleState;
}

/** What the journal kept for a plugin across a stop or crash. */
interface KeptWork {
  readonly timers: readonly DurableTimer[];
  readonly unacked: readonly JournalEvent[];
  readonly outbox: readonly OutboxEntry[];
}

/** What a handler's planned commands change in the journal, committed with its acknowledgement. */
interface PlannedChanges {
  state: Record<string, JsonValue | null>;
  timerSet: DurableTimer[];
  timerDelete: string[];
}

/**
 * The host-managed service of one instance-world plugin. It composes the lifecycle state
 * machine (start, stop, restart, enable, disable — one at a time), ingress dispatch (journal,
 * queue, retries, dead letters), the output-command executors with their transactional
 * outbox, durable state and timers, the WebSocket driver it runs and the status poll.
 */
export class PluginService {
  readonly #runtime: PluginRuntime;
  /** The supervision policy in force: {@link DEFAULT_SERVICE_POLICY} with the host's overrides. */
  readonly policy: ServicePolicy;
  readonly #diagnostics = new Ring<ServiceDiagnostic>(64);
  readonly #commandResults = new Ring<CommandResult>(32);
  readonly #lifecycle: Lifecycle;
  readonly #dispatcher: IngressDispatcher;
  readonly #writer: JournalWriter;
  readonly #timers: TimerSet;
  readonly #slots: RequestSlotPool;
  readonly #tasks: TaskSet;
  readonly #outbox: OutboxRunner;
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
  /** The durable state as planned: committed changes plus those whose commit is on its way. */
  #state = new Map<string, JsonValue>();
  /** The instance has not been handed the durable state since it (re)started. */
  #stateOwed = false;
  /** Outbox commands committed (or on their way) and not yet marked done. */
  #pendingCommands = new Set<string>();
  #journalFailing = false;
  #deadLetterCount = 0;

  constructor(runtime: PluginRuntime, options: ServiceOptions = {}) {
    this.#runtime = runtime;
    this.policy = { ...DEFAULT_SERVICE_POLICY, ...options.policy };
    this.#effects = options.effects ?? {};
    this.#driver = this.#effects.websocket ?? null;
    this.#clock = options.clock ?? systemClock;
    this.#onEvent = options.onEvent;
    this.#writer = options.writer ?? new JournalWriter(new MemoryJournal({ limits: { deadLetterCount: this.policy.deadLetterCapacity } }), this.#clock);
    this.#lifecycle = new Lifecycle((transition) => this.#transitioned(transition));
    this.#tasks = new TaskSet((error) => this.#diagnose('HostError', `background work failed: ${messageOf(error)}`, true));
    this.#outbox = new OutboxRunner(OUTBOX_AHEAD, (error) => this.#diagnose('HostError', `outbox command failed inside the host: ${messageOf(error)}`, true));
    this.#slots = new RequestSlotPool(this.policy.maxPendingRequests);
    this.#timers = new TimerSet(this.policy.maxTimers, (timer, payload) => this.#fireTimer(timer, payload), this.#clock);
    this.#dispatcher = new IngressDispatcher(runtime.record, this.policy, this.#clock, this.#writer, {
      refusal: () => this.#refusal(),
      whenDeliverable: async () => {
        if (!(await this.#whenDeliverable())) return false;
        if (this.#stateOwed) await this.#handOverState();
        return this.#whenDeliverable();
      },
      attempt: (item, event) => this.#attempt(item, event),
      attemptBatch: (batch, proceed) => this.#attemptBatch(batch, proceed),
      deadLettered: (_letter, evicted) => {
        this.#deadLetterCount++;
        if (evicted.length > 0) this.#evicted(evicted);
      },
      diagnose: (kind, message, error) => this.#diagnose(kind, message, error),
      notify: (event) => this.#notify(event),
    });
    this.#writer.watch({ failed: (plugin, error) => plugin === this.identity && this.#journalFailed(error.message), recovered: (plugin) => plugin === this.identity && this.#journalRecovered() });
    runtime.onFailure((error) => this.#instanceFailed(error.message));
  }

  /** Attaches the WebSocket driver that feeds this service and executes its websocket_* commands (or a factory: a fresh driver per start). */
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

  /** Records (and logs) a diagnostic from a component of this service (the WebSocket driver). */
  diagnose(kind: string, message: string): void {
    const error = kind.endsWith('Error');
    this.#diagnose(kind, message, error);
    this.#notify({ kind: 'websocket', level: error ? 'warn' : 'info', message, fields: { diagnostic: kind } });
  }

  /** The plugin's identity (`project:example.bot`). */
  get identity(): string {
    return this.#runtime.record.identity;
  }

  /** Where the service is in its lifecycle (docs/services.md has the transition table). */
  get state(): LifecycleState {
    return this.#lifecycle.state;
  }

  /** Restarts since the host was built (supervised restarts after failures, and operator restarts). */
  get restarts(): number {
    return this.#restarts;
  }

  /** The last failure, bounded and redacted; null when none. */
  get lastError(): string | null {
    return this.#lastError;
  }

  /** The newest diagnostics (at most 64; older ones are counted in `discards.diagnostics_dropped`). */
  get diagnostics(): readonly ServiceDiagnostic[] {
    return this.#diagnostics.toArray();
  }

  /** The newest output-command results (at most 32; older ones are counted in `discards.command_results_dropped`). */
  get commandResults(): readonly CommandResult[] {
    return this.#commandResults.toArray();
  }

  /** Ingress dispatch counters: accepted, handled, retried, dead-lettered, dropped… */
  get counters(): DispatchCounters {
    return this.#dispatcher.counters;
  }

  /** Events accepted and waiting in the ingress queue. */
  get queueDepth(): number {
    return this.#dispatcher.depth;
  }

  /** The service's timers, as status shows them. */
  get timers(): readonly TimerStatus[] {
    return this.#timers.status();
  }

  /** Ticks that fired late because their time passed while the service was stopped or the host was down. */
  get lateTimerTicks(): number {
    return this.#timers.late;
  }

  /** The plugin's own status: its last `diagnostic_status_update`, else what the instance last reported. */
  get componentStatus(): JsonValue | null {
    return this.#statusUpdate ? this.#statusUpdate.value : this.#runtime.componentStatus;
  }

  /** How ingress was batched: wake-ups of the instance, events they held, the largest. */
  get batching(): BatchCounters {
    return this.#dispatcher.batching;
  }

  /** The last event handed to the plugin; null before the first. */
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

  /** The journal this service keeps its accepted work in, and whether writing to it works. */
  get journal(): { readonly engine: string; readonly writing: 'ok' | 'failing'; readonly last_error: string | null; readonly pending_writes: number; readonly outbox_running: number } {
    return { engine: this.#writer.journal.engine, writing: this.#journalFailing ? 'failing' : 'ok', last_error: this.#journalFailing ? this.#writer.lastError : null, pending_writes: this.#writer.pendingFor(this.identity), outbox_running: this.#outbox.pending };
  }

  /** Dead letters in the journal (as of the last start and every change since). */
  get deadLetterCount(): number {
    return this.#deadLetterCount;
  }

  /** The durable state as the plugin will see it at its next start. */
  get durableState(): Readonly<Record<string, JsonValue>> {
    return Object.fromEntries(this.#state);
  }

  /** Every place this service can discard work, counted. */
  get discards(): DiscardCounters {
    return this.#tally.snapshot({
      queue_dropped: this.counters.dropped,
      timer_ticks_skipped: this.#timers.skipped,
      diagnostics_dropped: this.#diagnostics.dropped,
      command_results_dropped: this.#commandResults.dropped,
      guest_log_lines_dropped: this.#runtime.log.dropped,
      guest_log_bytes_dropped: this.#runtime.log.budgetDroppedBytes,
      ...websocketDiscards(this.connections()),
    });
  }

  // ---- lifecycle -------------------------------------------------------------------------

  #transitioned(transition: Transition): void {
    this.#diagnose('Lifecycle', `${transition.from} → ${transition.to}: ${transition.reason}`);
    const level = transition.to === 'Failed' || transition.to === 'Disabled' ? 'error' : transition.to === 'Restarting' || transition.to === 'Degraded' ? 'warn' : 'info';
    this.#notify({ kind: 'lifecycle', level, message: `service ${transition.to}`, fields: { from: transition.from, to: transition.to, reason: transition.reason } });
  }

  /** Running, unless the journal cannot be written (Degraded). */
  get #liveState(): 'Running' | 'Degraded' {
    return this.#journalFailing ? 'Degraded' : 'Running';
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

  /** Opens the circuit by hand: sources stop, the instance is stopped; accepted events stay in the journal. */
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
   * commands already committed run and host requests in flight finish, `stop` is called.
   * Accepted events not handled yet stay in the journal for the next start; the report says
   * how many. Supersedes any restart scheduled or under way.
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
    this.#writer.keep(this.identity);
    let kept: KeptWork;
    try {
      kept = await this.#readJournal();
      await this.#runtime.restart();
    } catch (error) {
      if (!this.#lifecycle.isCurrent(generation)) return;
      this.#lastError = this.#clean(`plugin component start failed: ${messageOf(error)}`);
      this.#lifecycle.transition('Failed', this.#lastError);
      throw error;
    }
    this.#statusUpdate = null;
    if (!this.#lifecycle.isCurrent(generation)) return;
    this.#consecutiveRestarts = 0;
    this.#lifecycle.transition(this.#liveState, 'component instance started; ingress queue is running');
    this.#stateOwed = true;
    this.#dispatcher.open();
    this.#resumeFromJournal(kept);
    await this.#applyStartCommands();
    this.#attachSources();
    this.#refreshStatus();
  }

  /**
   * Output commands returned by `start` (our addition): validated, grant-checked, committed
   * and executed exactly like a handler's, as the handling of a `start` event on the first
   * declared ingress (the default target of `timer_set` and of request replies) whose
   * correlation id is the commands' `source_event_id`.
   */
  async #applyStartCommands(): Promise<void> {
    const commands = this.#runtime.takeStartCommands();
    if (commands === null) return;
    const ingress = this.#runtime.record.manifest.ingresses[0]?.name ?? '';
    const first: unknown = Array.isArray(commands) ? commands[0] : undefined;
    const claimed = typeof first === 'object' && first !== null ? (first as Record<string, unknown>)['source_event_id'] : undefined;
    const event = newIngressEvent(ingress, 'start', 'host:start', null);
    const handled = await this.#plan({ ingress, event: isEnvelopeId(claimed) ? { ...event, correlation_id: claimed } : event, seq: null }, { output_commands: commands });
    const ran = this.#commitHandled([handled]);
    if (handled.plan.outbox.some((command) => command.kind === 'host_request_dispatch')) await ran;
  }

  /** What the journal kept for this plugin: its state, dead letters, timers, unacknowledged events and pending commands. */
  async #readJournal(): Promise<KeptWork> {
    const journal = this.#writer.journal;
    const [state, deadLetters, timers, unacked, outbox] = await Promise.all([
      journal.state(this.identity),
      journal.deadLetters(this.identity),
      journal.timers(this.identity),
      journal.unacked(this.identity),
      journal.outbox(this.identity),
    ]);
    this.#state = new Map(Object.entries(state));
    this.#deadLetterCount = deadLetters.length;
    return { timers, unacked, outbox };
  }

  /**
   * Picks up where the journal left off: events not acknowledged are delivered again (their
   * attempt one higher, recorded first), pending outbox commands run again, timers resume.
   */
  #resumeFromJournal(kept: KeptWork): void {
    const again = kept.unacked.map((stored) => ({ ...stored, event: { ...stored.event, attempt: stored.event.attempt + 1 } }));
    if (again.length > 0) {
      this.#write(this.#writer.commit(this.identity, { attempts: again.map((e) => ({ seq: e.seq, attempt: e.event.attempt })) }), 'recording redelivery attempts');
      this.#dispatcher.queueAccepted(again, true);
      this.#diagnose('Redelivery', `${again.length} event(s) accepted before the last stop or crash are delivered again`);
    }
    this.#pendingCommands = new Set(kept.outbox.map((entry) => entry.command_id));
    for (const entry of kept.outbox) void this.#outbox.schedule(() => this.#rerunFromOutbox(entry));
    // The journal is the truth about timers: what was set but never committed is gone with its event's handling.
    this.#timers.cancelAll();
    for (const timer of kept.timers) {
      const spec: TimerSpec = { timerId: timer.timer_id, ingress: timer.ingress, delayMs: 0, ...(timer.interval_ms !== null ? { intervalMs: timer.interval_ms } : {}), ...(timer.data !== null ? { data: timer.data } : {}) };
      this.#timers.restore(spec, timer.next_at);
    }
    this.#armSchedules(kept.timers);
  }

  /**
   * The manifest's `schedule:` sources as host timers. A schedule the journal kept goes on
   * from its recorded next tick (one missed while the host was down or the service stopped
   * ticks once, late); a new one is recorded; one no longer declared leaves the journal.
   */
  #armSchedules(kept: readonly DurableTimer[]): void {
    const declared = declaredSchedules(this.#runtime.record);
    const ids = new Set(declared.map((schedule) => schedule.spec.timerId));
    const timerDelete = kept.filter((timer) => isScheduleTimerId(timer.timer_id) && !ids.has(timer.timer_id)).map((timer) => timer.timer_id);
    for (const id of timerDelete) this.#timers.cancel(id);
    const timerSet: DurableTimer[] = [];
    for (const schedule of declared) {
      const keptAt = kept.find((timer) => timer.timer_id === schedule.spec.timerId)?.next_at;
      const at = keptAt ?? schedule.firstAt(this.#clock.now());
      if (at === null) continue;
      this.#timers.restore(schedule.spec, at);
      if (keptAt === undefined) timerSet.push(durableTimer(schedule.spec, at));
    }
    if (timerSet.length + timerDelete.length > 0) this.#write(this.#writer.commit(this.identity, { timerSet, timerDelete }), 'recording schedule sources');
  }

  async #stopNow(): Promise<StopReport> {
    const state = this.#lifecycle.state;
    const inFlight = this.#dispatcher.inFlight?.event.correlation_id ?? null;
    if (state === 'Stopped' || state === 'Disabled') return { plugin: this.identity, in_flight: null, waiting: 0, undelivered: 0, state };
    this.#lifecycle.transition('Stopping', 'service stop requested; ingress queue is closed');
    this.#detachSources();
    await this.#quiesce();
    await this.#runtime.close('plugin service is stopped');
    this.#statusUpdate = null;
    const waiting = await this.#waitingInJournal();
    this.#lifecycle.transition('Stopped', waiting > 0 ? `service stopped; ${waiting} accepted event(s) wait in the journal for the next start` : 'service stopped');
    return { plugin: this.identity, in_flight: inFlight, waiting, undelivered: waiting, state: 'Stopped' };
  }

  /**
   * After the sources are detached: lets the in-flight event finish, the outbox run what was
   * committed and requests in flight answer, and the journal store what is on its way. If the
   * journal cannot write, what it holds back is given up: those events stay unacknowledged
   * and are delivered again at the next start.
   */
  async #quiesce(): Promise<void> {
    this.#writer.giveUp(this.identity);
    await this.#dispatcher.finished();
    await this.#outbox.idle();
    await this.#tasks.settled();
    await this.#writer.settled(this.identity);
  }

  async #waitingInJournal(): Promise<number> {
    try {
      return (await this.#writer.journal.unacked(this.identity)).length;
    } catch {
      return 0;
    }
  }

  /** Sources, timers, the driver and the status poll: everything a start brings up. */
  #attachSources(): void {
    this.#timers.resume();
    if (this.#driverFactory) {
      this.#retireDriver();
      this.#driver = this.#driverFactory();
    }
    this.#driver?.start?.();
    this.#polling = true;
    this.#armPoll();
  }

  /** Stops what feeds the queue and closes it (what it held stays in the journal). */
  #detachSources(): void {
    this.#driver?.stop?.();
    this.#timers.suspend();
    this.#polling = false;
    this.#cancelPoll?.();
    this.#cancelPoll = null;
    this.#dispatcher.close();
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
      await this.#runtime.restart();
    } catch (error) {
      if (!this.#lifecycle.isCurrent(generation)) return;
      this.#diagnose('ServiceFailed', `restart failed: ${messageOf(error)}`, true);
      this.#scheduleRestart(messageOf(error));
      return;
    }
    // A stop or disable that came meanwhile owns the instance now and closes it.
    if (!this.#lifecycle.isCurrent(generation)) return;
    this.#statusUpdate = null;
    this.#stateOwed = true;
    this.#lifecycle.transition(this.#liveState, `instance restarted (restart ${this.#restarts})`);
    await this.#applyStartCommands();
    this.#refreshStatus();
  }

  /**
   * Disabled: sources stop, the queue closes and the instance refuses calls at once; waiting
   * for the in-flight event and the instance's `stop` takes its turn behind any lifecycle
   * operation under way. Accepted events stay in the journal until the service is enabled.
   */
  #openCircuit(reason: string, by: 'circuit' | 'operator'): { teardown: Promise<void> } {
    this.#lastError = this.#clean(by === 'circuit' ? `circuit open: ${reason}` : reason);
    this.#lifecycle.transition('Disabled', this.#lastError);
    this.#notify({ kind: 'circuit', level: 'error', message: by === 'circuit' ? 'circuit open: service disabled after repeated failures' : 'service disabled by the operator', fields: { reason: this.#lastError } });
    this.#lifecycle.supersede();
    this.#detachSources();
    const closing = this.#runtime.close(`plugin service is disabled: ${this.#lastError}`);
    this.#closing = closing;
    const teardown = async () => {
      await closing;
      await this.#quiesce();
    };
    return { teardown: by === 'operator' ? teardown() : this.#lifecycle.run(teardown) };
  }

  #journalFailed(message: string): void {
    const first = !this.#journalFailing;
    this.#journalFailing = true;
    if (!first) return;
    this.#lastError = this.#clean(`journal write failed: ${message}`);
    this.#diagnose('JournalWriteFailed', `${this.#lastError}; sources are held and the write is retried`, true);
    this.#notify({ kind: 'journal', level: 'error', message: 'journal write failed; service degraded, sources held', fields: { error: message } });
    if (this.#lifecycle.state === 'Running') this.#lifecycle.transition('Degraded', this.#lastError);
  }

  #journalRecovered(): void {
    if (!this.#journalFailing) return;
    this.#journalFailing = false;
    this.#diagnose('JournalWriteRecovered', 'journal writes work again; held writes are stored and sources resume');
    this.#notify({ kind: 'journal', level: 'info', message: 'journal writes work again; service resumes' });
    if (this.#lifecycle.state === 'Degraded') this.#lifecycle.transition('Running', 'journal writes work again');
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

  /** Events go to the instance only while it runs and the journal can record their handling. */
  async #whenDeliverable(): Promise<boolean> {
    for (;;) {
      const state = this.#lifecycle.state;
      if (state !== 'Restarting' && state !== 'Starting' && state !== 'Degraded') return state === 'Running';
      await this.#lifecycle.changed();
    }
  }

  /** Accepts an event (into the journal), waiting while the queue is full or the journal cannot write. */
  deliver(ingress: string, event: IngressEvent): Promise<EnqueueOutcome> {
    return this.#dispatcher.deliver(ingress, event);
  }

  /** Accepts an event without waiting for room; when full, follows the ingress's drop policy (default: refuse). */
  offer(ingress: string, event: IngressEvent): Promise<EnqueueOutcome> {
    return this.#dispatcher.offer(ingress, event);
  }

  /** Builds an event from parts and delivers it (waiting for room). */
  emit(ingress: string, kind: string, source: string, payload: JsonValue): Promise<EnqueueOutcome> {
    return this.deliver(ingress, newIngressEvent(ingress, kind, source, payload));
  }

  /** Resolves when nothing is queued, in flight, in the outbox, awaiting a host response or being written. */
  async idle(): Promise<void> {
    for (;;) {
      await this.#dispatcher.idle();
      await this.#outbox.idle();
      await this.#tasks.settled();
      if (!this.#journalFailing) await this.#writer.settled(this.identity);
      if (this.#dispatcher.isIdle && this.#outbox.pending === 0 && this.#tasks.size === 0 && (this.#writer.pendingFor(this.identity) === 0 || this.#journalFailing)) return;
    }
  }

  #attempt(item: QueuedEvent, event: IngressEvent): Promise<Attempt> {
    const delivery: Delivery = { ingress: item.ingress, event, seq: item.seq, ...(event === item.event && item.json !== undefined ? { json: item.json } : {}) };
    return this.#handleBatch([delivery], () => true).then(attemptOf);
  }

  /** A batch of queued events: delivered in order, their handling committed in one durable write. */
  #attemptBatch(batch: readonly QueuedEvent[], proceed: () => boolean): Promise<BatchOutcome> {
    const deliveries = batch.map((item): Delivery => ({ ingress: item.ingress, event: item.event, seq: item.seq, ...(item.json !== undefined ? { json: item.json } : {}) }));
    // Later events of a batch go to the instance only while it runs and the journal writes.
    return this.#handleBatch(deliveries, () => proceed() && this.#lifecycle.state === 'Running');
  }

  /**
   * Delivers events one after another (each call with its own deadline), stopping at the first
   * that is not handled, when `proceed()` turns false, or after an event that dispatched a host
   * request (the dispatcher waits for its request slot, as it did for one event). The handling
   * of the events handled — acknowledgements, outbox commands, state and timer changes — goes
   * to the journal in one transaction; their commands run from the outbox once it is durable.
   */
  async #handleBatch(deliveries: readonly Delivery[], proceed: () => boolean): Promise<BatchOutcome> {
    const replies: HandlerReply[] = [];
    const calls = deliveries.map((d) => ({ ingress: d.ingress, eventJson: d.json ?? JSON.stringify(d.event) }));
    // Whether the next event may go to the instance depends on this reply alone (and on the
    // service still running): so the instance can be handed several events in one wake-up.
    const called = await this.#runtime.callIngressBatch(calls, (raw) => {
      const reply = readHandlerReply(raw, this.policy.retryMaxMs);
      replies.push(reply);
      return continuesBatch(reply) && proceed();
    });
    const handled: HandledEvent[] = [];
    let failure: Attempt | undefined;
    for (const [i, reply] of replies.entries()) {
      if (reply.kind === 'failed') failure = { ok: false, error: reply.error };
      else if (reply.kind === 'retry') failure = { ok: false, error: reply.error, ...(reply.retryAfterMs !== undefined ? { retryAfterMs: reply.retryAfterMs } : {}) };
      if (failure) break;
      handled.push(await this.#plan(deliveries[i]!, reply.kind === 'handled' ? reply.output : null));
    }
    if (!failure && called.error !== undefined) failure = attemptOfError(called.error);
    if (handled.length > 0) {
      const ran = this.#commitHandled(handled);
      // Host requests wait for a slot (the cap on requests in flight), and the dispatcher with
      // them: a batch over the cap holds the queue and the sources behind it.
      if (handled.some((h) => h.plan.outbox.some((command) => command.kind === 'host_request_dispatch'))) await ran;
    }
    await this.#outbox.room();
    return { handled: handled.length, ...(failure ? { failure } : {}) };
  }

  /** Plans a handled event's commands (those on the plugin itself take effect now) and what its handling changes in the journal. */
  async #plan(delivery: Delivery, output: unknown): Promise<HandledEvent> {
    const { ingress, event } = delivery;
    const changes: PlannedChanges = { state: {}, timerSet: [], timerDelete: [] };
    const plan = await planBatch(output, event, this.#runtime.record, { maxTimers: this.policy.maxTimers, stateKeys: STATE_LIMITS.keys, stateBytes: STATE_LIMITS.bytes }, this.#planView(), this.#executionContext(event, changes));
    // Rejections are told to the plugin in the same durable write as the acknowledgement.
    for (const result of plan.results) this.#recordResult(result, ingress, event);
    for (const command of plan.outbox) this.#pendingCommands.add(command.command_id);
    return { delivery, plan, tx: transactionOf(delivery, plan, changes) };
  }

  /**
   * Commits the handling of a batch in one write and schedules its outbox commands behind it.
   * A transaction the journal refuses (a bound the plan did not foresee) is committed again
   * event by event, so only the event that broke it loses its changes (it is acknowledged
   * alone), as when each event committed on its own. Resolves when the batch's commands have run.
   */
  #commitHandled(handled: readonly HandledEvent[]): Promise<void> {
    const txs = handled.map((h) => h.tx);
    const merged = mergeTransactions(txs);
    const durables: Promise<unknown>[] = Object.keys(merged).length === 0 ? handled.map(() => Promise.resolve()) : this.#commitMerged(handled, merged);
    const pieces: Promise<void>[] = [];
    handled.forEach((h, i) => {
      if (h.plan.outbox.length === 0) return;
      pieces.push(
        this.#outbox.schedule(async () => {
          try {
            await durables[i];
          } catch {
            return; // not committed (a stop gave it up): the event is delivered again at the next start
          }
          for (const command of h.plan.outbox) await this.#runFromOutbox(command, h.delivery.event, h.delivery.ingress);
        }),
      );
    });
    return Promise.all(pieces).then(() => undefined);
  }

  /** One durable promise per handled event: the batch's commit, or after a refusal, the event's own. */
  #commitMerged(handled: readonly HandledEvent[], merged: JournalTransaction): Promise<unknown>[] {
    const batch = this.#writer.commit(this.identity, merged);
    let alone: Promise<unknown>[] | null = null;
    const oneByOne = () => (alone ??= handled.map((h) => this.#commitOne(h)));
    const durables = handled.map((_h, i) =>
      batch.then(
        () => undefined,
        (error: unknown) => {
          if (error instanceof JournalRejectedError && handled.length > 1) return oneByOne()[i];
          throw error;
        },
      ),
    );
    // Observed here; a failure is reported once, below (the outbox pieces that await them skip their commands).
    for (const durable of durables) durable.catch(() => undefined);
    this.#tasks.track(
      batch.catch((error: unknown) => {
        if (error instanceof JournalRejectedError && handled.length > 1) return;
        return this.#notCommitted(handled, error);
      }),
    );
    return durables;
  }

  #commitOne(h: HandledEvent): Promise<unknown> {
    if (Object.keys(h.tx).length === 0) return Promise.resolve();
    const durable = this.#writer.commit(this.identity, h.tx);
    this.#tasks.track(durable.catch((error: unknown) => this.#notCommitted([h], error)));
    return durable;
  }

  async #notCommitted(handled: readonly HandledEvent[], error: unknown): Promise<void> {
    for (const h of handled) {
      for (const command of h.plan.outbox) this.#pendingCommands.delete(command.command_id);
      this.#diagnose('JournalError', `the handling of ${h.delivery.event.correlation_id} was not committed: ${messageOf(error)}`, true);
    }
    // Refused (a bound the plan did not foresee): acknowledge the event alone so it cannot come back forever.
    const seqs = handled.flatMap((h) => (h.delivery.seq !== null ? [h.delivery.seq] : []));
    if (error instanceof JournalRejectedError && seqs.length > 0) await this.#writer.commit(this.identity, { ack: seqs });
  }

  #planView(): PlanView {
    return { timerIds: () => this.#timers.ids(), state: () => this.#state, pendingCommandIds: () => this.#pendingCommands };
  }

  /**
   * Hands a (re)started instance its durable state (`{}` when none was kept): a
   * `state_restored` event before anything else, on the first ingress that lists that kind
   * (or, if none does, the first that lists no kinds). Not journaled: the state itself is.
   */
  async #handOverState(): Promise<void> {
    this.#stateOwed = false;
    const ingresses = this.#runtime.record.manifest.ingresses;
    const target = ingresses.find((i) => i.event_kinds.includes(STATE_RESTORED)) ?? ingresses.find((i) => i.event_kinds.length === 0);
    if (!target) {
      if (this.#state.size > 0) this.#diagnose('StateNotHandedOver', `no ingress takes ${STATE_RESTORED} events; the plugin's durable state is kept but not handed to it`, true);
      return;
    }
    const event = newIngressEvent(target.name, STATE_RESTORED, 'host:state', { state: Object.fromEntries(this.#state) });
    for (let attempt = 1; attempt <= this.policy.maxAttempts; attempt++) {
      if (!(await this.#whenDeliverable())) {
        this.#stateOwed = true;
        return;
      }
      const result = attemptOf(await this.#handleBatch([{ ingress: target.name, event: { ...event, attempt }, seq: null }], () => true));
      if (result.ok) return;
      this.#diagnose('StateHandoverFailed', `${STATE_RESTORED} delivery ${attempt}/${this.policy.maxAttempts} failed: ${result.error ?? 'failed'}`, true);
    }
    this.#notify({ kind: 'rejected', level: 'error', message: `${STATE_RESTORED} could not be delivered; the plugin runs without its durable state`, fields: {} });
  }

  #executionContext(event: IngressEvent, changes: PlannedChanges): ExecutionContext {
    const sink = this.#effects.appendDomainEvent;
    return {
      record: this.#runtime.record,
      secrets: this.#runtime.secrets,
      event,
      timers: {
        set: (spec) => {
          const nextAt = this.#timers.set(spec);
          changes.timerDelete = changes.timerDelete.filter((id) => id !== spec.timerId);
          changes.timerSet = [...changes.timerSet.filter((t) => t.timer_id !== spec.timerId), { timer_id: spec.timerId, ingress: spec.ingress, next_at: nextAt, interval_ms: spec.intervalMs ?? null, data: spec.data ?? null }];
        },
        cancel: (id) => {
          changes.timerSet = changes.timerSet.filter((t) => t.timer_id !== id);
          if (!changes.timerDelete.includes(id)) changes.timerDelete.push(id);
          return this.#timers.cancel(id);
        },
      },
      state: {
        set: (key, value) => {
          this.#state.set(key, value);
          changes.state[key] = value;
        },
        delete: (key) => {
          changes.state[key] = null;
          return this.#state.delete(key);
        },
      },
      websocket: this.#driver ?? undefined,
      appendDomainEvent: sink ? (domainEvent) => sink.call(this.#effects, domainEvent) : undefined,
      requestSlot: () => this.#slots.acquire(),
      setComponentStatus: (status) => {
        this.#statusUpdate = { value: status };
      },
      deliverResponse: (commandId, ingress, kind, source, payload) => this.#deliverResponse(commandId, ingress, newIngressEvent(ingress, kind, source, payload)),
      background: (work) => this.#tasks.track(work),
    };
  }

  /** Runs one committed command; unless it settles later, marks it done (with its rejection, if any, in the same write). */
  async #runFromOutbox(command: ValidatedCommand, event: IngressEvent, ingress: string): Promise<void> {
    if (!this.#mayRun(command)) return;
    let context = this.#executionContext(event, { state: {}, timerSet: [], timerDelete: [] });
    if (command.kind === 'host_request_dispatch' && this.#effects.mayAct) {
      // A request may wait long for a slot (the cap on requests in flight): ownership is checked again once it has one.
      const release = await this.#slots.acquire();
      if (!this.#mayRun(command)) return release();
      context = { ...context, requestSlot: () => Promise.resolve(release) };
    }
    const result = await runCommand(command, context);
    this.#recordResult(result, ingress, event);
    if (!EXECUTORS[command.kind].settlesLater || result.status !== 'Recorded') void this.#markDone(command.command_id);
  }

  /** Several hosts: whether this host still owns the plugin, so may run the command now; if not, it stays in the outbox for the owner. */
  #mayRun(command: ValidatedCommand): boolean {
    if (!this.#effects.mayAct || this.#effects.mayAct(this.identity)) return true;
    this.#diagnose('NotOwner', `output command ${command.command_id} not run: this host no longer owns the plugin (it stays in the outbox for the owner)`, true);
    return false;
  }

  /**
   * A command kept in the outbox across a restart: checked against today's grants, then run again.
   * One asked for by an event of a host-owned connection stays bound to that event's socket, which
   * belonged to an earlier run: a `websocket_send` of it is refused (`stale_sends`), never made on
   * the socket this run opened.
   */
  async #rerunFromOutbox(entry: OutboxEntry): Promise<void> {
    const kept = entry.command as { ingress?: unknown; envelope?: JsonValue; origin?: { kind?: unknown; source?: unknown } };
    const envelope = (typeof kept === 'object' && kept !== null ? kept.envelope : undefined) as Record<string, unknown> | undefined;
    const ingress = typeof kept?.ingress === 'string' ? kept.ingress : (this.#runtime.record.manifest.ingresses[0]?.name ?? 'events');
    const sourceId = typeof envelope?.['source_event_id'] === 'string' ? envelope['source_event_id'] : entry.command_id;
    const origin = typeof kept?.origin?.kind === 'string' && typeof kept.origin.source === 'string' ? { kind: kept.origin.kind, source: kept.origin.source } : { kind: 'outbox', source: 'host:outbox' };
    const event: IngressEvent = { ...newIngressEvent(ingress, origin.kind, origin.source, null), correlation_id: sourceId };
    const checked = revalidateCommand(envelope, event, this.#runtime.record);
    this.#diagnose('OutboxRerun', `output command ${entry.command_id} committed before the last stop or crash runs again`);
    if (!checked.ok) {
      this.#recordResult(commandResult({ command_id: entry.command_id }, 'Rejected', `kept in the outbox, no longer valid: ${checked.message}`), ingress, event);
      void this.#markDone(entry.command_id);
      return;
    }
    await this.#runFromOutbox(checked.command, event, ingress);
  }

  /** A host response: accepted into the journal, and its command marked done, in one durable write. */
  async #deliverResponse(commandId: string, ingress: string, event: IngressEvent): Promise<void> {
    const problem = ingressEventProblem(this.#runtime.record, ingress, event);
    const fit = problem ? { ...event, payload: { command_id: commandId, error: { code: 'undeliverable', message: problem.message } } } : event;
    const appended = this.#writer.append(this.identity, [{ ingress, event: fit }]);
    const done = this.#markDone(commandId);
    const stored = await appended;
    this.#dispatcher.queueAccepted(stored);
    await done;
  }

  #recordResult(result: CommandResult, ingress: string, event: IngressEvent): void {
    this.#commandResults.push(result);
    const label = () => `service output command ${result.command_id ?? '(no valid command_id)'} (${result.kind ?? 'unknown kind'}): ${result.message}`;
    if (result.status === 'Recorded') {
      // The common case, once per command: its diagnostic is formatted (redacted, bounded) only if status is read.
      const at = this.#clock.now();
      const state = this.#lifecycle.state;
      this.#diagnostics.pushLazy(() => ({ at: rfc3339(at), kind: 'ServiceOutputCommandRecorded', state, message: this.#clean(label()) }));
      return;
    }
    this.#diagnose(`ServiceOutputCommand${result.status}`, label(), true);
    this.#tally.add('commands_rejected');
    this.#notify({
      kind: 'command_rejected',
      level: 'warn',
      message: 'output command rejected',
      fields: { command_id: result.command_id ?? null, command_kind: result.kind ?? null, source_event_id: event.correlation_id, status: result.status, reason: result.message },
    });
    this.#tellPlugin(result, ingress, event);
  }

  /** Accepts a `command_rejected` event on the ingress whose handler produced the command. */
  #tellPlugin(result: CommandResult, ingress: string, event: IngressEvent): void {
    if (event.kind === COMMAND_REJECTED) {
      // A rejection caused while handling a rejection is not fed back again (no loops); it is counted.
      this.#tally.add('rejection_events_suppressed');
      return;
    }
    const declared = this.#runtime.record.manifest.ingresses.find((i) => i.name === ingress);
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
    const rejection = newIngressEvent(ingress, COMMAND_REJECTED, 'host:output_commands', payload);
    const appended = this.#writer.append(this.identity, [{ ingress, event: rejection }]);
    this.#tasks.track(
      appended.then(
        (stored) => void this.#dispatcher.queueAccepted(stored),
        (error: unknown) => {
          this.#tally.add('rejection_events_undelivered');
          this.#diagnose('RejectionUndelivered', `command_rejected for ${result.command_id ?? '(no command_id)'} not accepted: ${messageOf(error)}`, true);
        },
      ),
    );
  }

  /** A timer tick is an event like any other; a one-shot timer leaves the journal once its tick is accepted. */
  async #fireTimer(timer: TimerSpec, payload: JsonValue): Promise<void> {
    const outcome = await this.emit(timer.ingress, 'timer', timer.source ?? `timer:${timer.timerId}`, payload);
    if (outcome.ok) {
      // A schedule's next tick is recorded once this one is accepted, so a restart neither repeats it nor misses the next.
      const nextAt = isScheduleTimerId(timer.timerId) ? this.#timers.nextAt(timer.timerId) : null;
      if (nextAt !== null) this.#write(this.#writer.commit(this.identity, { timerSet: [durableTimer(timer, nextAt)] }), `recording the next tick of ${timer.timerId}`);
      if (timer.intervalMs === undefined && !this.#timers.has(timer.timerId)) this.#write(this.#writer.commit(this.identity, { timerDelete: [timer.timerId] }), `removing fired timer ${timer.timerId}`);
      return;
    }
    this.#tally.add('timer_ticks_undelivered');
    this.#diagnose('TimerUndelivered', `timer ${timer.timerId} event not delivered: ${outcome.message}`);
    this.#notify({ kind: 'timer', level: 'warn', message: 'timer tick not delivered', fields: { timer_id: timer.timerId, reason: outcome.message } });
  }

  /** Marks an outbox command done (a durable write, grouped with whatever else goes out now). */
  #markDone(commandId: string): Promise<unknown> {
    const done = this.#writer.commit(this.identity, { outboxDone: [commandId] }).finally(() => this.#pendingCommands.delete(commandId));
    this.#write(done, `marking ${commandId} done`);
    return done;
  }

  #write(work: Promise<unknown>, what: string): void {
    this.#tasks.track(work.catch((error: unknown) => this.#diagnose('JournalError', `${what} failed: ${messageOf(error)}`, true)));
  }

  #evicted(letters: readonly JournalDeadLetter[]): void {
    this.#deadLetterCount -= letters.length;
    this.#tally.add('dead_letters_evicted', letters.length);
    this.#diagnose('DeadLetterEvicted', `${letters.length} oldest dead letter(s) evicted to stay within the store's bounds`, true);
    this.#notify({ kind: 'dead_letter_evicted', level: 'error', message: 'oldest dead letters evicted', fields: { count: letters.length, ids: letters.map((l) => l.id).join(',').slice(0, 400) } });
  }

  // ---- dead letters ----------------------------------------------------------------------

  async listDeadLetters(): Promise<DeadLetter[]> {
    return (await this.#writer.journal.deadLetters(this.identity)).map((letter) => ({ plugin: this.identity, ...letter }));
  }

  /** Removes dead letters (all, or by id); returns how many. */
  async dropDeadLetters(ids: readonly string[] | 'all'): Promise<number> {
    const existing = (await this.#writer.journal.deadLetters(this.identity)).map((l) => l.id);
    const remove = ids === 'all' ? existing : existing.filter((id) => ids.includes(id));
    if (remove.length > 0) await this.#writer.commit(this.identity, { deadLetterRemove: remove });
    this.#deadLetterCount = Math.max(0, existing.length - remove.length);
    return remove.length;
  }

  /** Replays dead letters (all, or by id) as new events with `attempt` reset to 1; each leaves the store once accepted. */
  async replay(ids: readonly string[] | 'all'): Promise<{ replayed: number; refused: string | null }> {
    const closed = this.#refusal();
    if (closed) return { replayed: 0, refused: closed.message };
    const letters = (await this.#writer.journal.deadLetters(this.identity)).filter((l) => ids === 'all' || ids.includes(l.id));
    let replayed = 0;
    for (const letter of letters) {
      const outcome = await this.deliver(letter.ingress, { ...letter.event, attempt: 1 });
      if (!outcome.ok) return { replayed, refused: outcome.message };
      await this.#writer.commit(this.identity, { deadLetterRemove: [letter.id] });
      this.#deadLetterCount--;
      replayed++;
    }
    return { replayed, refused: null };
  }

  // ---- status ----------------------------------------------------------------------------

  #armPoll(): void {
    if (!this.#polling || this.policy.statusPollMs <= 0) return;
    this.#cancelPoll?.();
    this.#cancelPoll = this.#clock.setTimer(
      this.policy.statusPollMs,
      () => {
        this.#cancelPoll = null;
        this.#tasks.track(this.pollStatus().finally(() => this.#armPoll()));
      },
      { background: true },
    );
  }

  /** A lifecycle change: ask the fresh instance for its status now. */
  #refreshStatus(): void {
    this.#tasks.track(this.pollStatus());
  }

  /** Calls the guest's `status`; its answer becomes the component status. A failed status restarts the instance. */
  async pollStatus(): Promise<JsonValue | null> {
    if (!isLive(this.#lifecycle.state)) return this.componentStatus;
    try {
      await this.#runtime.status();
    } catch (error) {
      this.#instanceFailed(`plugin component status failed: ${messageOf(error)}`);
      return this.componentStatus;
    }
    if (this.#runtime.state === 'failed') this.#instanceFailed(this.#runtime.lastError ?? 'status reported failure');
    else this.#statusUpdate = null;
    return this.componentStatus;
  }

  // ---- diagnostics -----------------------------------------------------------------------

  #clean(message: string): string {
    return boundText(redactText(this.#runtime.secrets.redact(message), 512), 512);
  }

  #diagnose(kind: string, message: string, error = false): void {
    const bounded = this.#clean(message);
    if (error) this.#lastError = bounded;
    this.#diagnostics.push({ at: rfc3339(this.#clock.now()), kind, state: this.#lifecycle.state, message: bounded });
    if (LOGGED_DIAGNOSTICS.has(kind)) this.#notify({ kind: 'host', level: error ? 'error' : 'info', message: bounded, fields: { diagnostic: kind } });
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

/** One event to deliver: `json` is `JSON.stringify(event)` when already made; `seq` null for an event not in the journal. */
interface Delivery {
  readonly ingress: string;
  readonly event: IngressEvent;
  readonly seq: number | null;
  readonly json?: string;
}

/** A handled event: its planned commands and what its handling changes in the journal. */
interface HandledEvent {
  readonly delivery: Delivery;
  readonly plan: BatchPlan;
  readonly tx: JournalTransaction;
}

function attemptOfError(error: unknown): Attempt {
  if (error instanceof PluginError) return { ok: false, error: error.message, timedOut: error.code === 'SANDBOX_TIMEOUT' };
  return { ok: false, error: messageOf(error) };
}

function attemptOf(outcome: BatchOutcome): Attempt {
  return outcome.handled > 0 ? { ok: true } : (outcome.failure ?? { ok: false, error: 'not delivered' });
}

/**
 * What an outbox entry keeps of the event that asked for it: the socket an event of a host-owned
 * connection came from is gone after a restart, so a send it asked for must not go out on the
 * new socket (the driver refuses a send bound to an earlier socket); other events bind nothing.
 */
function keptOrigin(event: IngressEvent): { origin?: { kind: string; source: string } } {
  return event.kind.startsWith('websocket_') ? { origin: { kind: event.kind, source: event.source } } : {};
}

/** The journal transaction of one handled event (empty when it changes nothing). */
function transactionOf(delivery: Delivery, plan: BatchPlan, changes: PlannedChanges): JournalTransaction {
  const seq = delivery.seq;
  return {
    ...(seq !== null ? { ack: [seq] } : {}),
    ...(plan.outbox.length > 0 ? { outboxAdd: plan.outbox.map((command) => ({ command_id: command.command_id, source_seq: seq ?? 0, command: { ingress: delivery.ingress, envelope: command.raw, ...keptOrigin(delivery.event) } })) } : {}),
    ...(Object.keys(changes.state).length > 0 ? { state: changes.state } : {}),
    ...(changes.timerSet.length > 0 ? { timerSet: changes.timerSet } : {}),
    ...(changes.timerDelete.length > 0 ? { timerDelete: changes.timerDelete } : {}),
  };
}

/** The transactions of a batch's events as one, applied in order (a later timer or state change wins). */
function mergeTransactions(txs: readonly JournalTransaction[]): JournalTransaction {
  if (txs.length === 1) return txs[0]!;
  const ack: number[] = [];
  const outboxAdd: NonNullable<JournalTransaction['outboxAdd']>[number][] = [];
  const state: Record<string, JsonValue | null> = {};
  const timerSet = new Map<string, DurableTimer>();
  const timerDelete = new Set<string>();
  for (const tx of txs) {
    if (tx.ack) ack.push(...tx.ack);
    if (tx.outboxAdd) outboxAdd.push(...tx.outboxAdd);
    if (tx.state) Object.assign(state, tx.state);
    for (const id of tx.timerDelete ?? []) {
      timerSet.delete(id);
      timerDelete.add(id);
    }
    for (const timer of tx.timerSet ?? []) {
      timerDelete.delete(timer.timer_id);
      timerSet.delete(timer.timer_id);
      timerSet.set(timer.timer_id, timer);
    }
  }
  return {
    ...(ack.length > 0 ? { ack } : {}),
    ...(outboxAdd.length > 0 ? { outboxAdd } : {}),
    ...(Object.keys(state).length > 0 ? { state } : {}),
    ...(timerSet.size > 0 ? { timerSet: [...timerSet.values()] } : {}),
    ...(timerDelete.size > 0 ? { timerDelete: [...timerDelete] } : {}),
  };
}

function durableTimer(spec: TimerSpec, nextAt: number): DurableTimer {
  return { timer_id: spec.timerId, ingress: spec.ingress, next_at: nextAt, interval_ms: spec.intervalMs ?? null, data: spec.data ?? null };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import { boundText, redactText } from '../diagnostics.js';
import { PluginError } from '../errors.js';
import { executeRequest, grantHeaders } from '../hostapi/request.js';
import type { JsonValue } from '../manifest/types.js';
import type { PluginRuntime } from '../runtime/plugin-runtime.js';
import { commandResult, validateOutputCommands, type CommandResult, type ValidatedCommand } from '../commands/envelope.js';
import { deadLetterFile, DeadLetterStore, type DeadLetter } from './dead-letters.js';
import { rfc3339 } from './ids.js';
import { ingressEventProblem, newIngressEvent, type IngressEvent } from './ingress-event.js';
import { IngressQueue, type QueuedEvent } from './ingress-queue.js';
import { backoffMs, DEFAULT_SERVICE_POLICY, type ServicePolicy } from './policy.js';
import { TimerSet, type TimerStatus } from './timers.js';
import { Ring } from './ring.js';

export type LifecycleState = 'Ready' | 'Starting' | 'Running' | 'Stopping' | 'Stopped' | 'Failed' | 'Restarting' | 'Disabled';

export interface DispatchCounters {
  enqueued: number;
  dispatched: number;
  retried: number;
  failed: number;
  timed_out: number;
  dead_lettered: number;
  dropped: number;
  rejected: number;
}

export type EnqueueOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'invalid' | 'denied' | 'unavailable' | 'failed' | 'stopped' | 'disabled' | 'full'; readonly message: string };

/** A domain event a plugin appended (`domain_event_append`), handed to the embedding host. */
export interface DomainEvent {
  readonly plugin: string;
  readonly type: string;
  readonly data: JsonValue;
  readonly command_id: string;
  readonly source_event_id: string;
  readonly appended_at: string;
}

/** Execution of WebSocket commands on host-owned connections (the WebSocket driver). */
export interface WebSocketCommands {
  send(url: string, text: string): Promise<string>;
  reconnect(connection: string | undefined, url: string | undefined): Promise<string>;
  close(connection: string | undefined, code: number | undefined, reason: string | undefined): Promise<string>;
  /** Connection lifecycle and status, when the commands come from a driver the service runs. */
  start?(): void;
  stop?(): void;
  status?(): JsonValue[];
}

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
}

export interface StopReport {
  readonly plugin: string;
  readonly in_flight: string | null;
  readonly undelivered: number;
  readonly state: LifecycleState;
}

const OUTPUT_LIMIT = 64 * 1024;

interface Attempt {
  readonly ok: boolean;
  readonly error?: string;
  readonly restart?: boolean;
  readonly timedOut?: boolean;
  readonly retryAfterMs?: number;
}

/**
 * The host-managed lifecycle of one instance-world plugin: start, a bounded ingress queue
 * dispatched serially, redelivery with backoff and a dead-letter store, restarts with
 * backoff and a circuit breaker, output-command validation and execution, host timers.
 */
export class PluginService {
  readonly runtime: PluginRuntime;
  readonly policy: ServicePolicy;
  readonly deadLetters: DeadLetterStore;
  readonly counters: DispatchCounters = { enqueued: 0, dispatched: 0, retried: 0, failed: 0, timed_out: 0, dead_lettered: 0, dropped: 0, rejected: 0 };
  readonly diagnostics = new Ring<ServiceDiagnostic>(64);
  readonly commandResults = new Ring<CommandResult>(32);
  #effects: ServiceEffects;
  readonly #queue: IngressQueue;
  readonly #timers: TimerSet;
  #state: LifecycleState = 'Ready';
  #restarts = 0;
  #restartTimes: number[] = [];
  #consecutiveRestarts = 0;
  #restartTimer: NodeJS.Timeout | null = null;
  #lastError: string | null = null;
  #lastEvent: { kind: string; ingress: string; at: string; correlation_id: string } | null = null;
  #componentStatus: JsonValue | null = null;
  #inFlight: QueuedEvent | null = null;
  #loop: Promise<void> | null = null;
  #stateWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  #sleepCancel: (() => void) | null = null;
  #pendingRequests = 0;
  #pausedSince: number | null = null;
  #pausedMs = 0;

  constructor(runtime: PluginRuntime, options: ServiceOptions = {}) {
    this.runtime = runtime;
    this.policy = { ...DEFAULT_SERVICE_POLICY, ...options.policy };
    this.#effects = options.effects ?? {};
    this.#queue = new IngressQueue(this.policy.queueCapacity);
    this.#timers = new TimerSet(this.policy.maxTimers, (timer, payload) => this.#fireTimer(timer.ingress, timer.timerId, payload));
    this.deadLetters = new DeadLetterStore(this.policy.deadLetterCapacity, options.stateDir ? deadLetterFile(options.stateDir, runtime.record.identity) : null);
    runtime.supervisor = {
      admit: () => (this.#state === 'Ready' || this.#state === 'Running' ? null : `plugin service is ${this.#state}${this.#lastError ? `: ${this.#lastError}` : ''}`),
      supervising: () => this.#state !== 'Ready',
      sandboxFailed: (error) => {
        if (this.#state === 'Running') this.#scheduleRestart(error.message);
      },
    };
  }

  /** Attaches the WebSocket driver that feeds this service and executes its websocket_* commands. */
  attachWebSocketDriver(driver: WebSocketCommands): void {
    this.#effects = { ...this.#effects, websocket: driver };
  }

  /** Status of the host-owned connections (empty without a driver). */
  connections(): JsonValue[] {
    return this.#effects.websocket?.status?.() ?? [];
  }

  /** Records a diagnostic from a component of this service (the WebSocket driver). */
  diagnose(kind: string, message: string): void {
    this.#diagnose(kind, message, kind.endsWith('Error'));
  }

  get identity(): string {
    return this.runtime.record.identity;
  }

  get state(): LifecycleState {
    return this.#state;
  }

  get restarts(): number {
    return this.#restarts;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  get queueDepth(): number {
    return this.#queue.depth;
  }

  get timers(): readonly TimerStatus[] {
    return this.#timers.status();
  }

  get componentStatus(): JsonValue | null {
    return this.#componentStatus ?? this.runtime.componentStatus;
  }

  get lastEvent(): { kind: string; ingress: string; at: string; correlation_id: string } | null {
    return this.#lastEvent;
  }

  /** Total time sources spent held back by a full queue. */
  get backpressureMs(): number {
    return this.#pausedMs + (this.#pausedSince !== null ? Date.now() - this.#pausedSince : 0);
  }

  #setState(state: LifecycleState, message?: string): void {
    this.#state = state;
    if (message) this.#diagnose('Lifecycle', message);
    for (const waiter of this.#stateWaiters.splice(0)) waiter();
  }

  #diagnose(kind: string, message: string, error = false): void {
    const bounded = boundText(redactText(this.runtime.secrets.redact(message), 512), 512);
    if (error) this.#lastError = bounded;
    this.diagnostics.push({ at: rfc3339(), kind, state: this.#state, message: bounded });
  }

  /** Starts the instance (`start` with the enablement config) and the dispatch loop. A start failure fails closed (Failed). */
  async start(): Promise<void> {
    if (this.#state !== 'Ready' && this.#state !== 'Stopped' && this.#state !== 'Failed') return;
    await this.deadLetters.load();
    this.#queue.reopen();
    this.#setState('Starting', 'service start requested');
    try {
      await this.runtime.restart();
    } catch (error) {
      this.#diagnose('ServiceFailed', `plugin component start failed: ${messageOf(error)}`, true);
      this.#setState('Failed');
      throw error;
    }
    this.#consecutiveRestarts = 0;
    this.#setState('Running', 'component instance started; ingress queue is running');
    this.#loop ??= this.#runLoop();
    this.#effects.websocket?.start?.();
  }

  /** Re-enables a Disabled (or Failed) service: the operator's answer to an open circuit. */
  async enable(): Promise<void> {
    if (this.#state !== 'Disabled' && this.#state !== 'Failed') return;
    this.#restartTimes = [];
    this.#setState('Stopped', 'service re-enabled by the operator');
    await this.start();
  }

  #admission(): EnqueueOutcome | null {
    switch (this.#state) {
      case 'Running':
      case 'Restarting':
        return null;
      case 'Failed':
        return { ok: false, reason: 'failed', message: `plugin service is failed: ${this.#lastError ?? 'service is failed'}` };
      case 'Disabled':
        return { ok: false, reason: 'disabled', message: 'plugin service is disabled after repeated failures; an operator must re-enable it' };
      case 'Stopping':
      case 'Stopped':
        return { ok: false, reason: 'stopped', message: `plugin service rejects ingress while ${this.#state.toLowerCase()}` };
      default:
        return { ok: false, reason: 'unavailable', message: `plugin service is not running (state ${this.#state})` };
    }
  }

  #validate(ingress: string, event: IngressEvent): EnqueueOutcome | null {
    const closed = this.#admission();
    const problem = closed ? null : ingressEventProblem(this.runtime.record, ingress, event);
    const outcome: EnqueueOutcome | null = closed ?? (problem ? { ok: false, reason: problem.kind, message: problem.message } : null);
    if (outcome && !outcome.ok) {
      this.counters.rejected++;
      this.#diagnose(outcome.reason === 'invalid' ? 'InvalidEvent' : 'Rejected', `ingress event rejected: ${outcome.message}`, true);
    }
    return outcome;
  }

  /** Queues an event, waiting while the queue is full (backpressure: the source is held, nothing is lost). */
  async deliver(ingress: string, event: IngressEvent): Promise<EnqueueOutcome> {
    const refused = this.#validate(ingress, event);
    if (refused) return refused;
    const full = this.#queue.depth >= this.#queue.capacity;
    if (full && this.#pausedSince === null) this.#pausedSince = Date.now();
    const accepted = await this.#queue.put({ ingress, event, enqueuedAt: Date.now() });
    if (this.#pausedSince !== null && this.#queue.waiting === 0) {
      this.#pausedMs += Date.now() - this.#pausedSince;
      this.#pausedSince = null;
    }
    if (!accepted) {
      this.counters.rejected++;
      return { ok: false, reason: 'stopped', message: 'plugin service stopped before the event could be queued' };
    }
    this.counters.enqueued++;
    return { ok: true };
  }

  /** Queues an event without waiting; when full, follows the ingress's drop policy (default: refuse). */
  offer(ingress: string, event: IngressEvent): EnqueueOutcome {
    const refused = this.#validate(ingress, event);
    if (refused) return refused;
    const policy = this.policy.dropPolicy[ingress] ?? 'block';
    const result = this.#queue.offer({ ingress, event, enqueuedAt: Date.now() }, policy);
    if (!result.accepted) {
      if (policy === 'drop_newest') {
        this.counters.dropped++;
        this.#diagnose('Dropped', `ingress event dropped by drop_newest policy (queue full, capacity ${this.#queue.capacity})`);
        return { ok: true };
      }
      this.counters.rejected++;
      this.#diagnose('QueueFull', `plugin ingress queue is full (capacity ${this.#queue.capacity})`, true);
      return { ok: false, reason: 'full', message: `plugin ingress queue is full (capacity ${this.#queue.capacity})` };
    }
    if (result.dropped) {
      this.counters.dropped++;
      this.#diagnose('Dropped', 'oldest queued ingress event dropped by drop_oldest policy');
    }
    this.counters.enqueued++;
    return { ok: true };
  }

  /** Builds an event from parts and delivers it (waiting for space). */
  emit(ingress: string, kind: string, source: string, payload: JsonValue): Promise<EnqueueOutcome> {
    return this.deliver(ingress, newIngressEvent(ingress, kind, source, payload));
  }

  /** Resolves when nothing is queued, in flight or awaiting a host response. */
  idle(): Promise<void> {
    if (this.#queue.depth === 0 && this.#inFlight === null && this.#queue.waiting === 0 && this.#pendingRequests === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #checkIdle(): void {
    if (this.#queue.depth === 0 && this.#inFlight === null && this.#queue.waiting === 0 && this.#pendingRequests === 0) {
      for (const waiter of this.#idleWaiters.splice(0)) waiter();
    }
  }

  async #runLoop(): Promise<void> {
    for (;;) {
      this.#checkIdle();
      const item = await this.#queue.take();
      if (!item) break;
      this.#inFlight = item;
      try {
        await this.#deliverWithRetries(item);
      } catch (error) {
        // Never let one event stop the loop: record it and keep nothing back.
        this.#deadLetter(item, item.event.attempt, `delivery failed inside the host: ${messageOf(error)}`);
      } finally {
        this.#inFlight = null;
      }
    }
    this.#loop = null;
    this.#checkIdle();
  }

  /** Waits until the instance can take a call; false when it never will (stopping, disabled, failed). */
  async #whenRunning(): Promise<boolean> {
    while (this.#state === 'Restarting' || this.#state === 'Starting') await new Promise<void>((resolve) => this.#stateWaiters.push(resolve));
    return this.#state === 'Running';
  }

  async #deliverWithRetries(item: QueuedEvent): Promise<void> {
    let attempt = item.event.attempt;
    for (;;) {
      if (!(await this.#whenRunning())) {
        this.#deadLetter(item, attempt, `plugin service was ${this.#state} before delivery`);
        return;
      }
      const event: IngressEvent = { ...item.event, attempt };
      this.#lastEvent = { kind: event.kind, ingress: item.ingress, at: rfc3339(), correlation_id: event.correlation_id };
      const result = await this.#attempt(item.ingress, event);
      if (result.ok) {
        this.counters.dispatched++;
        return;
      }
      this.counters.failed++;
      if (result.timedOut) this.counters.timed_out++;
      this.#diagnose(result.timedOut ? 'DispatchTimeout' : 'DispatchFailed', `ingress delivery ${attempt}/${this.policy.maxAttempts} failed: ${result.error}`, true);
      if (result.restart && this.#state === 'Running') this.#scheduleRestart(result.error ?? 'dispatch failed');
      if (attempt >= this.policy.maxAttempts) {
        this.#deadLetter(item, attempt, result.error ?? 'delivery failed');
        return;
      }
      this.counters.retried++;
      await this.#sleep(result.retryAfterMs ?? backoffMs(this.policy.retryBaseMs, this.policy.retryMaxMs, attempt));
      attempt++;
    }
  }

  #deadLetter(item: QueuedEvent, attempts: number, error: string): DeadLetter {
    this.counters.dead_lettered++;
    this.#diagnose('DeadLettered', `ingress event ${item.event.correlation_id} dead-lettered after ${attempts} attempt(s): ${error}`);
    return this.deadLetters.add({ plugin: this.identity, ingress: item.ingress, event: { ...item.event, attempt: attempts }, attempts, last_error: boundText(redactText(error, 512), 512) });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#sleepCancel = done;
    }).then(() => {
      this.#sleepCancel = null;
    });
  }

  async #attempt(ingress: string, event: IngressEvent): Promise<Attempt> {
    let raw: string;
    try {
      raw = await this.runtime.callIngress(ingress, JSON.stringify(event));
    } catch (error) {
      if (error instanceof PluginError) {
        const sandbox = error.code.startsWith('SANDBOX_');
        return { ok: false, error: error.message, restart: sandbox, timedOut: error.code === 'SANDBOX_TIMEOUT' };
      }
      return { ok: false, error: messageOf(error) };
    }
    if (Buffer.byteLength(raw, 'utf8') > OUTPUT_LIMIT) return { ok: false, error: `plugin ingress output exceeds ${OUTPUT_LIMIT} bytes` };
    let output: unknown;
    try {
      output = JSON.parse(raw);
    } catch {
      return { ok: false, error: 'plugin ingress output is not JSON' };
    }
    if (typeof output === 'object' && output !== null && !Array.isArray(output)) {
      const record = output as Record<string, unknown>;
      if ('error' in record) return { ok: false, error: `handler returned error: ${boundText(redactText(safeStringify(record['error'])), 200)}` };
      const retry = record['retry'];
      if (retry === true || (typeof retry === 'object' && retry !== null)) {
        const after = typeof retry === 'object' ? (retry as { after_ms?: unknown }).after_ms : undefined;
        const retryAfterMs = typeof after === 'number' && Number.isFinite(after) ? Math.min(Math.max(0, after), this.policy.retryMaxMs) : undefined;
        return { ok: false, error: 'handler asked for a retry', ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      }
    }
    const batch = validateOutputCommands(output, event, this.runtime.record);
    if (!batch.ok) {
      for (const result of batch.results) this.#recordResult(result);
      return { ok: true };
    }
    const preflight = this.#preflight(batch.commands);
    if (preflight) {
      this.#recordResult(commandResult({}, 'Rejected', preflight));
      return { ok: true };
    }
    for (const command of batch.commands) this.#recordResult(await this.#execute(command, event));
    return { ok: true };
  }

  /** Resource checks for the whole batch before anything runs. */
  #preflight(commands: readonly ValidatedCommand[]): string | null {
    const timers = new Set(this.#timers.status().map((t) => t.timer_id));
    for (const command of commands) {
      if (command.kind === 'timer_set') timers.add(command.timerId);
      if (command.kind === 'timer_cancel') timers.delete(command.timerId);
    }
    if (timers.size > this.policy.maxTimers) return `output commands would leave ${timers.size} timers; the limit is ${this.policy.maxTimers}`;
    const requests = commands.filter((c) => c.kind === 'host_request_dispatch').length;
    if (requests > 0 && this.#pendingRequests + requests > this.policy.maxPendingRequests) {
      return `output commands would leave ${this.#pendingRequests + requests} host requests in flight; the limit is ${this.policy.maxPendingRequests}`;
    }
    if (commands.some((c) => c.kind.startsWith('websocket_')) && !this.#effects.websocket) return 'websocket commands need a host-owned WebSocket connection, and this host runs none';
    return null;
  }

  #recordResult(result: CommandResult): void {
    this.commandResults.push(result);
    const label = `service output command ${result.command_id ?? '<malformed>'} (${result.kind ?? 'unknown'}): ${result.message}`;
    this.#diagnose(`ServiceOutputCommand${result.status}`, label, result.status !== 'Recorded');
  }

  async #execute(command: ValidatedCommand, event: IngressEvent): Promise<CommandResult> {
    const ids = { correlation_id: command.correlation_id, source_event_id: command.source_event_id, command_id: command.command_id, kind: command.kind };
    switch (command.kind) {
      case 'diagnostic_status_update':
        if (command.status !== undefined) this.#componentStatus = command.status;
        return commandResult(ids, 'Recorded', command.message ?? 'plugin service status update recorded');
      case 'host_request_dispatch':
        this.#dispatchRequest(command, event);
        return commandResult(ids, 'Recorded', `request dispatched; the response arrives as a host_response event on ingress ${command.replyIngress}`);
      case 'timer_set':
        this.#timers.set({ timerId: command.timerId, ingress: command.ingress, delayMs: command.delayMs, ...(command.intervalMs !== undefined ? { intervalMs: command.intervalMs } : {}), ...(command.data !== undefined ? { data: command.data } : {}) });
        return commandResult(ids, 'Recorded', `timer ${command.timerId} set`);
      case 'timer_cancel':
        return commandResult(ids, 'Recorded', this.#timers.cancel(command.timerId) ? `timer ${command.timerId} cancelled` : `timer ${command.timerId} was not active`);
      case 'domain_event_append': {
        if (!this.#effects.appendDomainEvent) return commandResult(ids, 'Unsupported', 'this host has no domain event sink');
        try {
          await this.#effects.appendDomainEvent({ plugin: this.identity, type: command.type, data: command.data, command_id: command.command_id, source_event_id: command.source_event_id, appended_at: rfc3339() });
          return commandResult(ids, 'Recorded', `domain event ${command.type} appended`);
        } catch (error) {
          return commandResult(ids, 'Rejected', `domain event could not be appended: ${messageOf(error)}`);
        }
      }
      case 'websocket_send':
      case 'websocket_reconnect':
      case 'websocket_close': {
        const ws = this.#effects.websocket!;
        try {
          const message =
            command.kind === 'websocket_send'
              ? await ws.send(command.url, command.text)
              : command.kind === 'websocket_reconnect'
                ? await ws.reconnect(command.connection, command.url)
                : await ws.close(command.connection, command.code, command.reason);
          return commandResult(ids, 'Recorded', message);
        } catch (error) {
          return commandResult(ids, 'Rejected', messageOf(error));
        }
      }
    }
  }

  /** Runs a host request off the dispatch path; its response comes back as a `host_response` event. */
  #dispatchRequest(command: Extract<ValidatedCommand, { kind: 'host_request_dispatch' }>, event: IngressEvent): void {
    this.#pendingRequests++;
    void (async () => {
      const attached = grantHeaders(this.runtime.record, command.request, this.runtime.secrets);
      const raw = 'reply' in attached ? attached.reply : await executeRequest(command.request, { hostHeaders: attached.headers, redact: (text) => this.runtime.secrets.redact(text) });
      const reply = JSON.parse(raw) as JsonValue;
      const payload: JsonValue = {
        command_id: command.command_id,
        correlation_id: command.correlation_id,
        source_event_id: event.correlation_id,
        ...(typeof reply === 'object' && reply !== null && !Array.isArray(reply) && 'error' in reply ? { error: reply['error'] as JsonValue } : { response: reply }),
      };
      const outcome = await this.emit(command.replyIngress, 'host_response', `host_request:${command.command_id}`, payload);
      if (!outcome.ok) this.#diagnose('HostResponseUndelivered', `host_response for ${command.command_id} not delivered: ${outcome.message}`, true);
    })().finally(() => {
      this.#pendingRequests--;
      this.#checkIdle();
    });
  }

  async #fireTimer(ingress: string, timerId: string, payload: JsonValue): Promise<void> {
    const outcome = await this.emit(ingress, 'timer', `timer:${timerId}`, payload);
    if (!outcome.ok) this.#diagnose('TimerUndelivered', `timer ${timerId} event not delivered: ${outcome.message}`);
  }

  #scheduleRestart(reason: string): void {
    if (this.#state !== 'Running') return;
    const now = Date.now();
    this.#restartTimes = this.#restartTimes.filter((t) => now - t < this.policy.restartWindowMs);
    this.#restartTimes.push(now);
    if (this.#restartTimes.length > this.policy.maxRestarts) {
      void this.#disable(`restarted ${this.policy.maxRestarts} times within ${this.policy.restartWindowMs} ms; last failure: ${reason}`);
      return;
    }
    this.#restarts++;
    this.#consecutiveRestarts++;
    const delay = backoffMs(this.policy.restartBaseMs, this.policy.restartMaxMs, this.#consecutiveRestarts);
    this.#setState('Restarting', `restarting in ${delay} ms after: ${reason}`);
    this.#restartTimer = setTimeout(() => void this.#restartNow(), delay);
  }

  async #restartNow(): Promise<void> {
    this.#restartTimer = null;
    if (this.#state !== 'Restarting') return;
    try {
      await this.runtime.restart();
      this.#setState('Running', `instance restarted (restart ${this.#restarts})`);
    } catch (error) {
      this.#diagnose('ServiceFailed', `restart failed: ${messageOf(error)}`, true);
      this.#state = 'Running'; // count this as another failed run
      this.#scheduleRestart(messageOf(error));
    }
  }

  async #disable(reason: string): Promise<void> {
    this.#diagnose('Disabled', `circuit open: ${reason}`, true);
    this.#setState('Disabled');
    this.#effects.websocket?.stop?.();
    this.#timers.cancelAll();
    this.#queue.close();
    for (const item of this.#queue.drain()) this.#deadLetter(item, item.event.attempt, `plugin service disabled: ${reason}`);
    await this.runtime.close();
  }

  /** Replays dead letters (all, or by id) through the queue with `attempt` reset to 1. */
  async replay(ids: readonly string[] | 'all'): Promise<{ replayed: number; refused: string | null }> {
    const closed = this.#admission();
    if (closed && !closed.ok) return { replayed: 0, refused: closed.message };
    const entries = this.deadLetters.remove(ids);
    let replayed = 0;
    for (const entry of entries) {
      const outcome = await this.deliver(entry.ingress, { ...entry.event, attempt: 1 });
      if (outcome.ok) replayed++;
      else this.deadLetters.add({ plugin: entry.plugin, ingress: entry.ingress, event: entry.event, attempts: entry.attempts, last_error: `replay refused: ${outcome.message}` });
    }
    return { replayed, refused: null };
  }

  /** Polls the guest's `status`; a failed status restarts the instance. */
  async pollStatus(): Promise<JsonValue | null> {
    if (this.#state !== 'Running') return this.componentStatus;
    try {
      const status = await this.runtime.status();
      if (this.runtime.state === 'failed') this.#scheduleRestart(this.runtime.lastError ?? 'status reported failure');
      return status;
    } catch (error) {
      this.#scheduleRestart(messageOf(error));
      return this.componentStatus;
    }
  }

  /**
   * Stops: the queue closes (sources are refused), the in-flight event keeps its deadline,
   * timers stop, `stop` is called, and events never delivered go to the dead-letter store
   * so that nothing is lost. Idempotent.
   */
  async stop(): Promise<StopReport> {
    const inFlight = this.#inFlight ? this.#inFlight.event.correlation_id : null;
    if (this.#state === 'Stopped' || this.#state === 'Stopping') return { plugin: this.identity, in_flight: null, undelivered: 0, state: this.#state };
    const previous = this.#state;
    this.#setState('Stopping', 'service stop requested; ingress queue is closed');
    this.#effects.websocket?.stop?.();
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#timers.cancelAll();
    this.#queue.close();
    this.#sleepCancel?.();
    const undelivered = this.#queue.drain();
    for (const item of undelivered) this.#deadLetter(item, item.event.attempt, 'plugin service stopped before delivery');
    await this.#loop;
    await this.runtime.close();
    await this.deadLetters.flush();
    this.#setState(previous === 'Disabled' ? 'Disabled' : 'Stopped', 'service stopped');
    return { plugin: this.identity, in_flight: inFlight, undelivered: undelivered.length, state: this.#state };
  }
}

/** JSON.stringify that cannot throw (cycles are impossible here, but nesting depth is guest-chosen). */
function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return '(not representable)';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

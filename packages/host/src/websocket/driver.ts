import type WebSocket from 'ws';
import { authorizeHostApi, authorizeWebSocketTarget, safeUrlLabel } from '../authority/authorize.js';
import { parseTargetUrl, websocketTargetAllows } from '../authority/targets.js';
import { boundText, redactText } from '../diagnostics.js';
import type { JsonValue, WebSocketTarget } from '../manifest/types.js';
import type { IngressEvent } from '../service/ingress-event.js';
import type { Secrets } from '../secrets/secrets.js';
import { backoffMs } from '../service/policy.js';
import { rfc3339 } from '../service/ids.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { StreamRedactor, windowSecrets, type NamedSecret, type WindowSecret } from './frame-redactor.js';
import { INBOUND_OVERHEAD_BYTES, Inbox, type Inbound, type InboxMarks } from './inbox.js';
import { closeDisposition, type ConnectionPolicy } from './policy.js';
import { SendBudget } from './send-budget.js';
import { parseSources, type SourceSpec } from './sources.js';
import { bufferedInbound } from './ws-buffered.js';
import { corkUntilTick } from './ws-cork.js';
import { webSocketClass } from './ws-module.js';

/** Deliveries of one connection under way at once (they are accepted in order). */
const PIPELINE = 32;

/** How many of the latest reconnect delays a connection's status lists. */
const RECONNECT_DELAYS_SHOWN = 8;

type Outcome = { readonly ok: boolean; readonly message?: string };

type ConnectionState = 'Connecting' | 'Connected' | 'Reconnecting' | 'Closed' | 'Failed';

/**
 * Where the driver sends events: the plugin's service. `deliver` resolves once the event is
 * accepted (it waits while the queue is full); the driver awaits each delivery in order.
 */
export interface EventSink {
  deliver(ingress: string, kind: string, source: string, payload: JsonValue): Promise<{ ok: boolean; message?: string }>;
  diagnose(kind: string, message: string): void;
}

/**
 * Status of one connection. Counter names are stable (they feed metrics). Every event or
 * frame the driver does not hand to the service is counted in exactly one of
 * `binary_dropped`, `skipped_undeclared`, `refused` or `stale_frames`.
 */
export interface ConnectionStatus {
  [key: string]: JsonValue;
  id: string;
  ingress: string;
  url: string;
  state: ConnectionState;
  connected_since: string | null;
  last_frame_at: string | null;
  last_pong_at: string | null;
  reconnects: number;
  /** Frames read from the socket (text and binary). */
  frames_in: number;
  frames_out: number;
  /** Events (frames and open/close/error) the service accepted. */
  events_delivered: number;
  send_failures: number;
  /** Times reading was paused by the inbox's high-water mark, and resumed at its low-water mark. */
  pauses: number;
  resumes: number;
  paused_ms: number;
  /** Events read and waiting for the service now, their estimated bytes, and the most that ever waited. */
  inbox_depth: number;
  inbox_bytes: number;
  inbox_peak: number;
  /** Binary frames skipped because the ingress does not declare `websocket_binary`. */
  binary_dropped: number;
  /** Events skipped because the ingress's `event_kinds` does not list their kind. */
  skipped_undeclared: number;
  /** Events the service refused (not running, invalid). */
  refused: number;
  /** Frames a replaced or stopped socket still emitted after it was let go. */
  stale_frames: number;
  /** Sends asked for while handling an event of a socket that has since been replaced (refused, never sent on its successor). */
  stale_sends: number;
  /** Times the inbox hit its byte safety limit and the connection was closed to be re-dialled. */
  inbox_safety_closes: number;
  /** Events lost outside any declared policy: `refused` + `stale_frames`. */
  drops: number;
  last_close_code: number | null;
  last_error: string | null;
}

type Counter = 'reconnects' | 'frames_in' | 'frames_out' | 'events_delivered' | 'send_failures' | 'pauses' | 'resumes' | 'binary_dropped' | 'skipped_undeclared' | 'refused' | 'stale_frames' | 'stale_sends' | 'inbox_safety_closes';

/** What a URL is allowed: checked once per URL, not per frame (the record does not change). */
interface TargetCheck {
  readonly url: string;
  readonly problem: string | null;
  readonly grants: readonly WebSocketTarget[];
  readonly frameSecrets: ReadonlySet<string>;
}

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;
const iso = (ms: number | null) => (ms === null ? null : rfc3339(ms));

/** One supervised connection: connect, read (at the ingress's pace), ping, reconnect, send under a budget. */
class Connection {
  readonly spec: SourceSpec;
  readonly #driver: WebSocketDriver;
  readonly #label: string;
  readonly #kinds: readonly string[];
  readonly #marks: InboxMarks;
  readonly #budget: SendBudget;
  readonly #counts: Record<Counter, number> = {
    reconnects: 0, frames_in: 0, frames_out: 0, events_delivered: 0, send_failures: 0, pauses: 0, resumes: 0,
    binary_dropped: 0, skipped_undeclared: 0, refused: 0, stale_frames: 0, stale_sends: 0, inbox_safety_closes: 0,
  };
  /** The socket (generation) each event payload read or emitted here came from: a send is bound to it. */
  readonly #origins = new WeakMap<object, number>();
  #state: ConnectionState = 'Connecting';
  #url: string;
  #target: TargetCheck | null = null;
  #socket: WebSocket | null = null;
  #attempt = 0;
  /** The backoff delays of the latest reconnects, oldest first (status shows the schedule, not just a count). */
  readonly #reconnectDelays: number[] = [];
  #generation = 0;
  #timers = new Set<NodeJS.Timeout>();
  #pongDue: NodeJS.Timeout | null = null;
  #stopped = false;
  /** Bumped by stop(): a delivery refused across a stop/start is retried, not counted. */
  #run = 0;
  #textRedactor: StreamRedactor;
  #bytesRedactor: StreamRedactor;
  readonly #inbox = new Inbox();
  #pumping = false;
  #handOnQueued = false;
  /** Deliveries handed on and not yet taken, oldest first (they are the inbox's first events). */
  readonly #inFlight: { readonly run: number; readonly outcome: Promise<Outcome> }[] = [];
  #paused = false;
  #pausedSince: number | null = null;
  #pausedMs = 0;
  /** A (re)connect waits while reading is paused: the new socket could not be read anyway. */
  #dialWhenDrained = false;
  #safetyClosing = false;
  #connectedSince: number | null = null;
  #lastFrameAt: number | null = null;
  #lastPongAt: number | null = null;
  #lastCloseCode: number | null = null;
  #lastError: string | null = null;

  constructor(driver: WebSocketDriver, spec: SourceSpec) {
    this.#driver = driver;
    this.spec = spec;
    this.#url = spec.url;
    this.#label = label(spec.url);
    this.#kinds = driver.record.manifest.ingresses.find((i) => i.name === spec.ingress)?.event_kinds ?? [];
    const policy = driver.policy;
    this.#marks = { high: policy.inbox_high_water, low: policy.inbox_low_water, highBytes: policy.inbox_high_water_bytes, maxBytes: policy.inbox_max_bytes };
    this.#budget = new SendBudget(policy.send_limit - policy.send_headroom, policy.send_window_ms);
    this.#textRedactor = driver.redactor('text');
    this.#bytesRedactor = driver.redactor('bytes');
  }

  get url(): string {
    return this.#url;
  }

  snapshot(): ConnectionStatus {
    const c = this.#counts;
    const pausedNow = this.#pausedSince === null ? 0 : Date.now() - this.#pausedSince;
    return {
      id: this.#label,
      ingress: this.spec.ingress,
      url: this.#label,
      state: this.#state,
      connected_since: iso(this.#connectedSince),
      last_frame_at: iso(this.#lastFrameAt),
      last_pong_at: iso(this.#lastPongAt),
      ...c,
      paused_ms: this.#pausedMs + pausedNow,
      inbox_depth: this.#inbox.length,
      inbox_bytes: this.#inbox.bytes,
      inbox_peak: this.#inbox.peak,
      drops: c.refused + c.stale_frames,
      reconnect_delays_ms: [...this.#reconnectDelays],
      last_close_code: this.#lastCloseCode,
      last_error: this.#lastError,
    };
  }

  #timer(ms: number, fn: () => void): NodeJS.Timeout {
    const handle = setTimeout(() => {
      this.#timers.delete(handle);
      fn();
    }, ms);
    this.#timers.add(handle);
    return handle;
  }

  #fail(message: string): void {
    this.#state = 'Failed';
    this.#lastError = this.#driver.clean(message);
    this.#driver.sink.diagnose('ServiceWebSocketError', `host-owned WebSocket ${this.#label} failed: ${this.#lastError}`);
  }

  /** Counts a discard; logs its 1st, 2nd, 4th, 8th … occurrence so a flood cannot flood the log. */
  #discard(counter: Counter, kind: string, message: string): void {
    const count = ++this.#counts[counter];
    if (isPowerOfTwo(count)) this.#driver.sink.diagnose(kind, `${message} (${count} so far on ${this.#label})`);
  }

  #check(): TargetCheck {
    if (this.#target?.url !== this.#url) this.#target = this.#driver.checkTarget(this.#url);
    return this.#target;
  }

  /** Authorises and dials the current URL. */
  connect(): void {
    if (this.#stopped) return;
    if (this.#paused) {
      this.#dialWhenDrained = true;
      return;
    }
    const target = this.#check();
    if (target.problem) return this.#fail(target.problem);
    const headers = this.#driver.handshakeHeaders(target.grants);
    if ('error' in headers) return this.#fail(headers.error);
    const generation = ++this.#generation;
    this.#state = this.#attempt === 0 && this.#counts.reconnects === 0 ? 'Connecting' : 'Reconnecting';
    const policy = this.#driver.policy;
    const socket = new (webSocketClass())(this.#url, {
      headers: { 'user-agent': 'yoi-plugin-host/1', ...headers.headers },
      handshakeTimeout: policy.connect_timeout_ms,
      maxPayload: policy.max_message_bytes,
      followRedirects: false,
      perMessageDeflate: false,
    });
    this.#socket = socket;
    this.#safetyClosing = false;
    // A new connection is a new stream: a secret cannot continue from the previous one.
    this.#textRedactor = this.#driver.redactor('text');
    this.#bytesRedactor = this.#driver.redactor('bytes');
    let ended = false;
    const end = (code: number, reason: string, error: string | null) => {
      if (ended || generation !== this.#generation) return;
      ended = true;
      this.#onEnd(code, reason, error);
    };
    socket.on('open', () => {
      if (generation !== this.#generation) return;
      this.#onOpen();
    });
    socket.on('message', (data, isBinary) => {
      if (generation !== this.#generation) {
        this.#discard('stale_frames', 'ServiceWebSocketStaleFrame', 'frame from a replaced or stopped connection discarded');
        return;
      }
      this.#onMessage(data as Buffer, isBinary);
    });
    socket.on('pong', () => {
      this.#lastPongAt = Date.now();
      if (this.#pongDue) {
        clearTimeout(this.#pongDue);
        this.#timers.delete(this.#pongDue);
        this.#pongDue = null;
      }
    });
    socket.on('error', (error) => end(1006, '', error.message));
    socket.on('close', (code, reason) => end(code, reason.toString().slice(0, 123), null));
  }

  #onOpen(): void {
    if (this.#paused) this.#socket?.pause(); // still held back by a full inbox
    const reconnect = this.#counts.reconnects > 0;
    this.#state = 'Connected';
    this.#connectedSince = Date.now();
    const attempt = this.#attempt;
    const generation = this.#generation;
    this.#timer(this.#driver.policy.stable_ms, () => {
      if (generation === this.#generation && this.#state === 'Connected') this.#attempt = 0;
    });
    this.#startPing(generation);
    this.#driver.sink.diagnose('ServiceWebSocketConnected', `host-owned WebSocket connected: ${this.#label}`);
    this.#emit('websocket_open', { url: this.spec.url, current_url: label(this.#url), reconnect, attempt });
  }

  #startPing(generation: number): void {
    const { ping_interval_ms: interval, pong_timeout_ms: timeout } = this.#driver.policy;
    if (interval <= 0) return;
    const tick = () => {
      if (generation !== this.#generation || this.#state !== 'Connected' || !this.#socket) return;
      if (this.#paused) {
        // A paused socket cannot read the pong: liveness is not judged while we hold it back.
        this.#timer(interval, tick);
        return;
      }
      try {
        this.#socket.ping();
      } catch {
        return;
      }
      if (!this.#pongDue) {
        this.#pongDue = this.#timer(timeout, () => {
          this.#pongDue = null;
          if (generation !== this.#generation) return;
          this.#lastError = `no pong within ${timeout} ms (half-open connection)`;
          this.#socket?.terminate();
        });
      }
      this.#timer(interval, tick);
    };
    this.#timer(interval, tick);
  }

  #declares(kind: string): boolean {
    return this.#kinds.length === 0 || this.#kinds.includes(kind);
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    this.#counts.frames_in++;
    this.#lastFrameAt = Date.now();
    if (isBinary) {
      if (!this.#kinds.includes('websocket_binary')) {
        this.#discard('binary_dropped', 'ServiceWebSocketBinaryDropped', `binary frame dropped: ingress ${this.spec.ingress} does not declare websocket_binary`);
        return;
      }
      const redacted = Buffer.from(this.#driver.redactSecrets(this.#bytesRedactor.redact(data.toString('latin1'))), 'latin1');
      this.#push({ kind: 'websocket_binary', payload: { url: this.spec.url, data_base64: redacted.toString('base64') }, bytes: Math.ceil(data.length * 1.34) + INBOUND_OVERHEAD_BYTES });
      return;
    }
    if (!this.#declares('websocket_text')) {
      this.#discard('skipped_undeclared', 'ServiceWebSocketEventSkipped', `websocket_text event not delivered: ingress ${this.spec.ingress} does not declare it in event_kinds`);
      return;
    }
    // A server echoing frames must not hand a secret the host sent back to the plugin, whole or in pieces.
    const text = this.#driver.redactSecrets(this.#textRedactor.redact(data.toString('utf8')));
    this.#push({ kind: 'websocket_text', payload: { url: this.spec.url, text }, bytes: data.length + INBOUND_OVERHEAD_BYTES });
  }

  /** Lifecycle events go through the same inbox, so they keep their place among the frames. */
  #emit(kind: string, payload: JsonValue): void {
    if (!this.#declares(kind)) {
      this.#discard('skipped_undeclared', 'ServiceWebSocketEventSkipped', `${kind} event not delivered: ingress ${this.spec.ingress} does not declare it in event_kinds`);
      return;
    }
    this.#push({ kind, payload, bytes: INBOUND_OVERHEAD_BYTES * 2 });
  }

  /**
   * Backpressure without loss: every event read is kept. Reading pauses once the inbox (with
   * what ws has already buffered) reaches the high-water mark; ws still emits the frames of
   * the chunk it is parsing, and those are kept too. Only a byte safety limit, far above the
   * marks, closes the connection — the events already read are still delivered.
   */
  #push(item: Inbound): void {
    if (typeof item.payload === 'object' && item.payload !== null) this.#origins.set(item.payload, this.#generation);
    this.#inbox.push(item);
    if (!this.#paused && this.#inbox.overHigh(this.#marks, bufferedInbound(this.#socket))) this.#pause();
    if (this.#inbox.bytes > this.#marks.maxBytes && !this.#safetyClosing && this.#socket) this.#safetyClose();
    this.#schedulePump();
  }

  #pause(): void {
    this.#paused = true;
    this.#counts.pauses++;
    this.#pausedSince = Date.now();
    this.#socket?.pause();
  }

  #resume(): void {
    this.#paused = false;
    this.#counts.resumes++;
    if (this.#pausedSince !== null) this.#pausedMs += Date.now() - this.#pausedSince;
    this.#pausedSince = null;
    this.#socket?.resume();
    if (this.#dialWhenDrained) {
      this.#dialWhenDrained = false;
      this.connect();
    }
  }

  #safetyClose(): void {
    this.#safetyClosing = true;
    this.#counts.inbox_safety_closes++;
    const message = `${this.#inbox.bytes} bytes waiting for the ingress exceed the inbox safety limit of ${this.#marks.maxBytes}; the connection is closed and re-dialled once the inbox drains (every event already read is still delivered)`;
    this.#lastError = message;
    this.#driver.sink.diagnose('ServiceWebSocketInboxLimit', `host-owned WebSocket ${this.#label}: ${message}`);
    if (!this.#paused) this.#pause();
    this.#socket?.terminate();
  }

  /**
   * Delivers the inbox in order. Up to PIPELINE deliveries are under way at once (handed to the
   * service in order, so the events read from one chunk are accepted in one journal write);
   * their outcomes are taken in order, and an event leaves the inbox only with its outcome.
   */
  async #pump(): Promise<void> {
    this.#pumping = true;
    const inFlight = this.#inFlight;
    try {
      // After a stop nothing new is handed on, but the outcomes of what was are still taken.
      for (;;) {
        this.#handOn();
        // The head stays in `inFlight` (and in the inbox) until its outcome is taken: entry i is inbox item i.
        const next = inFlight[0];
        if (!next) break;
        const item = this.#inbox.peek()!;
        const outcome = await next.outcome;
        if (!outcome.ok && (this.#stopped || next.run !== this.#run)) {
          // Refused because the service stopped meanwhile: kept for the next start, with what was handed on after it.
          await this.#settleAfterStop(inFlight.splice(0).slice(1));
          if (this.#stopped) break;
          continue;
        }
        inFlight.shift();
        this.#inbox.shift();
        this.#delivered(item, outcome);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Hands waiting events on to the service, in order, up to PIPELINE under way. */
  #handOn(): void {
    const inFlight = this.#inFlight;
    while (inFlight.length < PIPELINE && inFlight.length < this.#inbox.length && !this.#stopped) {
      inFlight.push({ run: this.#run, outcome: this.#deliver(this.#inbox.at(inFlight.length)!) });
    }
  }

  /** After the frames of one read chunk are in the inbox (ws emits them synchronously): they go on together. */
  #schedulePump(): void {
    if (this.#handOnQueued || this.#stopped) return;
    this.#handOnQueued = true;
    queueMicrotask(() => {
      this.#handOnQueued = false;
      if (this.#stopped) return;
      if (this.#pumping) this.#handOn();
      else void this.#pump();
    });
  }

  #delivered(item: Inbound, outcome: Outcome): void {
    if (outcome.ok) this.#counts.events_delivered++;
    else {
      this.#lastError = this.#driver.clean(`ingress refused a ${item.kind} event: ${outcome.message ?? 'refused'}`);
      this.#discard('refused', 'ServiceWebSocketIngressRefused', this.#lastError);
    }
    if (this.#paused && this.#inbox.underLow(this.#marks)) this.#resume();
  }

  /**
   * The deliveries handed on after one the stop refused. A stop refuses a suffix of them, so
   * normally all are refused and stay; one that was accepted all the same leaves the inbox
   * (it is in the journal: delivering it again would duplicate it).
   */
  async #settleAfterStop(rest: readonly { readonly outcome: Promise<Outcome> }[]): Promise<void> {
    const outcomes = await Promise.all(rest.map((r) => r.outcome));
    for (let i = outcomes.length - 1; i >= 0; i--) {
      if (outcomes[i]!.ok) this.#delivered(this.#inbox.removeAt(i + 1)!, outcomes[i]!);
    }
  }

  #deliver(item: Inbound): Promise<Outcome> {
    try {
      return this.#driver.sink.deliver(this.spec.ingress, item.kind, this.spec.source, item.payload).catch((error: unknown) => ({ ok: false, message: error instanceof Error ? error.message : String(error) }));
    } catch (error) {
      return Promise.resolve({ ok: false, message: error instanceof Error ? error.message : String(error) });
    }
  }

  #onEnd(code: number, reason: string, error: string | null): void {
    this.#clearTimers();
    this.#socket = null;
    this.#connectedSince = null;
    this.#lastCloseCode = code;
    if (error) {
      this.#lastError = this.#driver.clean(error);
      this.#emit('websocket_error', { url: this.spec.url, error: this.#lastError });
    }
    if (this.#stopped || this.#state === 'Closed') return;
    const disposition = closeDisposition(this.#driver.policy, code);
    this.#emit('websocket_close', { url: this.spec.url, code, reason: this.#driver.clean(reason), disposition });
    if (disposition === 'fatal') return this.#fail(`closed with fatal code ${code}`);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    this.#attempt++;
    const policy = this.#driver.policy;
    if (this.#attempt > policy.max_reconnects) return this.#fail(`gave up after ${policy.max_reconnects} reconnect attempts`);
    const delay = backoffMs(policy.reconnect_base_ms, policy.reconnect_max_ms, this.#attempt);
    this.#state = 'Reconnecting';
    this.#counts.reconnects++;
    this.#reconnectDelays.push(delay);
    if (this.#reconnectDelays.length > RECONNECT_DELAYS_SHOWN) this.#reconnectDelays.shift();
    this.#timer(delay, () => this.connect());
  }

  #clearTimers(): void {
    for (const handle of this.#timers) clearTimeout(handle);
    this.#timers.clear();
    this.#pongDue = null;
  }

  /**
   * Whether `origin` (the event whose handling asked for a send) came from a socket other than
   * the current one: a socket that was replaced, or one of an earlier run of the host (an event
   * redelivered from the journal). Events that are not this connection's bind nothing.
   */
  #staleOrigin(origin: IngressEvent | undefined): boolean {
    if (!origin || !origin.kind.startsWith('websocket_') || origin.source !== this.spec.source) return false;
    const payload = origin.payload;
    const generation = typeof payload === 'object' && payload !== null ? this.#origins.get(payload) : undefined;
    return generation !== this.#generation;
  }

  /**
   * Sends text under the send budget; `{{secret:NAME}}` only where the grant allows it. A send
   * asked for while handling an event of this connection goes to the socket that event came
   * from, or nowhere: never to a successor the plugin has not been told about (its
   * `websocket_open` is still behind in the queue), where it could, say, authenticate twice.
   */
  send(text: string, origin?: IngressEvent): Promise<string> {
    if (this.#staleOrigin(origin)) {
      this.#discard('stale_sends', 'ServiceWebSocketStaleSend', 'send asked for by an event of a replaced socket refused (not sent on the new one)');
      return Promise.reject(new Error(`host-owned WebSocket ${this.#label}: the socket the ${origin!.kind} event came from has been replaced; the send is not made on its successor`));
    }
    const socket = this.#socket;
    if (this.#state !== 'Connected' || !socket) return Promise.reject(new Error(`host-owned WebSocket ${this.#label} is not connected`));
    const target = this.#check();
    if (target.problem) return Promise.reject(new Error(target.problem));
    const now = Date.now();
    if (!this.#budget.hasRoom(now)) {
      this.#counts.send_failures++;
      return Promise.reject(new Error(`send budget of ${this.#budget.limit} frames per ${this.#budget.windowMs} ms on ${this.#label} is spent`));
    }
    const frame = this.#driver.substituteSecrets(target.frameSecrets, text);
    if ('error' in frame) {
      this.#counts.send_failures++;
      return Promise.reject(new Error(frame.error));
    }
    this.#budget.record(now);
    corkUntilTick(socket);
    return new Promise((resolve, reject) => {
      socket.send(frame.text, (error) => {
        if (error) {
          this.#counts.send_failures++;
          reject(new Error(`send on ${this.#label} failed`));
        } else {
          this.#counts.frames_out++;
          resolve(`sent ${Buffer.byteLength(text)} bytes to ${this.#label}`);
        }
      });
    });
  }

  /** Replaces the connection now, optionally at a new (already authorised) URL. */
  reconnectNow(url?: string): string {
    if (url) this.#url = url;
    this.#clearTimers();
    const old = this.#socket;
    this.#generation++;
    old?.terminate();
    this.#socket = null;
    this.#counts.reconnects++;
    this.#state = 'Reconnecting';
    this.connect();
    return `reconnecting ${this.#label}${url ? ` to ${label(url)}` : ''}`;
  }

  close(code = 1000, reason = ''): string {
    this.#state = 'Closed';
    this.#dialWhenDrained = false;
    this.#clearTimers();
    this.#socket?.close(code, reason);
    const socket = this.#socket;
    if (socket) setTimeout(() => socket.terminate(), 2_000).unref();
    return `closed ${this.#label} (${code})`;
  }

  /** Stops reading; events already read stay in the inbox until the next start. */
  stop(): void {
    this.#stopped = true;
    this.#run++;
    this.#generation++;
    this.#dialWhenDrained = false;
    this.#clearTimers();
    this.#socket?.terminate();
    this.#socket = null;
    this.#connectedSince = null;
    if (this.#state !== 'Failed') this.#state = 'Closed';
    if (this.#inbox.length > 0) {
      this.#driver.sink.diagnose('ServiceWebSocketInboxHeld', `host-owned WebSocket ${this.#label} stopped with ${this.#inbox.length} events read and not yet accepted; they are delivered when the service starts again`);
    }
  }

  /** Starts again after stop(): re-dials and delivers what was held. */
  restart(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#attempt = 0;
    this.#state = 'Connecting';
    if (this.#inbox.length > 0 && !this.#pumping) void this.#pump();
    this.connect();
  }

  matches(url: string): boolean {
    return url === this.spec.url || url === this.#url;
  }
}

function label(url: string): string {
  const parsed = parseTargetUrl(url);
  return 'error' in parsed ? 'websocket' : safeUrlLabel(parsed);
}

/**
 * The host-owned WebSocket driver of one plugin: one supervised connection per WebSocket
 * ingress source. It executes `websocket_send`, `websocket_reconnect` and `websocket_close`.
 */
export class WebSocketDriver {
  readonly record: ResolvedPlugin;
  readonly policy: ConnectionPolicy;
  readonly sink: EventSink;
  readonly #secrets: Secrets;
  readonly #connections: Connection[] = [];
  #window: { text: WindowSecret[]; bytes: WindowSecret[] } | null = null;

  constructor(record: ResolvedPlugin, policy: ConnectionPolicy, secrets: Secrets, sink: EventSink) {
    this.record = record;
    this.policy = policy;
    this.#secrets = secrets;
    this.sink = sink;
  }

  redactSecrets(text: string): string {
    return this.#secrets.redact(text);
  }

  /**
   * A fresh cross-frame redactor for one stream. It watches the secrets this plugin's grants
   * let the host send anywhere (handshake and request headers, frame secrets): only a server
   * that received one can echo it. Other secrets are still redacted whole, frame by frame.
   */
  redactor(mode: 'text' | 'bytes'): StreamRedactor {
    this.#window ??= (() => {
      const names = new Set<string>();
      for (const target of this.record.grants.websocket) {
        for (const header of target.headers ?? []) names.add(header.secret);
        for (const name of target.frame_secrets ?? []) names.add(name);
      }
      for (const target of this.record.grants.request) for (const header of target.headers ?? []) names.add(header.secret);
      const secrets: NamedSecret[] = [];
      for (const name of names) {
        const value = this.#secrets.get(name);
        if (value !== undefined) secrets.push({ name, value });
      }
      return { text: windowSecrets(secrets, 'text'), bytes: windowSecrets(secrets, 'bytes') };
    })();
    return new StreamRedactor(this.#window[mode], mode);
  }

  clean(text: string): string {
    return boundText(redactText(this.#secrets.redact(text), 300), 300);
  }

  /** A URL is judged by its grants alone: one that happens to contain a secret value gets no different answer (no guess oracle). */
  authorize(url: string): string | null {
    return authorizeWebSocketTarget(this.record, url);
  }

  /** Authorisation and the matching grants of one URL, computed together. */
  checkTarget(url: string): TargetCheck {
    const problem = this.authorize(url);
    const parsed = parseTargetUrl(url);
    const grants = problem || 'error' in parsed ? [] : this.record.grants.websocket.filter((t) => websocketTargetAllows(t, parsed));
    return { url, problem, grants, frameSecrets: new Set(grants.flatMap((t) => t.frame_secrets ?? [])) };
  }

  handshakeHeaders(grants: readonly WebSocketTarget[]): { headers: Record<string, string> } | { error: string } {
    const headers: Record<string, string> = {};
    for (const target of grants) {
      for (const header of target.headers ?? []) {
        const value = this.#secrets.get(header.secret);
        if (value === undefined) return { error: `secret \`${header.secret}\` granted for this connection is not set` };
        headers[header.name] ??= `${header.prefix ?? ''}${value}`;
      }
    }
    return { headers };
  }

  substituteSecrets(allowed: ReadonlySet<string>, text: string): { text: string } | { error: string } {
    if (!text.includes('{{secret:')) return { text };
    let problem: string | null = null;
    const out = text.replace(/\{\{secret:([A-Za-z0-9_.-]{1,128})\}\}/g, (_match, name: string) => {
      if (!allowed.has(name)) {
        problem ??= `secret \`${name}\` is not granted for frames on this connection`;
        return '';
      }
      const value = this.#secrets.get(name);
      if (value === undefined) {
        problem ??= `secret \`${name}\` is not set`;
        return '';
      }
      return value;
    });
    return problem ? { error: problem } : { text: out };
  }

  /** Opens every WebSocket source of the plugin's enabled ingresses; after stop(), opens them again. */
  start(): void {
    if (this.#connections.length > 0) {
      for (const connection of this.#connections) connection.restart();
      return;
    }
    const { sources, problems } = parseSources(this.record);
    for (const problem of problems) this.sink.diagnose('ServiceWebSocketError', problem);
    if (sources.length > 0 && authorizeHostApi(this.record, 'websocket')) {
      this.sink.diagnose('ServiceWebSocketError', `host-owned websocket not granted: ${authorizeHostApi(this.record, 'websocket')}`);
    }
    for (const spec of sources) {
      const connection = new Connection(this, spec);
      this.#connections.push(connection);
      connection.connect();
    }
  }

  stop(): void {
    for (const connection of this.#connections) connection.stop();
  }

  status(): ConnectionStatus[] {
    return this.#connections.map((c) => c.snapshot());
  }

  #find(url: string | undefined): Connection {
    if (url === undefined) {
      if (this.#connections.length === 1) return this.#connections[0]!;
      throw new Error('name the connection: this plugin has several host-owned WebSockets');
    }
    const found = this.#connections.find((c) => c.matches(url));
    if (!found) throw new Error(`no host-owned WebSocket connection is active for ${label(url)}`);
    return found;
  }

  send(url: string, text: string, origin?: IngressEvent): Promise<string> {
    try {
      return this.#find(url).send(text, origin);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async reconnect(connection: string | undefined, url: string | undefined): Promise<string> {
    const target = this.#find(connection);
    if (url) {
      const problem = this.authorize(url);
      if (problem) throw new Error(problem);
    }
    return target.reconnectNow(url);
  }

  async close(connection: string | undefined, code: number | undefined, reason: string | undefined): Promise<string> {
    return this.#find(connection).close(code, reason);
  }
}

import WebSocket from 'ws';
import { authorizeHostApi, authorizeWebSocketTarget, safeUrlLabel } from '../authority/authorize.js';
import { parseTargetUrl, websocketTargetAllows } from '../authority/targets.js';
import { boundText, redactText } from '../diagnostics.js';
import type { JsonValue } from '../manifest/types.js';
import type { Secrets } from '../secrets/secrets.js';
import { backoffMs } from '../service/policy.js';
import { rfc3339 } from '../service/ids.js';
import { newIngressEvent } from '../service/ingress-event.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { closeDisposition, type ConnectionPolicy } from './policy.js';
import { parseSources, type SourceSpec } from './sources.js';

/** Frames read but not yet queued; the socket is paused long before this (a safety bound). */
const MAX_INBOX = 1024;

export type ConnectionState = 'Connecting' | 'Connected' | 'Reconnecting' | 'Closed' | 'Failed';

/** Where the driver sends events: the plugin's service (waits while its queue is full). */
export interface EventSink {
  deliver(ingress: string, kind: string, source: string, payload: JsonValue): Promise<{ ok: boolean; message?: string }>;
  diagnose(kind: string, message: string): void;
}

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
  frames_in: number;
  frames_out: number;
  send_failures: number;
  paused_ms: number;
  binary_dropped: number;
  drops: number;
  last_close_code: number | null;
  last_error: string | null;
}

interface Inbound {
  readonly kind: string;
  readonly payload: JsonValue;
}

/** One supervised connection: connect, read (at the queue's pace), ping, reconnect, send under a budget. */
class Connection {
  readonly spec: SourceSpec;
  readonly status: ConnectionStatus;
  readonly #driver: WebSocketDriver;
  #url: string;
  #socket: WebSocket | null = null;
  #attempt = 0;
  #generation = 0;
  #timers = new Set<NodeJS.Timeout>();
  #pongDue: NodeJS.Timeout | null = null;
  #inbox: Inbound[] = [];
  #pumping = false;
  #pausedSince: number | null = null;
  #sent: number[] = [];
  #stopped = false;

  constructor(driver: WebSocketDriver, spec: SourceSpec) {
    this.#driver = driver;
    this.spec = spec;
    this.#url = spec.url;
    this.status = {
      id: label(spec.url),
      ingress: spec.ingress,
      url: label(spec.url),
      state: 'Connecting',
      connected_since: null,
      last_frame_at: null,
      last_pong_at: null,
      reconnects: 0,
      frames_in: 0,
      frames_out: 0,
      send_failures: 0,
      paused_ms: 0,
      binary_dropped: 0,
      drops: 0,
      last_close_code: null,
      last_error: null,
    };
  }

  get url(): string {
    return this.#url;
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
    this.status.state = 'Failed';
    this.status.last_error = this.#driver.clean(message);
    this.#driver.sink.diagnose('ServiceWebSocketError', `host-owned WebSocket ${this.status.url} failed: ${this.status.last_error}`);
  }

  /** Authorises and dials the current URL. */
  connect(): void {
    if (this.#stopped) return;
    const problem = this.#driver.authorize(this.#url);
    if (problem) return this.#fail(problem);
    const headers = this.#driver.handshakeHeaders(this.#url);
    if ('error' in headers) return this.#fail(headers.error);
    const generation = ++this.#generation;
    this.status.state = this.#attempt === 0 && this.status.reconnects === 0 ? 'Connecting' : 'Reconnecting';
    const policy = this.#driver.policy;
    const socket = new WebSocket(this.#url, {
      headers: { 'user-agent': 'yoi-plugin-host/1', ...headers.headers },
      handshakeTimeout: policy.connect_timeout_ms,
      maxPayload: policy.max_message_bytes,
      followRedirects: false,
      perMessageDeflate: false,
    });
    this.#socket = socket;
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
      if (generation !== this.#generation) return;
      this.#onMessage(data as Buffer, isBinary);
    });
    socket.on('pong', () => {
      this.status.last_pong_at = rfc3339();
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
    if (this.#pausedSince !== null) this.#socket?.pause(); // still held back by a full queue
    const reconnect = this.status.reconnects > 0;
    this.status.state = 'Connected';
    this.status.connected_since = rfc3339();
    const attempt = this.#attempt;
    const generation = this.#generation;
    this.#timer(this.#driver.policy.stable_ms, () => {
      if (generation === this.#generation && this.status.state === 'Connected') this.#attempt = 0;
    });
    this.#startPing(generation);
    this.#driver.sink.diagnose('ServiceWebSocketConnected', `host-owned WebSocket connected: ${this.status.url}`);
    this.#enqueue({ kind: 'websocket_open', payload: { url: this.spec.url, current_url: label(this.#url), reconnect, attempt } });
  }

  #startPing(generation: number): void {
    const { ping_interval_ms: interval, pong_timeout_ms: timeout } = this.#driver.policy;
    if (interval <= 0) return;
    const tick = () => {
      if (generation !== this.#generation || this.status.state !== 'Connected' || !this.#socket) return;
      if (this.#pausedSince !== null) {
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
          this.status.last_error = `no pong within ${timeout} ms (half-open connection)`;
          this.#socket?.terminate();
        });
      }
      this.#timer(interval, tick);
    };
    this.#timer(interval, tick);
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    this.status.frames_in++;
    this.status.last_frame_at = rfc3339();
    if (isBinary) {
      if (!this.#driver.acceptsBinary(this.spec.ingress)) {
        this.status.binary_dropped++;
        this.#driver.sink.diagnose('ServiceWebSocketBinaryDropped', `binary frame on ${this.status.url} dropped: ingress ${this.spec.ingress} does not declare websocket_binary`);
        return;
      }
      this.#enqueue({ kind: 'websocket_binary', payload: { url: this.spec.url, data_base64: data.toString('base64') } });
      return;
    }
    // A server echoing a frame must not hand a secret the host filled in back to the plugin.
    this.#enqueue({ kind: 'websocket_text', payload: { url: this.spec.url, text: this.#driver.redactSecrets(data.toString('utf8')) } });
  }

  /** Frames are read only as fast as the ingress queue takes them: while a delivery waits, the socket is paused. */
  #enqueue(item: Inbound): void {
    if (this.#inbox.length >= MAX_INBOX) {
      this.status.drops++;
      this.status.last_error = `more than ${MAX_INBOX} frames waiting for the ingress queue; frame dropped`;
      return;
    }
    this.#inbox.push(item);
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    while (this.#inbox.length > 0) {
      const item = this.#inbox.shift()!;
      let settled = false;
      const delivery = this.#driver.sink.deliver(this.spec.ingress, item.kind, this.spec.source, item.payload).finally(() => (settled = true));
      await Promise.resolve();
      if (!settled && this.#pausedSince === null) {
        this.#pausedSince = Date.now();
        this.#socket?.pause();
      }
      const outcome = await delivery;
      if (!outcome.ok) {
        this.status.drops++;
        this.status.last_error = this.#driver.clean(`ingress refused a ${item.kind} event: ${outcome.message ?? 'refused'}`);
      }
    }
    if (this.#pausedSince !== null) {
      this.status.paused_ms += Date.now() - this.#pausedSince;
      this.#pausedSince = null;
      this.#socket?.resume();
    }
    this.#pumping = false;
  }

  #onEnd(code: number, reason: string, error: string | null): void {
    this.#clearTimers();
    this.#socket = null;
    this.status.connected_since = null;
    this.status.last_close_code = code;
    if (error) {
      this.status.last_error = this.#driver.clean(error);
      this.#enqueue({ kind: 'websocket_error', payload: { url: this.spec.url, error: this.status.last_error } });
    }
    if (this.#stopped || this.status.state === 'Closed') return;
    const disposition = closeDisposition(this.#driver.policy, code);
    this.#enqueue({ kind: 'websocket_close', payload: { url: this.spec.url, code, reason: this.#driver.clean(reason), disposition } });
    if (disposition === 'fatal') return this.#fail(`closed with fatal code ${code}`);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    this.#attempt++;
    const policy = this.#driver.policy;
    if (this.#attempt > policy.max_reconnects) return this.#fail(`gave up after ${policy.max_reconnects} reconnect attempts`);
    const delay = backoffMs(policy.reconnect_base_ms, policy.reconnect_max_ms, this.#attempt);
    this.status.state = 'Reconnecting';
    this.status.reconnects++;
    this.#driver.reconnectLog.push({ at: Date.now(), delay });
    if (this.#driver.reconnectLog.length > 100) this.#driver.reconnectLog.shift();
    this.#timer(delay, () => this.connect());
  }

  #clearTimers(): void {
    for (const handle of this.#timers) clearTimeout(handle);
    this.#timers.clear();
    this.#pongDue = null;
  }

  /** Sends text under the send budget; `{{secret:NAME}}` only where the grant allows it. */
  send(text: string): Promise<string> {
    if (this.status.state !== 'Connected' || !this.#socket) return Promise.reject(new Error(`host-owned WebSocket ${this.status.url} is not connected`));
    const denied = this.#driver.authorize(this.#url);
    if (denied) return Promise.reject(new Error(denied));
    const now = Date.now();
    const policy = this.#driver.policy;
    this.#sent = this.#sent.filter((t) => now - t < policy.send_window_ms);
    const budget = Math.max(1, policy.send_limit - policy.send_headroom);
    if (this.#sent.length >= budget) {
      this.status.send_failures++;
      return Promise.reject(new Error(`send budget of ${budget} frames per ${policy.send_window_ms} ms on ${this.status.url} is spent`));
    }
    const frame = this.#driver.substituteSecrets(this.#url, text);
    if ('error' in frame) {
      this.status.send_failures++;
      return Promise.reject(new Error(frame.error));
    }
    this.#sent.push(now);
    const socket = this.#socket;
    return new Promise((resolve, reject) => {
      socket.send(frame.text, (error) => {
        if (error) {
          this.status.send_failures++;
          reject(new Error(`send on ${this.status.url} failed`));
        } else {
          this.status.frames_out++;
          resolve(`sent ${Buffer.byteLength(text)} bytes to ${this.status.url}`);
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
    this.status.reconnects++;
    this.status.state = 'Reconnecting';
    this.connect();
    return `reconnecting ${this.status.url}${url ? ` to ${label(url)}` : ''}`;
  }

  close(code = 1000, reason = ''): string {
    this.status.state = 'Closed';
    this.#clearTimers();
    this.#socket?.close(code, reason);
    const socket = this.#socket;
    if (socket) setTimeout(() => socket.terminate(), 2_000).unref();
    return `closed ${this.status.url} (${code})`;
  }

  stop(): void {
    this.#stopped = true;
    this.#generation++;
    this.#clearTimers();
    this.#socket?.terminate();
    this.#socket = null;
    if (this.status.state !== 'Failed') this.status.state = 'Closed';
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
  /** Reconnect schedule, for tests of the backoff (bounded). */
  readonly reconnectLog: { at: number; delay: number }[] = [];

  constructor(record: ResolvedPlugin, policy: ConnectionPolicy, secrets: Secrets, sink: EventSink) {
    this.record = record;
    this.policy = policy;
    this.#secrets = secrets;
    this.sink = sink;
  }

  redactSecrets(text: string): string {
    return this.#secrets.redact(text);
  }

  clean(text: string): string {
    return boundText(redactText(this.#secrets.redact(text), 300), 300);
  }

  authorize(url: string): string | null {
    if (this.#secrets.contains(url)) return 'WebSocket URLs must not contain secret values';
    return authorizeWebSocketTarget(this.record, url);
  }

  acceptsBinary(ingress: string): boolean {
    return this.record.manifest.ingresses.find((i) => i.name === ingress)?.event_kinds.includes('websocket_binary') ?? false;
  }

  #grantFor(url: string) {
    const parsed = parseTargetUrl(url);
    if ('error' in parsed) return undefined;
    return this.record.grants.websocket.filter((t) => websocketTargetAllows(t, parsed));
  }

  handshakeHeaders(url: string): { headers: Record<string, string> } | { error: string } {
    const headers: Record<string, string> = {};
    for (const target of this.#grantFor(url) ?? []) {
      for (const header of target.headers ?? []) {
        const value = this.#secrets.get(header.secret);
        if (value === undefined) return { error: `secret \`${header.secret}\` granted for this connection is not set` };
        headers[header.name] ??= `${header.prefix ?? ''}${value}`;
      }
    }
    return { headers };
  }

  substituteSecrets(url: string, text: string): { text: string } | { error: string } {
    const allowed = new Set((this.#grantFor(url) ?? []).flatMap((t) => t.frame_secrets ?? []));
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

  /** Opens every WebSocket source of the plugin's enabled ingresses. */
  start(): void {
    if (this.#connections.length > 0) return;
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
    return this.#connections.map((c) => ({ ...c.status }));
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

  send(url: string, text: string): Promise<string> {
    try {
      return this.#find(url).send(text);
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

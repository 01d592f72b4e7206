import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * A loopback server that speaks the Discord Gateway v10 JSON protocol as Discord documents it
 * (`{op, d, s, t}` frames: 10 Hello, 1 Heartbeat, 11 ACK, 2 Identify → READY, 0 Dispatch,
 * 6 Resume → replay + RESUMED, 7 Reconnect, 9 Invalid Session, Discord's close codes) and
 * the REST call a bot uses to post a message, with faults to inject on command. For tests and
 * demos only: it binds to loopback and keeps everything in memory.
 *
 * It is as strict as Discord where a bot can get it wrong, and records every such mistake in
 * `violations` (tests assert there are none):
 * - `v=10` is required on the connection URL (else close 4012);
 * - identify needs a token (4004), `properties` (4002) and valid `intents` (4013); privileged
 *   intents the application was not granted close with 4014; MESSAGE_CREATE reaches only a
 *   session with GUILD_MESSAGES, and its `content` is empty without MESSAGE_CONTENT;
 * - one identify per connection (4005), nothing but heartbeats before it (4003), known
 *   opcodes only (4001), at most one identify per `identifyWindowMs` (Discord's
 *   max_concurrency = 1 per 5 s: answered with Invalid Session) and `sessionStartLimit` in
 *   total (then the token is "reset": 4004);
 * - resume only on the `resume_gateway_url` from READY (a resume on the original URL is
 *   refused with Invalid Session);
 * - REST: a request sent while a 429's `retry_after` has not elapsed is a violation (and
 *   another 429). `enforce_nonce` makes a repeated post return the first message.
 */
export interface EmulatorOptions {
  readonly token: string;
  readonly heartbeatIntervalMs?: number;
  readonly host?: string;
  readonly port?: number;
  /** Discord's identify window (max_concurrency 1): default 5000 ms. */
  readonly identifyWindowMs?: number;
  /** Session starts allowed in total (Discord: 1000 a day). */
  readonly sessionStartLimit?: number;
  /** Privileged intents the application is approved for (default: MESSAGE_CONTENT only). */
  readonly approvedPrivilegedIntents?: number;
}

export const INTENTS = {
  GUILDS: 1 << 0,
  GUILD_MEMBERS: 1 << 1,
  GUILD_PRESENCES: 1 << 8,
  GUILD_MESSAGES: 1 << 9,
  MESSAGE_CONTENT: 1 << 15,
} as const;
const PRIVILEGED_INTENTS = INTENTS.GUILD_MEMBERS | INTENTS.GUILD_PRESENCES | INTENTS.MESSAGE_CONTENT;
/** Every intent bit Gateway v10 defines (0–25, without the unused 22–23). */
const KNOWN_INTENTS = ((1 << 26) - 1) & ~((1 << 22) | (1 << 23));

export interface Violation {
  /** A short name of the broken rule, e.g. `resume_on_gateway_url`. */
  readonly rule: string;
  readonly detail: string;
}

interface Session {
  readonly id: string;
  readonly intents: number;
  seq: number;
  readonly events: { s: number; t: string; d: unknown }[];
  resumable: boolean;
}

type Endpoint = 'gateway' | 'resume';

interface Conn {
  readonly socket: WebSocket;
  readonly endpoint: Endpoint;
  session: Session | null;
  identified: boolean;
  zombie: boolean;
  silent: boolean;
}

interface StoredMessage {
  readonly channel_id: string;
  readonly content: string;
  readonly id: string;
}

export interface PostedMessage {
  readonly channel_id: string;
  readonly content: string;
  readonly reference: string | null;
  readonly authorization: string;
}

type RestFault = { kind: 'status'; status: number } | { kind: 'rate_limit'; retryAfterMs: number } | { kind: 'drop_response' };

export class DiscordEmulator {
  readonly token: string;
  readonly heartbeatIntervalMs: number;
  readonly identifyWindowMs: number;
  readonly sessionStartLimit: number;
  readonly approvedPrivilegedIntents: number;
  url = '';
  resumeUrl = '';
  restBase = '';
  readonly stats = {
    connections: 0,
    identifies: 0,
    resumes: 0,
    resumesRejected: 0,
    invalidSessions: 0,
    heartbeats: 0,
    refused: 0,
    rejectedPosts: 0,
    restFaults: 0,
    nonceReplays: 0,
  };
  readonly posted: PostedMessage[] = [];
  /**
   * Called as each message is created by a post, before its response is sent: a test can act
   * at an exact point (a crash test kills the bot's host there, so that response is lost).
   */
  onPost: ((message: PostedMessage, count: number) => void) | null = null;
  readonly #violations: Violation[] = [];
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #sessions = new Map<string, Session>();
  #conn: Conn | null = null;
  #current: Session | null = null;
  #refuseUntil = 0;
  #nextMessage = 0;
  #lastIdentifyAt = Number.NEGATIVE_INFINITY;
  #sessionStarts = 0;
  #tokenReset = false;
  #rateLimitedUntil = 0;
  readonly #restFaults: RestFault[] = [];
  /** nonce → the message created for it (`enforce_nonce`). */
  readonly #nonces = new Map<string, { id: string; channel_id: string; content: string }>();
  /** Messages (by id) created but not yet answered by a POST that references them. */
  readonly #unanswered = new Map<string, StoredMessage>();

  private constructor(options: EmulatorOptions) {
    this.token = options.token;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
    this.identifyWindowMs = options.identifyWindowMs ?? 5_000;
    this.sessionStartLimit = options.sessionStartLimit ?? 1_000;
    this.approvedPrivilegedIntents = options.approvedPrivilegedIntents ?? INTENTS.MESSAGE_CONTENT;
    this.#server = createServer((req, res) => void this.#rest(req, res));
    this.#wss = new WebSocketServer({ noServer: true, autoPong: false, maxPayload: 64 * 1024 });
    this.#server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
  }

  static async start(options: EmulatorOptions): Promise<DiscordEmulator> {
    const emulator = new DiscordEmulator(options);
    await new Promise<void>((resolve) => emulator.#server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
    const { address, port } = emulator.#server.address() as AddressInfo;
    emulator.url = `ws://${address}:${port}/gateway?v=10&encoding=json`;
    // Like Discord's: no query; a client appends `?v=10&encoding=json` itself.
    emulator.resumeUrl = `ws://${address}:${port}/resume`;
    emulator.restBase = `http://${address}:${port}/api/v10`;
    return emulator;
  }

  async stop(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Every rule a client broke so far, in order. */
  get violations(): readonly Violation[] {
    return [...this.#violations];
  }

  get connected(): boolean {
    return this.#conn !== null;
  }

  /** Messages created whose reply has not been posted yet. */
  get unanswered(): number {
    return this.#unanswered.size;
  }

  #violation(rule: string, detail: string): void {
    if (this.#violations.length < 1000) this.#violations.push({ rule, detail });
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (Date.now() < this.#refuseUntil) {
      this.stats.refused++;
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://emulator');
    const endpoint: Endpoint | null = url.pathname === '/gateway' ? 'gateway' : url.pathname === '/resume' ? 'resume' : null;
    if (endpoint === null) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const version = url.searchParams.get('v');
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      if (version !== '10') {
        this.#violation('api_version', `connected to /${endpoint} with v=${version ?? '(missing)'}; Gateway v10 needs ?v=10`);
        ws.close(4012, 'Invalid API version.');
        return;
      }
      this.#accept(ws, endpoint);
    });
  }

  #accept(socket: WebSocket, endpoint: Endpoint): void {
    this.#conn?.socket.terminate();
    const conn: Conn = { socket, endpoint, session: null, identified: false, zombie: false, silent: false };
    this.#conn = conn;
    this.stats.connections++;
    socket.on('ping', (data) => {
      if (!conn.silent) socket.pong(data);
    });
    socket.on('message', (data, isBinary) => {
      if (conn.silent || isBinary) return;
      let frame: { op?: number; d?: unknown };
      try {
        frame = JSON.parse(data.toString()) as { op?: number; d?: unknown };
      } catch {
        this.#violation('decode_error', 'a frame that is not JSON');
        socket.close(4002, 'Decode error.');
        return;
      }
      this.#onFrame(conn, frame);
    });
    socket.on('close', () => {
      if (this.#conn === conn) this.#conn = null;
    });
    this.#send(conn, { op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs } });
  }

  #send(conn: Conn, frame: unknown): void {
    if (conn.socket.readyState === conn.socket.OPEN && !conn.silent) conn.socket.send(JSON.stringify(frame));
  }

  #invalidSession(conn: Conn): void {
    this.stats.invalidSessions++;
    this.#send(conn, { op: 9, d: false });
  }

  #onFrame(conn: Conn, frame: { op?: number; d?: unknown }): void {
    switch (frame.op) {
      case 1:
        this.stats.heartbeats++;
        if (!conn.zombie) this.#send(conn, { op: 11 });
        return;
      case 2:
        return this.#identify(conn, (frame.d ?? {}) as Record<string, unknown>);
      case 6:
        return this.#resume(conn, (frame.d ?? {}) as { token?: string; session_id?: string; seq?: number });
      case 3:
      case 4:
      case 8:
        if (!conn.identified) {
          this.#violation('not_authenticated', `op ${frame.op} before identify`);
          conn.socket.close(4003, 'Not authenticated.');
        }
        return;
      default:
        this.#violation('unknown_opcode', `op ${String(frame.op)}`);
        conn.socket.close(4001, 'Unknown opcode.');
        return;
    }
  }

  #identify(conn: Conn, d: Record<string, unknown>): void {
    if (conn.identified) {
      this.#violation('already_authenticated', 'a second identify on one connection');
      conn.socket.close(4005, 'Already authenticated.');
      return;
    }
    if (d['token'] !== this.token || this.#tokenReset) {
      this.#violation('authentication_failed', this.#tokenReset ? 'identify after the session start limit reset the token' : 'identify with a wrong token');
      conn.socket.close(4004, 'Authentication failed.');
      return;
    }
    const properties = d['properties'] as Record<string, unknown> | undefined;
    if (typeof properties !== 'object' || properties === null || !['os', 'browser', 'device'].every((k) => typeof properties[k] === 'string')) {
      this.#violation('decode_error', 'identify without properties { os, browser, device }');
      conn.socket.close(4002, 'Decode error.');
      return;
    }
    const intents = d['intents'];
    if (typeof intents !== 'number' || !Number.isInteger(intents) || intents < 0 || (intents & ~KNOWN_INTENTS) !== 0) {
      this.#violation('invalid_intents', `intents ${JSON.stringify(intents) ?? 'missing'}`);
      conn.socket.close(4013, 'Invalid intent(s).');
      return;
    }
    const unapproved = intents & PRIVILEGED_INTENTS & ~this.approvedPrivilegedIntents;
    if (unapproved !== 0) {
      this.#violation('disallowed_intents', `privileged intents ${unapproved} are not approved for this application`);
      conn.socket.close(4014, 'Disallowed intent(s).');
      return;
    }
    const now = Date.now();
    if (now - this.#lastIdentifyAt < this.identifyWindowMs) {
      this.#violation('identify_rate_limited', `identify ${now - this.#lastIdentifyAt} ms after the previous one; the window is ${this.identifyWindowMs} ms`);
      this.#invalidSession(conn);
      return;
    }
    if (this.#sessionStarts >= this.sessionStartLimit) {
      this.#violation('session_start_limit', `more than ${this.sessionStartLimit} session starts`);
      this.#tokenReset = true;
      conn.socket.close(4004, 'Authentication failed.');
      return;
    }
    this.#lastIdentifyAt = now;
    this.#sessionStarts++;
    this.stats.identifies++;
    conn.identified = true;
    const previous = this.#current;
    const session: Session = { id: randomBytes(8).toString('hex'), intents, seq: 0, events: [], resumable: true };
    this.#sessions.set(session.id, session);
    this.#current = session;
    conn.session = session;
    this.#dispatch(session, 'READY', { v: 10, session_id: session.id, resume_gateway_url: this.resumeUrl, user: { id: '1', username: 'yoi-bot', bot: true } });
    // What the old session never got answered is delivered again (at least once).
    if (previous) for (const message of this.#unanswered.values()) this.#dispatchMessage(session, message);
  }

  #resume(conn: Conn, d: { token?: string; session_id?: string; seq?: number }): void {
    if (conn.identified) {
      this.#violation('already_authenticated', 'resume on a connection that is already identified');
      conn.socket.close(4005, 'Already authenticated.');
      return;
    }
    if (d.token !== this.token || this.#tokenReset) {
      this.#violation('authentication_failed', 'resume with a wrong token');
      conn.socket.close(4004, 'Authentication failed.');
      return;
    }
    if (conn.endpoint !== 'resume') {
      this.#violation('resume_on_gateway_url', 'resume sent on the original gateway URL instead of READY.resume_gateway_url');
      this.stats.resumesRejected++;
      this.#invalidSession(conn);
      return;
    }
    const session = d.session_id ? this.#sessions.get(d.session_id) : undefined;
    if (!session || !session.resumable || this.#current !== session) {
      this.stats.resumesRejected++;
      this.#invalidSession(conn);
      return;
    }
    this.stats.resumes++;
    conn.identified = true;
    conn.session = session;
    for (const event of session.events) if (event.s > (d.seq ?? 0)) this.#send(conn, { op: 0, s: event.s, t: event.t, d: event.d });
    this.#dispatch(session, 'RESUMED', {});
  }

  #dispatch(session: Session, t: string, d: unknown): void {
    const s = ++session.seq;
    session.events.push({ s, t, d });
    if (session.events.length > 5000) session.events.shift();
    if (this.#conn && this.#conn.session === session) this.#send(this.#conn, { op: 0, s, t, d });
  }

  /** MESSAGE_CREATE as Discord sends it: only with GUILD_MESSAGES, `content` only with MESSAGE_CONTENT. */
  #dispatchMessage(session: Session, message: StoredMessage): void {
    if ((session.intents & INTENTS.GUILD_MESSAGES) === 0) return;
    const content = (session.intents & INTENTS.MESSAGE_CONTENT) !== 0 ? message.content : '';
    this.#dispatch(session, 'MESSAGE_CREATE', { id: message.id, channel_id: message.channel_id, content, author: { id: '42', username: 'someone' } });
  }

  /** A user posts a message: a MESSAGE_CREATE dispatch in the current session (buffered while disconnected). */
  createMessage(content?: string, channelId = 'general'): string {
    const number = ++this.#nextMessage;
    const message = { id: String(1_000_000 + number), channel_id: channelId, content: content ?? `message ${number}` };
    this.#unanswered.set(message.id, message);
    if (this.#current) this.#dispatchMessage(this.#current, message);
    return message.id;
  }

  // Faults ---------------------------------------------------------------------------

  /** Drops the TCP connection without a close frame. */
  drop(): void {
    this.#conn?.socket.terminate();
  }

  /** Stops acknowledging heartbeats on the current connection (a zombie connection). */
  zombie(): void {
    if (this.#conn) this.#conn.zombie = true;
  }

  /** Goes silent on the current connection: no frames, no pongs (half-open). */
  silence(): void {
    if (this.#conn) this.#conn.silent = true;
  }

  sendBinary(): void {
    if (this.#conn) this.#conn.socket.send(Buffer.from([0x78, 0x9c, 0x01]));
  }

  /** Sends a text frame bigger than clients should accept. */
  sendOversized(bytes = 70 * 1024): void {
    if (this.#conn) this.#conn.socket.send(JSON.stringify({ op: 0, s: null, t: 'NOISE', d: 'x'.repeat(bytes) }));
  }

  /** Closes with a Gateway close code; codes 4007 and 4009 also end the session (no resume). */
  closeWith(code: number, reason = 'closed by emulator'): void {
    if ((code === 4007 || code === 4009) && this.#current) this.#current.resumable = false;
    this.#conn?.socket.close(code, reason);
  }

  /** op 7: ask the client to reconnect (and resume). */
  requestReconnect(): void {
    if (this.#conn) this.#send(this.#conn, { op: 7, d: null });
  }

  /** op 9: the session is invalid; `resumable` says whether the client may resume it. */
  invalidateSession(resumable: boolean): void {
    if (!resumable && this.#current) this.#current.resumable = false;
    this.stats.invalidSessions++;
    if (this.#conn) this.#send(this.#conn, { op: 9, d: resumable });
  }

  /** Refuses WebSocket upgrades (HTTP 503) for a while. */
  refuseFor(ms: number): void {
    this.#refuseUntil = Date.now() + ms;
  }

  /** The next `count` message posts fail with `status` (a transient 5xx by default) and post nothing. */
  failNextPosts(count = 1, status = 503): void {
    for (let i = 0; i < count; i++) this.#restFaults.push({ kind: 'status', status });
  }

  /** The next message post is answered 429 with `retry_after`; posts before it elapses are violations. */
  rateLimitNextPost(retryAfterMs = 300): void {
    this.#restFaults.push({ kind: 'rate_limit', retryAfterMs });
  }

  /** The next message post is created, but its response is lost (the connection is destroyed). */
  dropNextResponse(): void {
    this.#restFaults.push({ kind: 'drop_response' });
  }

  // REST --------------------------------------------------------------------------------

  #json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  }

  #rateLimited(res: ServerResponse, retryAfterMs: number): void {
    const seconds = retryAfterMs / 1000;
    this.#json(res, 429, { message: 'You are being rate limited.', retry_after: seconds, global: false }, {
      'retry-after': String(Math.ceil(seconds)),
      'x-ratelimit-reset-after': seconds.toFixed(3),
      'x-ratelimit-scope': 'user',
    });
  }

  async #rest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/api\/v10\/channels\/([^/]+)\/messages$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) {
      this.#json(res, 404, { message: '404: Not Found', code: 0 });
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    if (req.headers.authorization !== `Bot ${this.token}`) {
      this.stats.rejectedPosts++;
      this.#violation('rest_unauthorized', 'a REST request without the bot token');
      this.#json(res, 401, { message: '401: Unauthorized', code: 0 });
      return;
    }
    const now = Date.now();
    if (now < this.#rateLimitedUntil) {
      this.#violation('rest_rate_limit_ignored', `a request ${this.#rateLimitedUntil - now} ms before retry_after elapsed`);
      this.#rateLimited(res, this.#rateLimitedUntil - now);
      return;
    }
    let body: { content?: string; message_reference?: { message_id?: string }; nonce?: string | number; enforce_nonce?: boolean };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      this.#json(res, 400, { message: 'Cannot send an empty message', code: 50006 });
      return;
    }
    const fault = this.#restFaults.shift();
    if (fault?.kind === 'status') {
      this.stats.restFaults++;
      this.#json(res, fault.status, { message: `${fault.status}: emulated failure`, code: 0 });
      return;
    }
    if (fault?.kind === 'rate_limit') {
      this.stats.restFaults++;
      this.#rateLimitedUntil = now + fault.retryAfterMs;
      this.#rateLimited(res, fault.retryAfterMs);
      return;
    }
    const channel = decodeURIComponent(match[1]!);
    const nonce = body.nonce === undefined ? undefined : String(body.nonce);
    const replayed = body.enforce_nonce && nonce !== undefined ? this.#nonces.get(nonce) : undefined;
    if (replayed) {
      this.stats.nonceReplays++;
      this.#json(res, 200, { ...replayed, nonce });
      return;
    }
    const reference = body.message_reference?.message_id ?? null;
    this.posted.push({ channel_id: channel, content: String(body.content ?? ''), reference, authorization: 'Bot <token>' });
    if (reference) this.#unanswered.delete(reference);
    this.onPost?.(this.posted.at(-1)!, this.posted.length);
    const created = { id: String(this.posted.length), channel_id: channel, content: String(body.content ?? '') };
    if (nonce !== undefined) this.#nonces.set(nonce, created);
    if (fault?.kind === 'drop_response') {
      this.stats.restFaults++;
      req.socket.destroy();
      return;
    }
    this.#json(res, 200, { ...created, ...(nonce !== undefined ? { nonce } : {}) });
  }
}

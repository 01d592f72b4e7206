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
 */
export interface EmulatorOptions {
  readonly token: string;
  readonly heartbeatIntervalMs?: number;
  readonly host?: string;
  readonly port?: number;
}

interface Session {
  readonly id: string;
  seq: number;
  readonly events: { s: number; t: string; d: unknown }[];
  resumable: boolean;
}

interface Conn {
  readonly socket: WebSocket;
  session: Session | null;
  zombie: boolean;
  silent: boolean;
}

export interface PostedMessage {
  readonly channel_id: string;
  readonly content: string;
  readonly reference: string | null;
  readonly authorization: string;
}

export class DiscordEmulator {
  readonly token: string;
  readonly heartbeatIntervalMs: number;
  url = '';
  resumeUrl = '';
  restBase = '';
  readonly stats = { connections: 0, identifies: 0, resumes: 0, resumesRejected: 0, invalidSessions: 0, heartbeats: 0, refused: 0, rejectedPosts: 0 };
  readonly posted: PostedMessage[] = [];
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #sessions = new Map<string, Session>();
  #conn: Conn | null = null;
  #current: Session | null = null;
  #refuseUntil = 0;
  #nextMessage = 0;
  /** Messages (by id) created but not yet answered by a POST that references them. */
  readonly #unanswered = new Map<string, { channel_id: string; content: string; id: string }>();

  private constructor(options: EmulatorOptions) {
    this.token = options.token;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
    this.#server = createServer((req, res) => void this.#rest(req, res));
    this.#wss = new WebSocketServer({ noServer: true, autoPong: false, maxPayload: 64 * 1024 });
    this.#server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
  }

  static async start(options: EmulatorOptions): Promise<DiscordEmulator> {
    const emulator = new DiscordEmulator(options);
    await new Promise<void>((resolve) => emulator.#server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
    const { address, port } = emulator.#server.address() as AddressInfo;
    emulator.url = `ws://${address}:${port}/gateway?v=10&encoding=json`;
    emulator.resumeUrl = `ws://${address}:${port}/resume`;
    emulator.restBase = `http://${address}:${port}/api/v10`;
    return emulator;
  }

  async stop(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  get connected(): boolean {
    return this.#conn !== null;
  }

  /** Messages created whose reply has not been posted yet. */
  get unanswered(): number {
    return this.#unanswered.size;
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (Date.now() < this.#refuseUntil) {
      this.stats.refused++;
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
  }

  #accept(socket: WebSocket): void {
    this.#conn?.socket.terminate();
    const conn: Conn = { socket, session: null, zombie: false, silent: false };
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
        socket.close(4002, 'Decode error');
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

  #onFrame(conn: Conn, frame: { op?: number; d?: unknown }): void {
    switch (frame.op) {
      case 1:
        this.stats.heartbeats++;
        if (!conn.zombie) this.#send(conn, { op: 11 });
        return;
      case 2: {
        const d = (frame.d ?? {}) as { token?: string };
        if (d.token !== this.token) {
          conn.socket.close(4004, 'Authentication failed.');
          return;
        }
        this.stats.identifies++;
        const previous = this.#current;
        const session: Session = { id: randomBytes(8).toString('hex'), seq: 0, events: [], resumable: true };
        this.#sessions.set(session.id, session);
        this.#current = session;
        conn.session = session;
        this.#dispatch(session, 'READY', { v: 10, session_id: session.id, resume_gateway_url: this.resumeUrl, user: { id: '1', username: 'yoi-bot', bot: true } });
        // What the old session never got answered is delivered again (at least once).
        if (previous) for (const message of this.#unanswered.values()) this.#dispatch(session, 'MESSAGE_CREATE', this.#messagePayload(message));
        return;
      }
      case 6: {
        const d = (frame.d ?? {}) as { token?: string; session_id?: string; seq?: number };
        if (d.token !== this.token) {
          conn.socket.close(4004, 'Authentication failed.');
          return;
        }
        const session = d.session_id ? this.#sessions.get(d.session_id) : undefined;
        if (!session || !session.resumable || this.#current !== session) {
          this.stats.invalidSessions++;
          this.stats.resumesRejected++;
          this.#send(conn, { op: 9, d: false });
          return;
        }
        this.stats.resumes++;
        conn.session = session;
        for (const event of session.events) if (event.s > (d.seq ?? 0)) this.#send(conn, { op: 0, s: event.s, t: event.t, d: event.d });
        this.#dispatch(session, 'RESUMED', {});
        return;
      }
      default:
        return;
    }
  }

  #dispatch(session: Session, t: string, d: unknown): void {
    const s = ++session.seq;
    session.events.push({ s, t, d });
    if (session.events.length > 5000) session.events.shift();
    if (this.#conn && this.#conn.session === session) this.#send(this.#conn, { op: 0, s, t, d });
  }

  #messagePayload(message: { channel_id: string; content: string; id: string }): unknown {
    return { id: message.id, channel_id: message.channel_id, content: message.content, author: { id: '42', username: 'someone' } };
  }

  /** A user posts a message: a MESSAGE_CREATE dispatch in the current session (buffered while disconnected). */
  createMessage(content?: string, channelId = 'general'): string {
    const number = ++this.#nextMessage;
    const message = { id: String(1_000_000 + number), channel_id: channelId, content: content ?? `message ${number}` };
    this.#unanswered.set(message.id, message);
    if (this.#current) this.#dispatch(this.#current, 'MESSAGE_CREATE', this.#messagePayload(message));
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

  // REST --------------------------------------------------------------------------------

  async #rest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/api\/v10\/channels\/([^/]+)\/messages$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"404: Not Found","code":0}');
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    if (req.headers.authorization !== `Bot ${this.token}`) {
      this.stats.rejectedPosts++;
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"401: Unauthorized","code":0}');
      return;
    }
    let body: { content?: string; message_reference?: { message_id?: string } };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      res.writeHead(400).end('{"message":"Cannot send an empty message","code":50006}');
      return;
    }
    const reference = body.message_reference?.message_id ?? null;
    this.posted.push({ channel_id: decodeURIComponent(match[1]!), content: String(body.content ?? ''), reference, authorization: 'Bot <token>' });
    if (reference) this.#unanswered.delete(reference);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: String(this.posted.length), channel_id: match[1], content: body.content }));
  }
}

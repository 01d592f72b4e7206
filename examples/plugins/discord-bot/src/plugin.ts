import { definePlugin, type Commands, type HostResponsePayload, type IngressEvent, type JsonValue, type StateRestoredPayload, type TimerPayload } from '@yoi-plugins/pdk';

/**
 * A Discord Gateway v10 bot. It never sees its token: frames carry `{{secret:discord_token}}`,
 * which the host fills in on connections whose grant allows it, and the REST grant makes the
 * host attach `Authorization: Bot <token>`. It holds no socket and runs no loop: heartbeats
 * are host timers, the connection is host-owned, replies are host requests.
 *
 * What Discord requires and this bot does: identify with the intents it needs (MESSAGE_CONTENT
 * to read what it echoes), at most one identify per identify window, resume only on the
 * `resume_gateway_url` from READY, and a message counts as handled only once its reply got a
 * 2xx — transient REST failures are retried with backoff, a 429 waits its `retry_after`, and
 * `enforce_nonce` keeps a retried reply from being posted twice. Config keys: README.md.
 *
 * What must survive a host crash is kept in the host's durable plugin state, written with the
 * event that changed it (so it is committed with that event's acknowledgement) and handed
 * back in `state_restored` after every start: the session (id, resume URL and the sequence
 * number to resume from) and the window of handled message ids. The sequence number kept is
 * the one up to which every message is answered, not the last one seen: on resume the Gateway
 * replays the messages still unanswered, so a reply that was only queued in memory when the
 * host died is not lost, and the handled window keeps the answered ones from being answered
 * again.
 */
interface Config {
  gateway_url: string;
  rest_base: string;
  intents: number;
  identify_interval_ms: number;
  reply_max_attempts: number;
  reply_backoff_ms: number;
  reply_backoff_max_ms: number;
}

interface PendingReply {
  readonly channelId: string;
  /** The Gateway sequence number of its MESSAGE_CREATE: the session resumes before it while it is unanswered. */
  readonly seq: number | null;
  readonly text: string;
  attempts: number;
  /** Not before this (ms since the epoch): backoff or a 429's retry_after. */
  dueAt: number;
  /** The command id of the request in flight, if any. */
  inFlight: string | null;
}

interface State {
  config: Config;
  connection: string | null;
  open: boolean;
  /** Where the connection is now (`current_url` of websocket_open, without query). */
  currentUrl: string | null;
  sessionId: string | null;
  seq: number | null;
  resumeUrl: string | null;
  /** A reconnect to the resume URL was asked for and its connection has not opened yet. */
  switchingToResumeUrl: boolean;
  heartbeatMs: number;
  acked: boolean;
  /** An identify is owed (a fresh session is needed) and waits for its window or a connection. */
  identifyPending: boolean;
  /** An identify was sent on this connection and not answered yet (READY, op 9 or a close). */
  identifyInFlight: boolean;
  /** This connection carries a session (READY or RESUMED came on it): Discord takes no second IDENTIFY on it (4005). */
  authenticated: boolean;
  lastIdentifyAt: number;
  handled: Set<string>;
  /** Messages ever marked handled: places the next id in the durable window's ring of chunks. */
  handledTotal: number;
  /** The durable window: the last HANDLED_CHUNKS × HANDLED_CHUNK_IDS handled ids, by chunk slot. */
  handledChunks: string[][];
  /** Chunk slots changed by the event being handled (written with it). */
  dirtyChunks: Set<number>;
  /** The session record as last written to durable state (JSON), to write only what changed. */
  writtenSession: string;
  /**
   * The resume point handed back after a crash, until the session is resumed: messages after it
   * may be unanswered (their replies were queued in the dead host's memory), so the resume starts
   * there even if redelivered frames of the old connection move `seq` further.
   */
  replayFloor: number | null;
  /** The host handed durable state back at this start (so it supports durable state: the bot writes it only then). */
  restored: boolean;
  pending: Map<string, PendingReply>;
  /** Reply requests in flight: command id → the message and when it was sent. */
  requests: Map<string, { messageId: string; sentAt: number }>;
  /** No REST request before this (a 429's retry_after). */
  restBlockedUntil: number;
  counters: {
    identifies: number;
    resumes: number;
    duplicates: number;
    replies_ok: number;
    replies_failed: number;
    replies_retried: number;
    rate_limited: number;
    zombies: number;
    reconnects_requested: number;
  };
}

interface Frame {
  op: number;
  d: any;
  s?: number | null;
  t?: string | null;
}

const TOKEN = '{{secret:discord_token}}';
const INTENT_GUILDS = 1 << 0;
const INTENT_GUILD_MESSAGES = 1 << 9;
const INTENT_MESSAGE_CONTENT = 1 << 15;
/** Discord's default for this bot: the messages of guild channels, with their content. */
const DEFAULT_INTENTS = INTENT_GUILDS | INTENT_GUILD_MESSAGES | INTENT_MESSAGE_CONTENT;
const MAX_HANDLED_IDS = 5000;
/**
 * Durable state (see the header comment), well inside the host's bounds (64 keys, 48 KiB,
 * 16 KiB per command): the key `session` and a ring of HANDLED_CHUNKS keys `handled.<slot>`
 * of HANDLED_CHUNK_IDS ids each (1024 ids of at most DURABLE_ID_MAX bytes: ≤ 37 KiB).
 */
const SESSION_KEY = 'session';
const HANDLED_KEY = 'handled.';
const HANDLED_CHUNKS = 8;
const HANDLED_CHUNK_IDS = 128;
/** Longer ids (Discord's snowflakes have at most 20 digits) are deduplicated in memory only. */
const DURABLE_ID_MAX = 32;
const MAX_PENDING = 1000;
/**
 * One reply request at a time, as Discord libraries queue a route: the answer to one (a 429
 * above all) is known before the next is sent, so no request ever goes out inside a rate limit.
 */
const REPLIES_IN_FLIGHT = 1;
/** A reply request unanswered this long is taken as lost (the host's own request timeout is far shorter). */
const REQUEST_LOST_MS = 30_000;

const DEFAULTS = { intents: DEFAULT_INTENTS, identify_interval_ms: 5_000, reply_max_attempts: 5, reply_backoff_ms: 500, reply_backoff_max_ms: 30_000 };
const LIMITS: Record<keyof typeof DEFAULTS, [number, number]> = {
  intents: [0, (1 << 26) - 1],
  identify_interval_ms: [0, 600_000],
  reply_max_attempts: [1, 20],
  reply_backoff_ms: [100, 60_000],
  reply_backoff_max_ms: [100, 600_000],
};

function readConfig(raw: unknown): Config {
  const c = (raw ?? {}) as Record<string, unknown>;
  const known = ['gateway_url', 'rest_base', ...Object.keys(DEFAULTS)];
  const unknown = Object.keys(c).find((k) => !known.includes(k));
  if (unknown !== undefined) throw new Error(`unknown config key \`${unknown.slice(0, 40)}\` (known: ${known.join(', ')})`);
  if (typeof c['gateway_url'] !== 'string' || typeof c['rest_base'] !== 'string') throw new Error('config needs gateway_url and rest_base');
  const out: Record<string, unknown> = { gateway_url: c['gateway_url'], rest_base: c['rest_base'] };
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = c[key] ?? DEFAULTS[key];
    const [min, max] = LIMITS[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new Error(`config ${key} must be an integer between ${min} and ${max}`);
    out[key] = value;
  }
  return out as unknown as Config;
}

/** Discord's resume_gateway_url has no query; the protocol version and encoding go on it. */
function withGatewayQuery(url: string): string {
  return url.includes('?') ? url : `${url}?v=10&encoding=json`;
}

function endpoint(url: string | null): string {
  return (url ?? '').split(/[?#]/)[0]!.replace(/\/+$/, '').toLowerCase();
}

function send(state: State, commands: Commands, frame: unknown): void {
  if (state.connection && state.open) commands.websocketSend(state.connection, JSON.stringify(frame));
}

/** Identify now if the connection is open and the identify window allows it; otherwise when it does. */
function identify(state: State, commands: Commands): void {
  state.identifyPending = true;
  if (!state.open || state.identifyInFlight) return; // the next Hello identifies
  if (state.authenticated) {
    // The session of this connection was invalidated (op 9): identify on a fresh connection, from its Hello.
    reconnect(state, commands);
    return;
  }
  const wait = state.lastIdentifyAt + state.config.identify_interval_ms - Date.now();
  if (wait > 0) {
    commands.setTimer('identify', { delayMs: Math.max(100, wait) });
    return;
  }
  state.identifyPending = false;
  state.identifyInFlight = true;
  state.lastIdentifyAt = Date.now();
  state.counters.identifies++;
  send(state, commands, { op: 2, d: { token: TOKEN, intents: state.config.intents, properties: { os: 'wasm', browser: 'yoi', device: 'yoi' } } });
}

/** The identify was answered (or its connection ended): the window counts from now, when Discord surely had it. */
function identifyAnswered(state: State): void {
  if (!state.identifyInFlight) return;
  state.identifyInFlight = false;
  state.lastIdentifyAt = Math.max(state.lastIdentifyAt, Date.now());
}

/** Replace the connection; a session is resumed only on its resume_gateway_url. */
function reconnect(state: State, commands: Commands): void {
  state.counters.reconnects_requested++;
  commands.cancelTimer('heartbeat');
  if (state.sessionId && state.resumeUrl) {
    state.switchingToResumeUrl = endpoint(state.currentUrl) !== endpoint(state.resumeUrl);
    commands.websocketReconnect({ url: state.resumeUrl });
  } else commands.websocketReconnect({});
}

function onGatewayFrame(frame: Frame, commands: Commands, state: State): void {
  switch (frame.op) {
    case 10: {
      // Hello: the first heartbeat is jittered (Discord asks for interval * random).
      state.heartbeatMs = frame.d.heartbeat_interval;
      state.acked = true;
      commands.setTimer('heartbeat', { delayMs: Math.floor(state.heartbeatMs * Math.random()), intervalMs: Math.max(100, state.heartbeatMs) });
      if (state.sessionId && state.seq !== null) {
        if (state.resumeUrl && endpoint(state.currentUrl) !== endpoint(state.resumeUrl)) {
          // Connected to the original URL (the host reconnected there): resume only on the resume URL.
          if (!state.switchingToResumeUrl) reconnect(state, commands);
          return;
        }
        state.counters.resumes++;
        send(state, commands, { op: 6, d: { token: TOKEN, session_id: state.sessionId, seq: state.replayFloor ?? state.seq } });
      } else identify(state, commands);
      return;
    }
    case 11:
      state.acked = true;
      return;
    case 1:
      send(state, commands, { op: 1, d: state.seq });
      return;
    case 7:
      reconnect(state, commands);
      return;
    case 9:
      identifyAnswered(state);
      if (frame.d === true) reconnect(state, commands);
      else {
        // Discord: wait 1–5 s, then identify afresh (never sooner than the identify window).
        state.sessionId = null;
        state.seq = null;
        state.replayFloor = null;
        state.identifyPending = true;
        commands.setTimer('identify', { delayMs: 1000 + Math.floor(Math.random() * 1000) });
      }
      return;
    case 0:
      if (typeof frame.s === 'number') state.seq = frame.s;
      if (frame.t === 'READY') {
        identifyAnswered(state);
        state.sessionId = frame.d.session_id;
        state.resumeUrl = typeof frame.d.resume_gateway_url === 'string' ? withGatewayQuery(frame.d.resume_gateway_url) : null;
        state.replayFloor = null;
        state.authenticated = true;
      } else if (frame.t === 'RESUMED') {
        state.replayFloor = null; // the replay came before it
        state.authenticated = true;
      } else if (frame.t === 'MESSAGE_CREATE') onMessage(frame.d, typeof frame.s === 'number' ? frame.s : null, commands, state);
      return;
  }
}

function markHandled(state: State, id: string): void {
  state.handled.add(id);
  if (state.handled.size > MAX_HANDLED_IDS) state.handled.delete(state.handled.values().next().value!);
  if (id.length > DURABLE_ID_MAX) return;
  const chunk = Math.floor(state.handledTotal / HANDLED_CHUNK_IDS);
  const slot = chunk % HANDLED_CHUNKS;
  // A new chunk replaces the oldest one in its slot.
  if (state.handledTotal % HANDLED_CHUNK_IDS === 0) state.handledChunks[slot] = [];
  state.handledChunks[slot]!.push(id);
  state.handledTotal++;
  state.dirtyChunks.add(slot);
}

/** Where a resumed session must start so that every unanswered message is replayed. */
function resumeSeq(state: State): number | null {
  let seq = state.replayFloor !== null && (state.seq === null || state.replayFloor < state.seq) ? state.replayFloor : state.seq;
  for (const reply of state.pending.values()) {
    if (reply.seq !== null && (seq === null || reply.seq - 1 < seq)) seq = reply.seq - 1;
  }
  return seq;
}

/** Adds the state_set commands for what the event changed; they are committed with its acknowledgement. */
function persist(state: State, commands: Commands): void {
  // A host that hands state back at start takes state_set; an older one would reject the whole batch.
  if (!state.restored) return;
  const session = JSON.stringify({ session_id: state.sessionId, resume_url: state.resumeUrl, seq: state.sessionId ? resumeSeq(state) : null, handled_total: state.handledTotal });
  if (session !== state.writtenSession) {
    commands.stateSet(SESSION_KEY, JSON.parse(session) as JsonValue as Exclude<JsonValue, null>);
    state.writtenSession = session;
  }
  for (const slot of state.dirtyChunks) commands.stateSet(`${HANDLED_KEY}${slot}`, [...state.handledChunks[slot]!]);
  state.dirtyChunks.clear();
}

/** Takes back what the host kept: the session to resume and the handled window. */
function restore(payload: StateRestoredPayload, commands: Commands, state: State): void {
  state.restored = true;
  const kept = payload.state ?? {};
  const session = kept[SESSION_KEY] as { session_id?: unknown; resume_url?: unknown; seq?: unknown; handled_total?: unknown } | undefined;
  if (session && typeof session === 'object') {
    if (typeof session.session_id === 'string' && typeof session.seq === 'number') {
      state.sessionId = session.session_id;
      state.seq = session.seq;
      state.replayFloor = session.seq;
      state.resumeUrl = typeof session.resume_url === 'string' ? session.resume_url : null;
    }
    if (typeof session.handled_total === 'number' && Number.isInteger(session.handled_total) && session.handled_total >= 0) state.handledTotal = session.handled_total;
    state.writtenSession = JSON.stringify({ session_id: session.session_id ?? null, resume_url: session.resume_url ?? null, seq: session.seq ?? null, handled_total: session.handled_total ?? 0 });
  }
  // Oldest chunk first, so the in-memory window evicts in the order the ids were handled.
  const newest = Math.floor((state.handledTotal - 1) / HANDLED_CHUNK_IDS);
  for (let chunk = newest - HANDLED_CHUNKS + 1; chunk <= newest; chunk++) {
    if (chunk < 0) continue;
    const slot = chunk % HANDLED_CHUNKS;
    const ids = kept[`${HANDLED_KEY}${slot}`];
    if (!Array.isArray(ids)) continue;
    state.handledChunks[slot] = ids.filter((id): id is string => typeof id === 'string');
    for (const id of state.handledChunks[slot]!) {
      state.handled.add(id);
      if (state.handled.size > MAX_HANDLED_IDS) state.handled.delete(state.handled.values().next().value!);
    }
  }
  // The heartbeat of the connection the crashed host had: the next Hello sets it again.
  commands.cancelTimer('heartbeat');
}

function onMessage(message: { id: string; channel_id: string; content: string; author?: { bot?: boolean } }, seq: number | null, commands: Commands, state: State): void {
  if (message.author?.bot) return;
  if (state.handled.has(message.id) || state.pending.has(message.id)) {
    state.counters.duplicates++;
    return;
  }
  if (state.pending.size >= MAX_PENDING) {
    state.counters.replies_failed++;
    return;
  }
  state.pending.set(message.id, { channelId: message.channel_id, seq, text: `echo: ${message.content}`, attempts: 0, dueAt: 0, inFlight: null });
  sendDueReplies(state, commands);
}

/** Starts the next reply that is due (not waiting for backoff or a rate limit); a timer wakes the bot for a later one. */
function sendDueReplies(state: State, commands: Commands): void {
  const now = Date.now();
  for (const [commandId, request] of state.requests) {
    // A request whose response never came (its command batch was refused, say) is retried.
    if (now - request.sentAt < REQUEST_LOST_MS) continue;
    state.requests.delete(commandId);
    const reply = state.pending.get(request.messageId);
    if (reply) reply.inFlight = null;
  }
  if (state.requests.size >= REPLIES_IN_FLIGHT) return; // its response starts the next one
  let nextDue = Number.POSITIVE_INFINITY;
  for (const [id, reply] of state.pending) {
    if (reply.inFlight) continue;
    const due = Math.max(reply.dueAt, state.restBlockedUntil);
    if (due > now) {
      nextDue = Math.min(nextDue, due);
      continue;
    }
    commands.hostRequest({
      method: 'POST',
      url: `${state.config.rest_base}/channels/${encodeURIComponent(reply.channelId)}/messages`,
      headers: [{ name: 'Content-Type', value: 'application/json' }],
      // The nonce makes a retried post return the first message instead of posting twice.
      body: JSON.stringify({ content: reply.text, message_reference: { message_id: id }, nonce: id, enforce_nonce: true }),
    });
    reply.inFlight = commands.lastCommandId!;
    reply.attempts++;
    state.requests.set(reply.inFlight, { messageId: id, sentAt: now });
    commands.setTimer('reply-watchdog', { delayMs: REQUEST_LOST_MS });
    return;
  }
  if (nextDue !== Number.POSITIVE_INFINITY) commands.setTimer('replies', { delayMs: Math.max(100, Math.ceil(nextDue - now)) });
}

/** Milliseconds a 429 asks to wait: the body's `retry_after` (seconds), else the Retry-After header. */
function retryAfterMs(response: NonNullable<HostResponsePayload['response']>): number {
  try {
    const body = JSON.parse(response.body) as { retry_after?: unknown };
    if (typeof body.retry_after === 'number' && body.retry_after >= 0) return Math.ceil(body.retry_after * 1000);
  } catch {
    // not JSON: fall back to the header
  }
  const header = response.headers.find((h) => h.name.toLowerCase() === 'retry-after');
  const seconds = header ? Number(header.value) : NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : 1000;
}

/** A server error or a request that got no response may succeed later; a 4xx or a denial will not. */
function isTransient(reply: HostResponsePayload): boolean {
  if (reply.response) return reply.response.status >= 500;
  return !['denied', 'invalid_request', 'too_large'].includes(reply.error?.code ?? '');
}

function onReply(reply: HostResponsePayload, commands: Commands, state: State): void {
  const id = state.requests.get(reply.command_id)?.messageId;
  if (id === undefined) return;
  state.requests.delete(reply.command_id);
  const pending = state.pending.get(id);
  if (!pending) return;
  pending.inFlight = null;
  const status = reply.response?.status ?? 0;
  const now = Date.now();
  if (status >= 200 && status < 300) {
    state.pending.delete(id);
    markHandled(state, id);
    state.counters.replies_ok++;
  } else if (status === 429) {
    state.counters.rate_limited++;
    state.restBlockedUntil = Math.max(state.restBlockedUntil, now + retryAfterMs(reply.response!));
    pending.attempts--; // waiting out a rate limit is not a failed attempt
  } else if (isTransient(reply) && pending.attempts < state.config.reply_max_attempts) {
    // Transient (no response, or a server error): back off exponentially with jitter.
    state.counters.replies_retried++;
    const base = Math.min(state.config.reply_backoff_max_ms, state.config.reply_backoff_ms * 2 ** (pending.attempts - 1));
    pending.dueAt = now + Math.floor(base * (0.8 + Math.random() * 0.4));
  } else {
    state.pending.delete(id);
    state.counters.replies_failed++;
  }
  sendDueReplies(state, commands);
}

function onEvent(event: IngressEvent<any>, commands: Commands, state: State): void {
  switch (event.kind) {
    case 'state_restored':
      restore(event.payload as StateRestoredPayload, commands, state);
      return;
    case 'websocket_open':
      state.connection = event.payload.url;
      state.open = true;
      state.identifyInFlight = false;
      state.authenticated = false;
      state.currentUrl = event.payload.current_url ?? event.payload.url;
      if (state.resumeUrl && endpoint(state.currentUrl) === endpoint(state.resumeUrl)) state.switchingToResumeUrl = false;
      return;
    case 'websocket_text':
      onGatewayFrame(JSON.parse(event.payload.text) as Frame, commands, state);
      return;
    case 'websocket_close': {
      state.open = false;
      identifyAnswered(state);
      commands.cancelTimer('heartbeat');
      // 4007 (invalid seq) and 4009 (session timed out) end the session: identify afresh.
      if (event.payload.code === 4007 || event.payload.code === 4009) {
        state.sessionId = null;
        state.seq = null;
        state.replayFloor = null;
      }
      // The host would reconnect to the original URL; a session resumes on its resume URL.
      if (event.payload.disposition !== 'fatal' && state.sessionId && state.resumeUrl && !state.switchingToResumeUrl && endpoint(state.currentUrl) !== endpoint(state.resumeUrl)) {
        reconnect(state, commands);
      }
      return;
    }
    case 'timer': {
      const timer = event.payload as TimerPayload;
      if (timer.timer_id === 'identify') {
        if (state.identifyPending && !state.sessionId) identify(state, commands);
      } else if (timer.timer_id === 'replies' || timer.timer_id === 'reply-watchdog') sendDueReplies(state, commands);
      else if (timer.timer_id === 'heartbeat') {
        // A durable timer can outlive its connection across a host restart: no connection, no beat.
        if (!state.open) return;
        if (!state.acked) {
          // No ACK since the last beat: a zombie connection. Replace it and resume.
          state.counters.zombies++;
          state.acked = true;
          reconnect(state, commands);
          return;
        }
        state.acked = false;
        send(state, commands, { op: 1, d: state.seq });
      }
      return;
    }
    case 'host_response':
      onReply(event.payload as HostResponsePayload, commands, state);
      return;
  }
}

export const { start, handleTool, handleIngress, status, stop } = definePlugin<State>({
  start: (config) => ({
    config: readConfig(config),
    connection: null,
    open: false,
    currentUrl: null,
    sessionId: null,
    seq: null,
    resumeUrl: null,
    switchingToResumeUrl: false,
    heartbeatMs: 41_250,
    acked: true,
    identifyPending: false,
    identifyInFlight: false,
    authenticated: false,
    lastIdentifyAt: Number.NEGATIVE_INFINITY,
    handled: new Set(),
    handledTotal: 0,
    handledChunks: Array.from({ length: HANDLED_CHUNKS }, () => []),
    dirtyChunks: new Set(),
    writtenSession: JSON.stringify({ session_id: null, resume_url: null, seq: null, handled_total: 0 }),
    restored: false,
    replayFloor: null,
    pending: new Map(),
    requests: new Map(),
    restBlockedUntil: 0,
    counters: { identifies: 0, resumes: 0, duplicates: 0, replies_ok: 0, replies_failed: 0, replies_retried: 0, rate_limited: 0, zombies: 0, reconnects_requested: 0 },
  }),

  ingress: {
    discord: (event: IngressEvent<any>, commands, state) => {
      onEvent(event, commands, state);
      persist(state, commands);
    },
  },

  tools: {
    bot_status: (_input, state) => ({
      summary: `session ${state.sessionId ?? '(none)'} seq ${state.seq ?? '-'}: ${state.handled.size} messages handled, ${state.pending.size} replies pending`,
      content: JSON.stringify({
        session_id: state.sessionId,
        seq: state.seq,
        handled: state.handled.size,
        restored: state.restored,
        handled_ids: [...state.handled].slice(-1000),
        pending: state.pending.size,
        intents: state.config.intents,
        ...state.counters,
      }),
    }),
  },

  status: (state) => ({ state: 'running', session: state.sessionId !== null, seq: state.seq, handled: state.handled.size, pending: state.pending.size, ...state.counters }),
  stop: (state) => ({ state: 'stopped', handled: state.handled.size, pending: state.pending.size }),
});

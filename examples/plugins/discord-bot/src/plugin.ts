import { definePlugin, type Commands, type HostResponsePayload, type IngressEvent, type TimerPayload } from '@yoi-plugins/pdk';

/**
 * A Discord Gateway v10 bot. It never sees its token: frames carry `{{secret:discord_token}}`,
 * which the host fills in on connections whose grant allows it, and the REST grant makes the
 * host attach `Authorization: Bot <token>`. It holds no socket and runs no loop: heartbeats
 * are host timers, the connection is host-owned, replies are host requests.
 */
interface Config {
  gateway_url: string;
  rest_base: string;
  intents?: number;
}

interface State {
  config: Config;
  connection: string | null;
  sessionId: string | null;
  seq: number | null;
  resumeUrl: string | null;
  heartbeatMs: number;
  acked: boolean;
  /** An Invalid Session (d=false) asked for a fresh identify that has not been sent yet. */
  identifyPending: boolean;
  handled: Set<string>;
  counters: { identifies: number; resumes: number; duplicates: number; replies_ok: number; replies_failed: number; zombies: number; reconnects_requested: number };
}

interface Frame {
  op: number;
  d: any;
  s?: number | null;
  t?: string | null;
}

const TOKEN = '{{secret:discord_token}}';
const GATEWAY_INTENTS = 513; // GUILDS | GUILD_MESSAGES

function send(state: State, commands: Commands, frame: unknown): void {
  if (state.connection) commands.websocketSend(state.connection, JSON.stringify(frame));
}

function identify(state: State, commands: Commands): void {
  state.identifyPending = false;
  state.counters.identifies++;
  send(state, commands, { op: 2, d: { token: TOKEN, intents: state.config.intents ?? GATEWAY_INTENTS, properties: { os: 'wasm', browser: 'yoi', device: 'yoi' } } });
}

function onGatewayFrame(frame: Frame, commands: Commands, state: State): void {
  switch (frame.op) {
    case 10: {
      // Hello: the first heartbeat is jittered (Discord asks for interval * random).
      state.heartbeatMs = frame.d.heartbeat_interval;
      state.acked = true;
      commands.setTimer('heartbeat', { delayMs: Math.floor(state.heartbeatMs * Math.random()), intervalMs: Math.max(100, state.heartbeatMs) });
      if (state.sessionId && state.seq !== null) {
        state.counters.resumes++;
        send(state, commands, { op: 6, d: { token: TOKEN, session_id: state.sessionId, seq: state.seq } });
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
      state.counters.reconnects_requested++;
      commands.websocketReconnect(state.resumeUrl ? { url: state.resumeUrl } : {});
      return;
    case 9:
      if (frame.d === true) commands.websocketReconnect(state.resumeUrl ? { url: state.resumeUrl } : {});
      else {
        state.sessionId = null;
        state.seq = null;
        state.identifyPending = true;
        commands.setTimer('reidentify', { delayMs: 1000 + Math.floor(Math.random() * 1000) });
      }
      return;
    case 0:
      if (typeof frame.s === 'number') state.seq = frame.s;
      if (frame.t === 'READY') {
        state.sessionId = frame.d.session_id;
        state.resumeUrl = frame.d.resume_gateway_url ?? null;
      } else if (frame.t === 'MESSAGE_CREATE') onMessage(frame.d, commands, state);
      return;
  }
}

function onMessage(message: { id: string; channel_id: string; content: string; author?: { bot?: boolean } }, commands: Commands, state: State): void {
  if (message.author?.bot) return;
  if (state.handled.has(message.id)) {
    state.counters.duplicates++;
    return;
  }
  state.handled.add(message.id);
  commands.hostRequest({
    method: 'POST',
    url: `${state.config.rest_base}/channels/${encodeURIComponent(message.channel_id)}/messages`,
    headers: [{ name: 'Content-Type', value: 'application/json' }],
    body: JSON.stringify({ content: `echo: ${message.content}`, message_reference: { message_id: message.id } }),
  });
}

export const { start, handleTool, handleIngress, status, stop } = definePlugin<State>({
  start: (config) => {
    const c = (config ?? {}) as Partial<Config>;
    if (typeof c.gateway_url !== 'string' || typeof c.rest_base !== 'string') throw new Error('config needs gateway_url and rest_base');
    return {
      config: c as Config,
      connection: null,
      sessionId: null,
      seq: null,
      resumeUrl: null,
      heartbeatMs: 41_250,
      acked: true,
      identifyPending: false,
      handled: new Set(),
      counters: { identifies: 0, resumes: 0, duplicates: 0, replies_ok: 0, replies_failed: 0, zombies: 0, reconnects_requested: 0 },
    };
  },

  ingress: {
    discord: (event: IngressEvent<any>, commands, state) => {
      switch (event.kind) {
        case 'websocket_open':
          state.connection = event.payload.url;
          return;
        case 'websocket_text':
          onGatewayFrame(JSON.parse(event.payload.text) as Frame, commands, state);
          return;
        case 'websocket_close':
          // 4007 (invalid seq) and 4009 (session timed out) end the session: identify afresh.
          if (event.payload.code === 4007 || event.payload.code === 4009) {
            state.sessionId = null;
            state.seq = null;
          }
          commands.cancelTimer('heartbeat');
          return;
        case 'timer': {
          const timer = event.payload as TimerPayload;
          // Identify only if no Hello on a new connection has done it meanwhile.
          if (timer.timer_id === 'reidentify') {
            if (state.identifyPending) identify(state, commands);
          }
          else if (timer.timer_id === 'heartbeat') {
            if (!state.acked) {
              // No ACK since the last beat: a zombie connection. Replace it and resume.
              state.counters.zombies++;
              state.acked = true;
              commands.cancelTimer('heartbeat');
              commands.websocketReconnect(state.resumeUrl ? { url: state.resumeUrl } : {});
              return;
            }
            state.acked = false;
            send(state, commands, { op: 1, d: state.seq });
          }
          return;
        }
        case 'host_response': {
          const reply = event.payload as HostResponsePayload;
          if (reply.response && reply.response.status >= 200 && reply.response.status < 300) state.counters.replies_ok++;
          else state.counters.replies_failed++;
          return;
        }
      }
    },
  },

  tools: {
    bot_status: (_input, state) => ({
      summary: `session ${state.sessionId ?? '(none)'} seq ${state.seq ?? '-'}: ${state.handled.size} messages handled`,
      content: JSON.stringify({ session_id: state.sessionId, seq: state.seq, handled: state.handled.size, handled_ids: [...state.handled], ...state.counters }),
    }),
  },

  status: (state) => ({ state: 'running', session: state.sessionId !== null, seq: state.seq, handled: state.handled.size, ...state.counters }),
  stop: (state) => ({ state: 'stopped', handled: state.handled.size }),
});

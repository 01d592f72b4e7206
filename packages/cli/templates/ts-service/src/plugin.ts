import { definePlugin, type TimerPayload, type WebSocketTextPayload } from '@yoi-plugins/pdk';

interface State {
  heartbeatMs: number;
  url: string | null;
  received: number;
  sent: number;
  beats: number;
  connected: boolean;
}

const DEFAULT_HEARTBEAT_MS = 30_000;

// No loops and no waiting: the host delivers events (frames, connection changes, timer ticks)
// and executes the commands each handler returns.
export const { start, handleTool, handleIngress, status, stop } = definePlugin<State>({
  // `config` is the enablement's `config` table, e.g. config = { heartbeat_ms = 10000 }.
  start: (config) => {
    const ms = (config as { heartbeat_ms?: unknown } | null)?.heartbeat_ms;
    return { heartbeatMs: typeof ms === 'number' && ms >= 100 ? ms : DEFAULT_HEARTBEAT_MS, url: null, received: 0, sent: 0, beats: 0, connected: false };
  },

  ingress: {
    gateway: (event, commands, state) => {
      switch (event.kind) {
        case 'websocket_open':
          state.connected = true;
          state.url = (event.payload as { url: string }).url;
          commands.setTimer('heartbeat', { delayMs: state.heartbeatMs, intervalMs: state.heartbeatMs });
          break;
        case 'websocket_text': {
          const { url, text } = event.payload as WebSocketTextPayload;
          state.received++;
          state.sent++;
          commands.websocketSend(url, `echo: ${text}`);
          break;
        }
        case 'timer': {
          const tick = event.payload as TimerPayload;
          state.beats = tick.count;
          if (state.connected && state.url) commands.websocketSend(state.url, JSON.stringify({ type: 'heartbeat', count: tick.count }));
          break;
        }
        case 'websocket_close':
        case 'websocket_error':
          state.connected = false;
          break;
      }
    },
  },

  tools: {
    stats: (_input, state) => ({ summary: `${state.received} received, ${state.sent} sent, ${state.beats} heartbeats`, content: JSON.stringify(state) }),
  },

  status: (state) => ({ state: 'running', connected: state.connected, received: state.received, sent: state.sent, beats: state.beats }),
  stop: (state) => ({ state: 'stopped', received: state.received, sent: state.sent }),
});

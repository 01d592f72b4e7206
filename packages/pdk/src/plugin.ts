import { Commands } from './commands.js';
import { cleanText } from './bounds.js';
import { runTool, type ToolHandler } from './tools.js';
import type { IngressEvent, JsonValue, PluginStatus, ServiceOutput } from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- authors type their ingress event's payload; `unknown` here would reject those handlers (parameter contravariance)
export type IngressHandler<S> = (event: IngressEvent<any>, commands: Commands, state: S) => void | ServiceOutput;

/**
 * An instance-world plugin. `start` only initialises (it returns the state the handlers
 * share) — it must not loop or wait; the host delivers events and timers instead. It may
 * add output commands (a heartbeat timer, the first request): the host runs them like a
 * handler's, after each start and restart.
 */
export interface PluginDefinition<S> {
  start(config: JsonValue, commands: Commands): S;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- authors type their handler's input; `unknown` here would reject those handlers (parameter contravariance)
  tools?: Record<string, (input: any, state: S) => ReturnType<ToolHandler>>;
  ingress?: Record<string, IngressHandler<S>>;
  status?(state: S): PluginStatus;
  stop?(state: S): PluginStatus;
}

export interface InstanceExports {
  start(configJson: string): string;
  handleTool(name: string, inputJson: string): string;
  handleIngress(name: string, eventJson: string): string;
  status(): string;
  stop(): string;
}

/**
 * What `start`'s commands belong to: the host takes the first command's `source_event_id` as
 * the id of this start, so it only has to be new each time (commands ids derive from it).
 */
function startEvent(): IngressEvent<null> {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  const id = `start:${Date.now().toString(36)}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  return { kind: 'start', source: 'host:start', ingress_name: '', payload: null, created_at: new Date().toISOString(), attempt: 1, correlation_id: id };
}

function errorReply(code: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return JSON.stringify({ error: { code, message: cleanText(message) } });
}

/**
 * The `instance` world's exports.
 *
 * @example
 * export const { start, handleTool, handleIngress, status, stop } = definePlugin({
 *   start: () => ({ seen: 0 }),
 *   ingress: {
 *     gateway: (event, commands, state) => {
 *       state.seen++;
 *       if (event.kind === 'websocket_text') commands.websocketSend(event.payload.url, 'pong');
 *     },
 *   },
 *   status: (state) => ({ state: 'running', seen: state.seen }),
 * });
 */
export function definePlugin<S>(definition: PluginDefinition<S>): InstanceExports {
  let state: S | undefined;
  let started = false;
  const tools: Record<string, ToolHandler> = {};
  for (const [name, handler] of Object.entries(definition.tools ?? {})) tools[name] = (input) => handler(input, state as S);
  return {
    start(configJson) {
      try {
        const commands = new Commands(startEvent());
        state = definition.start(JSON.parse(configJson) as JsonValue, commands);
        started = true;
        const status = definition.status ? definition.status(state) : { state: 'running' };
        return JSON.stringify(commands.length > 0 ? { ...status, output_commands: commands.output().output_commands } : status);
      } catch (error) {
        return errorReply('start_failed', error);
      }
    },
    handleTool(name, inputJson) {
      return runTool(tools, name, inputJson);
    },
    handleIngress(name, eventJson) {
      try {
        if (!started) throw new Error('plugin was not started');
        const handler = definition.ingress?.[name];
        if (!handler) throw new Error(`no handler for ingress ${name}`);
        const event = JSON.parse(eventJson) as IngressEvent<unknown>;
        const commands = new Commands(event);
        const result = handler(event, commands, state as S);
        if (result === undefined) return JSON.stringify(commands.output());
        return JSON.stringify({ ...result, output_commands: [...(commands.output().output_commands ?? []), ...(result.output_commands ?? [])] });
      } catch (error) {
        return errorReply('handler_failed', error);
      }
    },
    status() {
      try {
        return JSON.stringify(definition.status ? definition.status(state as S) : { state: started ? 'running' : 'ready' });
      } catch (error) {
        return errorReply('status_failed', error);
      }
    },
    stop() {
      try {
        return JSON.stringify(definition.stop ? definition.stop(state as S) : { state: 'stopped' });
      } catch (error) {
        return errorReply('stop_failed', error);
      }
    },
  };
}

import { commandResult, type CommandResult } from '../envelope.js';
import { idsOf, messageOf, type CommandOf, type ExecutionContext, type Executor, type WebSocketCommands } from './types.js';

type WebSocketKind = 'websocket_send' | 'websocket_reconnect' | 'websocket_close';

/**
 * Runs one WebSocket command on a host-owned connection. Without a connection only this
 * command is rejected; the rest of its batch runs (Yoi's behaviour).
 */
async function onConnection(command: CommandOf<WebSocketKind>, context: ExecutionContext, run: (ws: WebSocketCommands) => Promise<string>): Promise<CommandResult> {
  const ids = idsOf(command);
  if (!context.websocket) return commandResult(ids, 'Rejected', `${command.kind} needs a host-owned WebSocket connection, and this host runs none for the plugin`);
  try {
    return commandResult(ids, 'Recorded', await run(context.websocket));
  } catch (error) {
    return commandResult(ids, 'Rejected', messageOf(error));
  }
}

export const websocketSend: Executor<'websocket_send'> = {
  kind: 'websocket_send',
  stage: 'outbox',
  // The frame is queued on its socket when the command is executed; the result waits for the write.
  pipelined: true,
  execute: (command, context) => onConnection(command, context, (ws) => ws.send(command.url, command.text, context.event)),
};

export const websocketReconnect: Executor<'websocket_reconnect'> = {
  kind: 'websocket_reconnect',
  stage: 'outbox',
  execute: (command, context) => onConnection(command, context, (ws) => ws.reconnect(command.connection, command.url)),
};

export const websocketClose: Executor<'websocket_close'> = {
  kind: 'websocket_close',
  stage: 'outbox',
  execute: (command, context) => onConnection(command, context, (ws) => ws.close(command.connection, command.code, command.reason)),
};

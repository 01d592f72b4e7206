import type { CommandKind } from '../envelope.js';
import { diagnosticStatusUpdate } from './diagnostic-status-update.js';
import { domainEventAppend } from './domain-event-append.js';
import { hostRequestDispatch } from './host-request-dispatch.js';
import { stateDelete } from './state-delete.js';
import { stateSet } from './state-set.js';
import { timerCancel } from './timer-cancel.js';
import { timerSet } from './timer-set.js';
import type { Executor } from './types.js';
import { websocketClose, websocketReconnect, websocketSend } from './websocket.js';

/** One executor per output-command kind. */
export const EXECUTORS: { readonly [K in CommandKind]: Executor<K> } = {
  diagnostic_status_update: diagnosticStatusUpdate,
  host_request_dispatch: hostRequestDispatch,
  timer_set: timerSet,
  timer_cancel: timerCancel,
  domain_event_append: domainEventAppend,
  websocket_send: websocketSend,
  websocket_reconnect: websocketReconnect,
  websocket_close: websocketClose,
  state_set: stateSet,
  state_delete: stateDelete,
};

export type { DomainEvent, ExecutionContext, Executor, WebSocketCommands } from './types.js';

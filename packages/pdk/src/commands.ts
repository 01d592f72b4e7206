import type { IngressEvent, JsonValue, OutputCommand, ServiceOutput } from './types.js';

export interface RequestDescriptor {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: { name: string; value: string }[];
  body?: string;
}

export interface TimerOptions {
  /** First tick after this many ms (0 = as soon as possible for an interval timer). */
  delayMs: number;
  /** Repeat every this many ms (≥ 100); one-shot when absent. */
  intervalMs?: number;
  /** Ingress that receives the `timer` events (default: the current event's; in `start`, the first declared ingress). */
  ingress?: string;
  data?: JsonValue;
}

/**
 * Builds the output commands of one handler call. Ids, `source_event_id` and
 * `requested_at` are filled from the event being handled, as the host requires.
 */
export class Commands {
  readonly #event: IngressEvent<unknown>;
  readonly #list: OutputCommand[] = [];

  constructor(event: IngressEvent<unknown>) {
    this.#event = event;
  }

  #add(kind: string, payload: JsonValue): this {
    const index = this.#list.length;
    this.#list.push({
      correlation_id: this.#event.correlation_id,
      source_event_id: this.#event.correlation_id,
      command_id: `${this.#event.correlation_id}:${index}`,
      kind,
      payload,
      requested_at: this.#event.created_at,
    });
    return this;
  }

  /** Sends a text frame on a host-owned WebSocket connection (≤ 32 KiB). */
  websocketSend(url: string, text: string): this {
    return this.#add('websocket_send', { url, text });
  }

  /** Reconnects a host-owned connection, optionally to a new (granted) URL such as a resume URL. */
  websocketReconnect(options: { connection?: string; url?: string } = {}): this {
    return this.#add('websocket_reconnect', { ...options });
  }

  /** Closes a host-owned connection (code 1000 or 3000–4999). */
  websocketClose(options: { connection?: string; code?: number; reason?: string } = {}): this {
    return this.#add('websocket_close', { ...options });
  }

  /** Asks the host to make an HTTP request; the response arrives as a `host_response` event. */
  hostRequest(request: RequestDescriptor, replyIngress?: string): this {
    return this.#add('host_request_dispatch', { ...request, ...(replyIngress ? { reply_ingress: replyIngress } : {}) } as JsonValue);
  }

  /** Sets (or replaces) a host timer that delivers `timer` events: heartbeats without a loop. */
  setTimer(timerId: string, options: TimerOptions): this {
    return this.#add('timer_set', {
      timer_id: timerId,
      delay_ms: options.delayMs,
      ...(options.intervalMs !== undefined ? { interval_ms: options.intervalMs } : {}),
      ...(options.ingress !== undefined ? { ingress: options.ingress } : {}),
      ...(options.data !== undefined ? { data: options.data } : {}),
    });
  }

  cancelTimer(timerId: string): this {
    return this.#add('timer_cancel', { timer_id: timerId });
  }

  /** Records a status message and/or replaces the plugin's reported status. */
  statusUpdate(message?: string, status?: JsonValue): this {
    return this.#add('diagnostic_status_update', { ...(message !== undefined ? { message } : {}), ...(status !== undefined ? { status } : {}) });
  }

  /** Appends a domain event for the embedding host (needs a `domain_event` permission for `type`). */
  appendDomainEvent(type: string, data: JsonValue): this {
    return this.#add('domain_event_append', { type, data });
  }

  /**
   * Sets one key of the plugin's durable state (the host keeps it across restarts and crashes
   * and hands it back in a `state_restored` event). It is committed together with the
   * acknowledgement of the event being handled: if the host crashes before that, the event is
   * delivered again and the state is as it was before it. `value` must not be null (use
   * `stateDelete`). Bounds: see STATE_LIMITS.
   */
  stateSet(key: string, value: Exclude<JsonValue, null>): this {
    if (value === null || value === undefined) throw new Error('stateSet needs a value; use stateDelete to remove a key');
    return this.#add('state_set', { key, value });
  }

  /** Removes one key of the plugin's durable state (removing a key that is not set is not an error). */
  stateDelete(key: string): this {
    return this.#add('state_delete', { key });
  }

  get length(): number {
    return this.#list.length;
  }

  /**
   * The `command_id` of the command added last (null before the first): what a
   * `host_response` event names, so a handler can tell which request a response answers.
   */
  get lastCommandId(): string | null {
    return this.#list.at(-1)?.command_id ?? null;
  }

  /** The ServiceOutput to return from the handler. */
  output(extra: Omit<ServiceOutput, 'output_commands'> = {}): ServiceOutput {
    return { accepted: true, ...extra, output_commands: [...this.#list] };
  }
}

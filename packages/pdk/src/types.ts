/** JSON values as they cross the component boundary. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What a tool returns: a short summary (≤ 1024 bytes) and optional content (a string; cut to 60 416 bytes, see boundToolOutput). */
export interface ToolOutput {
  summary: string;
  content?: string | null;
}

/** An event the host delivers to an ingress handler. */
export interface IngressEvent<P = JsonValue> {
  readonly kind: string;
  readonly source: string;
  readonly ingress_name: string;
  readonly payload: P;
  readonly created_at: string;
  readonly attempt: number;
  readonly correlation_id: string;
}

/** Payloads of the event kinds the host produces. */
export interface WebSocketTextPayload {
  readonly url: string;
  readonly text: string;
}
export interface TimerPayload {
  readonly timer_id: string;
  readonly fired_at: string;
  readonly count: number;
  readonly data: JsonValue;
}
export interface HostResponsePayload {
  readonly command_id: string;
  readonly correlation_id: string;
  readonly source_event_id: string;
  readonly response?: { status: number; headers: { name: string; value: string }[]; body: string; truncated: boolean };
  readonly error?: { code: string; message: string };
}

/**
 * The `state_restored` event: the plugin's durable state (every key set by `stateSet` and
 * not deleted), delivered before any other event after each start of the service, to the
 * first ingress that declares `state_restored` in its `event_kinds` (or declares no kinds).
 * `state` is `{}` when nothing was kept.
 */
export interface StateRestoredPayload {
  readonly state: { readonly [key: string]: JsonValue };
}

/** The envelope of one output command (the PDK's builders fill it in). */
export interface OutputCommand {
  correlation_id: string;
  source_event_id: string;
  command_id: string;
  kind: string;
  payload: JsonValue;
  requested_at: string;
}

/** What an ingress handler returns to the host. */
export interface ServiceOutput {
  accepted?: boolean;
  data?: JsonValue;
  output_commands?: OutputCommand[];
  /** Ask the host to redeliver this event later (counts as a failed attempt). */
  retry?: true | { after_ms: number };
}

/** Plugin status returned by start/status/stop. */
export interface PluginStatus {
  state?: 'running' | 'ready' | 'degraded' | 'failed' | 'stopped' | string;
  [key: string]: JsonValue | undefined;
}

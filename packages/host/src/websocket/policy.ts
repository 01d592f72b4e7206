/** How the host supervises a plugin's connections (`[plugins.enabled.websocket]`, all optional). */
export interface ConnectionPolicy {
  readonly connect_timeout_ms: number;
  /** Protocol ping interval; 0 disables pings. */
  readonly ping_interval_ms: number;
  /** A pong must arrive within this; otherwise the connection is half-open and is replaced. */
  readonly pong_timeout_ms: number;
  readonly reconnect_base_ms: number;
  readonly reconnect_max_ms: number;
  /** Consecutive failed connects/drops before the connection is Failed. */
  readonly max_reconnects: number;
  /** A connection up this long resets the backoff. */
  readonly stable_ms: number;
  /** Frames a plugin may send per window, minus the headroom kept in reserve. */
  readonly send_limit: number;
  readonly send_window_ms: number;
  readonly send_headroom: number;
  /** Close codes that end the connection for good (Failed, no reconnect). */
  readonly fatal_codes: readonly number[];
  /** Close codes after which the plugin may resume its session (reported in events). */
  readonly resume_codes: readonly number[];
  /** Largest inbound message; bigger ones close the connection (1009) and count as an error. */
  readonly max_message_bytes: number;
  /** Events waiting in the driver's inbox at which reading pauses (backpressure, never loss). */
  readonly inbox_high_water: number;
  /** Reading resumes when no more than this many events wait. */
  readonly inbox_low_water: number;
  /** Bytes waiting (with what the socket has buffered) at which reading pauses; resumes below a quarter. */
  readonly inbox_high_water_bytes: number;
  /** Safety limit: above this the connection is closed (counted, logged) and re-dialled once the inbox drains. */
  readonly inbox_max_bytes: number;
}

/** The connection policy used where neither the host options nor the enablement set a key. */
export const DEFAULT_CONNECTION_POLICY: ConnectionPolicy = {
  connect_timeout_ms: 5_000,
  ping_interval_ms: 15_000,
  pong_timeout_ms: 10_000,
  reconnect_base_ms: 1_000,
  reconnect_max_ms: 60_000,
  max_reconnects: 10,
  stable_ms: 60_000,
  send_limit: 120,
  send_window_ms: 60_000,
  send_headroom: 10,
  fatal_codes: [1002, 1003, 1007, 1008, 4004, 4010, 4011, 4012, 4013, 4014],
  resume_codes: [1001, 1006, 1011, 1012, 4000, 4001, 4002, 4003, 4005, 4008],
  max_message_bytes: 64 * 1024,
  inbox_high_water: 256,
  inbox_low_water: 64,
  inbox_high_water_bytes: 4 * 1024 * 1024,
  inbox_max_bytes: 64 * 1024 * 1024,
};

/** What a close code means for the plugin: resume its session, start a new one, or stop. */
export function closeDisposition(policy: ConnectionPolicy, code: number): 'resume' | 'reconnect' | 'fatal' {
  if (policy.fatal_codes.includes(code)) return 'fatal';
  if (policy.resume_codes.includes(code)) return 'resume';
  return 'reconnect';
}

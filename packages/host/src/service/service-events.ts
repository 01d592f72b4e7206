/**
 * What a service tells its embedder as it happens: lifecycle transitions, circuit changes,
 * retries, dead letters, rejections and discards. `serve` writes them as JSON log lines.
 * @public
 */
export const SERVICE_EVENT_KINDS = ['lifecycle', 'circuit', 'retry', 'dead_letter', 'dead_letter_evicted', 'dropped', 'rejected', 'command_rejected', 'timer', 'status', 'journal', 'websocket', 'host'] as const;
/**
 * `websocket`: the host-owned connections' changes and errors; `host`: redeliveries, outbox re-runs and failures inside the host.
 * @public
 */
export type ServiceEventKind = (typeof SERVICE_EVENT_KINDS)[number];

/**
 * Something that happened to a service: a lifecycle transition, a retry, a dead letter, a rejection, a
 * drop…
 */
export interface ServiceEvent {
  readonly plugin: string;
  readonly kind: ServiceEventKind;
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields?: Readonly<Record<string, string | number | boolean | null>>;
}

/** Called with every {@link ServiceEvent} (see {@link PluginHostOptions.onServiceEvent}). */
export type ServiceEventHook = (event: ServiceEvent) => void;

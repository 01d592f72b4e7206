import type { JsonValue } from '../../manifest/types.js';
import type { Secrets } from '../../secrets/secrets.js';
import type { IngressEvent } from '../../service/ingress-event.js';
import type { TimerSpec } from '../../service/timers.js';
import type { ResolvedPlugin } from '../../store/resolve.js';
import type { CommandKind, CommandResult, ValidatedCommand } from '../envelope.js';

/** A domain event a plugin appended (`domain_event_append`), handed to the embedding host. */
export interface DomainEvent {
  readonly plugin: string;
  readonly type: string;
  readonly data: JsonValue;
  readonly command_id: string;
  readonly source_event_id: string;
  readonly appended_at: string;
}

/** Execution of WebSocket commands on host-owned connections (the WebSocket driver). */
export interface WebSocketCommands {
  /**
   * `origin`: the event whose handling asked for the send; a driver refuses it if that event's
   * socket was replaced. Sends are called in order without waiting for earlier ones to settle:
   * the frame must be queued (or refused) before `send` returns, so frames leave in call order.
   */
  send(url: string, text: string, origin?: IngressEvent): Promise<string>;
  reconnect(connection: string | undefined, url: string | undefined): Promise<string>;
  close(connection: string | undefined, code: number | undefined, reason: string | undefined): Promise<string>;
  /** Connection lifecycle and status, when the commands come from a driver the service runs. */
  start?(): void;
  stop?(): void;
  status?(): JsonValue[];
}

/** The plugin's host timers as executors see them (the service also records each change for the journal). */
interface TimerControl {
  set(spec: TimerSpec): void;
  cancel(id: string): boolean;
}

/** The plugin's durable state as executors see them (the service commits each change with the handled event). */
interface StateControl {
  set(key: string, value: JsonValue): void;
  delete(key: string): boolean;
}

/** What executors may touch: the plugin's own timers, state, connections, sinks and request slots. */
export interface ExecutionContext {
  readonly record: ResolvedPlugin;
  readonly secrets: Secrets;
  /** The event whose handler produced the command. */
  readonly event: IngressEvent;
  readonly timers: TimerControl;
  readonly state: StateControl;
  readonly websocket: WebSocketCommands | undefined;
  readonly appendDomainEvent: ((event: DomainEvent) => void | Promise<void>) | undefined;
  /**
   * Waits for a request slot (the cap on host requests in flight); resolves with the function
   * that frees it. While a command waits here, so does the dispatcher.
   */
  requestSlot(commandId: string): Promise<() => void>;
  /** Replaces the component status shown in the service status. */
  setComponentStatus(status: JsonValue): void;
  /**
   * Hands a response back to the plugin as an ingress event and marks its command done, in one
   * durable write. It never waits for queue space (the caller holds a request slot, which
   * bounds how many can be outstanding).
   */
  deliverResponse(commandId: string, ingress: string, kind: string, source: string, payload: JsonValue): Promise<void>;
  /** Keeps track of work that outlives the command (a request in flight) until it settles. */
  background(work: Promise<void>): void;
}

export type CommandOf<K extends CommandKind> = Extract<ValidatedCommand, { kind: K }>;

/**
 * Runs one kind of output command. A failure is a `Rejected` result, never a throw.
 *
 * `plan` executors take effect while the handler's result is planned: what they change
 * (timers, state, the status) is committed together with the event's acknowledgement.
 * `outbox` executors act on the world; they run from the outbox once that commit is durable,
 * and again after a crash if they were not marked done (at least once). A command that
 * `settlesLater` is marked done by its own follow-up (a request, once its response is accepted).
 */
export interface Executor<K extends CommandKind = CommandKind> {
  readonly kind: K;
  readonly stage: 'plan' | 'outbox';
  readonly settlesLater?: boolean;
  /**
   * Takes effect when `execute` is called (synchronously, in call order), and only its result
   * comes later: the outbox starts consecutive pipelined commands without waiting for each.
   */
  readonly pipelined?: boolean;
  execute(command: CommandOf<K>, context: ExecutionContext): Promise<CommandResult>;
}

export function idsOf(command: ValidatedCommand): { correlation_id: string; source_event_id: string; command_id: string; kind: string } {
  return { correlation_id: command.correlation_id, source_event_id: command.source_event_id, command_id: command.command_id, kind: command.kind };
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

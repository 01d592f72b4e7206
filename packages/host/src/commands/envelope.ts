import { authorizeHostApi, authorizeWebSocketTarget } from '../authority/authorize.js';
import { hasPermission } from '../authority/permissions.js';
import { boundText, redactText } from '../diagnostics.js';
import type { JsonValue } from '../manifest/types.js';
import { prepareRequest, type PreparedRequest } from '../hostapi/request.js';
import type { IngressEvent } from '../service/ingress-event.js';
import { isEnvelopeId, isRfc3339, rfc3339 } from '../service/ids.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { SCHEDULE_PREFIX } from '../manifest/sources.js';

/**
 * Output commands: the only way a service acts. A handler result's `output_commands` are
 * validated as one batch, all or nothing: if any command is malformed, unsupported, not
 * declared or not granted, none of them runs.
 */
const COMMAND_KINDS = [
  'diagnostic_status_update',
  'host_request_dispatch',
  'timer_set',
  'timer_cancel',
  'domain_event_append',
  'websocket_send',
  'websocket_reconnect',
  'websocket_close',
  'state_set',
  'state_delete',
] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

const COMMAND_LIMITS = {
  perResult: 16,
  payloadBytes: 16 * 1024,
  websocketTextBytes: 32 * 1024,
  timerMinMs: 100,
  timerMaxMs: 24 * 60 * 60 * 1000,
  domainEventTypeBytes: 128,
  stateKeyBytes: 128,
} as const;

/** What became of one output command: recorded (carried out or queued), rejected, or not supported. */
export type CommandStatus = 'Recorded' | 'Rejected' | 'Unsupported';

/** Yoi's result record: ids and kind are `null` when the command did not carry a valid one. */
export interface CommandResult {
  readonly correlation_id: string | null;
  readonly source_event_id: string | null;
  readonly command_id: string | null;
  readonly kind: string | null;
  readonly status: CommandStatus;
  readonly message: string;
  readonly recorded_at: string;
}

interface Ids {
  readonly correlation_id: string;
  readonly source_event_id: string;
  readonly command_id: string;
}

export type ValidatedCommand = Ids & {
  /** The envelope as the guest sent it (kept in the outbox, validated again before it runs after a restart). */
  readonly raw: JsonValue;
} & (
    | { readonly kind: 'diagnostic_status_update'; readonly message?: string; readonly status?: JsonValue }
    | { readonly kind: 'host_request_dispatch'; readonly request: PreparedRequest; readonly replyIngress: string }
    | { readonly kind: 'timer_set'; readonly timerId: string; readonly ingress: string; readonly delayMs: number; readonly intervalMs?: number; readonly data?: JsonValue }
    | { readonly kind: 'timer_cancel'; readonly timerId: string }
    | { readonly kind: 'domain_event_append'; readonly type: string; readonly data: JsonValue }
    | { readonly kind: 'websocket_send'; readonly url: string; readonly text: string }
    | { readonly kind: 'websocket_reconnect'; readonly connection?: string; readonly url?: string }
    | { readonly kind: 'websocket_close'; readonly connection?: string; readonly code?: number; readonly reason?: string }
    | { readonly kind: 'state_set'; readonly key: string; readonly value: JsonValue }
    | { readonly kind: 'state_delete'; readonly key: string }
  );

/**
 * A command's result. Its message is redacted and bounded, and its time formatted, when first
 * read: most results are never read (status shows the latest few), and a busy connection
 * records one per frame it sends. Both are own enumerable getters, so the result serialises
 * and compares like a plain record.
 */
export function commandResult(ids: Partial<Ids> & { kind?: string }, status: CommandStatus, message: string): CommandResult {
  const at = Date.now();
  let shown: string | undefined;
  let stamp: string | undefined;
  return {
    correlation_id: ids.correlation_id ?? null,
    source_event_id: ids.source_event_id ?? null,
    command_id: ids.command_id ?? null,
    kind: ids.kind ?? null,
    status,
    get message() {
      return (shown ??= boundText(redactText(message, 512), 512));
    },
    get recorded_at() {
      return (stamp ??= rfc3339(at));
    },
  };
}

class Invalid extends Error {}

/**
 * An upper bound of the UTF-8 bytes of `value`'s JSON text (a string's UTF-16 unit is at most
 * 6 bytes there, as `\u00XX`), computed without making the text; it stops counting once past
 * `limit`. Under the limit, the exact size need not be measured.
 */
function jsonUpperBound(value: unknown, limit: number, depth = 0): number {
  if (typeof value === 'string') return value.length * 6 + 2;
  if (typeof value === 'number') return 24;
  if (value === null || typeof value === 'boolean') return 5;
  if (typeof value !== 'object' || depth > 64) return Infinity;
  let total = 2;
  if (Array.isArray(value)) {
    for (const item of value) {
      total += jsonUpperBound(item, limit, depth + 1) + 1;
      if (total > limit) return total;
    }
    return total;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    total += key.length * 6 + 4 + jsonUpperBound((value as Record<string, unknown>)[key], limit, depth + 1);
    if (total > limit) return total;
  }
  return total;
}

/** Yoi's wording for an envelope that does not have the envelope's shape. */
const MALFORMED_ENVELOPE = 'malformed service output command envelope';

function record(value: unknown, allowed: readonly string[], what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Invalid(`${what} must be a JSON object`);
  const unknown = Object.keys(value).find((k) => !allowed.includes(k));
  if (unknown !== undefined) throw new Invalid(`${what} has unknown field ${/^[\w-]{1,32}$/.test(unknown) ? `\`${unknown}\`` : '(name not shown)'}`);
  return value as Record<string, unknown>;
}

/** WebSocket target decisions per resolved record (records are immutable), bounded per record. */
const websocketDecisions = new WeakMap<ResolvedPlugin, Map<string, string | null>>();
const WEBSOCKET_DECISIONS_MAX = 64;

/** `authorizeWebSocketTarget`, remembered per record and URL: a reply to the same URL is not parsed and matched again. */
function websocketTargetDenial(plugin: ResolvedPlugin, url: string): string | null {
  let decisions = websocketDecisions.get(plugin);
  if (!decisions) websocketDecisions.set(plugin, (decisions = new Map()));
  let denied = decisions.get(url);
  if (denied === undefined) {
    denied = authorizeWebSocketTarget(plugin, url);
    if (decisions.size >= WEBSOCKET_DECISIONS_MAX) decisions.clear();
    decisions.set(url, denied);
  }
  return denied;
}

function ingressAccepts(plugin: ResolvedPlugin, ingress: string, kind: string): string | null {
  const declared = plugin.manifest.ingresses.find((i) => i.name === ingress);
  if (!declared) return `ingress \`${ingress.slice(0, 64)}\` is not declared by the plugin manifest`;
  if (declared.event_kinds.length > 0 && !declared.event_kinds.includes(kind)) return `ingress \`${ingress}\` does not declare event kind \`${kind}\``;
  return null;
}

function optionalString(payload: Record<string, unknown>, key: string, max = 1024): string | undefined {
  const value = payload[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || Buffer.byteLength(value) > max) throw new Invalid(`\`${key}\` must be a string of at most ${max} bytes`);
  return value;
}

/** A plugin's own timer id: an envelope id outside the prefix the host keeps for schedule sources. */
function timerId(value: unknown): string {
  if (!isEnvelopeId(value)) throw new Invalid('timer_id is empty, too long, or contains control characters');
  if (value.startsWith(SCHEDULE_PREFIX)) throw new Invalid(`timer ids beginning with \`${SCHEDULE_PREFIX}\` are reserved for the manifest's schedule sources`);
  return value;
}

function validateOne(raw: unknown, event: IngressEvent, plugin: ResolvedPlugin): ValidatedCommand {
  return { ...validateShape(raw, event, plugin), raw: raw as JsonValue } as ValidatedCommand;
}

type Shape = ValidatedCommand extends infer C ? (C extends unknown ? Omit<C, 'raw'> : never) : never;

function validateShape(raw: unknown, event: IngressEvent, plugin: ResolvedPlugin): Shape {
  const envelope = record(raw, ['correlation_id', 'source_event_id', 'command_id', 'kind', 'payload', 'requested_at'], MALFORMED_ENVELOPE + ': the envelope');
  for (const field of ['correlation_id', 'source_event_id', 'command_id'] as const) {
    if (!isEnvelopeId(envelope[field])) throw new Invalid(`${field} is empty, too long, or contains control characters`);
  }
  const ids: Ids = { correlation_id: envelope['correlation_id'] as string, source_event_id: envelope['source_event_id'] as string, command_id: envelope['command_id'] as string };
  if (ids.source_event_id !== event.correlation_id) throw new Invalid('source_event_id does not match the ingress event being handled');
  if (!isRfc3339(envelope['requested_at'])) throw new Invalid('requested_at is not an RFC 3339 timestamp');
  const kind = envelope['kind'];
  if (typeof kind !== 'string' || !(COMMAND_KINDS as readonly string[]).includes(kind)) throw new Invalid(`${MALFORMED_ENVELOPE}: unsupported output command kind`);
  if (envelope['payload'] === undefined) throw new Invalid(`${MALFORMED_ENVELOPE}: payload is required`);
  if (jsonUpperBound(envelope['payload'], COMMAND_LIMITS.payloadBytes) > COMMAND_LIMITS.payloadBytes && Buffer.byteLength(JSON.stringify(envelope['payload'])) > COMMAND_LIMITS.payloadBytes) throw new Invalid(`payload exceeds ${COMMAND_LIMITS.payloadBytes} bytes`);
  const what = `${kind} payload`;
  switch (kind as CommandKind) {
    case 'diagnostic_status_update': {
      const p = record(envelope['payload'], ['message', 'status'], what);
      const message = optionalString(p, 'message');
      return { ...ids, kind: 'diagnostic_status_update', ...(message !== undefined ? { message } : {}), ...(p['status'] !== undefined ? { status: p['status'] as JsonValue } : {}) };
    }
    case 'host_request_dispatch': {
      const p = record(envelope['payload'], ['method', 'url', 'headers', 'body', 'reply_ingress'], what);
      const replyIngress = optionalString(p, 'reply_ingress', 128) ?? event.ingress_name;
      const replyProblem = ingressAccepts(plugin, replyIngress, 'host_response');
      if (replyProblem) throw new Invalid(`host_request_dispatch reply: ${replyProblem}`);
      const { reply_ingress: _ignored, ...descriptor } = p;
      const prepared = prepareRequest(plugin, JSON.stringify(descriptor));
      if ('reply' in prepared) {
        const error = (JSON.parse(prepared.reply) as { error: { message: string } }).error;
        throw new Invalid(`host_request_dispatch target denied: ${error.message}`);
      }
      return { ...ids, kind: 'host_request_dispatch', request: prepared, replyIngress };
    }
    case 'timer_set': {
      const p = record(envelope['payload'], ['timer_id', 'ingress', 'delay_ms', 'interval_ms', 'data'], what);
      timerId(p['timer_id']);
      const ingress = optionalString(p, 'ingress', 128) ?? event.ingress_name;
      const problem = ingressAccepts(plugin, ingress, 'timer');
      if (problem) throw new Invalid(`timer_set: ${problem}`);
      const delay = p['delay_ms'];
      const interval = p['interval_ms'];
      const inRange = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= COMMAND_LIMITS.timerMaxMs;
      if (!inRange(delay, 0)) throw new Invalid(`delay_ms must be an integer between 0 and ${COMMAND_LIMITS.timerMaxMs}`);
      if (interval !== undefined && !inRange(interval, COMMAND_LIMITS.timerMinMs)) {
        throw new Invalid(`interval_ms must be an integer between ${COMMAND_LIMITS.timerMinMs} and ${COMMAND_LIMITS.timerMaxMs}`);
      }
      if (interval === undefined && (delay as number) < COMMAND_LIMITS.timerMinMs) throw new Invalid(`delay_ms of a one-shot timer must be at least ${COMMAND_LIMITS.timerMinMs}`);
      return {
        ...ids,
        kind: 'timer_set',
        timerId: p['timer_id'] as string,
        ingress,
        delayMs: delay as number,
        ...(interval !== undefined ? { intervalMs: interval as number } : {}),
        ...(p['data'] !== undefined ? { data: p['data'] as JsonValue } : {}),
      };
    }
    case 'timer_cancel': {
      const p = record(envelope['payload'], ['timer_id'], what);
      return { ...ids, kind: 'timer_cancel', timerId: timerId(p['timer_id']) };
    }
    case 'domain_event_append': {
      const p = record(envelope['payload'], ['type', 'data'], what);
      const type = p['type'];
      if (typeof type !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(type)) throw new Invalid('domain event type must be 1–128 of A–Z a–z 0–9 _ . : -');
      const permission = { kind: 'domain_event', name: type } as const;
      if (!hasPermission(plugin.manifest.permissions, permission)) throw new Invalid(`requested domain_event.${type} permission is missing`);
      if (!hasPermission(plugin.grants.permissions, permission)) throw new Invalid(`granted domain_event.${type} permission is missing`);
      return { ...ids, kind: 'domain_event_append', type, data: (p['data'] ?? null) as JsonValue };
    }
    case 'websocket_send': {
      const p = record(envelope['payload'], ['url', 'text'], what);
      const url = optionalString(p, 'url', 2048);
      const text = p['text'];
      if (url === undefined) throw new Invalid('websocket_send needs `url`');
      if (typeof text !== 'string') throw new Invalid('websocket_send needs `text`');
      if (Buffer.byteLength(text) > COMMAND_LIMITS.websocketTextBytes) throw new Invalid(`websocket_send text exceeds ${COMMAND_LIMITS.websocketTextBytes} bytes`);
      const denied = websocketTargetDenial(plugin, url);
      if (denied) throw new Invalid(`websocket_send not granted: ${denied}`);
      return { ...ids, kind: 'websocket_send', url, text };
    }
    case 'websocket_reconnect': {
      const p = record(envelope['payload'], ['connection', 'url'], what);
      const connection = optionalString(p, 'connection', 2048);
      const url = optionalString(p, 'url', 2048);
      const websocketDenied = authorizeHostApi(plugin, 'websocket');
      if (websocketDenied) throw new Invalid(`websocket_reconnect not granted: ${websocketDenied}`);
      if (url !== undefined) {
        const denied = authorizeWebSocketTarget(plugin, url);
        if (denied) throw new Invalid(`websocket_reconnect not granted: ${denied}`);
      }
      return { ...ids, kind: 'websocket_reconnect', ...(connection !== undefined ? { connection } : {}), ...(url !== undefined ? { url } : {}) };
    }
    case 'websocket_close': {
      const p = record(envelope['payload'], ['connection', 'code', 'reason'], what);
      const connection = optionalString(p, 'connection', 2048);
      const reason = optionalString(p, 'reason', 123);
      const code = p['code'];
      if (code !== undefined && (typeof code !== 'number' || !Number.isInteger(code) || !(code === 1000 || (code >= 3000 && code <= 4999)))) {
        throw new Invalid('websocket_close code must be 1000 or 3000–4999');
      }
      const websocketDenied = authorizeHostApi(plugin, 'websocket');
      if (websocketDenied) throw new Invalid(`websocket_close not granted: ${websocketDenied}`);
      return { ...ids, kind: 'websocket_close', ...(connection !== undefined ? { connection } : {}), ...(code !== undefined ? { code: code as number } : {}), ...(reason !== undefined ? { reason } : {}) };
    }
    case 'state_set': {
      const p = record(envelope['payload'], ['key', 'value'], what);
      const key = stateKey(p['key']);
      if (p['value'] === undefined || p['value'] === null) throw new Invalid('state_set needs a `value` (use state_delete to remove a key)');
      return { ...ids, kind: 'state_set', key, value: p['value'] as JsonValue };
    }
    case 'state_delete': {
      const p = record(envelope['payload'], ['key'], what);
      return { ...ids, kind: 'state_delete', key: stateKey(p['key']) };
    }
  }
}

function stateKey(value: unknown): string {
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > COMMAND_LIMITS.stateKeyBytes || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new Invalid(`state key must be 1–${COMMAND_LIMITS.stateKeyBytes} bytes without control characters`);
  }
  return value;
}

/**
 * Validates one command again, outside its batch: a command kept in the outbox across a
 * restart is checked against the manifest and grants of now before it runs.
 */
export function revalidateCommand(raw: unknown, sourceEvent: Pick<IngressEvent, 'correlation_id' | 'ingress_name'>, plugin: ResolvedPlugin): { ok: true; command: ValidatedCommand } | { ok: false; message: string } {
  try {
    return { ok: true, command: validateOne(raw, sourceEvent as IngressEvent, plugin) };
  } catch (error) {
    return { ok: false, message: error instanceof Invalid ? error.message : 'output command could not be validated' };
  }
}

/** The ids and kind a rejected command carried, those that are valid. */
function knownIds(raw: unknown): Partial<Ids> & { kind?: string } {
  const ids = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  return {
    ...(isEnvelopeId(ids['correlation_id']) ? { correlation_id: ids['correlation_id'] } : {}),
    ...(isEnvelopeId(ids['source_event_id']) ? { source_event_id: ids['source_event_id'] } : {}),
    ...(isEnvelopeId(ids['command_id']) ? { command_id: ids['command_id'] } : {}),
    ...(typeof ids['kind'] === 'string' && (COMMAND_KINDS as readonly string[]).includes(ids['kind']) ? { kind: ids['kind'] } : {}),
  };
}

/** On failure, `valid` lists the well-formed commands of the batch that will not run either. */
export type BatchValidation =
  | { readonly ok: true; readonly commands: readonly ValidatedCommand[] }
  | { readonly ok: false; readonly results: readonly CommandResult[]; readonly valid: readonly ValidatedCommand[] };

/** Validates a handler result's `output_commands` as one batch (absent → no commands). */
export function validateOutputCommands(output: unknown, event: IngressEvent, plugin: ResolvedPlugin): BatchValidation {
  const list = typeof output === 'object' && output !== null && !Array.isArray(output) ? (output as Record<string, unknown>)['output_commands'] : undefined;
  if (list === undefined) return { ok: true, commands: [] };
  if (!Array.isArray(list)) return { ok: false, results: [commandResult({}, 'Rejected', 'service output_commands must be an array')], valid: [] };
  if (list.length > COMMAND_LIMITS.perResult) return { ok: false, results: [commandResult({}, 'Rejected', `service output_commands exceeds ${COMMAND_LIMITS.perResult} commands`)], valid: [] };
  const commands: ValidatedCommand[] = [];
  const rejected: CommandResult[] = [];
  const seen = new Set<string>();
  for (const raw of list) {
    try {
      const command = validateOne(raw, event, plugin);
      if (seen.has(command.command_id)) throw new Invalid('command_id is repeated within the batch');
      seen.add(command.command_id);
      commands.push(command);
    } catch (error) {
      const message = error instanceof Invalid ? error.message : 'output command could not be validated';
      rejected.push(commandResult(knownIds(raw), 'Rejected', message));
    }
  }
  return rejected.length > 0 ? { ok: false, results: rejected, valid: commands } : { ok: true, commands };
}

import { authorizeIngress } from '../authority/authorize.js';
import type { JsonValue } from '../manifest/types.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import { isEnvelopeId, rfc3339, uuidv7 } from './ids.js';

/** The host → guest ingress envelope (Yoi's shape). */
export interface IngressEvent {
  readonly kind: string;
  readonly source: string;
  readonly ingress_name: string;
  readonly payload: JsonValue;
  readonly created_at: string;
  readonly attempt: number;
  readonly correlation_id: string;
}

export const MAX_EVENT_BYTES = 64 * 1024;

/** Builds an ingress event with fresh ids and the current time, for {@link PluginService.offer}. */
export function newIngressEvent(ingress: string, kind: string, source: string, payload: JsonValue): IngressEvent {
  return { kind, source, ingress_name: ingress, payload, created_at: rfc3339(), attempt: 1, correlation_id: uuidv7() };
}

/** Why an event may not be queued for `ingress` of this plugin (Yoi's order after the lifecycle check), or null. */
export function ingressEventProblem(record: ResolvedPlugin, ingress: string, event: IngressEvent): { kind: 'invalid' | 'denied'; message: string } | null {
  if (!record.enabledSurfaces.includes('ingress')) return { kind: 'invalid', message: 'plugin ingress surface is not enabled' };
  if (typeof event.source !== 'string' || event.source.trim() === '') return { kind: 'invalid', message: 'event source is empty' };
  if (event.ingress_name !== ingress) return { kind: 'invalid', message: 'event ingress does not match the dispatch ingress' };
  if (typeof event.kind !== 'string' || event.kind.trim() === '') return { kind: 'invalid', message: 'event kind is empty' };
  if (typeof event.created_at !== 'string' || event.created_at.trim() === '') return { kind: 'invalid', message: 'event created_at is empty' };
  if (!Number.isInteger(event.attempt) || event.attempt < 1) return { kind: 'invalid', message: 'event attempt must be at least 1' };
  if (!isEnvelopeId(event.correlation_id)) return { kind: 'invalid', message: 'event correlation_id is empty, too long, or contains control characters' };
  if (Buffer.byteLength(JSON.stringify(event)) > MAX_EVENT_BYTES) return { kind: 'invalid', message: `plugin ingress event exceeds ${MAX_EVENT_BYTES} bytes` };
  const declared = record.manifest.ingresses.find((i) => i.name === ingress);
  if (!declared) return { kind: 'invalid', message: 'requested ingress is not declared by plugin manifest' };
  if (declared.event_kinds.length > 0 && !declared.event_kinds.includes(event.kind)) {
    return { kind: 'invalid', message: `event kind \`${event.kind.slice(0, 64)}\` is not declared for ingress \`${ingress}\`` };
  }
  const denied = authorizeIngress(record, ingress);
  if (denied) return { kind: 'denied', message: `plugin ingress permission denied: ${denied}` };
  return null;
}

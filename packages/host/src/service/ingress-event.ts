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

export function newIngressEvent(ingress: string, kind: string, source: string, payload: JsonValue): IngressEvent {
  return { kind, source, ingress_name: ingress, payload, created_at: rfc3339(), attempt: 1, correlation_id: uuidv7() };
}

/** Ingress authority per resolved record and ingress name: a record is immutable, so its decisions are too. */
const ingressDecisions = new WeakMap<ResolvedPlugin, Map<string, string | null>>();

function ingressDenial(record: ResolvedPlugin, ingress: string): string | null {
  let decisions = ingressDecisions.get(record);
  if (!decisions) ingressDecisions.set(record, (decisions = new Map()));
  let denied = decisions.get(ingress);
  if (denied === undefined) {
    denied = authorizeIngress(record, ingress);
    // Only declared ingresses get here, so the map is bounded by the manifest.
    decisions.set(ingress, denied);
  }
  return denied;
}

export type IngressEventCheck = { readonly ok: true; readonly json: string } | { readonly ok: false; readonly kind: 'invalid' | 'denied'; readonly message: string };

/**
 * Checks an event for `ingress` of this plugin (Yoi's order after the lifecycle check). When it
 * may be queued, returns its JSON text, which the journal stores and the guest receives as is.
 */
export function checkIngressEvent(record: ResolvedPlugin, ingress: string, event: IngressEvent): IngressEventCheck {
  const invalid = (message: string) => ({ ok: false, kind: 'invalid', message }) as const;
  if (!record.enabledSurfaces.includes('ingress')) return invalid('plugin ingress surface is not enabled');
  if (typeof event.source !== 'string' || event.source.trim() === '') return invalid('event source is empty');
  if (event.ingress_name !== ingress) return invalid('event ingress does not match the dispatch ingress');
  if (typeof event.kind !== 'string' || event.kind.trim() === '') return invalid('event kind is empty');
  if (typeof event.created_at !== 'string' || event.created_at.trim() === '') return invalid('event created_at is empty');
  if (!Number.isInteger(event.attempt) || event.attempt < 1) return invalid('event attempt must be at least 1');
  if (!isEnvelopeId(event.correlation_id)) return invalid('event correlation_id is empty, too long, or contains control characters');
  const json = JSON.stringify(event);
  // UTF-8 is at most 3 bytes per UTF-16 unit: only a long text needs counting.
  if (json.length * 3 > MAX_EVENT_BYTES && Buffer.byteLength(json) > MAX_EVENT_BYTES) return invalid(`plugin ingress event exceeds ${MAX_EVENT_BYTES} bytes`);
  const declared = record.manifest.ingresses.find((i) => i.name === ingress);
  if (!declared) return invalid('requested ingress is not declared by plugin manifest');
  if (declared.event_kinds.length > 0 && !declared.event_kinds.includes(event.kind)) {
    return invalid(`event kind \`${event.kind.slice(0, 64)}\` is not declared for ingress \`${ingress}\``);
  }
  const denied = ingressDenial(record, ingress);
  if (denied) return { ok: false, kind: 'denied', message: `plugin ingress permission denied: ${denied}` };
  return { ok: true, json };
}

/** Why an event may not be queued for `ingress` of this plugin (Yoi's order after the lifecycle check), or null. */
export function ingressEventProblem(record: ResolvedPlugin, ingress: string, event: IngressEvent): { kind: 'invalid' | 'denied'; message: string } | null {
  const checked = checkIngressEvent(record, ingress, event);
  return checked.ok ? null : { kind: checked.kind, message: checked.message };
}

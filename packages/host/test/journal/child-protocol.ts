// Shared by the journal tests and the process they run (journal-child.ts).
import type { IngressEvent } from '../../src/service/ingress-event.js';

export const CHILD_PLUGIN = 'project:crash';

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The payload of the k-th event, so the parent can tell an intact event from a torn one. */
export function crashPayloadText(k: number): string {
  return `${k}:`.padEnd(k % 700, 'x');
}

/** The k-th event the child appends. */
export function crashEvent(k: number): IngressEvent {
  return { kind: 'job', source: 'crash-test', ingress_name: 'events', payload: { n: k, text: crashPayloadText(k) }, created_at: '2025-01-01T00:00:00.000Z', attempt: 1, correlation_id: `corr-${k}` };
}

export const CHILD_SCRIPT = new URL('./journal-child.js', import.meta.url);

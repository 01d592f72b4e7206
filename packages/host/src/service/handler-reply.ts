import { boundText, redactText } from '../diagnostics.js';

export const HANDLER_OUTPUT_LIMIT = 64 * 1024;

/** What a `handle-ingress` reply asks the host to do. */
export type HandlerReply =
  | { readonly kind: 'handled'; readonly output: unknown }
  | { readonly kind: 'failed'; readonly error: string }
  | { readonly kind: 'retry'; readonly error: string; readonly retryAfterMs?: number };

/**
 * Reads a handler's raw reply: `{"error": …}` is a failed delivery (unlike Yoi), `{"retry":
 * true}` or `{"retry": {"after_ms": n}}` asks for a redelivery, anything else is handled and
 * may carry `output_commands`.
 */
export function readHandlerReply(raw: string, retryMaxMs: number): HandlerReply {
  // UTF-8 is at most 3 bytes per UTF-16 unit: only a long reply needs counting.
  if (raw.length * 3 > HANDLER_OUTPUT_LIMIT && Buffer.byteLength(raw, 'utf8') > HANDLER_OUTPUT_LIMIT) return { kind: 'failed', error: `plugin ingress output exceeds ${HANDLER_OUTPUT_LIMIT} bytes` };
  let output: unknown;
  try {
    output = JSON.parse(raw);
  } catch {
    return { kind: 'failed', error: 'plugin ingress output is not JSON' };
  }
  if (typeof output === 'object' && output !== null && !Array.isArray(output)) {
    const record = output as Record<string, unknown>;
    if ('error' in record) return { kind: 'failed', error: `handler returned error: ${boundText(redactText(safeStringify(record['error'])), 200)}` };
    const retry = record['retry'];
    if (retry === true || (typeof retry === 'object' && retry !== null)) {
      const after = typeof retry === 'object' ? (retry as { after_ms?: unknown }).after_ms : undefined;
      const retryAfterMs = typeof after === 'number' && Number.isFinite(after) ? Math.min(Math.max(0, after), retryMaxMs) : undefined;
      return { kind: 'retry', error: 'handler asked for a retry', ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
  }
  return { kind: 'handled', output };
}

/**
 * Whether the event after this reply may be delivered in the same batch: only after a handled
 * reply that dispatches no host request (the dispatcher waits for a request slot before the
 * next event). A pure function of the reply, so whatever runs the batch can apply it.
 */
export function continuesBatch(reply: HandlerReply): boolean {
  if (reply.kind !== 'handled') return false;
  const output = reply.output;
  if (typeof output !== 'object' || output === null || Array.isArray(output)) return true;
  const commands = (output as Record<string, unknown>)['output_commands'];
  if (!Array.isArray(commands)) return true;
  return !commands.some((command) => typeof command === 'object' && command !== null && (command as Record<string, unknown>)['kind'] === 'host_request_dispatch');
}

/** JSON.stringify that cannot throw (cycles are impossible here, but nesting depth is guest-chosen). */
function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return '(not representable)';
  }
}

import { boundText, redactText } from '../diagnostics.js';

/**
 * Host API replies to the guest. Failures are values, never traps (decisions §4):
 * `{"error":{"code","message"}}` with a fixed code and a bounded, redacted message.
 */
export type HostErrorCode =
  | 'denied'
  | 'invalid_request'
  | 'too_large'
  | 'not_found'
  | 'not_a_file'
  | 'not_a_directory'
  | 'timeout'
  | 'failed'
  | 'limit'
  | 'closed'
  | 'unknown_function';

export const HOST_MESSAGE_BOUND = 512;

export function hostError(code: HostErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message: boundText(redactText(message, HOST_MESSAGE_BOUND), HOST_MESSAGE_BOUND) } });
}

export function hostOk(value: unknown): string {
  return JSON.stringify(value);
}

/** Parses a request descriptor: bounded, JSON object, only the allowed keys. */
export function parseDescriptor(
  json: string,
  maxBytes: number,
  allowed: readonly string[],
): { ok: true; value: Record<string, unknown> } | { ok: false; reply: string } {
  if (Buffer.byteLength(json, 'utf8') > maxBytes) return { ok: false, reply: hostError('too_large', `request descriptor exceeds ${maxBytes} bytes`) };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { ok: false, reply: hostError('invalid_request', 'request descriptor is not valid JSON') };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reply: hostError('invalid_request', 'request descriptor must be a JSON object') };
  }
  const unknown = Object.keys(value).find((k) => !allowed.includes(k));
  if (unknown !== undefined) {
    const shown = /^[A-Za-z0-9_-]{1,32}$/.test(unknown) ? `\`${unknown}\`` : '(name not shown)';
    return { ok: false, reply: hostError('invalid_request', `request descriptor has unknown field ${shown}`) };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

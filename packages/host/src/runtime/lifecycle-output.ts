import { boundText, redactText } from '../diagnostics.js';
import type { JsonValue } from '../manifest/types.js';
import { IO_LIMITS } from '../sandbox/limits.js';

export type LifecyclePhase = 'start' | 'status' | 'stop';

/** Decodes PluginStatus JSON from start/status/stop; `error` or `state = "failed"` is a failure. */
export function decodeLifecycleOutput(phase: LifecyclePhase, raw: string): { ok: true; status: JsonValue } | { ok: false; message: string } {
  if (Buffer.byteLength(raw, 'utf8') > IO_LIMITS.guestOutputBytes) return { ok: false, message: `plugin component ${phase} output exceeds ${IO_LIMITS.guestOutputBytes} bytes` };
  let value: JsonValue;
  try {
    value = JSON.parse(raw) as JsonValue;
  } catch {
    return { ok: false, message: `plugin component ${phase} output is not JSON` };
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const record = value as { readonly [key: string]: JsonValue };
    const shown = boundText(redactText(raw), 200);
    if ('error' in record) return { ok: false, message: `plugin component ${phase} returned error: ${shown}` };
    if (record['state'] === 'failed') return { ok: false, message: `plugin component ${phase} returned failed status: ${shown}` };
  }
  return { ok: true, status: value };
}

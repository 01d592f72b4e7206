/**
 * Limits the host enforces on tool output; the PDK keeps within them instead of failing.
 * The host refuses a guest output (the ToolOutput as JSON) over 64 KiB, so content is cut to
 * Yoi's content bound (64 KiB − 1 KiB summary − 4 KiB for the envelope and escapes) and
 * further if its JSON escapes still make the whole output too long.
 */
export const SUMMARY_MAX_BYTES = 1024;
export const OUTPUT_MAX_BYTES = 64 * 1024;
export const CONTENT_MAX_BYTES = OUTPUT_MAX_BYTES - SUMMARY_MAX_BYTES - 4096;
const ERROR_MESSAGE_MAX_CHARS = 240;

/** UTF-8 length, computed by hand: guest runtimes such as QuickJS have no TextEncoder. */
export function byteLength(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes (on a character boundary), adding `…` when cut. */
export function truncateBytes(text: string, maxBytes: number): string {
  if (byteLength(text) <= maxBytes) return text;
  const budget = maxBytes - 3; // the ellipsis is 3 bytes
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = byteLength(char);
    if (used + size > budget) break;
    out += char;
    used += size;
  }
  return out + '…';
}

/** Replaces control characters with spaces and bounds the length (for error texts). */
export function cleanText(text: string, maxChars: number = ERROR_MESSAGE_MAX_CHARS): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]/g, ' ');
  const chars = Array.from(flat);
  return chars.length > maxChars ? chars.slice(0, maxChars).join('') + '…' : flat;
}

/**
 * Bounds of a plugin's durable state as the host enforces them: a key is 1–128 UTF-8 bytes
 * without control characters; at most 64 keys and 48 KiB (keys plus their values' JSON) in
 * all; one `state_set` payload (key and value) is at most 16 KiB. A batch that would break
 * one is rejected as a whole (its commands get `Rejected` results, none runs).
 */
export const STATE_LIMITS = { keyBytes: 128, keys: 64, bytes: 48 * 1024, payloadBytes: 16 * 1024 } as const;

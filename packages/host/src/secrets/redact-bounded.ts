import { SECRET_MARKER_PATTERN } from './marker.js';

/**
 * Redaction before any cut. A text that reaches the guest (a response body, a header value, a
 * message) is redacted over everything the host has of it, and only then cut to its bound; a
 * cut never leaves part of a secret value, and never part of a marker either (it moves back to
 * the marker's start). Cutting first and redacting the rest is what let a guest pad a reflected
 * secret across the cut and read all but its last character.
 */

export type Redact = (text: string) => string;

/** `end`, moved back to the start of a character that `bytes[0, end)` would cut. */
function utf8Boundary(bytes: Uint8Array, end: number): number {
  const stop = Math.min(end, bytes.length);
  let lead = stop - 1;
  while (lead >= 0 && stop - lead < 4 && ((bytes[lead] ?? 0) & 0xc0) === 0x80) lead--;
  if (lead < 0) return stop;
  const first = bytes[lead] ?? 0;
  const size = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
  return lead + size > stop ? lead : stop;
}

function decode(bytes: Uint8Array, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, utf8Boundary(bytes, end)).toString('utf8');
}

/**
 * Cuts already-redacted `text` to at most `limitBytes` of UTF-8, on a character boundary; a cut
 * that falls inside a marker moves back to the marker's start.
 */
export function cutRedacted(text: string, limitBytes: number): { text: string; cut: boolean } {
  if (Buffer.byteLength(text) <= limitBytes) return { text, cut: false };
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > limitBytes) break;
    bytes += size;
    end += char.length;
  }
  for (const match of text.matchAll(SECRET_MARKER_PATTERN)) {
    if (match.index >= end) break;
    if (match.index + match[0].length > end) {
      end = match.index;
      break;
    }
  }
  return { text: text.slice(0, end), cut: true };
}

/**
 * The redacted text of everything in `bytes` that no secret value can run past. When `complete`
 * (the source ended), that is all of it. Otherwise a value may start near the end and go on
 * beyond what was read, so the text is cut at a point `z` whose surroundings (`longestSecretBytes`
 * characters on each side) hold no value at all: then no value crosses `z`, every value before
 * it is whole and redacted, and the result is a prefix of the redaction of the whole stream.
 * This needs only the redaction function, not the values (comparing two redactions instead
 * can be fooled by a value that repeats itself).
 */
function redactReadPrefix(bytes: Uint8Array, complete: boolean, longestSecretBytes: number, redact: Redact): string {
  const text = decode(bytes, bytes.length);
  if (complete) return redact(text);
  const reach = Math.max(0, longestSecretBytes);
  for (let z = text.length - reach; z > 0; z -= Math.max(1, reach)) {
    const at = isHighSurrogate(text.charCodeAt(z - 1)) ? z - 1 : z;
    const around = text.slice(Math.max(0, at - reach), at + reach);
    if (redact(around) === around) return redact(text.slice(0, at));
  }
  return '';
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Redacts `text` in full (secret values, then `extra`, e.g. credential patterns), then cuts it. */
export function redactThenCut(text: string, limitBytes: number, redact: Redact, extra: Redact = (t) => t): { text: string; cut: boolean } {
  return cutRedacted(extra(redact(text)), limitBytes);
}

export interface ReadRedactedOptions {
  /** The bound on what the guest gets (UTF-8 bytes of redacted text). */
  readonly limitBytes: number;
  /** UTF-8 length of the longest secret value (how far a value can run past a cut). */
  readonly longestSecretBytes: number;
  /** How much further than `limitBytes + longestSecretBytes` the reader may go while redaction shortens the text. */
  readonly slackBytes: number;
  readonly redact: Redact;
}

/**
 * Reads a byte stream for the guest: redacted before it is cut, never cut inside a secret, and
 * the result is always a prefix of the redaction of the whole stream. Reads at least
 * `limitBytes + longestSecretBytes` bytes (or to the end), then further while redaction has
 * shortened the safe text to no more than the bound, up to the slack. `complete` is false when
 * it stopped before the end (the caller then discards the rest).
 */
export async function readRedacted(source: AsyncIterable<Uint8Array>, options: ReadRedactedOptions): Promise<{ text: string; truncated: boolean; complete: boolean }> {
  const { limitBytes: limit, longestSecretBytes: margin, redact } = options;
  const cap = limit + margin + options.slackBytes;
  const chunks: Uint8Array[] = [];
  let size = 0;
  let safe: string | null = null;
  for await (const chunk of source) {
    chunks.push(chunk);
    size += chunk.length;
    if (size < limit + margin) continue;
    const read = Buffer.concat(chunks);
    safe = redactReadPrefix(read.subarray(0, Math.min(size, cap)), false, margin, redact);
    if (Buffer.byteLength(safe) > limit || size >= cap) break;
    safe = null;
  }
  const complete = safe === null;
  const text = safe ?? redactReadPrefix(Buffer.concat(chunks), true, margin, redact);
  const cut = cutRedacted(text, limit);
  return { text: cut.text, truncated: cut.cut || !complete, complete };
}

import { randomFillSync } from 'node:crypto';

/** Random bytes drawn from the system in blocks: one draw serves this many ids. */
const IDS_PER_DRAW = 256;
const pool = Buffer.alloc(16 * IDS_PER_DRAW);
let poolAt = pool.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * UUIDv7: 48-bit millisecond timestamp, then random bits (time-ordered ids for events). The
 * random bits come from a pooled block of cryptographic randomness (one system call per 256
 * ids instead of one per id); each id takes bytes no other id took.
 */
export function uuidv7(now: number = Date.now()): string {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += 16;
  const b = pool;
  // 48-bit big-endian milliseconds in bytes 0..5 (2^32 split: bitwise ops are 32-bit).
  const high = Math.floor(now / 0x1_0000_0000);
  const low = now >>> 0;
  const version = (b[at + 6]! & 0x0f) | 0x70;
  const variant = (b[at + 8]! & 0x3f) | 0x80;
  return (
    HEX[(high >>> 8) & 0xff]! + HEX[high & 0xff]! + HEX[low >>> 24]! + HEX[(low >>> 16) & 0xff]! + '-' +
    HEX[(low >>> 8) & 0xff]! + HEX[low & 0xff]! + '-' +
    HEX[version]! + HEX[b[at + 7]!]! + '-' +
    HEX[variant]! + HEX[b[at + 9]!]! + '-' +
    HEX[b[at + 10]!]! + HEX[b[at + 11]!]! + HEX[b[at + 12]!]! + HEX[b[at + 13]!]! + HEX[b[at + 14]!]! + HEX[b[at + 15]!]!
  );
}

let lastMs = Number.NaN;
let lastText = '';

/** UTC RFC 3339 with milliseconds and `Z` (the text of the last millisecond asked for is reused). */
export function rfc3339(ms: number = Date.now()): string {
  if (ms !== lastMs) {
    lastText = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastText;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function isRfc3339(value: unknown): value is string {
  return typeof value === 'string' && RFC3339.test(value) && !Number.isNaN(Date.parse(value));
}

/** Ids in envelopes: 1..128 bytes, no control characters. */
export function isEnvelopeId(value: unknown): value is string {
  // At most 3 UTF-8 bytes per UTF-16 unit: only a long id needs counting.
  // eslint-disable-next-line no-control-regex
  return typeof value === 'string' && value.length > 0 && (value.length <= 42 || Buffer.byteLength(value) <= 128) && !/[\u0000-\u001f\u007f]/.test(value);
}

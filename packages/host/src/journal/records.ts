import { JOURNAL_KEY_MAX_BYTES, JournalRejectedError } from './journal.js';

/**
 * The record kinds every engine stores, each keyed by plugin identity and a per-kind key:
 * a number (event seq, outbox order, dead-letter order) or a string (state key, timer id, meta).
 */
export type RecordKind = 'event' | 'attempt' | 'outbox' | 'state' | 'dead' | 'timer' | 'meta';

export const RECORD_KINDS: readonly RecordKind[] = ['event', 'attempt', 'outbox', 'state', 'dead', 'timer', 'meta'];

/** One write of a transaction: a record set to a JSON text, or removed (`value === null`). */
export interface Mutation {
  readonly kind: RecordKind;
  readonly plugin: string;
  readonly key: number | string;
  readonly value: string | null;
}

/** The stored form of an accepted event (its seq is the key). */
export interface StoredEvent {
  readonly ingress: string;
  readonly event: unknown;
  readonly accepted_at: number;
}

/** The meta record holding a plugin's last issued event seq, so seqs survive acknowledgement and restarts. */
export const META_LAST_SEQ = 'last_seq';

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

const REFUSAL_MAX = 300;

/** A refusal with a bounded message (names and ids come from plugins). */
export function refuse(message: string): JournalRejectedError {
  return new JournalRejectedError(message.length > REFUSAL_MAX ? `${message.slice(0, REFUSAL_MAX)}…` : message);
}

/** A short, safe rendering of an untrusted id for an error message. */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/** JSON text of a value, or a refusal naming `what` (undefined, a cycle, a BigInt). */
export function jsonText(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw refuse(`${what} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (text === undefined) throw refuse(`${what} is not JSON`);
  return text;
}

/** A plugin identity, state key or id: a non-empty string of at most `JOURNAL_KEY_MAX_BYTES`. */
export function checkKey(value: unknown, what: string): string {
  if (typeof value !== 'string') throw refuse(`${what} must be a string`);
  if (value.length === 0) throw refuse(`${what} is empty`);
  if (utf8Bytes(value) > JOURNAL_KEY_MAX_BYTES) throw refuse(`${what} ${quote(value)} exceeds ${JOURNAL_KEY_MAX_BYTES} bytes`);
  return value;
}

/** Plugin identities additionally may not contain control characters (they prefix every key). */
export function checkPlugin(plugin: unknown): string {
  const id = checkKey(plugin, 'plugin identity');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(id)) throw refuse(`plugin identity ${quote(id)} contains control characters`);
  return id;
}

export function checkSeqList(value: unknown, what: string): readonly number[] {
  if (!Array.isArray(value)) throw refuse(`${what} must be an array`);
  for (const seq of value) if (!Number.isSafeInteger(seq) || (seq as number) < 1) throw refuse(`${what} holds an invalid sequence number ${quote(seq)}`);
  return value as number[];
}

export function checkArray<T>(value: unknown, what: string): readonly T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw refuse(`${what} must be an array`);
  return value as T[];
}

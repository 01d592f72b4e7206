import { RECORD_KINDS, type Mutation, type RecordKind } from './records.js';

/**
 * The JetStream engine's log format: each plugin's records are derived from the transactions
 * on its own subject. A transaction is the writes of one plugin in one group (or a snapshot
 * that replaces all of them), encoded as JSON and split into parts no larger than the server's
 * payload limit. It counts only once its last part is stored right after the others: each part
 * is published expecting the subject's previous sequence, so nothing can come between them,
 * and a transaction cut short (a crash, a full stream) leaves parts that replay skips.
 */

/** The log format version, in every message's `Yoi-Journal` header. */
export const LOG_FORMAT = '1';
export const HEADER_FORMAT = 'Yoi-Journal';
export const HEADER_TX = 'Yoi-Tx';
export const HEADER_PART = 'Yoi-Part';

export interface LogTransaction {
  /** A snapshot: every record of the plugin is removed before the mutations apply. */
  readonly reset: boolean;
  /** Mutations of one plugin, applied in order. */
  readonly mutations: readonly Mutation[];
}

/** One message of the log, as read back. */
export interface LogMessage {
  readonly seq: number;
  readonly tx: string;
  readonly part: number;
  readonly parts: number;
  readonly data: Uint8Array;
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** The subject token of a plugin identity (base64url of its UTF-8 bytes: any identity, no `.`, `*` or `>`). */
export function subjectToken(plugin: string): string {
  return Buffer.from(plugin, 'utf8').toString('base64url');
}

/** The plugin identity a subject token stands for, or null when the token is not one `subjectToken` makes. */
export function pluginOfToken(token: string): string | null {
  if (!TOKEN.test(token)) return null;
  const plugin = Buffer.from(token, 'base64url').toString('utf8');
  return subjectToken(plugin) === token ? plugin : null;
}

/** The JSON text of a transaction, split into parts of at most `partBytes` bytes. */
export function encodeTransaction(tx: LogTransaction, partBytes: number): Uint8Array[] {
  const body = Buffer.from(JSON.stringify({ reset: tx.reset, m: tx.mutations.map(({ kind, key, value }) => [kind, key, value]) }), 'utf8');
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < body.length; offset += partBytes) parts.push(body.subarray(offset, offset + partBytes));
  return parts;
}

/** Decodes a transaction's JSON text; throws on anything this format does not write. */
export function decodeTransaction(plugin: string, body: Uint8Array): LogTransaction {
  const parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as unknown;
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { m?: unknown }).m) || typeof (parsed as { reset?: unknown }).reset !== 'boolean') {
    throw new Error('not a journal transaction');
  }
  const kinds = new Set<string>(RECORD_KINDS);
  const mutations = ((parsed as { m: unknown[] }).m).map((item): Mutation => {
    if (!Array.isArray(item) || item.length !== 3) throw new Error('malformed mutation');
    const [kind, key, value] = item as [unknown, unknown, unknown];
    if (typeof kind !== 'string' || !kinds.has(kind)) throw new Error('unknown record kind');
    if (typeof key !== 'string' && !(typeof key === 'number' && Number.isSafeInteger(key))) throw new Error('malformed record key');
    if (typeof value !== 'string' && value !== null) throw new Error('malformed record value');
    return { kind: kind as RecordKind, plugin, key, value };
  });
  return { reset: (parsed as { reset: boolean }).reset, mutations };
}

/** `k/n` of the `Yoi-Part` header, or null. */
export function parsePart(text: string | undefined): { part: number; parts: number } | null {
  const match = text === undefined ? null : /^([1-9][0-9]{0,8})\/([1-9][0-9]{0,8})$/.exec(text);
  if (!match) return null;
  const part = Number(match[1]);
  const parts = Number(match[2]);
  return part <= parts ? { part, parts } : null;
}

/**
 * Reassembles the transactions of one subject from its messages in sequence order. A
 * transaction is complete when parts 1..n of one id arrived one after another; anything else
 * (a part out of place, a new transaction before the last one finished) drops what was
 * gathered. `skipped` counts the messages dropped.
 */
export class TransactionAssembler {
  #tx: string | null = null;
  #parts: Uint8Array[] = [];
  #expected = 0;
  skipped = 0;

  /** The complete transaction's body when this message finishes one, else null. */
  feed(message: LogMessage): Uint8Array | null {
    if (message.part === 1) {
      this.#drop();
      this.#tx = message.tx;
      this.#expected = message.parts;
    } else if (message.tx !== this.#tx || message.parts !== this.#expected || message.part !== this.#parts.length + 1) {
      this.#drop();
      this.skipped += 1;
      return null;
    }
    this.#parts.push(message.data);
    if (this.#parts.length < this.#expected) return null;
    const body = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
    this.#tx = null;
    this.#parts = [];
    return body;
  }

  /** Ends the subject: an unfinished transaction is dropped. */
  finish(): void {
    this.#drop();
  }

  #drop(): void {
    this.skipped += this.#parts.length;
    this.#tx = null;
    this.#parts = [];
  }
}

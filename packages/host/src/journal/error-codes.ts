/**
 * Every `code` a journal error (`JournalWriteError`, `JournalRejectedError`) carries, with what
 * it means. docs/errors.md is generated from this table (scripts/errors-doc.mjs).
 */
export const JOURNAL_ERROR_CODES = {
  YOI_JOURNAL_WRITE: 'a write could not be made durable (disk or stream full, read-only, store failure); nothing of it took effect',
  YOI_JOURNAL_REJECTED: 'the journal refused the transaction (state over its bounds, an unknown sequence): a plugin error, nothing was stored',
  YOI_JOURNAL_OPEN: 'the journal could not be opened (directory, NATS server unreachable or too old, JetStream off, a newer journal format)',
  YOI_JOURNAL_CLOSED: 'the journal was closed: every call issued after `close()` rejects',
  YOI_JOURNAL_IN_USE: 'the journal is held by another live process, or is already open in this one (its `writer.pid` lock)',
  YOI_JOURNAL_CONFLICT: "JetStream: the plugin's log changed on the server since this host read it; nothing was stored and the log was read again",
  YOI_JOURNAL_FENCED: "JetStream (several hosts): this host does not own the plugin's log (no lease, or another host took it over); nothing was stored",
  YOI_JOURNAL_UNCONFIRMED: 'JetStream: no acknowledgement within `writeTimeoutMs`; the outcome is unknown and is settled before the next write',
} as const satisfies Record<`YOI_JOURNAL_${string}`, string>;

/** The `code` of a journal error (one of {@link JOURNAL_ERROR_CODES}' keys). */
export type JournalErrorCode = keyof typeof JOURNAL_ERROR_CODES;

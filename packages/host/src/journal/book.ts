import type { DurableTimer, JournalDeadLetter, JournalLimits, JournalTransaction, NewJournalEvent, OutboxEntry, JournalEvent } from './journal.js';
import { checkArray, checkKey, checkSeqList, jsonText, META_LAST_SEQ, quote, refuse, utf8Bytes, type Mutation, type RecordKind, type StoredEvent } from './records.js';

/** Committed records of one plugin, as an engine can list them. */
export interface RecordReader {
  keys(kind: RecordKind, plugin: string): Iterable<number | string>;
  entries(kind: RecordKind, plugin: string): Iterable<readonly [number | string, string]>;
  get(kind: RecordKind, plugin: string, key: number | string): string | undefined;
}

/**
 * What a journal must know about a plugin to validate a transaction without reading its
 * records: which events are unacknowledged, which commands are pending, the dead letters in
 * order with their sizes, the state's sizes, and the counters that order new records.
 * Loaded from committed records; changed only by a plan whose write is being made.
 */
export class PluginBook {
  lastSeq = 0;
  readonly unacked = new Set<number>();
  /** Unacknowledged events with a recorded attempt (an acknowledgement removes only records that exist). */
  readonly attempts = new Set<number>();
  lastOutbox = 0;
  /** command_id → outbox order key. */
  readonly outbox = new Map<string, number>();
  lastDead = 0;
  /** Dead letters in order (oldest first): order key → id and JSON size. */
  readonly dead = new Map<number, { readonly id: string; readonly bytes: number }>();
  readonly deadIds = new Map<string, number>();
  deadBytes = 0;
  /** State key → size (UTF-8 bytes of the key plus its JSON value). */
  readonly state = new Map<string, number>();
  stateBytes = 0;

  static load(plugin: string, reader: RecordReader): PluginBook {
    const book = new PluginBook();
    for (const seq of reader.keys('event', plugin)) {
      book.unacked.add(seq as number);
      book.lastSeq = Math.max(book.lastSeq, seq as number);
    }
    for (const seq of reader.keys('attempt', plugin)) book.attempts.add(seq as number);
    const last = Number(reader.get('meta', plugin, META_LAST_SEQ) ?? 0);
    if (Number.isSafeInteger(last)) book.lastSeq = Math.max(book.lastSeq, last);
    for (const [order, text] of reader.entries('outbox', plugin)) {
      book.outbox.set((JSON.parse(text) as OutboxEntry).command_id, order as number);
      book.lastOutbox = Math.max(book.lastOutbox, order as number);
    }
    for (const [order, text] of reader.entries('dead', plugin)) {
      const id = (JSON.parse(text) as JournalDeadLetter).id;
      const bytes = utf8Bytes(text);
      book.dead.set(order as number, { id, bytes });
      book.deadIds.set(id, order as number);
      book.deadBytes += bytes;
      book.lastDead = Math.max(book.lastDead, order as number);
    }
    for (const [key, text] of reader.entries('state', plugin)) {
      const bytes = utf8Bytes(key as string) + utf8Bytes(text);
      book.state.set(key as string, bytes);
      book.stateBytes += bytes;
    }
    return book;
  }
}

/** A validated change: the writes that make it durable, what the caller gets back, and how the book changes once it is written. */
export interface Plan<R> {
  readonly mutations: readonly Mutation[];
  readonly result: R;
  apply(): void;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function planAppend(book: PluginBook, plugin: string, events: readonly NewJournalEvent[], now: number): Plan<JournalEvent[]> {
  const list = checkArray<NewJournalEvent>(events, 'events');
  const mutations: Mutation[] = [];
  const result: JournalEvent[] = [];
  let seq = book.lastSeq;
  // The stored text around an event's own JSON, made once per ingress of the call (usually one).
  const acceptedAt = `,"accepted_at":${JSON.stringify(now)}}`;
  let lastIngress: string | null = null;
  let head = '';
  for (const item of list) {
    if (!isObject(item)) throw refuse('each appended event must be an object with `ingress` and `event`');
    const ingress: string = lastIngress !== null && item.ingress === lastIngress ? lastIngress : checkKey(item.ingress, 'event ingress');
    if (!isObject(item.event)) throw refuse('an appended `event` must be a JSON object');
    seq += 1;
    if (ingress !== lastIngress) {
      lastIngress = ingress;
      head = `{"ingress":${JSON.stringify(ingress)},"event":`;
    }
    const value = typeof item.json === 'string' ? head + item.json + acceptedAt : jsonText({ ingress, event: item.event, accepted_at: now } satisfies StoredEvent, `event ${seq}`);
    mutations.push({ kind: 'event', plugin, key: seq, value });
    result.push({ seq, ingress, event: item.event, accepted_at: now });
  }
  if (result.length > 0) mutations.push({ kind: 'meta', plugin, key: META_LAST_SEQ, value: String(seq) });
  const first = book.lastSeq + 1;
  return {
    mutations,
    result,
    apply() {
      for (let s = first; s <= seq; s++) book.unacked.add(s);
      book.lastSeq = seq;
    },
  };
}

/** Finds the stored JSON of a dead letter about to be evicted (this group's pending writes first). */
export type DeadLetterLookup = (order: number) => string | undefined;

export interface CommitPlanResult {
  /** The evicted dead letters, oldest first. */
  readonly evicted: readonly JournalDeadLetter[];
}

export function planCommit(book: PluginBook, plugin: string, tx: JournalTransaction, limits: JournalLimits, now: number, lookupDead: DeadLetterLookup): Plan<CommitPlanResult> {
  if (!isObject(tx)) throw refuse('a journal transaction must be an object');
  const mutations: Mutation[] = [];
  const put = (kind: RecordKind, key: number | string, value: string): void => void mutations.push({ kind, plugin, key, value });
  const remove = (kind: RecordKind, key: number | string): void => void mutations.push({ kind, plugin, key, value: null });

  // Acknowledgements and attempts: only for events still unacknowledged.
  const acked = new Set<number>();
  for (const seq of tx.ack === undefined ? [] : checkSeqList(tx.ack, 'ack')) {
    if (acked.has(seq)) throw refuse(`ack lists sequence ${seq} twice`);
    if (!book.unacked.has(seq)) throw refuse(`ack of sequence ${seq}, which is not an unacknowledged event of ${quote(plugin)}`);
    acked.add(seq);
  }
  const attempted = new Set<number>();
  for (const item of checkArray<{ seq: number; attempt: number }>(tx.attempts, 'attempts')) {
    if (!isObject(item) || !Number.isSafeInteger(item.seq)) throw refuse('each attempt must be `{ seq, attempt }` with an integer seq');
    if (attempted.has(item.seq)) throw refuse(`attempts list sequence ${item.seq} twice`);
    if (!book.unacked.has(item.seq)) throw refuse(`attempt for sequence ${item.seq}, which is not an unacknowledged event of ${quote(plugin)}`);
    if (!Number.isSafeInteger(item.attempt) || item.attempt < 1) throw refuse(`attempt for sequence ${item.seq} must be an integer of at least 1`);
    attempted.add(item.seq);
    if (!acked.has(item.seq)) put('attempt', item.seq, String(item.attempt));
  }
  for (const seq of acked) {
    remove('event', seq);
    if (book.attempts.has(seq)) remove('attempt', seq);
  }

  // Outbox: completions of pending commands, then additions in commit order.
  const done = new Set<string>();
  for (const raw of checkArray<string>(tx.outboxDone, 'outboxDone')) {
    const id = checkKey(raw, 'outboxDone command_id');
    if (done.has(id)) throw refuse(`outboxDone lists command ${quote(id)} twice`);
    const order = book.outbox.get(id);
    if (order === undefined) throw refuse(`outboxDone names command ${quote(id)}, which is not pending for ${quote(plugin)}`);
    done.add(id);
    remove('outbox', order);
  }
  const added: [string, number][] = [];
  const addedIds = new Set<string>();
  let outboxOrder = book.lastOutbox;
  for (const entry of checkArray<Omit<OutboxEntry, 'committed_at'>>(tx.outboxAdd, 'outboxAdd')) {
    if (!isObject(entry)) throw refuse('each outbox entry must be an object');
    const id = checkKey(entry.command_id, 'outbox command_id');
    if (addedIds.has(id) || (book.outbox.has(id) && !done.has(id))) throw refuse(`outbox command ${quote(id)} is already pending`);
    if (!Number.isSafeInteger(entry.source_seq) || entry.source_seq < 0) throw refuse(`outbox command ${quote(id)} has an invalid source_seq`);
    if (entry.command === undefined) throw refuse(`outbox command ${quote(id)} has no command`);
    const stored: OutboxEntry = { command_id: id, source_seq: entry.source_seq, command: entry.command, committed_at: now };
    outboxOrder += 1;
    put('outbox', outboxOrder, jsonText(stored, `outbox command ${quote(id)}`));
    addedIds.add(id);
    added.push([id, outboxOrder]);
  }

  // State: bounded in keys and bytes; a change that would leave it over a bound is refused
  // (one that shrinks an already oversized state, after the bounds were lowered, is not).
  const stateChanges: [string, number | null][] = [];
  let stateKeys = book.state.size;
  let stateBytes = book.stateBytes;
  if (tx.state !== undefined) {
    if (!isObject(tx.state)) throw refuse('`state` must be an object of key → JSON value (null removes the key)');
    for (const [key, value] of Object.entries(tx.state)) {
      checkKey(key, 'state key');
      const old = book.state.get(key);
      if (value === null) {
        if (old === undefined) continue;
        stateKeys -= 1;
        stateBytes -= old;
        stateChanges.push([key, null]);
        remove('state', key);
      } else {
        const text = jsonText(value, `state value ${quote(key)}`);
        const size = utf8Bytes(key) + utf8Bytes(text);
        if (old === undefined) stateKeys += 1;
        else stateBytes -= old;
        stateBytes += size;
        stateChanges.push([key, size]);
        put('state', key, text);
      }
    }
    if (stateKeys > limits.stateKeys && stateKeys > book.state.size) {
      throw refuse(`state of ${quote(plugin)} would hold ${stateKeys} keys, more than its bound of ${limits.stateKeys}`);
    }
    if (stateBytes > limits.stateBytes && stateBytes > book.stateBytes) {
      throw refuse(`state of ${quote(plugin)} would take ${stateBytes} bytes, more than its bound of ${limits.stateBytes}`);
    }
  }

  // Dead letters: removals, additions, then eviction of the oldest beyond count or bytes.
  const removedDead = new Set<string>();
  let deadCount = book.dead.size;
  let deadBytes = book.deadBytes;
  for (const raw of checkArray<string>(tx.deadLetterRemove, 'deadLetterRemove')) {
    const id = checkKey(raw, 'deadLetterRemove id');
    if (removedDead.has(id)) throw refuse(`deadLetterRemove lists ${quote(id)} twice`);
    const order = book.deadIds.get(id);
    if (order === undefined) throw refuse(`deadLetterRemove names ${quote(id)}, which is not a dead letter of ${quote(plugin)}`);
    removedDead.add(id);
    deadCount -= 1;
    deadBytes -= book.dead.get(order)!.bytes;
  }
  const newDead: { id: string; order: number; text: string; bytes: number }[] = [];
  const newDeadIds = new Set<string>();
  let deadOrder = book.lastDead;
  for (const letter of checkArray<JournalDeadLetter>(tx.deadLetterAdd, 'deadLetterAdd')) {
    if (!isObject(letter)) throw refuse('each dead letter must be an object');
    const id = checkKey(letter.id, 'dead letter id');
    if (newDeadIds.has(id) || (book.deadIds.has(id) && !removedDead.has(id))) throw refuse(`dead letter ${quote(id)} already exists`);
    if (typeof letter.ingress !== 'string' || !isObject(letter.event) || !Number.isSafeInteger(letter.attempts) || typeof letter.last_error !== 'string' || typeof letter.dead_lettered_at !== 'string') {
      throw refuse(`dead letter ${quote(id)} needs ingress, event, attempts, last_error and dead_lettered_at`);
    }
    const text = jsonText(letter, `dead letter ${quote(id)}`);
    deadOrder += 1;
    newDead.push({ id, order: deadOrder, text, bytes: utf8Bytes(text) });
    newDeadIds.add(id);
    deadCount += 1;
    deadBytes += utf8Bytes(text);
  }
  const over = (): boolean => deadCount > limits.deadLetterCount || deadBytes > limits.deadLetterBytes;
  const evictedOld: number[] = [];
  const evicted: string[] = [];
  if (over()) {
    for (const [order, info] of book.dead) {
      if (!over()) break;
      if (removedDead.has(info.id)) continue;
      const text = lookupDead(order);
      if (text === undefined) throw new Error(`dead letter ${order} of ${quote(plugin)} is in the journal's index but not in its store`);
      evictedOld.push(order);
      evicted.push(text);
      deadCount -= 1;
      deadBytes -= info.bytes;
    }
  }
  let firstKeptNew = 0;
  while (over() && firstKeptNew < newDead.length) {
    const letter = newDead[firstKeptNew++]!;
    evicted.push(letter.text);
    deadCount -= 1;
    deadBytes -= letter.bytes;
  }
  for (const id of removedDead) remove('dead', book.deadIds.get(id)!);
  for (const order of evictedOld) remove('dead', order);
  const keptNew = newDead.slice(firstKeptNew);
  for (const letter of keptNew) put('dead', letter.order, letter.text);

  // Timers: deletions (of missing timers too: a fired one-shot is gone), then upserts.
  for (const raw of checkArray<string>(tx.timerDelete, 'timerDelete')) remove('timer', checkKey(raw, 'timerDelete id'));
  const timerIds = new Set<string>();
  for (const timer of checkArray<DurableTimer>(tx.timerSet, 'timerSet')) {
    if (!isObject(timer)) throw refuse('each timer must be an object');
    const id = checkKey(timer.timer_id, 'timer id');
    if (timerIds.has(id)) throw refuse(`timerSet lists ${quote(id)} twice`);
    if (typeof timer.ingress !== 'string' || !Number.isFinite(timer.next_at)) throw refuse(`timer ${quote(id)} needs an ingress and a finite next_at`);
    if (timer.interval_ms !== null && !(typeof timer.interval_ms === 'number' && Number.isFinite(timer.interval_ms) && timer.interval_ms > 0)) {
      throw refuse(`timer ${quote(id)} interval_ms must be null or a positive number`);
    }
    timerIds.add(id);
    const stored: DurableTimer = { timer_id: id, ingress: timer.ingress, next_at: timer.next_at, interval_ms: timer.interval_ms, data: timer.data ?? null };
    put('timer', id, jsonText(stored, `timer ${quote(id)}`));
  }

  return {
    mutations,
    result: { evicted: evicted.map((text) => JSON.parse(text) as JournalDeadLetter) },
    apply() {
      for (const seq of attempted) if (!acked.has(seq)) book.attempts.add(seq);
      for (const seq of acked) {
        book.unacked.delete(seq);
        book.attempts.delete(seq);
      }
      for (const id of done) book.outbox.delete(id);
      for (const [id, order] of added) book.outbox.set(id, order);
      book.lastOutbox = outboxOrder;
      for (const [key, size] of stateChanges) {
        if (size === null) book.state.delete(key);
        else book.state.set(key, size);
      }
      book.stateBytes = stateBytes;
      const forget = (order: number): void => {
        const info = book.dead.get(order)!;
        book.dead.delete(order);
        book.deadIds.delete(info.id);
      };
      for (const id of removedDead) forget(book.deadIds.get(id)!);
      for (const order of evictedOld) forget(order);
      for (const letter of keptNew) {
        book.dead.set(letter.order, { id: letter.id, bytes: letter.bytes });
        book.deadIds.set(letter.id, letter.order);
      }
      book.deadBytes = deadBytes;
      book.lastDead = deadOrder;
    },
  };
}

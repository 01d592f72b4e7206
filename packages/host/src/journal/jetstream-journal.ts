import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager, JsMsg, PubAck, StreamConfig } from '@nats-io/jetstream';
import { JournalCore, RecordStoreError, resolveLimits, type JournalCoreOptions, type PersistOutcome, type PersistUnit, type RecordStore } from './journal-core.js';
import { JournalWriteError } from './journal.js';
import {
  decodeTransaction,
  encodeTransaction,
  HEADER_FORMAT,
  HEADER_PART,
  HEADER_TX,
  LOG_FORMAT,
  parsePart,
  pluginOfToken,
  subjectToken,
  TransactionAssembler,
  type LogTransaction,
} from './jetstream-log.js';
import { isJetStreamApiError, loadNatsClients, type NatsClients } from './nats-clients.js';
import { RecordMap } from './record-map.js';
import { checkPlugin, type Mutation } from './records.js';

/** How {@link openJetStreamJournal} connects and where it keeps the journal. */
export interface JetStreamJournalOptions extends JournalCoreOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  readonly servers: string | readonly string[];
  /**
   * Names what the journal uses on the server (letters, digits, `_`, `-`; default `yoi`): the
   * stream `<prefix>_journal` with subjects `<prefix>.journal.<plugin>` and the KV bucket
   * `<prefix>_journal_meta`. One prefix per workspace.
   */
  readonly prefix?: string;
  /** Replicas of the stream and bucket when this open creates them (default 1; 3 on a 3-node cluster). */
  readonly replicas?: number;
  /** The stream's `max_bytes` when this open creates it (default: no limit but the server's). */
  readonly maxBytes?: number;
  /** How long a write may wait for the server's acknowledgement, retried meanwhile (default 10 s, at most 60 s). */
  readonly writeTimeoutMs?: number;
  /** How long opening may wait to connect (default 10 s). */
  readonly connectTimeoutMs?: number;
  /**
   * How long one request may wait for its answer (default 2 s, at least 1 s): a publish or a
   * read of a plugin's log is then retried (within `writeTimeoutMs`), any other request fails.
   */
  readonly requestTimeoutMs?: number;
  /** A plugin's log is rewritten as one snapshot once it has this many messages since the last (default 1000). */
  readonly compactAfterMessages?: number;
  /**
   * Several hosts share the journal (`yoi plugin serve --engine nats://…`): a write for a plugin
   * is made only by the host that claimed it (`claim`), and only while the log's owner record
   * is still that claim. A host whose plugin another host claimed since gets `YOI_JOURNAL_FENCED`.
   */
  readonly requireClaims?: boolean;
  /** Names this host in a `Yoi-Writer` header of every message it writes (for audits; default none). */
  readonly writer?: string;
}

/** What the JetStream engine keeps beyond `JournalStats`. */
export interface JetStreamLogStats {
  readonly stream: string;
  /** Snapshots written (each replacing a plugin's log), and those that failed (retried later). */
  readonly compactions: number;
  readonly compaction_failures: number;
  /** Writes refused because the plugin's log had changed on the server; the log was read again. */
  readonly conflicts: number;
  /** Writes the server did not acknowledge in time (their outcome was unknown to the caller). */
  readonly unconfirmed: number;
  /** Messages of unfinished transactions skipped when the logs were read at open (a crash or a refusal mid-transaction). */
  readonly skipped_messages: number;
  /** Writes refused because another host owns the plugin's log now (or this host never claimed it). */
  readonly fenced: number;
  /** Plugins this host holds a claim on. */
  readonly claims: number;
}

const JOURNAL_OPEN_FAILED = 'YOI_JOURNAL_OPEN';
/** A write refused because the plugin's log changed on the server since this journal read it. */
export const JOURNAL_CONFLICT = 'YOI_JOURNAL_CONFLICT';
/** A write the server did not acknowledge in time: it may or may not have been stored. */
export const JOURNAL_UNCONFIRMED = 'YOI_JOURNAL_UNCONFIRMED';
/** A write refused because this host does not own the plugin's log (several hosts share the journal). */
export const JOURNAL_FENCED = 'YOI_JOURNAL_FENCED';
/** The meta record naming the host (and lease) that owns a plugin's log. */
const META_OWNER = 'owner';
const HEADER_WRITER = 'Yoi-Writer';
const CLAIM_ATTEMPTS = 5;

/** The oldest nats-server the engine runs on: the client's consumer API needs 2.9.4 (tested with 2.9.10, Debian 12's package). */
export const MIN_NATS_SERVER = '2.9.4';
/** The journal's entry in the meta bucket, and the format this code reads and writes. */
const DESCRIPTOR_KEY = 'journal';
const DESCRIPTOR_FORMAT = 1;
/** JetStream deduplicates retried publishes (same message id) within this window; it must outlast a write's retries. */
const DUPLICATE_WINDOW_NS = 120 * 1_000_000_000;
const WRITE_TIMEOUT_MAX_MS = 60_000;
/** Room left in each message for headers, under the server's `max_payload`. */
const HEADER_ROOM = 4096;
const FETCH_BATCH = 1000;
const RETRY_PAUSE_MS = 100;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface PluginLog {
  readonly subject: string;
  /** The last stream sequence on the plugin's subject, as far as this journal knows. */
  last: number;
  /** Messages on the subject since (and including) its last snapshot. */
  messages: number;
  /** A write's outcome is unknown: the log is read again before the plugin's next write. */
  suspect: boolean;
}

/** A plugin's log as read from the stream: its last sequence, messages since its last snapshot, its complete transactions. */
interface ReadLog {
  last: number;
  messages: number;
  txs: LogTransaction[];
}

function prefixOf(prefix: string | undefined): string {
  const value = prefix ?? 'yoi';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw new RangeError('the JetStream journal prefix must be 1 to 64 letters, digits, `_` or `-`');
  return value;
}

function positive(value: number | undefined, fallback: number, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 1 || resolved > max) throw new RangeError(`${what} must be an integer from 1 to ${max}`);
  return resolved;
}

/** Server URLs without credentials, for messages. */
function redactServers(servers: string | readonly string[]): string {
  return (typeof servers === 'string' ? [servers] : [...servers]).map((url) => url.replace(/\/\/[^@/]*@/, '//***@')).join(', ');
}

function versionAtLeast(version: string, minimum: string): boolean {
  const parse = (text: string): number[] => text.split(/[.-]/).slice(0, 3).map((part) => Number.parseInt(part, 10) || 0);
  const [a, b] = [parse(version), parse(minimum)];
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! > b[i]!;
  return true;
}

function errorText(error: unknown): string {
  return (error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error)).replace(/\s+/g, ' ').slice(0, 160);
}

function apiCode(error: unknown): number | null {
  return isJetStreamApiError(error) ? error.code : null;
}

/** A refusal the server decided (nothing stored): an API error, or no stream listening on the subject. */
function definite(error: unknown): boolean {
  return isJetStreamApiError(error) || noStream(error);
}

/** The client's error when no stream listens on the subject (no responders). */
function noStream(error: unknown): boolean {
  return error instanceof Error && error.name === 'JetStreamNotEnabled';
}

/** Operator-facing reasons for the refusals a write can meet (JetStream error codes, then the store's own message). */
function refusalHint(code: number, message: string): string | null {
  if (code === 10077 && /maximum bytes/i.test(message)) return 'the journal stream is full (its max_bytes)';
  if (code === 10077 && /maximum messages/i.test(message)) return 'the journal stream is full (its max_msgs)';
  if (code === 10023 || code === 10047) return 'the NATS server has no JetStream storage left';
  if (code === 10054) return "a message is larger than the stream's max_msg_size";
  if (code === 10059) return 'the journal stream does not exist';
  return null;
}

/** The stream settings the journal's safety rests on: nothing may expire or be discarded to make room. */
function unsafeSetting(config: StreamConfig, root: string): string | null {
  if (!config.subjects?.includes(`${root}.>`)) return `its subjects are not ${root}.>`;
  if (config.retention !== 'limits') return `its retention is ${config.retention}, not limits`;
  if (config.discard !== 'new') return 'it discards old messages when full (discard must be new)';
  if ((config.max_age ?? 0) !== 0) return 'its messages expire (max_age must be 0)';
  if ((config.max_msgs ?? -1) !== -1) return 'it limits its message count (max_msgs must be -1)';
  if ((config.max_msgs_per_subject ?? -1) > 0) return 'it limits messages per subject (max_msgs_per_subject must be -1)';
  if (config.deny_purge) return 'it denies purges, which compaction needs';
  return null;
}

class JetStreamStore extends RecordMap implements RecordStore {
  readonly stream: string;
  readonly #root: string;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #headers: NatsClients['transport']['headers'];
  readonly #writeTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #compactAfter: number;
  readonly #partBytes: number;
  readonly #logs = new Map<string, PluginLog>();
  #maintenance: Promise<void> | null = null;
  /** Plugins whose records were read again from the server; their books are reloaded at the next group. */
  readonly #reloaded = new Set<string>();
  /** Plugin → the owner record this host wrote when it claimed it. */
  readonly #claims = new Map<string, string>();
  readonly #requireClaims: boolean;
  readonly #writer: string | null;
  readonly #fencedListeners = new Set<(plugin: string) => void>();
  fenced = 0;
  compactions = 0;
  compactionFailures = 0;
  conflicts = 0;
  unconfirmed = 0;
  skipped = 0;

  constructor(
    nc: NatsConnection,
    js: JetStreamClient,
    jsm: JetStreamManager,
    headers: NatsClients['transport']['headers'],
    options: { stream: string; root: string; writeTimeoutMs: number; requestTimeoutMs: number; compactAfter: number; requireClaims: boolean; writer: string | null },
  ) {
    super();
    this.#headers = headers;
    this.#requireClaims = options.requireClaims;
    this.#writer = options.writer;
    this.#nc = nc;
    this.#js = js;
    this.#jsm = jsm;
    this.stream = options.stream;
    this.#root = options.root;
    this.#writeTimeoutMs = options.writeTimeoutMs;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#compactAfter = options.compactAfter;
    this.#partBytes = Math.max(1024, (nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM);
  }

  #log(plugin: string): PluginLog {
    let log = this.#logs.get(plugin);
    if (!log) this.#logs.set(plugin, (log = { subject: `${this.#root}.${subjectToken(plugin)}`, last: 0, messages: 0, suspect: false }));
    return log;
  }

  /** Reads the whole stream (at open): every plugin's log, up to the last message stored when reading began. */
  async load(): Promise<void> {
    const info = await this.#jsm.streams.info(this.stream);
    if (info.state.messages === 0) return;
    const { logs, skipped } = await this.#read(`${this.#root}.>`, info.state.last_seq);
    this.skipped += skipped;
    for (const [plugin, { last, messages, txs }] of logs) {
      const log = this.#log(plugin);
      log.last = last;
      log.messages = messages;
      this.#replace(plugin, txs);
    }
  }

  /**
   * Reads the messages of `filter` up to stream sequence `until` through an ordered consumer,
   * and reassembles each plugin's transactions (`skipped`: messages of unfinished ones). A
   * message that is not a journal record stops the read: a log that cannot be read whole must
   * not be used in part.
   */
  async #read(filter: string, until: number): Promise<{ logs: Map<string, ReadLog>; skipped: number }> {
    const result = new Map<string, ReadLog>();
    let skipped = 0;
    const assemblers = new Map<string, TransactionAssembler>();
    const consumer = await this.#js.consumers.get(this.stream, { filter_subjects: filter });
    let seen = 0;
    try {
      while (seen < until) {
        const batch = await consumer.fetch({ max_messages: FETCH_BATCH, expires: this.#requestTimeoutMs });
        let got = 0;
        for await (const message of batch) {
          got += 1;
          seen = message.seq;
          const plugin = this.#pluginOf(message);
          let entry = result.get(plugin);
          if (!entry) result.set(plugin, (entry = { last: 0, messages: 0, txs: [] }));
          let assembler = assemblers.get(plugin);
          if (!assembler) assemblers.set(plugin, (assembler = new TransactionAssembler()));
          const logMessage = this.#logMessage(message);
          entry.last = message.seq;
          entry.messages += 1;
          const body = assembler.feed(logMessage);
          if (body) {
            const tx = decodeTransaction(plugin, body);
            if (tx.reset) {
              // A snapshot replaces everything before it.
              entry.txs = [];
              entry.messages = logMessage.parts;
            }
            entry.txs.push(tx);
          }
          if (seen >= until) break;
        }
        if (got === 0) throw new Error(`no messages arrived within ${this.#requestTimeoutMs} ms (read up to sequence ${seen} of ${until})`);
      }
    } finally {
      // Ordered consumers are ephemeral (the server also removes an idle one); remove it now.
      consumer.delete().catch(() => undefined);
    }
    for (const assembler of assemblers.values()) {
      assembler.finish();
      skipped += assembler.skipped;
    }
    return { logs: result, skipped };
  }

  #pluginOf(message: JsMsg): string {
    const token = message.subject.startsWith(`${this.#root}.`) ? message.subject.slice(this.#root.length + 1) : '';
    const plugin = pluginOfToken(token);
    if (plugin === null) throw new Error(`stream message ${message.seq} has subject ${JSON.stringify(message.subject.slice(0, 80))}, which is not a plugin's journal subject`);
    return plugin;
  }

  #logMessage(message: JsMsg): { seq: number; tx: string; part: number; parts: number; data: Uint8Array } {
    const format = message.headers?.get(HEADER_FORMAT);
    if (format !== LOG_FORMAT) {
      throw new Error(format ? `stream message ${message.seq} is in journal log format ${JSON.stringify(format.slice(0, 16))}, which this version does not read` : `stream message ${message.seq} is not a journal record`);
    }
    const part = parsePart(message.headers?.get(HEADER_PART));
    const tx = message.headers?.get(HEADER_TX) ?? '';
    if (!part || tx === '') throw new Error(`stream message ${message.seq} has no valid transaction headers`);
    return { seq: message.seq, tx, ...part, data: message.data };
  }

  /** Replaces a plugin's records with what its transactions make. */
  #replace(plugin: string, txs: readonly LogTransaction[]): void {
    this.clear(plugin);
    for (const tx of txs) this.apply(tx.mutations);
  }

  /**
   * Reads a plugin's log again from the server and replaces its records with it; retried while
   * the server does not answer, until `writeTimeoutMs` has passed.
   */
  async #reread(plugin: string): Promise<void> {
    const log = this.#log(plugin);
    const deadline = Date.now() + this.#writeTimeoutMs;
    let entry: ReadLog | undefined;
    for (;;) {
      try {
        const lastMessage = await this.#jsm.streams.getMessage(this.stream, { last_by_subj: log.subject });
        entry = lastMessage ? (await this.#read(log.subject, lastMessage.seq)).logs.get(plugin) : undefined;
        break;
      } catch (error) {
        if (definite(error) || this.#nc.isClosed() || deadline - Date.now() <= RETRY_PAUSE_MS) throw error;
        await pause(RETRY_PAUSE_MS);
      }
    }
    log.last = entry?.last ?? 0;
    log.messages = entry?.messages ?? 0;
    this.#replace(plugin, entry?.txs ?? []);
    log.suspect = false;
    this.#reloaded.add(plugin);
  }

  async prepare(plugins: ReadonlySet<string>): Promise<Iterable<string>> {
    if (this.#maintenance) await this.#maintenance;
    for (const plugin of plugins) {
      if (!this.#logs.get(plugin)?.suspect) continue;
      try {
        await this.#reread(plugin);
      } catch {
        // Still unknown (the server is unreachable): the write that follows fails or conflicts.
      }
    }
    const changed = [...this.#reloaded];
    this.#reloaded.clear();
    return changed;
  }

  persist(mutations: readonly Mutation[]): Promise<void> {
    const byPlugin = new Map<string, Mutation[]>();
    for (const mutation of mutations) {
      let list = byPlugin.get(mutation.plugin);
      if (!list) byPlugin.set(mutation.plugin, (list = []));
      list.push(mutation);
    }
    if (byPlugin.size > 1) return Promise.reject(new Error('the JetStream journal stores each plugin on its own; use persistEach'));
    return this.persistEach([...byPlugin].map(([plugin, list]) => ({ plugin, mutations: list }))).then(([outcome]) => {
      if (outcome && !outcome.stored) throw outcome.cause;
    });
  }

  /** Publishes every plugin's transaction at once and awaits the acknowledgements together. */
  async persistEach(units: readonly PersistUnit[]): Promise<readonly PersistOutcome[]> {
    if (this.#maintenance) await this.#maintenance;
    const outcomes = await Promise.all(
      units.map((unit) =>
        this.#write(unit.plugin, { reset: false, mutations: unit.mutations }).then(
          (): PersistOutcome => {
            this.apply(unit.mutations);
            return { stored: true };
          },
          (cause: unknown): PersistOutcome => ({ stored: false, cause }),
        ),
      ),
    );
    const due = units.map((unit) => unit.plugin).filter((plugin) => {
      const log = this.#logs.get(plugin)!;
      return !log.suspect && log.messages >= this.#compactAfter;
    });
    if (due.length > 0) this.#maintenance = this.#compact(due).finally(() => (this.#maintenance = null));
    return outcomes;
  }

  /**
   * Writes one transaction to the plugin's subject, part after part, each expecting the
   * subject's previous sequence. Resolves once the server acknowledged the last part (stored
   * on its file storage). Returns the sequence of the first part.
   */
  async #write(plugin: string, tx: LogTransaction, claiming = false): Promise<number> {
    const log = this.#log(plugin);
    if (!claiming) this.#checkOwner(plugin);
    const parts = encodeTransaction(tx, this.#partBytes);
    const id = randomUUID();
    const deadline = Date.now() + this.#writeTimeoutMs;
    let first = 0;
    for (const [index, data] of parts.entries()) {
      const hdrs = this.#headers();
      hdrs.set(HEADER_FORMAT, LOG_FORMAT);
      hdrs.set(HEADER_TX, id);
      hdrs.set(HEADER_PART, `${index + 1}/${parts.length}`);
      if (this.#writer !== null) hdrs.set(HEADER_WRITER, this.#writer);
      let ack: PubAck;
      try {
        ack = await this.#publish(log.subject, data, { headers: hdrs, msgID: `${id}.${index + 1}`, expect: { lastSubjectSequence: log.last } }, deadline);
      } catch (error) {
        if (apiCode(error) === 10071) {
          this.conflicts += 1;
          let reread = 'it was read again';
          try {
            await this.#reread(plugin);
          } catch {
            log.suspect = true;
            reread = 'it is read again before the next write';
          }
          throw new RecordStoreError(`the log of this plugin changed on the server since this host read it (a write confirmed late, or another writer); ${reread}`, JOURNAL_CONFLICT, false, { cause: error });
        }
        if (!definite(error)) {
          this.unconfirmed += 1;
          log.suspect = true;
          throw new RecordStoreError(`the NATS server did not acknowledge the write within ${this.#writeTimeoutMs} ms (${errorText(error)})`, JOURNAL_UNCONFIRMED, true, { cause: error });
        }
        throw error;
      }
      log.last = ack.seq;
      if (index === 0) first = ack.seq;
    }
    log.messages = tx.reset ? parts.length : log.messages + parts.length;
    return first;
  }

  /**
   * One publish, retried with the same message id while its outcome is unknown, until the
   * deadline. A retry of a message that was stored is answered as a duplicate with the original
   * sequence (JetStream checks the id before the expected sequence), so a retry never stores twice.
   */
  async #publish(subject: string, data: Uint8Array, options: { headers: ReturnType<NatsClients['transport']['headers']>; msgID: string; expect: { lastSubjectSequence: number } }, deadline: number): Promise<PubAck> {
    for (;;) {
      const left = deadline - Date.now();
      try {
        return await this.#js.publish(subject, data, { ...options, timeout: Math.max(1, Math.min(left, this.#requestTimeoutMs)) });
      } catch (error) {
        if (definite(error) || this.#nc.isClosed() || deadline - Date.now() <= RETRY_PAUSE_MS) throw error;
        await pause(RETRY_PAUSE_MS);
      }
    }
  }

  /**
   * With claims required: refuses a write unless this host claimed the plugin and the log's
   * owner record (as last read) is still its claim. A write that raced another host's claim
   * conflicts on the expected sequence, the log is read again, and the next attempt ends here.
   */
  #checkOwner(plugin: string): void {
    if (!this.#requireClaims) return;
    const claim = this.#claims.get(plugin);
    if (claim === undefined) {
      this.fenced += 1;
      throw new RecordStoreError('this host holds no lease on the plugin, so it may not write its log', JOURNAL_FENCED);
    }
    if (this.get('meta', plugin, META_OWNER) === claim) return;
    this.#claims.delete(plugin);
    this.fenced += 1;
    for (const listener of this.#fencedListeners) {
      try {
        listener(plugin);
      } catch {
        // a listener must not break the write path
      }
    }
    throw new RecordStoreError('another host took the plugin over (its lease moved); this host may no longer write its log', JOURNAL_FENCED);
  }

  /**
   * Makes this host the owner of a plugin's log: reads the log again (what the previous owner
   * wrote), then writes an owner record expecting the log's last sequence. From then on a
   * write by any earlier owner conflicts, and after reading the log again is fenced.
   */
  async claim(plugin: string, owner: string): Promise<void> {
    if (this.#maintenance) await this.#maintenance;
    const value = JSON.stringify(owner);
    const mutations: Mutation[] = [{ kind: 'meta', plugin, key: META_OWNER, value }];
    for (let attempt = 1; ; attempt++) {
      await this.#reread(plugin);
      try {
        await this.#write(plugin, { reset: false, mutations }, true);
      } catch (error) {
        if (error instanceof RecordStoreError && error.code === JOURNAL_CONFLICT && attempt < CLAIM_ATTEMPTS) continue;
        throw error;
      }
      this.apply(mutations);
      this.#claims.set(plugin, value);
      this.#reloaded.add(plugin);
      return;
    }
  }

  /** Forgets this host's claim: its next write for the plugin is fenced. */
  release(plugin: string): void {
    this.#claims.delete(plugin);
  }

  owns(plugin: string): boolean {
    return this.#claims.has(plugin);
  }

  get claimCount(): number {
    return this.#claims.size;
  }

  /** Reads a plugin's log again (what other hosts wrote), for reads on a host that does not own it. */
  async refresh(plugin: string): Promise<void> {
    if (this.#maintenance) await this.#maintenance;
    await this.#reread(plugin);
  }

  onFenced(listener: (plugin: string) => void): () => void {
    this.#fencedListeners.add(listener);
    return () => this.#fencedListeners.delete(listener);
  }

  /** Rewrites each plugin's log as one snapshot of its records, then purges what came before. */
  async #compact(plugins: readonly string[]): Promise<void> {
    for (const plugin of plugins) {
      const log = this.#log(plugin);
      try {
        const first = await this.#write(plugin, { reset: true, mutations: this.snapshot(plugin) });
        await this.#jsm.streams.purge(this.stream, { filter: log.subject, seq: first });
        this.compactions += 1;
      } catch {
        // Compaction is an optimisation: the log stays valid as it is, and is compacted after a later write.
        this.compactionFailures += 1;
      }
    }
  }

  describeFailure(error: unknown): string {
    if (error instanceof RecordStoreError) return error.message;
    const code = apiCode(error);
    const hint = code === null ? null : refusalHint(code, (error as Error).message);
    if (hint) return `${hint} (${errorText(error)})`;
    if (noStream(error)) return 'no JetStream stream took the message (was the journal stream deleted?)';
    return errorText(error);
  }

  async close(): Promise<void> {
    if (this.#maintenance) await this.#maintenance;
    if (!this.#nc.isClosed()) await this.#nc.close();
  }
}

/**
 * The journal of a workspace on NATS JetStream: one stream holds a log per plugin, from which
 * its records are materialised in memory (see docs/scale-out.md). Each plugin's writes of a
 * group are one transaction on its subject; the appends and commits issued in the same tick
 * share one round of publishes, and each resolves once the server acknowledged it.
 */
export class JetStreamJournal extends JournalCore {
  readonly stream: string;
  readonly subjects: string;
  readonly bucket: string;
  readonly serverVersion: string;
  readonly #store: JetStreamStore;

  private constructor(store: JetStreamStore, names: { subjects: string; bucket: string; serverVersion: string }, options: JournalCoreOptions) {
    super('jetstream', store, options);
    this.#store = store;
    this.stream = store.stream;
    this.subjects = names.subjects;
    this.bucket = names.bucket;
    this.serverVersion = names.serverVersion;
  }

  logStats(): JetStreamLogStats {
    const store = this.#store;
    return {
      stream: store.stream,
      compactions: store.compactions,
      compaction_failures: store.compactionFailures,
      conflicts: store.conflicts,
      unconfirmed: store.unconfirmed,
      skipped_messages: store.skipped,
      fenced: store.fenced,
      claims: store.claimCount,
    };
  }

  /**
   * Several hosts (`requireClaims`): makes this host the owner of `plugin`'s log, named by
   * `owner` (host and lease). Call it after winning the plugin's lease and before starting its
   * service; any earlier owner's writes are fenced from then on.
   */
  claim(plugin: string, owner: string): Promise<void> {
    return this.#store.claim(checkPlugin(plugin), owner);
  }

  /** Gives up this host's claim (its lease was lost or handed over): its further writes for the plugin are fenced. */
  release(plugin: string): void {
    this.#store.release(plugin);
  }

  /** Whether this host holds a claim on the plugin's log that no other host is known to have taken over. */
  owns(plugin: string): boolean {
    return this.#store.owns(plugin);
  }

  /** Reads a plugin's log again from the server (another host owns and writes it). */
  refresh(plugin: string): Promise<void> {
    return this.#store.refresh(checkPlugin(plugin));
  }

  /** Called when a write finds that another host took a plugin over (the write is refused with `YOI_JOURNAL_FENCED`). */
  onFenced(listener: (plugin: string) => void): () => void {
    return this.#store.onFenced(listener);
  }

  static async open(options: JetStreamJournalOptions): Promise<JetStreamJournal> {
    const prefix = prefixOf(options.prefix);
    resolveLimits(options.limits);
    const writeTimeoutMs = positive(options.writeTimeoutMs, 10_000, 'writeTimeoutMs', WRITE_TIMEOUT_MAX_MS);
    const connectTimeoutMs = positive(options.connectTimeoutMs, 10_000, 'connectTimeoutMs');
    const requestTimeoutMs = Math.max(1000, positive(options.requestTimeoutMs, 2000, 'requestTimeoutMs', WRITE_TIMEOUT_MAX_MS));
    const compactAfter = positive(options.compactAfterMessages, 1000, 'compactAfterMessages');
    const replicas = positive(options.replicas, 1, 'replicas', 5);
    const maxBytes = options.maxBytes === undefined ? -1 : positive(options.maxBytes, 1, 'maxBytes');
    const servers = typeof options.servers === 'string' ? [options.servers] : [...options.servers];
    if (servers.length === 0) throw new RangeError('the JetStream journal needs at least one server URL');
    const where = redactServers(servers);
    const fail = (what: string, error?: unknown): JournalWriteError =>
      new JournalWriteError(`cannot open the JetStream journal at ${where}: ${what}${error === undefined ? '' : ` (${errorText(error)})`}`.slice(0, 300), JOURNAL_OPEN_FAILED, error === undefined ? undefined : { cause: error });

    const { transport, jetstream: jsApi, kv: kvApi } = await loadNatsClients();
    let nc: NatsConnection;
    try {
      nc = await transport.connect({ servers, name: 'yoi-journal', timeout: connectTimeoutMs, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    } catch (error) {
      throw fail('the NATS server is not reachable', error);
    }
    try {
      const version = nc.info?.version ?? '0.0.0';
      if (!versionAtLeast(version, MIN_NATS_SERVER)) throw fail(`nats-server ${version} is older than ${MIN_NATS_SERVER}, the oldest this journal supports`);
      let jsm: JetStreamManager;
      try {
        jsm = await jsApi.jetstreamManager(nc, { timeout: requestTimeoutMs });
      } catch (error) {
        throw fail('JetStream is not enabled on the server (start nats-server with -js)', error);
      }
      const js = jsApi.jetstream(nc, { timeout: requestTimeoutMs });
      const stream = `${prefix}_journal`;
      const root = `${prefix}.journal`;
      const bucket = `${prefix}_journal_meta`;

      const kv = await new kvApi.Kvm(js).create(bucket, { history: 1, replicas, storage: 'file' });
      const descriptor = JSON.stringify({ format: DESCRIPTOR_FORMAT, stream, subjects: `${root}.<base64url of the plugin identity>` });
      let entry = await kv.get(DESCRIPTOR_KEY);
      if (!entry) {
        try {
          await kv.create(DESCRIPTOR_KEY, descriptor);
        } catch {
          // Another host created it first; read theirs.
        }
        entry = await kv.get(DESCRIPTOR_KEY);
      }
      let format: unknown;
      try {
        format = (entry?.json() as { format?: unknown } | undefined)?.format;
      } catch {
        format = undefined;
      }
      if (format !== DESCRIPTOR_FORMAT) throw fail(`bucket ${bucket} describes journal format ${JSON.stringify(format ?? null)}; this version reads format ${DESCRIPTOR_FORMAT}`);

      let config: StreamConfig;
      try {
        config = (await jsm.streams.info(stream)).config;
      } catch (error) {
        if (apiCode(error) !== 10059) throw error;
        config = (
          await jsm.streams.add({
            name: stream,
            subjects: [`${root}.>`],
            storage: 'file',
            retention: 'limits',
            discard: 'new',
            max_msgs: -1,
            max_age: 0,
            max_bytes: maxBytes,
            num_replicas: replicas,
            duplicate_window: DUPLICATE_WINDOW_NS,
          } as Partial<StreamConfig> as StreamConfig)
        ).config;
      }
      const unsafe = unsafeSetting(config, root);
      if (unsafe) throw fail(`stream ${stream} is not safe for a journal: ${unsafe}`);
      if ((config.duplicate_window ?? 0) < writeTimeoutMs * 1_000_000) throw fail(`stream ${stream} deduplicates for less than writeTimeoutMs (${writeTimeoutMs} ms)`);

      const store = new JetStreamStore(nc, js, jsm, transport.headers, { stream, root, writeTimeoutMs, requestTimeoutMs, compactAfter, requireClaims: options.requireClaims ?? false, writer: options.writer ?? null });
      try {
        await store.load();
      } catch (error) {
        throw fail(`stream ${stream} could not be read`, error);
      }
      return new JetStreamJournal(store, { subjects: `${root}.>`, bucket, serverVersion: version }, options);
    } catch (error) {
      await nc.close().catch(() => undefined);
      if (error instanceof JournalWriteError) throw error;
      throw fail('setting up the stream failed', error);
    }
  }
}

/** Opens (or creates) the JetStream journal named by `prefix` on the given NATS server(s). */
export function openJetStreamJournal(options: JetStreamJournalOptions): Promise<JetStreamJournal> {
  return JetStreamJournal.open(options);
}

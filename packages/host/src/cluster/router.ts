import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { ERROR_CODE_DESCRIPTIONS, PluginError, type ErrorCode } from '../errors.js';
import type { JsonValue } from '../manifest/types.js';
import type { Logger } from '../serve/log.js';

/**
 * What one host asks of the host that owns a plugin (several serve hosts on JetStream): run an
 * instance-world tool call, or replay/drop dead letters, there and nowhere else.
 */
export type OwnerRequest =
  | { readonly op: 'tool'; readonly plugin: string; readonly tool: string; readonly input: JsonValue }
  | { readonly op: 'dlq'; readonly plugin: string; readonly action: 'replay' | 'drop'; readonly ids: readonly string[] | 'all' };

/** The owner's answer: the result, or an error with a code (a host error code, or `not_owner`). */
export type OwnerReply = { readonly ok: true; readonly result: JsonValue } | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

/** Runs a request on this host once it is sure it owns the plugin (serve's handler). */
export type OwnerHandler = (request: OwnerRequest) => Promise<OwnerReply>;

/** On the wire: the request, who sent it and how long it waits (the owner counts late answers). */
interface Envelope {
  readonly v: 1;
  readonly from: string;
  readonly timeout_ms: number;
  readonly request: OwnerRequest;
}

/** Routed requests and their replies are kept under this many bytes (tool input and output are 64 KiB each at most), and under the server's max_payload. */
const ROUTE_MAX_BYTES = 256 * 1024;
/** Room left under the server's max_payload for the message's subject, reply subject and headers. */
const PAYLOAD_MARGIN = 1024;
/** Routed requests one host runs at once for the others; more are refused with `PLUGIN_BUSY`. */
const INBOUND_MAX = 256;
/** A `not_owner` answer (ownership changing hands) is retried this many times, after a short wait each. */
const NOT_OWNER_RETRIES = 4;
const NOT_OWNER_WAIT_MS = 150;

export interface RouterCounters {
  /** Requests sent to the owning host. */
  readonly forwarded: number;
  /** Sent requests that failed, by code (`CLUSTER_*`, or the owner's). */
  readonly forward_failures: Readonly<Record<string, number>>;
  /** Requests this host ran for another host. */
  readonly served: number;
  /** Requests refused here because this host does not own the plugin (the sender asks again). */
  readonly refused_not_owner: number;
  /** Requests refused here because INBOUND_MAX were running. */
  readonly refused_busy: number;
  /** Requests answered after the sender's deadline (the sender had reported `CLUSTER_OWNER_TIMEOUT`). */
  readonly late_replies: number;
  /** Replies over ROUTE_MAX_BYTES, replaced by an error. */
  readonly replies_too_large: number;
}

/** Where a plugin's lease is, as the lease bucket says now. */
export interface LeaseLookup {
  lease(plugin: string): Promise<{ readonly host: string } | null>;
  /** Whether this host may act for the plugin now (`ClusterNode.mayAct`) and its service has started here. */
  mayAct(plugin: string): boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Request/reply between the hosts of a workspace over NATS: each host answers on its own
 * subject `<prefix>.host.<host id>`; a sender reads the plugin's lease and asks that host. The
 * owner checks its own right to act (`mayAct`) before it runs anything and answers `not_owner`
 * otherwise, so a call never runs on a host that does not own the plugin. Every request has a
 * deadline and a bounded size. Failures are `PluginError`s: `CLUSTER_NO_OWNER` (no lease, or
 * its holder is not connected), `CLUSTER_OWNER_TIMEOUT` (no answer in time; it may have run),
 * `CLUSTER_ROUTE_FAILED` (NATS or the bounds).
 */
export class OwnerRouter {
  readonly hostId: string;
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #leases: LeaseLookup;
  readonly #log: Logger;
  #subscription: Subscription | null = null;
  #inbound = 0;
  readonly #running = new Set<Promise<void>>();
  #counters = { forwarded: 0, served: 0, refused_not_owner: 0, refused_busy: 0, late_replies: 0, replies_too_large: 0 };
  readonly #failures: Record<string, number> = {};

  constructor(nc: NatsConnection, prefix: string, hostId: string, leases: LeaseLookup, log: Logger) {
    this.#nc = nc;
    this.#prefix = prefix;
    this.hostId = hostId;
    this.#leases = leases;
    this.#log = log;
  }

  #subjectOf(host: string): string {
    return `${this.#prefix}.host.${host}`;
  }

  /**
   * Starts answering the other hosts' requests with `handler` (after this host's own `mayAct` check).
   * Resolves once the server has the subscription, so a lease claimed afterwards never names a
   * host that other hosts would see as not connected.
   */
  async serve(handler: OwnerHandler): Promise<void> {
    if (this.#subscription) return;
    this.#subscription = this.#nc.subscribe(this.#subjectOf(this.hostId), {
      callback: (error, message) => {
        if (error) return;
        const run = this.#answer(message.data, handler).then((reply) => {
          if (message.reply) message.respond(reply);
        });
        const tracked = run.catch((e: unknown) => this.#log('warn', 'routed request failed', { error: e instanceof Error ? e.message : String(e) })).finally(() => this.#running.delete(tracked));
        this.#running.add(tracked);
      },
    });
    await this.#nc.flush();
  }

  async #answer(data: Uint8Array, handler: OwnerHandler): Promise<Uint8Array> {
    const received = performance.now();
    let envelope: Envelope;
    try {
      envelope = JSON.parse(decoder.decode(data)) as Envelope;
      if (envelope.v !== 1 || typeof envelope.request?.plugin !== 'string') throw new Error('unknown request');
    } catch {
      return this.#encode({ ok: false, error: { code: 'CLUSTER_ROUTE_FAILED', message: 'the owning host could not read the request' } });
    }
    const { request } = envelope;
    if (!this.#leases.mayAct(request.plugin)) {
      this.#counters.refused_not_owner += 1;
      return this.#encode({ ok: false, error: { code: 'not_owner', message: `host ${this.hostId} does not own ${request.plugin}` } });
    }
    if (this.#inbound >= INBOUND_MAX) {
      this.#counters.refused_busy += 1;
      this.#log('warn', 'routed request refused: too many running', { plugin: request.plugin, from: envelope.from, limit: INBOUND_MAX });
      return this.#encode({ ok: false, error: { code: 'PLUGIN_BUSY', message: `host ${this.hostId} runs ${INBOUND_MAX} routed requests already; try again` } });
    }
    this.#inbound++;
    let reply: OwnerReply;
    try {
      reply = await handler(request);
    } catch (error) {
      reply = { ok: false, error: { code: error instanceof PluginError ? error.code : 'failed', message: error instanceof Error ? error.message.slice(0, 512) : 'failed' } };
    } finally {
      this.#inbound--;
    }
    this.#counters.served += 1;
    if (performance.now() - received > envelope.timeout_ms) {
      this.#counters.late_replies += 1;
      this.#log('warn', 'routed request answered after its deadline (the sender reported a timeout)', { plugin: request.plugin, op: request.op, from: envelope.from, timeout_ms: envelope.timeout_ms });
    }
    return this.#encode(reply);
  }

  /** The bound of a routed message: ROUTE_MAX_BYTES, or less when the server's max_payload is smaller. */
  #limit(): number {
    const serverMax = this.#nc.info?.max_payload;
    return typeof serverMax === 'number' && serverMax > PAYLOAD_MARGIN ? Math.min(ROUTE_MAX_BYTES, serverMax - PAYLOAD_MARGIN) : ROUTE_MAX_BYTES;
  }

  #encode(reply: OwnerReply): Uint8Array {
    const bytes = encoder.encode(JSON.stringify(reply));
    const limit = this.#limit();
    if (bytes.length <= limit) return bytes;
    this.#counters.replies_too_large += 1;
    this.#log('warn', 'routed reply over its bound: replaced by an error', { bytes: bytes.length, limit });
    return encoder.encode(JSON.stringify({ ok: false, error: { code: 'CLUSTER_ROUTE_FAILED', message: `the owner's reply is ${bytes.length} bytes, over the ${limit}-byte bound of a routed reply; the call ran there` } }));
  }

  /**
   * Sends `request` to the host holding the plugin's lease and returns its result, or throws a
   * `PluginError` (the owner's own error code, or `CLUSTER_*`). `timeoutMs` bounds the whole
   * exchange. Resolves `{ here: true }` when the lease is this host's and it may act (run it locally).
   */
  async forward(request: OwnerRequest, timeoutMs: number): Promise<{ readonly here: true } | { readonly here: false; readonly owner: string; readonly result: JsonValue }> {
    try {
      return await this.#forward(request, timeoutMs);
    } catch (error) {
      const code = error instanceof PluginError ? error.code : 'CLUSTER_ROUTE_FAILED';
      this.#failures[code] = (this.#failures[code] ?? 0) + 1;
      this.#log('warn', 'routed request failed', { plugin: request.plugin, op: request.op, code, error: error instanceof Error ? error.message : String(error) });
      throw error instanceof PluginError ? error : new PluginError('CLUSTER_ROUTE_FAILED', `the request could not be routed: ${error instanceof Error ? error.message : String(error)}`.slice(0, 512), { cause: error });
    }
  }

  async #forward(request: OwnerRequest, timeoutMs: number): Promise<{ readonly here: true } | { readonly here: false; readonly owner: string; readonly result: JsonValue }> {
    const deadline = performance.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const left = () => Math.max(1, Math.floor(deadline - performance.now()));
      const lease = await this.#leases.lease(request.plugin);
      if (!lease) throw new PluginError('CLUSTER_NO_OWNER', `no host holds the lease of ${request.plugin} now; the call did not run (a host takes it over within the lease time)`);
      const retry = async (why: string) => {
        if (attempt >= NOT_OWNER_RETRIES || left() <= NOT_OWNER_WAIT_MS) throw new PluginError('CLUSTER_NO_OWNER', `${request.plugin} is changing hosts (${why}); the call did not run; try again`);
        await new Promise((resolve) => setTimeout(resolve, NOT_OWNER_WAIT_MS * (attempt + 1)));
      };
      if (lease.host === this.hostId) {
        if (this.#leases.mayAct(request.plugin)) return { here: true };
        await retry('its lease is this host’s, but its service is not started here yet, or the lease is being given up');
        continue;
      }
      const envelope: Envelope = { v: 1, from: this.hostId, timeout_ms: left(), request };
      const payload = encoder.encode(JSON.stringify(envelope));
      if (payload.length > this.#limit()) throw new PluginError('CLUSTER_ROUTE_FAILED', `the request is ${payload.length} bytes, over the ${this.#limit()}-byte bound of a routed request; it was not sent`);
      this.#counters.forwarded += 1;
      let data: Uint8Array;
      try {
        data = (await this.#nc.request(this.#subjectOf(lease.host), payload, { timeout: left() })).data;
      } catch (error) {
        const name = error instanceof Error ? error.name : '';
        const noResponders = (error as { isNoResponders?: () => boolean }).isNoResponders?.() === true || name === 'NoRespondersError';
        if (noResponders) throw new PluginError('CLUSTER_NO_OWNER', `host ${lease.host} holds the lease of ${request.plugin} but is not connected (gone?); the call did not run; a host takes it over within the lease time`);
        if (name === 'TimeoutError' || (error instanceof Error && error.cause instanceof Error && error.cause.name === 'TimeoutError')) {
          throw new PluginError('CLUSTER_OWNER_TIMEOUT', `host ${lease.host}, owner of ${request.plugin}, did not answer within ${timeoutMs} ms; the call may or may not have run there`);
        }
        throw error;
      }
      let reply: OwnerReply;
      try {
        reply = JSON.parse(decoder.decode(data)) as OwnerReply;
      } catch {
        throw new PluginError('CLUSTER_ROUTE_FAILED', `host ${lease.host} sent an answer that could not be read; the outcome is unknown`);
      }
      if (reply.ok) return { here: false, owner: lease.host, result: reply.result };
      if (reply.error.code === 'not_owner') {
        await retry(reply.error.message);
        continue;
      }
      throw new PluginError(isErrorCode(reply.error.code) ? reply.error.code : 'CLUSTER_ROUTE_FAILED', `${reply.error.message} (on host ${lease.host})`.slice(0, 640));
    }
  }

  counters(): RouterCounters {
    return { ...this.#counters, forward_failures: { ...this.#failures } };
  }

  /** Stops answering; requests being answered finish first. */
  async close(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = null;
    subscription?.unsubscribe();
    await Promise.all(this.#running);
  }
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODE_DESCRIPTIONS, code);
}

import type { JetStreamApiError } from '@nats-io/jetstream';

/** The NATS client modules a JetStream journal and the cluster's leases use. */
export interface NatsClients {
  readonly transport: typeof import('@nats-io/transport-node');
  readonly jetstream: typeof import('@nats-io/jetstream');
  readonly kv: typeof import('@nats-io/kv');
}

let loaded: NatsClients | null = null;
let loading: Promise<NatsClients> | null = null;

/**
 * The NATS clients, imported on first use (~0.15 s of module loading): only opening a JetStream
 * journal or joining a cluster needs them, so importing the host and a one-shot CLI command
 * never pay it (a structure test checks that).
 */
export function loadNatsClients(): Promise<NatsClients> {
  loading ??= Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream'), import('@nats-io/kv')]).then(([transport, jetstream, kv]) => (loaded = { transport, jetstream, kv }));
  return loading;
}

/**
 * Whether `error` is the JetStream client's API error (the server refused the request). Before the
 * clients loaded no such error can exist, so the class is only looked at once they did.
 */
export function isJetStreamApiError(error: unknown): error is JetStreamApiError {
  return loaded !== null && error instanceof loaded.jetstream.JetStreamApiError;
}

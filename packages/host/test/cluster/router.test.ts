/**
 * The owner router on its own, over a real nats-server: a call runs only on the host that may
 * act for the plugin, and every way it cannot run has its own code — no lease
 * (`CLUSTER_NO_OWNER`), a lease whose host is not connected (`CLUSTER_NO_OWNER`), an owner that
 * does not answer (`CLUSTER_OWNER_TIMEOUT`), ownership changing hands past the retries
 * (`CLUSTER_NO_OWNER`), a request or reply over its bound — here the server's max_payload —
 * (`CLUSTER_ROUTE_FAILED`, not a timeout).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { OwnerRouter, type LeaseLookup, type OwnerHandler, type OwnerRequest } from '../../src/cluster/router.js';
import { PluginError } from '../../src/errors.js';
import { natsSkipReason, startNatsServer, type NatsServer } from '../journal/nats-server.js';

const skip = natsSkipReason();
const PLUGIN = 'project:svc';
const call: OwnerRequest = { op: 'tool', plugin: PLUGIN, tool: 'handled', input: {} };

let nats: NatsServer;
const connections: NatsConnection[] = [];

async function router(hostId: string, leases: LeaseLookup, log: string[] = []): Promise<OwnerRouter> {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  return new OwnerRouter(nc, 'rt', hostId, leases, (_level, message) => void log.push(message));
}

/** Leases as a test sets them: plugin → host; `acting` says which hosts may act. */
function leaseTable(owner: { host: string | null }, acting: Set<string>, self: string): LeaseLookup {
  return { lease: async () => (owner.host === null ? null : { host: owner.host }), mayAct: () => acting.has(self) };
}

async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    assert.ok(error instanceof PluginError, String(error));
    return error.code;
  }
  assert.fail('expected the call to fail');
}

describe('routing requests to the owning host over NATS (issue H)', { skip }, () => {
  before(async () => {
    // A server with a small max_payload: routed messages stay under it (an error, never a silent drop).
    nats = await startNatsServer({ config: 'max_payload: 65536' });
  });
  after(async () => {
    for (const nc of connections) await nc.close();
    await nats?.stop();
  });

  it('runs on the owner only; the owner checks that it may act before it runs anything', async () => {
    const owner = { host: 'a' as string | null };
    const acting = new Set(['a']);
    const ran: string[] = [];
    const handler = (host: string): OwnerHandler => async (request) => (ran.push(`${host}:${request.op}`), { ok: true, result: { summary: `ran on ${host}`, content: null } });
    const a = await router('a', leaseTable(owner, acting, 'a'));
    const b = await router('b', leaseTable(owner, acting, 'b'));
    await a.serve(handler('a'));
    await b.serve(handler('b'));

    // b forwards to a, the owner
    assert.deepEqual(await b.forward(call, 10_000), { here: false, owner: 'a', result: { summary: 'ran on a', content: null } });
    // a holds the lease and may act: it runs the call itself
    assert.deepEqual(await a.forward(call, 10_000), { here: true });
    assert.deepEqual(ran, ['a:tool']);

    // The lease still names a, but a may no longer act (its lease ran out locally): a refuses,
    // b asks again a few times, then reports that nobody owns it; nothing ran.
    acting.clear();
    assert.equal(await codeOf(b.forward(call, 10_000)), 'CLUSTER_NO_OWNER');
    assert.deepEqual(ran, ['a:tool']);
    assert.ok(a.counters().refused_not_owner >= 1);
    // A lease that names this host while it may not act: not run here either.
    assert.equal(await codeOf(a.forward(call, 10_000)), 'CLUSTER_NO_OWNER');
    assert.deepEqual(ran, ['a:tool']);

    // Ownership moves to b while a request is retried: it runs on b.
    owner.host = 'b';
    acting.add('b');
    assert.deepEqual(await a.forward(call, 10_000), { here: false, owner: 'b', result: { summary: 'ran on b', content: null } });
    assert.deepEqual(ran, ['a:tool', 'b:tool']);
    assert.deepEqual({ a: a.counters().served, b: b.counters().served }, { a: 1, b: 1 });
    await a.close();
    await b.close();
  });

  it('no lease, a lease whose host is gone, an owner that does not answer, a request over its bound: each has its code', async () => {
    const owner = { host: null as string | null };
    const caller = await router('c', leaseTable(owner, new Set(), 'c'));
    assert.equal(await codeOf(caller.forward(call, 5_000)), 'CLUSTER_NO_OWNER');
    // The lease names a host that is not connected (killed before its lease expired).
    owner.host = 'gone';
    assert.equal(await codeOf(caller.forward(call, 5_000)), 'CLUSTER_NO_OWNER');
    // The lease names a host that is connected but does not answer (paused, overloaded).
    owner.host = 'mute';
    const mute = await connect({ servers: nats.url });
    connections.push(mute);
    let received = 0;
    mute.subscribe('rt.host.mute', { callback: () => void received++ });
    await mute.flush();
    assert.equal(await codeOf(caller.forward(call, 300)), 'CLUSTER_OWNER_TIMEOUT');
    assert.equal(received, 1, 'the request reached the owner once');
    // Over the bound: never sent.
    const big: OwnerRequest = { op: 'tool', plugin: PLUGIN, tool: 'handled', input: { text: 'x'.repeat(100_000) } };
    assert.equal(await codeOf(caller.forward(big, 5_000)), 'CLUSTER_ROUTE_FAILED');
    assert.equal(received, 1);
    assert.deepEqual(caller.counters().forward_failures, { CLUSTER_NO_OWNER: 2, CLUSTER_OWNER_TIMEOUT: 1, CLUSTER_ROUTE_FAILED: 1 });
  });

  it("the owner's errors come back with their codes; a reply over its bound becomes an error", async () => {
    const owner = { host: 'o' };
    const acting = new Set(['o']);
    const log: string[] = [];
    const o = await router('o', leaseTable(owner, acting, 'o'), log);
    const caller = await router('p', leaseTable(owner, acting, 'p'));
    await o.serve(async (request) => {
      if (request.op === 'tool' && request.tool === 'big') return { ok: true, result: 'y'.repeat(100_000) };
      throw new PluginError('PLUGIN_NOT_RUNNING', 'plugin service is stopped');
    });
    const failed = caller.forward(call, 10_000);
    await assert.rejects(failed, (error: unknown) => error instanceof PluginError && error.code === 'PLUGIN_NOT_RUNNING' && /on host o/.test(error.message));
    assert.equal(await codeOf(caller.forward({ ...call, tool: 'big' }, 10_000)), 'CLUSTER_ROUTE_FAILED');
    assert.equal(o.counters().replies_too_large, 1);
    assert.ok(log.includes('routed reply over its bound: replaced by an error'));
    await o.close();
  });
});

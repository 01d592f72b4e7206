/**
 * `mayAct` (several hosts on JetStream) at the service: an outbox command runs only while this
 * host owns the plugin. A host request is checked again once it has a request slot — it may
 * have waited long for one (the cap on requests in flight), and the lease may have run out
 * meanwhile. The test parks the first request at a gate, so the second waits for the only
 * slot; ownership is lost; the gate opens: the second request is not sent, the reason is
 * recorded, and it stays in the outbox for the owner.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Gate } from '../fixtures/gate.js';
import { openService } from './harness.js';
import { until } from '../helpers.js';

const request = (url: string) => ({ kind: 'host_request_dispatch', payload: { method: 'GET', url } });

describe('a service on a host that may no longer act (mayAct)', () => {
  it('a host request that waited for a slot is not sent once the host lost the plugin meanwhile; it stays in the outbox', async (t) => {
    const gate = await Gate.open(t);
    let owner = true;
    const { host, service } = await openService(t, { config: { gate: gate.url }, policy: { maxPendingRequests: 1 }, effects: { mayAct: () => owner } });
    await service.start();
    await service.emit('events', 'job', 'test', { commands: [request(`${gate.url}/api/gate/first`), request(`${gate.url}/api/gate/second`)] });
    await gate.arrived('first');
    await until(() => service.requests.waiting === 1, 'the second request to wait for the slot');
    // The lease runs out while it waits.
    owner = false;
    gate.release('first');
    const notOwner = () => host.status('project:svc')[0]!.diagnostics.filter((d) => d.kind === 'NotOwner');
    await until(() => notOwner().length > 0 || gate.arrivals('second') > 0, 'the second request to be refused or sent');
    assert.equal(gate.arrivals('second'), 0, 'the request was sent after the host lost the plugin');
    assert.match(notOwner()[0]!.message, /:1 not run: this host no longer owns the plugin/);
    assert.equal(service.requests.in_flight, 0, 'the slot was given back');
    const pending = await host.journal.outbox('project:svc');
    assert.deepEqual(pending.map((entry) => entry.command_id.endsWith(':1')), [true], 'the second request stays in the outbox for the owner');
  });
});

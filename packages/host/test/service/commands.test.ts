import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../fixtures/clock.js';
import { Gate } from '../fixtures/gate.js';
import { serviceManifest } from '../fixtures/service.js';
import { openService } from './harness.js';
import { until } from '../helpers.js';

const request = (url: string) => ({ kind: 'host_request_dispatch', payload: { method: 'GET', url } });

describe('the in-flight request cap', () => {
  it('a batch over the cap waits for a slot, holding the queue and the source; no reply is lost', async (t) => {
    const gate = await Gate.open(t);
    const { service, handled, events } = await openService(t, { config: { gate: gate.url }, policy: { maxPendingRequests: 2, queueCapacity: 1 } });
    await service.start();
    const slow = `${gate.url}/api/gate/slow`;
    await service.emit('events', 'job', 'test', { tag: 'a', commands: [request(slow), request(slow), request(slow)] });
    await gate.arrived('slow', 2);
    await until(() => service.requests.waiting === 1, 'the third request to wait for a slot');
    assert.equal(service.requests.in_flight, 2);
    assert.equal((await service.emit('events', 'job', 'test', { tag: 'b' })).ok, true, 'one more event fits the queue');
    let cAccepted = false;
    const c = service.emit('events', 'job', 'test', { tag: 'c' }).then((outcome) => {
      cAccepted = true;
      return outcome;
    });
    await until(() => service.backpressureMs > 0 || service.queueDepth === 1, 'the queue to be full');
    assert.equal(gate.arrivals('slow'), 2, 'the third request has not been sent');
    assert.equal(service.queueDepth, 1);
    assert.equal(cAccepted, false, 'the source is held while the dispatcher waits for a slot');

    gate.pass('slow', 'reply');
    assert.deepEqual(await c, { ok: true });
    await service.idle();
    const seen = await handled();
    const responses = seen.filter((h) => h.kind === 'host_response');
    assert.equal(responses.length, 3, 'every request got its reply');
    assert.deepEqual(new Set(responses.map((r) => (r.payload as { command_id: string }).command_id)).size, 3);
    assert.deepEqual(seen.filter((h) => h.tag).map((h) => h.tag), ['a', 'b', 'c']);
    assert.ok(service.commandResults.every((r) => r.status === 'Recorded'));
    assert.equal(service.discards.commands_rejected, 0);
    assert.equal(service.counters.rejected, 0);
    assert.ok(!events.some((e) => e.kind === 'command_rejected'));
  });
});

describe('rejected commands are told to the plugin, counted and logged with their ids', () => {
  it('an invalid batch: a command_rejected event per command, with the real command ids and reasons', async (t) => {
    const { service, handled, events } = await openService(t);
    await service.start();
    await service.emit('events', 'job', 'test', {
      commands: [
        { kind: 'diagnostic_status_update', payload: { status: { x: 1 } }, command_id: 'cmd-ok' },
        { kind: 'domain_event_append', payload: { type: 'order.deleted', data: {} }, command_id: 'cmd-bad' },
      ],
    });
    await service.idle();
    const rejections = (await handled()).filter((h) => h.kind === 'command_rejected').map((h) => h.payload as { command_id: string; command_kind: string; reason: string; status: string });
    assert.deepEqual(rejections.map((r) => [r.command_id, r.command_kind, r.status]), [['cmd-bad', 'domain_event_append', 'Rejected'], ['cmd-ok', 'diagnostic_status_update', 'Rejected']]);
    assert.match(rejections[0]!.reason, /domain_event\.order\.deleted/);
    assert.match(rejections[1]!.reason, /not run/);
    assert.notDeepEqual(service.componentStatus, { x: 1 });
    assert.equal(service.discards.commands_rejected, 2);
    const logged = events.filter((e) => e.kind === 'command_rejected').map((e) => e.fields?.['command_id']);
    assert.deepEqual(logged, ['cmd-bad', 'cmd-ok']);
    const diagnostics = service.diagnostics.map((d) => d.message).join('\n');
    assert.match(diagnostics, /service output command cmd-bad \(domain_event_append\)/);
    assert.doesNotMatch(diagnostics, /<malformed>/);
  });

  it('only to an ingress that declares command_rejected (or declares no kinds); the others are counted', async (t) => {
    const { service, handled } = await openService(t, { manifest: serviceManifest('svc', { eventKinds: ['job'] }) });
    await service.start();
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'teleport', payload: {} }] });
    await service.idle();
    assert.equal((await handled()).filter((h) => h.kind === 'command_rejected').length, 0);
    assert.equal(service.discards.commands_rejected, 1);
    assert.equal(service.discards.rejection_events_not_declared, 1);
  });

  it('a rejection caused while handling command_rejected is not fed back again: no loop, counted', async (t) => {
    const { service, handled } = await openService(t, { config: { answer_rejections: true } });
    await service.start();
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'teleport', payload: {} }] });
    await service.idle();
    assert.equal((await handled()).filter((h) => h.kind === 'command_rejected').length, 1);
    assert.equal(service.discards.commands_rejected, 2);
    assert.equal(service.discards.rejection_events_suppressed, 1);
  });

  it('a websocket command without an open connection rejects only that command; the rest of the batch runs', async (t) => {
    const manifest = serviceManifest('svc', {
      websocket: [{ scheme: 'wss', host: 'example.com', path_prefixes: ['/socket'] }],
    });
    const { service, handled } = await openService(t, { manifest });
    await service.start();
    await service.emit('events', 'job', 'test', {
      commands: [
        { kind: 'websocket_send', payload: { url: 'wss://example.com/socket', text: 'hi' }, command_id: 'send-1' },
        { kind: 'diagnostic_status_update', payload: { status: { x: 1 } }, command_id: 'status-1' },
      ],
    });
    await service.idle();
    assert.deepEqual(service.componentStatus, { x: 1 });
    // The status update takes effect when the result is planned; the send runs from the outbox after the commit.
    assert.deepEqual(service.commandResults.map((r) => [r.command_id, r.status]), [['status-1', 'Recorded'], ['send-1', 'Rejected']]);
    const rejection = (await handled()).find((h) => h.kind === 'command_rejected');
    assert.equal((rejection?.payload as { command_id: string }).command_id, 'send-1');
  });
});

describe('component status', () => {
  it('a diagnostic_status_update does not outlive stop: the stop output replaces it', async (t) => {
    const { service } = await openService(t);
    await service.start();
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'diagnostic_status_update', payload: { status: { x: 1 } } }] });
    await service.idle();
    assert.deepEqual(service.componentStatus, { x: 1 });
    await service.stop();
    assert.deepEqual(service.componentStatus, { state: 'stopped', handled: 1 });
  });
});

describe('status you can trust', () => {
  it('component_status is refreshed from the guest on the statusPollMs schedule and right after a lifecycle change', async (t) => {
    const clock = new ManualClock();
    const { service } = await openService(t, { clock, policy: { statusPollMs: 30_000 } });
    await service.start();
    await until(() => (service.componentStatus as { handled?: number } | null)?.handled === 0, 'the status polled right after start');
    await service.emit('events', 'job', 'test', { status_value: { state: 'running', cursor: 41 } });
    await service.idle();
    assert.deepEqual(service.componentStatus, { state: 'running', handled: 0 }, 'nothing polled yet');
    clock.advance(30_000);
    await until(() => (service.componentStatus as { cursor?: number } | null)?.cursor === 41, 'the scheduled poll');
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'diagnostic_status_update', payload: { status: { told: true } } }] });
    await service.idle();
    assert.deepEqual(service.componentStatus, { told: true });
    clock.advance(30_000);
    await until(() => (service.componentStatus as { cursor?: number } | null)?.cursor === 41, 'the next poll replaces the update');
    await service.restart();
    await until(() => (service.componentStatus as { handled?: number } | null)?.handled === 0, 'the fresh instance polled after the restart');
    await service.stop();
    assert.equal(clock.pending, 0, 'no poll is left scheduled after stop');
  });
});

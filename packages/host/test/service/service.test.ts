import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { PluginHost } from '../../src/host.js';
import type { DomainEvent } from '../../src/service/plugin-service.js';
import type { ServicePolicy } from '../../src/service/policy.js';
import type { JsonValue } from '../../src/manifest/types.js';
import { newIngressEvent } from '../../src/service/ingress-event.js';
import { buildJsComponent } from '../fixtures/js.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { until } from '../helpers.js';

const FAST: Partial<ServicePolicy> = { retryBaseMs: 5, retryMaxMs: 20, restartBaseMs: 5, restartMaxMs: 20, maxAttempts: 3 };

interface Handled {
  kind: string;
  attempt: number;
  id: string;
  tag: string | null;
  payload: Record<string, unknown> | null;
}

async function open(t: TestContext, options: { policy?: Partial<ServicePolicy>; manifest?: string; extraPlugins?: Parameters<typeof pluginWorkspace>[1]; domainEvents?: DomainEvent[]; config?: unknown; limits?: object } = {}) {
  const manifest = options.manifest ?? serviceManifest();
  const component = await buildJsComponent(SERVICE_SOURCE, manifest);
  const ws = pluginWorkspace(t, [{ manifest, component, ...(options.config !== undefined ? { config: options.config as never } : {}), ...(options.limits ? { limits: options.limits } : {}) }, ...(options.extraPlugins ?? [])]);
  const { PluginHost } = await import('../../src/host.js');
  const host: PluginHost = await PluginHost.fromWorkspace(
    { workspace: ws.workspace, builtinDir: `${ws.root}/none`, env: { HOME: ws.root } },
    {
      cacheDir: (await import('../fixtures/workspace.js')).TEST_TRANSPILE_CACHE,
      servicePolicy: { ...FAST, ...options.policy },
      effects: { appendDomainEvent: (event) => void options.domainEvents?.push(event) },
    },
  );
  t.after(() => host.close());
  const service = host.services.get('project:svc')!;
  assert.ok(service, 'the service exists');
  return { host, service, ws };
}

async function handled(host: PluginHost): Promise<Handled[]> {
  return JSON.parse((await host.callTool('handled', {})).content!) as Handled[];
}

describe('service lifecycle and delivery', () => {
  it('starts with the enablement config and delivers an event', async (t) => {
    const { host, service } = await open(t, { config: { greeting: 'hi' } });
    assert.equal(service.state, 'Ready');
    assert.deepEqual(await host.startServices(), []);
    assert.equal(service.state, 'Running');
    assert.deepEqual(JSON.parse((await host.callTool('config', {})).content!), { greeting: 'hi' });
    assert.deepEqual(await service.emit('events', 'ping', 'test', { tag: 'one' }), { ok: true });
    await service.idle();
    const seen = await handled(host);
    assert.deepEqual(seen.map((h) => [h.kind, h.attempt, h.tag]), [['ping', 1, 'one']]);
    assert.equal(service.counters.dispatched, 1);
  });

  it('fails closed when start returns an error', async (t) => {
    const { host, service } = await open(t, { config: { fail_start: true } });
    const failures = await host.startServices();
    assert.equal(failures.length, 1);
    assert.match(failures[0]!.error, /start returned error/);
    assert.equal(service.state, 'Failed');
    const refused = await service.emit('events', 'ping', 'test', {});
    assert.equal(refused.ok, false);
    await assert.rejects(host.callTool('handled', {}), /PLUGIN_NOT_RUNNING|not running|Failed/);
  });

  it('redelivers a failing event with attempt 1, 2, 3 until it succeeds', async (t) => {
    const { host, service } = await open(t);
    await host.startServices();
    await service.emit('events', 'job', 'test', { tag: 'flaky', fail_until: 3 });
    await service.idle();
    const seen = (await handled(host)).filter((h) => h.tag === 'flaky');
    assert.deepEqual(seen.map((h) => h.attempt), [1, 2, 3]);
    assert.equal(new Set(seen.map((h) => h.id)).size, 1, 'one event, redelivered');
    assert.deepEqual({ ...service.counters }, { enqueued: 1, dispatched: 1, retried: 2, failed: 2, timed_out: 0, dead_lettered: 0, dropped: 0, rejected: 0 });
  });

  it('dead-letters an always-failing event after the maximum and replays it', async (t) => {
    const { host, service } = await open(t);
    await host.startServices();
    await service.emit('events', 'job', 'test', { tag: 'doomed', always_fail: true });
    await service.idle();
    const letters = await service.listDeadLetters();
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.attempts, 3);
    assert.match(letters[0]!.last_error, /handler returned error/);
    assert.equal(service.counters.dead_lettered, 1);
    const replay = await service.replay('all');
    assert.deepEqual(replay, { replayed: 1, refused: null });
    await service.idle();
    assert.equal((await handled(host)).filter((h) => h.tag === 'doomed').length, 6);
    assert.equal((await service.listDeadLetters()).length, 1, 'it failed again and is back in the store, once');
    assert.equal(service.deadLetterCount, 1);
  });

  it('survives a handler reply nested deeper than JSON.stringify can go', async (t) => {
    const { host, service } = await open(t, { policy: { maxAttempts: 1 } });
    await host.startServices();
    await service.emit('events', 'job', 'test', { deep_error: true });
    await service.idle();
    assert.equal(service.counters.dead_lettered, 1);
    assert.equal(service.state, 'Running');
    await service.emit('events', 'job', 'test', { tag: 'after' });
    await service.idle();
    assert.equal(service.counters.dispatched, 1);
  });

  it('honours an explicit retry request', async (t) => {
    const { host, service } = await open(t);
    await host.startServices();
    await service.emit('events', 'job', 'test', { tag: 'again', retry: true });
    await service.idle();
    assert.deepEqual((await handled(host)).map((h) => h.attempt), [1, 2]);
    assert.equal(service.counters.retried, 1);
  });

  it('restarts a trapping instance, then opens the circuit (Disabled); other plugins keep working; the event waits for the re-enable', async (t) => {
    const { host, service } = await open(t, {
      policy: { maxRestarts: 2, maxAttempts: 10 },
      extraPlugins: [{ manifest: watToolManifest('echo', { tools: ['echo'] }), component: await assemble(TOOL_WATS.echo) }],
    });
    await host.startServices();
    await service.emit('events', 'job', 'test', { trap_below: 4, tag: 'poison' });
    await service.idle();
    assert.equal(service.state, 'Disabled');
    assert.equal(service.restarts, 2);
    assert.equal(service.counters.dead_lettered, 0, 'the event stays in the journal');
    assert.match(service.diagnostics.map((d) => d.message).join('\n'), /circuit open/, service.lastError ?? '');
    const refused = await service.emit('events', 'job', 'test', {});
    assert.deepEqual(refused.ok, false);
    await assert.rejects(host.callTool('handled', {}), /plugin service is disabled/);
    assert.equal((await host.callTool('echo', { summary: 'still here' })).summary, 'still here');
    await service.enable();
    await service.idle();
    assert.equal(service.state, 'Running');
    assert.deepEqual((await handled(host)).map((h) => [h.tag, h.attempt]), [['poison', 4]], 'delivered again after the re-enable, attempt 4');
  });

  it('enforces the handler deadline for real: the worker is stopped and no command of it runs', async (t) => {
    const { host, service } = await open(t, { limits: { ingress_timeout_ms: 300 }, policy: { maxAttempts: 1 } });
    await host.startServices();
    await service.emit('events', 'job', 'test', { spin: true, commands: [{ kind: 'diagnostic_status_update', payload: { status: { never: true } } }] });
    await service.idle();
    assert.equal(service.counters.timed_out, 1);
    assert.equal(service.counters.dead_lettered, 1);
    assert.notDeepEqual(service.componentStatus, { never: true });
    // the instance was restarted and serves again
    await until(() => service.state === 'Running', 'the restarted instance running');
  });
});

describe('ingress validation and backpressure', () => {
  it('rejects invalid, undeclared, ungranted and unavailable deliveries with typed reasons', async (t) => {
    const { host, service } = await open(t, { manifest: serviceManifest('svc', { eventKinds: ['ping', 'timer', 'host_response'] }) });
    assert.equal((await service.emit('events', 'ping', 'test', {})).ok, false, 'not started yet');
    await host.startServices();
    const bad = (r: Awaited<ReturnType<typeof service.emit>>) => (r.ok ? 'ok' : r.reason);
    assert.equal(bad(await service.emit('events', 'pong', 'test', {})), 'invalid');
    assert.equal(bad(await service.emit('nowhere', 'ping', 'test', {})), 'invalid');
    assert.equal(bad(await service.deliver('events', { ...newIngressEvent('events', 'ping', 'test', {}), correlation_id: '' })), 'invalid');
    assert.equal(bad(await service.deliver('events', { ...newIngressEvent('events', 'ping', 'test', {}), attempt: 0 })), 'invalid');
    assert.equal(bad(await service.deliver('events', newIngressEvent('events', 'ping', 'test', { blob: 'x'.repeat(70_000) }))), 'invalid');
    assert.equal(service.counters.rejected, 6);
    await service.stop();
    assert.equal(bad(await service.emit('events', 'ping', 'test', {})), 'stopped');
  });

  it('holds a fast source back instead of dropping: every event is handled, counters add up', async (t) => {
    const { host, service } = await open(t, { policy: { queueCapacity: 4 } });
    await host.startServices();
    const N = 120;
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: N }, (_, i) => service.emit('events', 'job', 'load', { tag: `e${i}`, work_ms: 1 })));
    assert.ok(results.every((r) => r.ok));
    await service.idle();
    const seen = await handled(host);
    assert.deepEqual(seen.map((h) => h.tag), Array.from({ length: N }, (_, i) => `e${i}`), 'all handled, in order');
    assert.equal(service.counters.enqueued, N);
    assert.equal(service.counters.dispatched + service.counters.dead_lettered, N);
    assert.equal(service.counters.dropped, 0);
    assert.ok(service.backpressureMs > 0, 'the source was held back');
    console.log(`load: ${N} events through a queue of 4 in ${Date.now() - started} ms; source held ${service.backpressureMs} ms; counters ${JSON.stringify(service.counters)}`);
  });

  it('offer refuses when full, or drops and counts under an explicit policy', async (t) => {
    const { host, service } = await open(t, { policy: { queueCapacity: 1, dropPolicy: { events: 'drop_newest' } } });
    await host.startServices();
    // occupy the dispatcher, then fill the queue
    await service.emit('events', 'job', 'test', { work_ms: 200 });
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => service.offer('events', newIngressEvent('events', 'job', 'test', {}))));
    assert.ok(outcomes.every((o) => o.ok));
    assert.ok(service.counters.dropped >= 3, `dropped ${service.counters.dropped}`);
    await service.idle();
    assert.equal(service.counters.enqueued + service.counters.dropped, 6);
  });
});

describe('output commands', () => {
  it('records a status update, sets and cancels timers, appends domain events', async (t) => {
    const events: DomainEvent[] = [];
    const { host, service } = await open(t, { domainEvents: events });
    await host.startServices();
    await service.emit('events', 'job', 'test', {
      commands: [
        { kind: 'diagnostic_status_update', payload: { message: 'warming up', status: { ready: true } } },
        { kind: 'timer_set', payload: { timer_id: 'beat', delay_ms: 0, interval_ms: 100, data: { n: 1 } } },
        { kind: 'domain_event_append', payload: { type: 'order.created', data: { id: 7 } } },
      ],
    });
    await service.idle();
    assert.deepEqual(service.componentStatus, { ready: true });
    assert.deepEqual(events.map((e) => [e.type, e.data]), [['order.created', { id: 7 }]]);
    assert.deepEqual(service.commandResults.map((r) => r.status), ['Recorded', 'Recorded', 'Recorded']);
    const ticks = await until(async () => {
      const fired = (await handled(host)).filter((h) => h.kind === 'timer');
      return fired.length >= 2 && fired;
    }, 'two timer ticks');
    assert.deepEqual(ticks[0]!.payload?.['data'], { n: 1 });
    assert.equal(service.timers.length, 1);
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'timer_cancel', payload: { timer_id: 'beat' } }] });
    await service.idle();
    assert.equal(service.timers.length, 0);
  });

  it('runs none of a batch when one command is invalid or ungranted', async (t) => {
    const events: DomainEvent[] = [];
    const { host, service } = await open(t, { domainEvents: events });
    await host.startServices();
    const cases: JsonValue[][] = [
      [{ kind: 'diagnostic_status_update', payload: { status: { x: 1 } } }, { kind: 'host_request_dispatch', payload: { method: 'GET', url: 'http://evil.example/api' } }],
      [{ kind: 'diagnostic_status_update', payload: { status: { x: 1 } } }, { kind: 'domain_event_append', payload: { type: 'order.deleted', data: {} } }],
      [{ kind: 'diagnostic_status_update', payload: { status: { x: 1 } } }, { kind: 'teleport', payload: {} }],
      [{ kind: 'diagnostic_status_update', payload: { status: { x: 1 } } }, { kind: 'diagnostic_status_update', payload: { status: {}, extra: 1 } }],
      [{ kind: 'diagnostic_status_update', payload: { status: { x: 1 } }, source_event_id: 'someone-else' }],
      [{ kind: 'diagnostic_status_update', payload: { status: { x: 1 } }, requested_at: 'yesterday' }],
      [{ kind: 'diagnostic_status_update', payload: { status: { x: 1 } }, command_id: 'x'.repeat(200) }],
      [{ kind: 'diagnostic_status_update', payload: { status: 'y'.repeat(17_000) } }],
      Array.from({ length: 17 }, () => ({ kind: 'diagnostic_status_update', payload: {} })),
      [{ kind: 'websocket_send', payload: { url: 'wss://example.com/socket', text: 'hi' } }],
      [{ kind: 'timer_set', payload: { timer_id: 't', delay_ms: 5 } }],
    ];
    for (const commands of cases) await service.emit('events', 'job', 'test', { commands });
    await service.idle();
    assert.notDeepEqual(service.componentStatus, { x: 1 }, 'no status update ran');
    assert.deepEqual(events, []);
    assert.ok(service.commandResults.every((r) => r.status === 'Rejected'));
    assert.ok(service.commandResults.every((r) => r.message.length <= 513));
  });

  it('dispatches a granted host request and delivers the response as an event; refuses an ungranted one before any I/O', async (t) => {
    let hits = 0;
    const server = createServer((req, res) => {
      hits++;
      res.setHeader('content-type', 'application/json');
      res.setHeader('set-cookie', 'session=secret');
      res.end(JSON.stringify({ path: req.url }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const { host, service } = await open(t);
    await host.startServices();
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'host_request_dispatch', payload: { method: 'GET', url: `http://127.0.0.1:${port}/api/items` } }] });
    await service.idle();
    const response = (await handled(host)).find((h) => h.kind === 'host_response');
    assert.ok(response, 'a host_response event arrived');
    const payload = response.payload as { response: { status: number; body: string; headers: { name: string }[] }; command_id: string };
    assert.equal(payload.response.status, 200);
    assert.deepEqual(JSON.parse(payload.response.body), { path: '/api/items' });
    assert.ok(!payload.response.headers.some((h) => h.name === 'set-cookie'));
    assert.equal(hits, 1);
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'host_request_dispatch', payload: { method: 'GET', url: `http://127.0.0.1:${port}/admin` } }] });
    await service.idle();
    assert.equal(hits, 1, 'no I/O for an ungranted target');
    assert.match(service.commandResults.at(-1)!.message, /host_request_dispatch target denied/);
  });
});

describe('stop', () => {
  it('closes the queue, keeps what was never delivered in the journal for the next start, and keeps the final status', async (t) => {
    const { host, service } = await open(t, { policy: { queueCapacity: 16 } });
    await host.startServices();
    await service.emit('events', 'job', 'test', { work_ms: 150 });
    for (let i = 0; i < 5; i++) await service.emit('events', 'job', 'test', { tag: `late${i}` });
    await until(() => service.lastEvent, 'the first event in flight');
    const report = await service.stop();
    assert.equal(report.state, 'Stopped');
    assert.ok(report.waiting >= 4, JSON.stringify(report));
    assert.equal(report.waiting, (await host.journal.unacked('project:svc')).length);
    assert.deepEqual(await service.listDeadLetters(), []);
    assert.deepEqual(service.componentStatus, { state: 'stopped', handled: 1 });
    assert.equal(service.counters.enqueued, service.counters.dispatched + report.waiting);
    await service.start();
    await service.idle();
    const late = (await handled(host)).filter((h) => h.tag?.startsWith('late'));
    assert.deepEqual(late.map((h) => h.tag), ['late0', 'late1', 'late2', 'late3', 'late4'].slice(5 - report.waiting), 'delivered at the next start, in order');
    assert.ok(late.every((h) => h.attempt === 2), 'with attempt incremented');
  });
});

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { WebSocketServer } from 'ws';
import { createMetrics } from '../../src/serve/metrics.js';
import { IllegalTransition, Lifecycle, LIFECYCLE_STATES, TRANSITIONS, type LifecycleState, type Transition } from '../../src/service/lifecycle.js';
import { ManualClock } from '../fixtures/clock.js';
import { Gate } from '../fixtures/gate.js';
import { serviceManifest } from '../fixtures/service.js';
import { openService, type OpenOptions } from './harness.js';
import { until } from '../helpers.js';

/** A path of allowed transitions from Ready to `target` (breadth first). */
function pathTo(target: LifecycleState): LifecycleState[] {
  const previous = new Map<LifecycleState, LifecycleState | null>([['Ready', null]]);
  const queue: LifecycleState[] = ['Ready'];
  while (queue.length > 0) {
    const state = queue.shift()!;
    for (const next of TRANSITIONS[state]) {
      if (previous.has(next)) continue;
      previous.set(next, state);
      queue.push(next);
    }
  }
  assert.ok(previous.has(target), `${target} is reachable from Ready`);
  const path: LifecycleState[] = [];
  for (let s: LifecycleState | null = target; s !== null && s !== 'Ready'; s = previous.get(s) ?? null) path.unshift(s);
  return path;
}

describe('the lifecycle transition table', () => {
  for (const from of LIFECYCLE_STATES) {
    it(`from ${from}: exactly the listed transitions are allowed`, () => {
      for (const to of LIFECYCLE_STATES) {
        const seen: Transition[] = [];
        const lifecycle = new Lifecycle((t) => seen.push(t));
        for (const step of pathTo(from)) lifecycle.transition(step, 'setup');
        assert.equal(lifecycle.state, from);
        const before = seen.length;
        if (TRANSITIONS[from].includes(to)) {
          lifecycle.transition(to, 'under test');
          assert.equal(lifecycle.state, to);
          assert.deepEqual(seen.slice(before).map((t) => [t.from, t.to, t.reason]), [[from, to, 'under test']]);
        } else {
          assert.throws(() => lifecycle.transition(to, 'under test'), IllegalTransition, `${from} → ${to} must be refused`);
          assert.equal(lifecycle.state, from, 'a refused transition changes nothing');
          assert.equal(seen.length, before);
        }
      }
    });
  }

  it('runs operations one at a time, in order, even when one fails', async () => {
    const lifecycle = new Lifecycle(() => undefined);
    const order: string[] = [];
    let releaseFirst!: () => void;
    const first = lifecycle.run(async () => {
      order.push('first begins');
      await new Promise<void>((resolve) => (releaseFirst = resolve));
      order.push('first ends');
      throw new Error('first failed');
    });
    const second = lifecycle.run(async () => {
      order.push('second runs');
      return 2;
    });
    await Promise.resolve();
    assert.equal(lifecycle.pending, 2);
    releaseFirst();
    await assert.rejects(first, /first failed/);
    assert.equal(await second, 2);
    assert.deepEqual(order, ['first begins', 'first ends', 'second runs']);
    assert.equal(lifecycle.pending, 0);
  });

  it('a newer generation makes older ones stale', () => {
    const lifecycle = new Lifecycle(() => undefined);
    const old = lifecycle.generation;
    assert.ok(lifecycle.isCurrent(old));
    lifecycle.supersede();
    assert.ok(!lifecycle.isCurrent(old));
  });
});

/** The fixture service parked at the `start` gate while the test acts, with a clock the test drives. */
async function gated(t: TestContext, extra: OpenOptions = {}) {
  const gate = await Gate.open(t);
  const clock = new ManualClock();
  const opened = await openService(t, {
    config: { gate: gate.url, gate_start: true },
    limits: { lifecycle_timeout_ms: 60_000 },
    clock,
    ...extra,
    policy: { maxAttempts: 1, ...extra.policy },
  });
  return { ...opened, gate, clock };
}

describe('service lifecycle transitions, driven through a real guest', () => {
  it('Ready→Starting→Running, Running→Stopping→Stopped, Stopped→Starting (start again)', async (t) => {
    const { service, gate, transitions } = await gated(t);
    gate.pass('start');
    await service.start();
    assert.equal(service.state, 'Running');
    const report = await service.stop();
    assert.equal(report.state, 'Stopped');
    await service.start();
    assert.deepEqual(transitions(), ['Ready→Starting', 'Starting→Running', 'Running→Stopping', 'Stopping→Stopped', 'Stopped→Starting', 'Starting→Running']);
    assert.equal(gate.arrivals('start'), 2);
  });

  it('Starting→Failed, Failed→Starting (enable), Failed→Stopping', async (t) => {
    const { service, gate, transitions, host } = await gated(t);
    gate.pass('start', 'fail');
    await assert.rejects(service.start(), /the gate said fail/);
    assert.equal(service.state, 'Failed');
    await assert.rejects(host.callTool('handled', {}), /not running/);
    gate.pass('start');
    await service.enable();
    assert.equal(service.state, 'Running');
    gate.pass('start', 'fail');
    await service.restart();
    assert.equal(service.state, 'Restarting', 'a failed operator restart schedules a backed-off restart');
    await service.stop();
    const second = await gated(t);
    second.gate.pass('start', 'fail');
    await assert.rejects(second.service.start());
    await second.service.stop();
    assert.deepEqual(transitions().slice(0, 5), ['Ready→Starting', 'Starting→Failed', 'Failed→Starting', 'Starting→Running', 'Running→Restarting']);
    assert.deepEqual(second.transitions(), ['Ready→Starting', 'Starting→Failed', 'Failed→Stopping', 'Stopping→Stopped']);
  });

  it('Ready→Stopping (stop before start), Ready→Disabled and Disabled→Starting (enable)', async (t) => {
    const a = await gated(t);
    await a.service.stop();
    assert.deepEqual(a.transitions(), ['Ready→Stopping', 'Stopping→Stopped']);
    const b = await gated(t);
    b.gate.pass('start');
    await b.service.disable();
    assert.equal(b.service.state, 'Disabled');
    await b.service.enable();
    assert.deepEqual(b.transitions(), ['Ready→Disabled', 'Disabled→Starting', 'Starting→Running']);
  });

  it('Running→Disabled, Stopped→Disabled and Failed→Disabled by the operator; a disabled service refuses events and calls', async (t) => {
    const a = await gated(t);
    a.gate.pass('start');
    await a.service.start();
    await a.service.disable('maintenance');
    assert.equal(a.service.state, 'Disabled');
    assert.deepEqual(await a.service.emit('events', 'ping', 'test', {}), { ok: false, reason: 'disabled', message: 'plugin service is disabled; an operator must re-enable it' });
    await assert.rejects(a.host.callTool('handled', {}), /disabled: maintenance/);
    await a.service.enable();
    await a.service.stop();
    await a.service.disable();
    assert.deepEqual(a.transitions(), ['Ready→Starting', 'Starting→Running', 'Running→Disabled', 'Disabled→Starting', 'Starting→Running', 'Running→Stopping', 'Stopping→Stopped', 'Stopped→Disabled']);
    const b = await gated(t);
    b.gate.pass('start', 'fail');
    await assert.rejects(b.service.start());
    await b.service.disable();
    assert.deepEqual(b.transitions(), ['Ready→Starting', 'Starting→Failed', 'Failed→Disabled']);
  });

  it('Running→Restarting→Running after a trap, on the clock the test drives', async (t) => {
    const { service, gate, clock, transitions, handled } = await gated(t);
    gate.pass('start');
    await service.start();
    await service.emit('events', 'job', 'test', { trap: true });
    await until(() => service.state === 'Restarting', 'Restarting');
    assert.equal(clock.pending, 1, 'one restart is scheduled');
    clock.runNext();
    await until(() => service.state === 'Running', 'Running again');
    assert.equal(service.restarts, 1);
    await service.emit('events', 'job', 'test', { tag: 'after' });
    await service.idle();
    assert.deepEqual((await handled()).map((h) => h.tag), ['after'], 'a fresh instance handles the next event');
    assert.deepEqual(transitions(), ['Ready→Starting', 'Starting→Running', 'Running→Restarting', 'Restarting→Running']);
  });

  it('Running→Restarting on a failed status poll; Running→Restarting by an operator restart', async (t) => {
    const { service, gate, clock, transitions } = await gated(t, { policy: { statusPollMs: 1000 } });
    gate.pass('start');
    await service.start();
    await service.emit('events', 'job', 'test', { status_value: { state: 'failed', why: 'lost the upstream' } });
    await service.idle();
    clock.advance(1000);
    await until(() => service.state === 'Restarting', 'a restart after the failed status');
    assert.match(service.lastError ?? '', /status returned failed status/);
    clock.runNext();
    await until(() => service.state === 'Running', 'Running');
    await service.restart();
    assert.equal(service.state, 'Running');
    assert.deepEqual(transitions(), ['Ready→Starting', 'Starting→Running', 'Running→Restarting', 'Restarting→Running', 'Running→Restarting', 'Restarting→Running']);
  });

  it('Restarting→Restarting when the restart fails, then Restarting→Running', async (t) => {
    const { service, gate, clock, transitions } = await gated(t);
    gate.pass('start');
    await service.start();
    gate.pass('start', 'fail');
    await service.emit('events', 'job', 'test', { trap: true });
    await until(() => service.state === 'Restarting', 'Restarting');
    clock.runNext();
    await until(() => transitions().length === 4, 'the failed restart');
    assert.equal(service.state, 'Restarting');
    gate.pass('start');
    clock.runNext();
    await until(() => service.state === 'Running', 'Running');
    assert.deepEqual(transitions(), ['Ready→Starting', 'Starting→Running', 'Running→Restarting', 'Restarting→Restarting', 'Restarting→Running']);
    assert.equal(service.restarts, 2);
  });

  it('the circuit opens: Running→Disabled on the first failure past the limit, Restarting→Disabled when a restart fails past it', async (t) => {
    const a = await gated(t, { policy: { maxRestarts: 0 } });
    a.gate.pass('start');
    await a.service.start();
    await a.service.emit('events', 'job', 'test', { trap: true });
    await until(() => a.service.state === 'Disabled', 'Disabled');
    assert.deepEqual(a.transitions(), ['Ready→Starting', 'Starting→Running', 'Running→Disabled']);
    assert.ok(a.events.some((e) => e.kind === 'circuit' && /circuit open/.test(e.message)));

    const b = await gated(t, { policy: { maxRestarts: 1 } });
    b.gate.pass('start');
    await b.service.start();
    b.gate.pass('start', 'fail');
    await b.service.emit('events', 'job', 'test', { trap: true });
    await until(() => b.service.state === 'Restarting', 'Restarting');
    b.clock.runNext();
    await until(() => b.service.state === 'Disabled', 'Disabled');
    assert.deepEqual(b.transitions(), ['Ready→Starting', 'Starting→Running', 'Running→Restarting', 'Restarting→Disabled']);
    assert.equal(b.clock.pending, 0, 'nothing is left scheduled');
  });

  it('Restarting→Disabled by the operator while a restart is scheduled: the restart never runs', async (t) => {
    const { service, gate, clock, transitions } = await gated(t);
    gate.pass('start');
    await service.start();
    await service.emit('events', 'job', 'test', { trap: true });
    await until(() => service.state === 'Restarting', 'Restarting');
    await service.disable();
    assert.equal(clock.pending, 0, 'the scheduled restart was cancelled');
    assert.equal(gate.arrivals('start'), 1);
    assert.deepEqual(transitions(), ['Ready→Starting', 'Starting→Running', 'Running→Restarting', 'Restarting→Disabled']);
  });
});

describe('lifecycle races, each made deterministic', () => {
  it('stop() while a restart is scheduled: Stopped, and nothing can revive it', async (t) => {
    const { service, gate, clock, transitions, host } = await gated(t);
    gate.pass('start');
    await service.start();
    await service.emit('events', 'job', 'test', { trap: true });
    await until(() => service.state === 'Restarting', 'Restarting');
    const report = await service.stop();
    assert.equal(report.state, 'Stopped');
    assert.equal(clock.pending, 0, 'the restart timer is gone');
    assert.equal(clock.runNext(), false);
    assert.equal(service.state, 'Stopped');
    assert.equal(host.runtimes.get('project:svc')!.state === 'running', false);
    await assert.rejects(host.callTool('handled', {}), /not running|stopped/);
    assert.deepEqual(transitions(), ['Ready→Starting', 'Starting→Running', 'Running→Restarting', 'Restarting→Stopping', 'Stopping→Stopped']);
  });

  it('stop() while a restart is under way (the new instance is inside start): the restart never publishes Running', async (t) => {
    const { service, gate, clock, transitions, host } = await gated(t);
    gate.pass('start');
    await service.start();
    gate.hold('start');
    await service.emit('events', 'job', 'test', { trap: true });
    await until(() => service.state === 'Restarting', 'Restarting');
    clock.runNext();
    await gate.arrived('start', 2);
    const stopping = service.stop();
    const requestedAt = transitions().length;
    gate.release('start');
    const report = await stopping;
    assert.equal(report.state, 'Stopped');
    assert.ok(!transitions().slice(requestedAt).some((t) => t.endsWith('→Running')), transitions().join(', '));
    assert.deepEqual(transitions(), ['Ready→Starting', 'Starting→Running', 'Running→Restarting', 'Restarting→Stopping', 'Stopping→Stopped']);
    assert.equal(clock.pending, 0);
    assert.equal(service.state, 'Stopped');
    await assert.rejects(host.callTool('handled', {}), /not running|stopped/);
  });

  it('stop() or disable() while start is under way: Starting→Stopping / Starting→Disabled, never Running', async (t) => {
    const a = await gated(t);
    const starting = a.service.start();
    await a.gate.arrived('start');
    const stopping = a.service.stop();
    a.gate.release('start');
    await starting;
    assert.equal((await stopping).state, 'Stopped');
    assert.deepEqual(a.transitions(), ['Ready→Starting', 'Starting→Stopping', 'Stopping→Stopped']);

    const b = await gated(t);
    const startingB = b.service.start();
    await b.gate.arrived('start');
    const disabling = b.service.disable();
    b.gate.release('start');
    await startingB;
    await disabling;
    assert.equal(b.service.state, 'Disabled');
    assert.deepEqual(b.transitions(), ['Ready→Starting', 'Starting→Disabled']);
    await assert.rejects(b.host.callTool('handled', {}), /disabled/);
  });

  it('two concurrent start() calls start the instance once', async (t) => {
    const { service, gate, transitions } = await gated(t);
    const first = service.start();
    const second = service.start();
    await gate.arrived('start');
    gate.release('start');
    await Promise.all([first, second]);
    assert.equal(service.state, 'Running');
    assert.equal(gate.arrivals('start'), 1, 'start ran once');
    assert.deepEqual(transitions(), ['Ready→Starting', 'Starting→Running']);
  });
});

describe('nothing lost across lifecycle operations', () => {
  it('stop waits for a host request in flight; its response stays in the journal and is delivered at the next start', async (t) => {
    const { service, gate, handled } = await gated(t);
    gate.pass('start');
    await service.start();
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'host_request_dispatch', payload: { method: 'GET', url: `${gate.url}/api/gate/req` } }] });
    await gate.arrived('req');
    const stopping = service.stop();
    gate.release('req', 'late answer');
    const report = await stopping;
    assert.equal(report.state, 'Stopped');
    assert.equal(report.waiting, 1, 'the response is in the journal when stop returns');
    assert.equal(service.requests.in_flight, 0);
    await service.start();
    await service.idle();
    const response = (await handled()).find((h) => h.kind === 'host_response');
    const payload = response?.payload as { command_id: string; response: { body: string } };
    assert.match(payload.command_id, /:0$/);
    assert.equal(payload.response.body, 'late answer');
    assert.equal(gate.arrivals('req'), 1, 'the request was not sent again: its command was done');
  });

  it('re-enabling after the circuit opened restores what a start does: the WebSocket reconnects and timers run again', async (t) => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/socket' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    t.after(() => {
      for (const client of server.clients) client.terminate();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    let connections = 0;
    server.on('connection', () => connections++);
    const port = (server.address() as AddressInfo).port;
    const manifest = serviceManifest('svc', {
      websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/socket'] }],
      sources: ['websocket:{config.url}'],
    });
    const clock = new ManualClock();
    const { service, handled, host } = await openService(t, { manifest, clock, config: { url: `ws://127.0.0.1:${port}/socket` }, policy: { maxRestarts: 0, maxAttempts: 1 } });
    const connection = () => service.connections()[0] as { state: string } | undefined;
    await service.start();
    await until(() => connection()?.state === 'Connected' && connections === 1, 'the first connection');
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'timer_set', payload: { timer_id: 'beat', delay_ms: 60_000, interval_ms: 60_000 } }] });
    await service.idle();
    assert.equal(service.timers.length, 1);

    await service.emit('events', 'job', 'test', { trap: true });
    await until(() => service.state === 'Disabled', 'the circuit to open');
    await until(() => connection()?.state === 'Closed', 'the connection to close');

    await service.enable();
    assert.equal(service.state, 'Running');
    await until(() => connection()?.state === 'Connected' && connections === 2, 'a new connection after re-enable');
    assert.deepEqual(service.timers.map((timer) => timer.timer_id), ['beat']);
    clock.advance(60_000);
    await until(async () => (await handled()).some((h) => h.kind === 'timer'), 'a timer tick after re-enable');
    assert.ok((await handled()).some((h) => h.kind === 'websocket_open'), 'the new instance saw the connection open');
    const metrics = await createMetrics(() => host.status()).metrics();
    assert.match(metrics, /yoi_plugin_websocket_connected\{plugin="project:svc",connection="[^"]+"\} 1/);
    assert.match(metrics, /yoi_plugin_websocket_events_delivered_total\{plugin="project:svc",connection="[^"]+"\} [1-9]/);
    assert.match(metrics, /yoi_plugin_discarded_total\{plugin="project:svc",what="websocket_frames_dropped"\} 0/);
  });
});

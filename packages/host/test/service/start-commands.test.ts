import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../../src/journal/memory-journal.js';
import { ManualClock } from '../fixtures/clock.js';
import { Gate } from '../fixtures/gate.js';
import { openService } from './harness.js';
import { until } from '../helpers.js';

const P = 'project:svc';

describe('output commands returned by start', () => {
  it('a timer set at start is committed to the journal and ticks without any event or connection', async (t) => {
    const clock = new ManualClock();
    const journal = new MemoryJournal();
    const { service, handled } = await openService(t, { clock, journal, config: { start_commands: [{ kind: 'timer_set', payload: { timer_id: 'beat', delay_ms: 0, interval_ms: 1000 } }] } });
    await service.start();
    await service.idle();
    assert.deepEqual((await journal.timers(P)).map((timer) => [timer.timer_id, timer.ingress, timer.interval_ms]), [['beat', 'events', 1000]]);
    assert.deepEqual(service.componentStatus, { state: 'running', handled: 0 }, 'the commands are not part of the component status');
    clock.advance(0);
    await until(async () => (await handled()).filter((h) => h.kind === 'timer').length === 1, 'the first tick');
    await service.idle();
    clock.advance(1000);
    await until(async () => (await handled()).filter((h) => h.kind === 'timer').length === 2, 'two ticks');
    assert.deepEqual(service.commandResults.map((r) => [r.kind, r.status]), [['timer_set', 'Recorded']]);
    assert.match(service.commandResults[0]!.source_event_id!, /^start:/);
  });

  it('a host request at start runs from the outbox after its commit, with its command id as Idempotency-Key; the response is an event', async (t) => {
    const gate = await Gate.open(t);
    const journal = new MemoryJournal();
    const { service, handled } = await openService(t, { journal, config: { gate: gate.url, start_commands: [{ kind: 'host_request_dispatch', payload: { method: 'GET', url: `${gate.url}/api/gate/hello` } }] } });
    await service.start();
    await gate.arrived('hello');
    const pending = await journal.outbox(P);
    assert.equal(pending.length, 1, 'committed before it ran');
    assert.equal(gate.headers('hello')[0]!['idempotency-key'], pending[0]!.command_id);
    gate.release('hello', 'hi there');
    await until(async () => (await handled()).some((h) => h.kind === 'host_response'), 'the response event');
    await service.idle();
    assert.deepEqual(await journal.outbox(P), []);
    const response = (await handled()).find((h) => h.kind === 'host_response')!;
    assert.equal((response.payload as { response: { body: string } }).response.body, 'hi there');
  });

  it('are validated and grant-checked as one batch: an ungranted command stops the whole batch, each is reported', async (t) => {
    const journal = new MemoryJournal();
    const { service, events } = await openService(t, {
      journal,
      config: {
        start_commands: [
          { kind: 'timer_set', payload: { timer_id: 'beat', delay_ms: 0, interval_ms: 1000 } },
          { kind: 'domain_event_append', payload: { type: 'not.granted', data: {} } },
        ],
      },
    });
    await service.start();
    await service.idle();
    assert.deepEqual(
      service.commandResults.map((r) => [r.kind, r.status]),
      [
        ['domain_event_append', 'Rejected'],
        ['timer_set', 'Rejected'],
      ],
    );
    assert.deepEqual(service.timers, []);
    assert.deepEqual(await journal.timers(P), []);
    assert.ok(events.some((e) => e.kind === 'command_rejected' && e.fields?.['command_kind'] === 'domain_event_append'));
  });

  it('run again after a restart of the instance', async (t) => {
    const { service, handled } = await openService(t, { config: { start_commands: [{ kind: 'state_set', payload: { key: 'started', value: true } }] } });
    await service.start();
    await service.idle();
    assert.deepEqual(service.durableState, { started: true });
    await service.restart();
    await service.idle();
    assert.equal(service.commandResults.filter((r) => r.kind === 'state_set' && r.status === 'Recorded').length, 2);
    assert.equal((await handled()).length, 0);
  });
});

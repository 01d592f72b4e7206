import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../../src/journal/memory-journal.js';
import type { JsonValue } from '../../src/manifest/types.js';
import { newIngressEvent } from '../../src/service/ingress-event.js';
import { ManualClock } from '../fixtures/clock.js';
import { Gate } from '../fixtures/gate.js';
import { openService } from './harness.js';
import { until } from '../helpers.js';
import { loopback } from '../websocket/loopback.js';
import { serviceManifest } from '../fixtures/service.js';

const P = 'project:svc';
const envelope = (id: string, kind: string, payload: JsonValue): JsonValue => ({ correlation_id: `src-${id}`, source_event_id: `src-${id}`, command_id: id, kind, payload, requested_at: '2030-01-01T00:00:00.000Z' });

describe('the transactional outbox', () => {
  it("commits a handler's acknowledgement, commands, state and timers together; commands run from the outbox, requests with Idempotency-Key", async (t) => {
    const gate = await Gate.open(t);
    const journal = new MemoryJournal();
    const { service, handled } = await openService(t, { journal });
    await service.start();
    await service.emit('events', 'job', 'test', {
      commands: [
        { kind: 'state_set', payload: { key: 'cursor', value: 7 } },
        { kind: 'host_request_dispatch', payload: { method: 'GET', url: `${gate.url}/api/gate/req` }, command_id: 'req-1' },
        { kind: 'timer_set', payload: { timer_id: 'beat', delay_ms: 600_000 } },
      ],
    });
    await gate.arrived('req');
    assert.deepEqual(await journal.unacked(P), [], 'the event is acknowledged');
    assert.deepEqual((await journal.outbox(P)).map((e) => e.command_id), ['req-1'], 'the request waits in the outbox until its response is accepted');
    assert.deepEqual(await journal.state(P), { cursor: 7 });
    assert.deepEqual((await journal.timers(P)).map((timer) => timer.timer_id), ['beat']);
    assert.equal(gate.headers('req')[0]!['idempotency-key'], 'req-1');
    gate.release('req', 'answer');
    await service.idle();
    assert.deepEqual(await journal.outbox(P), []);
    assert.deepEqual(await journal.unacked(P), [], 'the response was accepted, delivered and acknowledged');
    const response = (await handled()).find((h) => h.kind === 'host_response');
    assert.equal((response?.payload as { response: { body: string } }).response.body, 'answer');
  });

  it('after a crash: unacknowledged events come back with attempt + 1, pending commands run again with the same Idempotency-Key, the state is handed back first', async (t) => {
    const gate = await Gate.open(t);
    gate.pass('again', 'second answer');
    // What a crash left in the journal: event A handled (state, a pending request), event B not.
    const journal = new MemoryJournal();
    const [a] = await journal.append(P, [
      { ingress: 'events', event: newIngressEvent('events', 'job', 'test', { tag: 'a' }) },
      { ingress: 'events', event: newIngressEvent('events', 'job', 'test', { tag: 'b' }) },
    ]);
    await journal.commit(P, {
      ack: [a!.seq],
      state: { session: 'abc', seq: 41 },
      outboxAdd: [{ command_id: 'left-1', source_seq: a!.seq, command: { ingress: 'events', envelope: envelope('left-1', 'host_request_dispatch', { method: 'GET', url: `${gate.url}/api/gate/again` }) } }],
    });
    const { service, handled, restored } = await openService(t, { journal });
    await service.start();
    await service.idle();
    const seen = await handled();
    assert.deepEqual(
      seen.map((h) => [h.kind, h.tag, h.attempt]),
      [
        ['job', 'b', 2],
        ['host_response', null, 1],
      ],
    );
    assert.deepEqual(await restored(), [{ state: { session: 'abc', seq: 41 }, after_handled: 0 }], 'the state came first');
    assert.deepEqual(gate.headers('again').map((h) => h['idempotency-key']), ['left-1']);
    assert.equal((seen[1]!.payload as { command_id: string }).command_id, 'left-1');
    assert.deepEqual(await journal.outbox(P), []);
    assert.deepEqual(await journal.unacked(P), []);
    assert.deepEqual(service.durableState, { session: 'abc', seq: 41 });
  });

  it('a command no longer granted when it runs again is rejected and told to the plugin, not run', async (t) => {
    const journal = new MemoryJournal();
    await journal.commit(P, { outboxAdd: [{ command_id: 'gone-1', source_seq: 0, command: { ingress: 'events', envelope: envelope('gone-1', 'host_request_dispatch', { method: 'GET', url: 'http://evil.example/api' }) } }] });
    const { service, handled } = await openService(t, { journal });
    await service.start();
    await service.idle();
    const rejection = (await handled()).find((h) => h.kind === 'command_rejected');
    assert.equal((rejection?.payload as { command_id: string }).command_id, 'gone-1');
    assert.deepEqual(await journal.outbox(P), []);
  });
});

describe('a websocket_send kept in the outbox across a crash', () => {
  it('goes nowhere when a frame of the old socket asked for it (refused, counted, told); one a timer asked for goes to the new socket', async (t) => {
    const server = await loopback(t);
    const url = `ws://127.0.0.1:${server.port}/socket`;
    const manifest = serviceManifest('svc', { websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/socket'] }], sources: ['websocket:{config.url}'] });
    // What a crash left: a domain event (held by the test until the new socket is open), then a
    // send asked for by a frame of the socket the crashed run had, then one asked for by a timer.
    const journal = new MemoryJournal();
    const kept = (id: string, kind: string, payload: JsonValue, origin?: { kind: string; source: string }) => ({ command_id: id, source_seq: 0, command: { ingress: 'events', envelope: envelope(id, kind, payload), ...(origin ? { origin } : {}) } });
    await journal.commit(P, {
      outboxAdd: [
        kept('hold-1', 'domain_event_append', { type: 'order.created', data: null }),
        kept('answer-1', 'websocket_send', { url, text: 'answer to a frame of the old socket' }, { kind: 'websocket_text', source: `websocket:${url}` }),
        kept('beat-1', 'websocket_send', { url, text: 'heartbeat from a timer' }),
      ],
    });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { service, handled } = await openService(t, { manifest, journal, config: { url }, appendDomainEvent: () => held });
    await service.start();
    const connection = () => service.connections()[0] as { state: string; stale_sends: number } | undefined;
    await until(() => connection()?.state === 'Connected' && server.sockets.length === 1, 'the new socket open');
    release();
    await until(() => server.received.length === 1 && connection()!.stale_sends === 1, 'the kept sends run');
    await service.idle();
    assert.deepEqual(server.received, ['heartbeat from a timer']);
    const rejection = (await handled()).find((h) => h.kind === 'command_rejected');
    assert.equal((rejection?.payload as { command_id: string }).command_id, 'answer-1');
    assert.match((rejection?.payload as { reason: string }).reason, /has been replaced/);
    assert.deepEqual(await journal.outbox(P), []);
  });
});

describe('durable plugin state', () => {
  it('state_set and state_delete are committed with the event; every (re)started instance gets state_restored first', async (t) => {
    const { service, handled, restored } = await openService(t);
    await service.start();
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'state_set', payload: { key: 'session', value: 's-1' } }, { kind: 'state_set', payload: { key: 'seq', value: 1 } }] });
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'state_set', payload: { key: 'seq', value: 2 } }, { kind: 'state_delete', payload: { key: 'session' } }] });
    await service.idle();
    assert.deepEqual(service.durableState, { seq: 2 });
    assert.deepEqual(await restored(), [{ state: {}, after_handled: 0 }], 'an empty state is handed over too, so the plugin knows the host keeps it');
    await service.restart();
    await service.emit('events', 'job', 'test', { tag: 'next' });
    await service.idle();
    assert.deepEqual((await handled()).map((h) => h.tag), ['next']);
    assert.deepEqual(await restored(), [{ state: { seq: 2 }, after_handled: 0 }]);
  });

  it('a batch that would exceed the state bounds is rejected whole', async (t) => {
    const { service } = await openService(t);
    await service.start();
    const many = Array.from({ length: 13 }, (_, i) => ({ kind: 'state_set', payload: { key: `k${i}`, value: 'x'.repeat(4000) } }));
    await service.emit('events', 'job', 'test', { commands: many });
    await service.idle();
    assert.deepEqual(service.durableState, {});
    assert.match(service.commandResults.at(-1)!.message, /bytes of durable state; the limit is 49152/);
    assert.equal(service.discards.commands_rejected, 13);
  });
});

describe('durable timers', () => {
  it('a timer survives a stop; a tick whose time passed meanwhile fires at once, late and counted', async (t) => {
    const clock = new ManualClock();
    const journal = new MemoryJournal();
    const { service, handled, host } = await openService(t, { journal, clock });
    await service.start();
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'timer_set', payload: { timer_id: 'once', delay_ms: 1000, data: { n: 1 } } }, { kind: 'timer_set', payload: { timer_id: 'beat', delay_ms: 1000, interval_ms: 1000 } }] });
    await service.idle();
    await service.stop();
    clock.advance(10_500);
    await service.start();
    clock.advance(0);
    await until(async () => (await handled()).filter((h) => h.kind === 'timer').length === 2, 'both late ticks');
    const ticks = (await handled()).filter((h) => h.kind === 'timer').map((h) => h.payload as { timer_id: string; late_ms?: number });
    assert.deepEqual(ticks.map((p) => p.timer_id).sort(), ['beat', 'once']);
    assert.equal(ticks.find((p) => p.timer_id === 'once')!.late_ms, 9500);
    assert.equal(ticks.find((p) => p.timer_id === 'beat')!.late_ms, 500, 'an interval timer ticks once for the intervals it missed');
    assert.equal(service.lateTimerTicks, 2);
    assert.equal(host.status(P)[0]!.timer_ticks_late, 2);
    await service.idle();
    assert.deepEqual((await journal.timers(P)).map((timer) => timer.timer_id), ['beat'], 'the one-shot timer left the journal once its tick was accepted');
  });
});

describe('when the journal cannot write', () => {
  it('the service is Degraded, its sources are held, nothing accepted is lost, and it resumes by itself', async (t) => {
    const clock = new ManualClock();
    const journal = new MemoryJournal();
    const { service, handled, events, host, transitions } = await openService(t, { journal, clock });
    await service.start();
    await service.emit('events', 'job', 'test', { tag: 'before' });
    await service.idle();
    journal.setWriteFailure('ENOSPC: no space left on device');
    let accepted = false;
    const during = service.emit('events', 'job', 'test', { tag: 'during' }).then((outcome) => {
      accepted = true;
      return outcome;
    });
    await until(() => service.state === 'Degraded', 'Degraded');
    assert.equal(host.status(P)[0]!.journal?.writing, 'failing');
    assert.match(host.status(P)[0]!.last_error ?? '', /no space left/);
    assert.ok(events.some((e) => e.kind === 'journal' && e.level === 'error'));
    assert.equal(accepted, false, 'the source is held while the event cannot be accepted');
    assert.equal(host.journalStatus().writing, 'failing');
    journal.setWriteFailure(null);
    clock.runNext();
    assert.deepEqual(await during, { ok: true });
    await until(() => service.state === 'Running', 'Running again');
    await service.idle();
    assert.deepEqual((await handled()).map((h) => h.tag), ['before', 'during']);
    assert.deepEqual(await journal.unacked(P), []);
    assert.deepEqual(transitions().slice(2), ['Running→Degraded', 'Degraded→Running']);
  });

  it('a handling whose commit fails is held: its commands do not run until it is stored', async (t) => {
    const clock = new ManualClock();
    const journal = new MemoryJournal();
    const gate = await Gate.open(t);
    const { service, handled } = await openService(t, { journal, clock, config: { gate: gate.url } });
    await service.start();
    // The event is accepted, then the disk fills while the handler runs.
    await service.emit('events', 'job', 'test', { gate: 'hold', commands: [{ kind: 'host_request_dispatch', payload: { method: 'GET', url: `${gate.url}/api/gate/req` } }] });
    await gate.arrived('hold');
    journal.setWriteFailure('ENOSPC: no space left on device');
    gate.pass('hold');
    await until(() => service.state === 'Degraded', 'Degraded');
    assert.equal(gate.arrivals('req'), 0, 'the request does not run before its commit is stored');
    assert.equal((await journal.unacked(P)).length, 1, 'the event is still unacknowledged');
    journal.setWriteFailure(null);
    clock.runNext();
    await gate.arrived('req');
    gate.release('req');
    await service.idle();
    assert.equal(service.state, 'Running');
    assert.equal((await handled()).filter((h) => h.kind === 'host_response').length, 1);
    assert.deepEqual(await journal.unacked(P), []);
  });
});

describe('stopping while the journal cannot write', () => {
  it('does not hang: held writes are given up, their events stay unacknowledged and come back at the next start', async (t) => {
    const clock = new ManualClock();
    const journal = new MemoryJournal();
    const gate = await Gate.open(t);
    const { service, handled } = await openService(t, { journal, clock, config: { gate: gate.url } });
    await service.start();
    await service.emit('events', 'job', 'test', { tag: 'parked', gate: 'hold' });
    await service.emit('events', 'job', 'test', { tag: 'queued' });
    await gate.arrived('hold');
    journal.setWriteFailure('ENOSPC: no space left on device');
    const late = service.emit('events', 'job', 'test', { tag: 'never accepted' });
    await until(() => service.state === 'Degraded', 'Degraded');
    const stopping = service.stop();
    gate.pass('hold');
    const report = await stopping;
    assert.equal(report.state, 'Stopped');
    assert.equal((await late).ok, false, 'the event that could not be stored was refused, not taken');
    assert.deepEqual((await journal.unacked(P)).map((e) => (e.event.payload as { tag: string }).tag), ['parked', 'queued']);
    journal.setWriteFailure(null);
    await service.start();
    assert.equal(service.state, 'Degraded', 'until a write has worked again');
    clock.runNext();
    await service.idle();
    assert.equal(service.state, 'Running');
    assert.deepEqual((await handled()).map((h) => [h.tag, h.attempt]), [['parked', 2], ['queued', 2]]);
  });
});

describe('dead letters in the journal', () => {
  it('are bounded, evictions counted and logged; they can be listed, replayed and dropped', async (t) => {
    const { service, events } = await openService(t, { policy: { maxAttempts: 1, deadLetterCapacity: 2 } });
    await service.start();
    for (const tag of ['a', 'b', 'c']) await service.emit('events', 'job', 'test', { tag, always_fail: true });
    await service.idle();
    const letters = await service.listDeadLetters();
    assert.deepEqual(letters.map((l) => (l.event.payload as { tag: string }).tag), ['b', 'c']);
    assert.equal(service.discards.dead_letters_evicted, 1);
    assert.equal(service.deadLetterCount, 2);
    assert.ok(events.some((e) => e.kind === 'dead_letter_evicted'));
    assert.equal(await service.dropDeadLetters([letters[0]!.id]), 1);
    assert.equal(service.deadLetterCount, 1);
    assert.deepEqual(await service.replay('all'), { replayed: 1, refused: null });
    await service.idle();
    assert.equal((await service.listDeadLetters()).length, 1, 'it failed again');
  });
});

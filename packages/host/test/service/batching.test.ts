import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MemoryJournal } from '../../src/journal/memory-journal.js';
import type { JsonValue } from '../../src/manifest/types.js';
import type { DomainEvent } from '../../src/service/plugin-service.js';
import { ManualClock } from '../fixtures/clock.js';
import { Gate } from '../fixtures/gate.js';
import { until } from '../helpers.js';
import { openService, type OpenOptions } from './harness.js';

const P = 'project:svc';
const TAGS = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8'];

/**
 * The fixture service parked inside a first event (its handler waits at the gate `hold`)
 * while eight more events are accepted: they are all queued when the gate opens, so the
 * dispatcher hands them to the instance as one batch. `payloads` shapes the eight events.
 */
async function batchOfEight(t: TestContext, payloads: Record<string, Record<string, JsonValue>>, options: OpenOptions = {}) {
  const gate = await Gate.open(t);
  const journal = new MemoryJournal();
  const opened = await openService(t, { journal, ...options, config: { gate: gate.url } });
  await opened.service.start();
  await opened.service.emit('events', 'job', 'test', { tag: 'parked', gate: 'hold' });
  await gate.arrived('hold');
  for (const tag of TAGS) assert.deepEqual(await opened.service.emit('events', 'job', 'test', { tag, ...payloads[tag] }), { ok: true });
  assert.equal(opened.service.queueDepth, 8, 'all eight wait in the queue');
  return { ...opened, gate, journal };
}

const tagsOf = (handled: { tag: string | null; attempt: number }[]) => handled.map((h) => `${h.tag}@${h.attempt}`);

describe('batched ingress', () => {
  it('hands queued events to the instance in one wake-up and commits their handling in one write', async (t) => {
    const { service, gate, journal, handled } = await batchOfEight(t, {});
    const commitsBefore = journal.stats().commits;
    gate.pass('hold');
    await service.idle();
    assert.deepEqual(tagsOf(await handled()), ['parked@1', ...TAGS.map((tag) => `${tag}@1`)]);
    assert.deepEqual(service.batching, { batches: 2, events: 9, largest: 8 });
    assert.equal(journal.stats().commits - commitsBefore, 2, 'one commit for the parked event, one for the batch of eight');
    assert.deepEqual(await journal.unacked(P), []);
    assert.equal(service.counters.dispatched, 9);
  });

  it('stops at an error reply on event 3 of 8: event 3 is redelivered, then 4..8 in order', async (t) => {
    const { service, gate, journal, handled } = await batchOfEight(t, { b3: { fail_until: 2 } });
    gate.pass('hold');
    await service.idle();
    assert.deepEqual(tagsOf(await handled()), ['parked@1', 'b1@1', 'b2@1', 'b3@1', 'b3@2', 'b4@1', 'b5@1', 'b6@1', 'b7@1', 'b8@1']);
    assert.deepEqual({ ...service.counters }, { enqueued: 9, dispatched: 9, retried: 1, failed: 1, timed_out: 0, dead_lettered: 0, dropped: 0, rejected: 0 });
    // parked alone; b1..b3 (stopped at b3); b4..b8 after b3's redelivery (a single attempt, not a batch).
    assert.deepEqual(service.batching, { batches: 3, events: 9, largest: 5 });
    assert.deepEqual(await journal.unacked(P), []);
  });

  it('stops at a trap mid-batch: the instance restarts, the trapping event comes back with attempt 2, then the rest in order', async (t) => {
    const { service, gate, journal, handled } = await batchOfEight(t, { b3: { trap_below: 2 } });
    gate.pass('hold');
    await service.idle();
    assert.equal(service.restarts, 1);
    // The fresh instance's memory: what it was handed after the restart.
    assert.deepEqual(tagsOf(await handled()), ['b3@2', 'b4@1', 'b5@1', 'b6@1', 'b7@1', 'b8@1']);
    assert.equal(service.counters.dispatched, 9);
    assert.equal(service.counters.failed, 1);
    assert.deepEqual(await journal.unacked(P), []);
  });

  it('stops at a deadline mid-batch: the event that overran is dead-lettered after its attempts, each with its own deadline; the rest follow in order', async (t) => {
    const { service, gate, journal, handled } = await batchOfEight(t, { b3: { spin: true } }, { limits: { ingress_timeout_ms: 300 }, policy: { maxAttempts: 2, maxRestarts: 10 } });
    gate.pass('hold');
    await service.idle();
    assert.equal(service.counters.timed_out, 2);
    assert.equal(service.counters.dead_lettered, 1);
    const letters = await service.listDeadLetters();
    assert.deepEqual(letters.map((l) => [(l.event.payload as { tag: string }).tag, l.attempts]), [['b3', 2]]);
    assert.deepEqual(tagsOf(await handled()), ['b4@1', 'b5@1', 'b6@1', 'b7@1', 'b8@1']);
    assert.equal(service.counters.dispatched, 8);
    assert.deepEqual(await journal.unacked(P), []);
  });

  it('a stop during a batch lets the event in the guest finish; the rest of the batch stays in the journal and comes back in order', async (t) => {
    const { service, gate, journal, handled } = await batchOfEight(t, { b2: { gate: 'mid' } });
    gate.pass('hold');
    await gate.arrived('mid');
    const stopping = service.stop();
    gate.pass('mid');
    const report = await stopping;
    assert.equal(report.state, 'Stopped');
    assert.equal(report.waiting, 6);
    assert.deepEqual((await journal.unacked(P)).map((e) => (e.event.payload as { tag: string }).tag), ['b3', 'b4', 'b5', 'b6', 'b7', 'b8']);
    assert.equal(service.counters.dispatched, 3, 'parked, b1 and b2');
    await service.start();
    await service.idle();
    assert.deepEqual(tagsOf(await handled()), ['b3@2', 'b4@2', 'b5@2', 'b6@2', 'b7@2', 'b8@2']);
    assert.deepEqual(await journal.unacked(P), []);
  });

  it('commands of a batch run only once the batch commit is durable', async (t) => {
    const command = (tag: string) => ({ commands: [{ kind: 'domain_event_append', payload: { type: 'order.created', data: { tag } } }] });
    const domainEvents: DomainEvent[] = [];
    const payloads: Record<string, Record<string, JsonValue>> = Object.fromEntries(TAGS.map((tag) => [tag, command(tag)]));
    payloads['b8'] = { ...payloads['b8'], gate: 'tail' };
    const clock = new ManualClock();
    const { service, gate, journal } = await batchOfEight(t, payloads, { domainEvents, clock });
    gate.pass('hold');
    // b1..b7 are handled and b8 waits in its handler: the disk fills before the batch commits.
    await gate.arrived('tail');
    journal.setWriteFailure('ENOSPC: no space left on device');
    gate.pass('tail');
    await until(() => service.state === 'Degraded', 'Degraded');
    assert.equal(domainEvents.length, 0, 'no command of the batch ran before its commit was stored');
    assert.equal((await journal.unacked(P)).length, 8, 'the batch is still unacknowledged');
    journal.setWriteFailure(null);
    clock.runNext();
    await service.idle();
    assert.equal(service.state, 'Running');
    assert.deepEqual(
      domainEvents.map((e) => (e.data as { tag: string }).tag),
      TAGS,
    );
    assert.deepEqual(service.batching.largest, 8);
    assert.deepEqual(await journal.unacked(P), []);
    assert.deepEqual(await journal.outbox(P), []);
  });
});

describe('grouped acceptance', () => {
  /** A journal in memory that records the size of every append it is asked for. */
  function countingJournal(): { journal: MemoryJournal; appends: number[] } {
    const journal = new MemoryJournal();
    const appends: number[] = [];
    const append = journal.append.bind(journal);
    journal.append = (plugin, events) => {
      appends.push(events.length);
      return append(plugin, events);
    };
    return { journal, appends };
  }

  it('accepts the events emitted in one synchronous run with one journal append, and delivers them in order', async (t) => {
    const { journal, appends } = countingJournal();
    const { service, handled } = await openService(t, { journal });
    await service.start();
    const tags = Array.from({ length: 20 }, (_, i) => `g${i}`);
    const outcomes = await Promise.all(tags.map((tag) => service.emit('events', 'job', 'test', { tag })));
    assert.deepEqual(outcomes, tags.map(() => ({ ok: true })));
    assert.deepEqual(appends, [20], 'one append holds all twenty');
    await service.idle();
    assert.deepEqual((await handled()).map((h) => h.tag), tags);
    assert.equal(service.counters.enqueued, 20);
    assert.deepEqual((await journal.unacked(P)).length, 0);
  });

  it('refuses every event of a group the journal cannot take, each counted and logged, and keeps none queued', async (t) => {
    const { journal, appends } = countingJournal();
    const { service, events } = await openService(t, { journal });
    await service.start();
    await service.idle();
    await journal.close();
    const outcomes = await Promise.all([1, 2, 3].map((n) => service.emit('events', 'job', 'test', { tag: `r${n}` })));
    assert.equal(appends.at(-1), 3);
    for (const outcome of outcomes) {
      assert.equal(outcome.ok, false);
      assert.match(outcome.ok ? '' : outcome.message, /could not be accepted/);
    }
    assert.equal(service.counters.rejected, 3);
    assert.equal(service.counters.enqueued, 0);
    assert.equal(service.queueDepth, 0);
    assert.equal(events.filter((e) => e.kind === 'rejected').length, 3);
  });
});

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  JOURNAL_KEY_MAX_BYTES,
  JournalRejectedError,
  JournalWriteError,
  type DurableTimer,
  type Journal,
  type JournalDeadLetter,
  type JournalLimits,
  type NewJournalEvent,
} from '../../src/journal/journal.js';
import type { IngressEvent } from '../../src/service/ingress-event.js';

/** An engine under test: how to get a fresh journal, and (durable engines) how to reopen one. */
export interface JournalEngineUnderTest {
  readonly name: string;
  /** A fresh, empty journal with these bounds (the defaults for the rest). */
  open(limits?: Partial<JournalLimits>): Promise<Journal>;
  /** Durable engines: closes `journal` and opens the same store again, with the same bounds. */
  reopen?(journal: Journal): Promise<Journal>;
}

const P = 'project:svc';

export function ingressEvent(n: number, extra: Record<string, unknown> = {}): IngressEvent {
  return {
    kind: 'job',
    source: 'conformance',
    ingress_name: 'events',
    payload: { n, text: `event ${n} — ünïcödé ✓`, nested: { list: [n, null, true, 1.5] }, ...extra },
    created_at: '2025-01-01T00:00:00.000Z',
    attempt: 1,
    correlation_id: `corr-${n}`,
  };
}

export function newEvent(n: number): NewJournalEvent {
  return { ingress: 'events', event: ingressEvent(n) };
}

export function deadLetter(id: string, error = 'handler failed'): JournalDeadLetter {
  return { id, ingress: 'events', event: ingressEvent(0), attempts: 3, last_error: error, dead_lettered_at: '2025-01-01T00:00:00.000Z' };
}

function timer(id: string, nextAt: number, interval: number | null = 1000): DurableTimer {
  return { timer_id: id, ingress: 'events', next_at: nextAt, interval_ms: interval, data: { id } };
}

/** Everything the journal holds for a plugin, through its public reads. */
export async function snapshot(journal: Journal, plugin = P): Promise<unknown> {
  return {
    unacked: await journal.unacked(plugin),
    outbox: await journal.outbox(plugin),
    state: await journal.state(plugin),
    deadLetters: await journal.deadLetters(plugin),
    timers: await journal.timers(plugin),
  };
}

async function rejected(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof JournalRejectedError, `expected a JournalRejectedError, got ${String(error)}`);
    assert.equal(error.code, 'YOI_JOURNAL_REJECTED');
    assert.match(error.message, pattern);
    assert.ok(error.message.length <= 400, 'the message is bounded');
    return true;
  });
}

/** Registers the conformance tests every journal engine must pass. */
export function journalConformance(engine: JournalEngineUnderTest): void {
  async function open(t: TestContext, limits?: Partial<JournalLimits>): Promise<Journal> {
    const journal = await engine.open(limits);
    t.after(() => journal.close());
    return journal;
  }

  describe(`journal conformance: ${engine.name}`, () => {
    it('accepts events in order with strictly increasing sequence numbers and returns them intact', async (t) => {
      const journal = await open(t);
      const first = await journal.append(P, [newEvent(1), newEvent(2)]);
      const second = await journal.append(P, [newEvent(3)]);
      assert.deepEqual([...first, ...second].map((e) => e.seq), [1, 2, 3]);
      const unacked = await journal.unacked(P);
      assert.deepEqual(unacked.map((e) => e.seq), [1, 2, 3]);
      for (const [i, event] of unacked.entries()) {
        assert.equal(event.ingress, 'events');
        assert.deepEqual(event.event, ingressEvent(i + 1));
        assert.equal(typeof event.accepted_at, 'number');
      }
      assert.deepEqual(await journal.append(P, []), [], 'an empty append accepts nothing');
    });

    it('gives many appends issued in the same tick distinct, increasing seqs in call order, in one durable write', async (t) => {
      const journal = await open(t);
      await journal.append(P, [newEvent(0)]);
      const before = journal.stats();
      const calls = Array.from({ length: 300 }, (_, i) => journal.append(P, [newEvent(i + 1)]));
      const results = await Promise.all(calls);
      assert.deepEqual(results.map((r) => r.map((e) => e.seq)), Array.from({ length: 300 }, (_, i) => [i + 2]));
      const after = journal.stats();
      assert.equal(after.appended - before.appended, 300);
      if (before.flushes !== undefined) assert.equal(after.flushes! - before.flushes, 1, 'the tick shared one durable write');
      assert.deepEqual((await journal.unacked(P)).map((e) => (e.event.payload as { n: number }).n), Array.from({ length: 301 }, (_, i) => i));
    });

    it('keeps unacknowledged what a partial ack left, and refuses an ack of an unknown or acknowledged event', async (t) => {
      const journal = await open(t);
      await journal.append(P, [1, 2, 3, 4, 5].map(newEvent));
      await journal.commit(P, { ack: [2, 4] });
      assert.deepEqual((await journal.unacked(P)).map((e) => e.seq), [1, 3, 5]);
      await rejected(journal.commit(P, { ack: [2] }), /sequence 2/);
      await rejected(journal.commit(P, { ack: [9] }), /sequence 9/);
      await rejected(journal.commit(P, { ack: [3, 3] }), /twice/);
      assert.deepEqual((await journal.unacked(P)).map((e) => e.seq), [1, 3, 5]);
      await journal.commit(P, { ack: [1, 3, 5] });
      assert.deepEqual(await journal.unacked(P), []);
    });

    it('records attempts and returns unacknowledged events with their last recorded attempt', async (t) => {
      const journal = await open(t);
      await journal.append(P, [newEvent(1), newEvent(2)]);
      await journal.commit(P, { attempts: [{ seq: 1, attempt: 2 }] });
      await journal.commit(P, { attempts: [{ seq: 1, attempt: 3 }] });
      const unacked = await journal.unacked(P);
      assert.deepEqual(unacked.map((e) => [e.seq, e.event.attempt]), [[1, 3], [2, 1]]);
      assert.deepEqual({ ...unacked[0]!.event, attempt: 1 }, ingressEvent(1), 'only the attempt changes');
      await rejected(journal.commit(P, { attempts: [{ seq: 7, attempt: 2 }] }), /sequence 7/);
      await rejected(journal.commit(P, { attempts: [{ seq: 2, attempt: 0 }] }), /at least 1/);
      await journal.commit(P, { ack: [1], attempts: [{ seq: 1, attempt: 4 }, { seq: 2, attempt: 5 }] });
      assert.deepEqual((await journal.unacked(P)).map((e) => [e.seq, e.event.attempt]), [[2, 5]]);
    });

    it('commits a transaction atomically: a refused one changes nothing', async (t) => {
      const journal = await open(t, { stateKeys: 2 });
      await journal.append(P, [newEvent(1), newEvent(2)]);
      await journal.commit(P, {
        ack: [1],
        outboxAdd: [{ command_id: 'cmd-1', source_seq: 1, command: { kind: 'websocket_send', payload: { text: 'hi' } } }],
        state: { session: 'abc' },
        deadLetterAdd: [deadLetter('dl-1')],
        timerSet: [timer('tick', 5000)],
      });
      const before = await snapshot(journal);
      const valid = {
        ack: [2],
        attempts: [],
        outboxAdd: [{ command_id: 'cmd-2', source_seq: 2, command: { kind: 'x' } }],
        outboxDone: ['cmd-1'],
        deadLetterAdd: [deadLetter('dl-2')],
        deadLetterRemove: ['dl-1'],
        timerSet: [timer('tick', 9000)],
        timerDelete: [],
      };
      await rejected(journal.commit(P, { ...valid, state: { a: 1, b: 2 } }), /keys/);
      await rejected(journal.commit(P, { ...valid, ack: [2, 99] }), /sequence 99/);
      await rejected(journal.commit(P, { ...valid, outboxAdd: [...valid.outboxAdd, { command_id: 'cmd-2', source_seq: 2, command: {} }] }), /already pending/);
      await rejected(journal.commit(P, { ...valid, outboxDone: ['nope'] }), /not pending/);
      await rejected(journal.commit(P, { ...valid, deadLetterRemove: ['nope'] }), /not a dead letter/);
      await rejected(journal.commit(P, { ...valid, deadLetterAdd: [deadLetter('dl-1')], deadLetterRemove: [] }), /already exists/);
      await rejected(journal.commit(P, { ...valid, state: { big: 1n as unknown as number } }), /not JSON/);
      assert.deepEqual(await snapshot(journal), before, 'every refused transaction left everything as it was');
      await journal.commit(P, valid);
      assert.deepEqual(await journal.unacked(P), []);
      assert.deepEqual((await journal.outbox(P)).map((o) => o.command_id), ['cmd-2']);
      assert.deepEqual((await journal.deadLetters(P)).map((d) => d.id), ['dl-2']);
      assert.deepEqual((await journal.timers(P)).map((x) => x.next_at), [9000]);
    });

    it('does not let a refused call spoil the calls issued in the same tick', async (t) => {
      const journal = await open(t);
      await journal.append(P, [newEvent(1)]);
      const [a, b, c] = await Promise.allSettled([
        journal.commit(P, { state: { k: 1 } }),
        journal.commit(P, { ack: [42] }),
        journal.append(P, [newEvent(2)]),
      ]);
      assert.equal(a.status, 'fulfilled');
      assert.equal(b.status, 'rejected');
      assert.ok((b as PromiseRejectedResult).reason instanceof JournalRejectedError);
      assert.equal(c.status, 'fulfilled');
      assert.deepEqual((c as PromiseFulfilledResult<readonly { seq: number }[]>).value.map((e) => e.seq), [2]);
      assert.deepEqual(await journal.state(P), { k: 1 });
      assert.ok((journal.stats().rejected ?? 1) >= 1);
    });

    it('lists outbox commands in commit order until they are marked done', async (t) => {
      const journal = await open(t);
      await journal.append(P, [newEvent(1), newEvent(2)]);
      await journal.commit(P, { ack: [1], outboxAdd: [{ command_id: 'c1', source_seq: 1, command: { n: 1 } }, { command_id: 'c2', source_seq: 1, command: { n: 2 } }] });
      await journal.commit(P, { ack: [2], outboxAdd: [{ command_id: 'c3', source_seq: 2, command: { n: 3 } }] });
      const outbox = await journal.outbox(P);
      assert.deepEqual(outbox.map((o) => [o.command_id, o.source_seq, o.command]), [['c1', 1, { n: 1 }], ['c2', 1, { n: 2 }], ['c3', 2, { n: 3 }]]);
      assert.ok(outbox.every((o) => typeof o.committed_at === 'number'));
      await journal.commit(P, { outboxDone: ['c2'] });
      assert.deepEqual((await journal.outbox(P)).map((o) => o.command_id), ['c1', 'c3']);
      await rejected(journal.commit(P, { outboxDone: ['c2'] }), /not pending/);
      await rejected(journal.commit(P, { outboxAdd: [{ command_id: 'c1', source_seq: 0, command: {} }] }), /already pending/);
      await journal.commit(P, { outboxDone: ['c1'], outboxAdd: [{ command_id: 'c2', source_seq: 0, command: { again: true } }] });
      assert.deepEqual((await journal.outbox(P)).map((o) => o.command_id), ['c3', 'c2'], 'a finished id may be used again, after the pending ones');
    });

    it('keeps state: set, replace and delete; bounded exactly in keys and bytes', async (t) => {
      const journal = await open(t, { stateKeys: 3, stateBytes: 40 });
      await journal.commit(P, { state: { a: 1, 'ключ ✓': { deep: [1, 'x', null] } } });
      assert.deepEqual(await journal.state(P), { a: 1, 'ключ ✓': { deep: [1, 'x', null] } });
      await journal.commit(P, { state: { a: 2, missing: null } });
      assert.deepEqual(await journal.state(P), { a: 2, 'ключ ✓': { deep: [1, 'x', null] } });
      await journal.commit(P, { state: { 'ключ ✓': null, b: true, c: false } });
      assert.deepEqual(await journal.state(P), { a: 2, b: true, c: false });
      await rejected(journal.commit(P, { state: { d: 0 } }), /4 keys, more than its bound of 3/);
      await journal.commit(P, { state: { c: null, d: 0 } });
      // a=2 (2 bytes) + b=true (5) + d=0 (2) = 9 bytes; a string value v takes 1 + len + 2.
      await rejected(journal.commit(P, { state: { d: 'x'.repeat(31) } }), /41 bytes, more than its bound of 40/);
      await journal.commit(P, { state: { d: 'x'.repeat(30) } });
      assert.equal((await journal.state(P)).d, 'x'.repeat(30));
      await journal.commit(P, { state: { __proto__x: 1, d: null } as Record<string, number | null> });
      assert.deepEqual(Object.keys(await journal.state(P)).sort(), ['__proto__x', 'a', 'b']);
    });

    it('keeps dead letters oldest first, removes them by id, refuses unknown or duplicate ids', async (t) => {
      const journal = await open(t);
      await journal.commit(P, { deadLetterAdd: [deadLetter('d1'), deadLetter('d2')] });
      await journal.commit(P, { deadLetterAdd: [deadLetter('d3')] });
      assert.deepEqual((await journal.deadLetters(P)).map((d) => d.id), ['d1', 'd2', 'd3']);
      assert.deepEqual((await journal.deadLetters(P))[0], deadLetter('d1'));
      const removed = await journal.commit(P, { deadLetterRemove: ['d2'] });
      assert.deepEqual(removed.evicted, []);
      assert.deepEqual((await journal.deadLetters(P)).map((d) => d.id), ['d1', 'd3']);
      await rejected(journal.commit(P, { deadLetterRemove: ['d2'] }), /not a dead letter/);
      await rejected(journal.commit(P, { deadLetterAdd: [deadLetter('d1')] }), /already exists/);
      await rejected(journal.commit(P, { deadLetterAdd: [deadLetter('d9'), deadLetter('d9')] }), /already exists/);
      await journal.commit(P, { deadLetterRemove: ['d1'], deadLetterAdd: [deadLetter('d1', 'replayed and failed again')] });
      assert.deepEqual((await journal.deadLetters(P)).map((d) => [d.id, d.last_error]), [['d3', 'handler failed'], ['d1', 'replayed and failed again']]);
    });

    it('evicts dead letters oldest first beyond the count bound and returns the evicted entries', async (t) => {
      const journal = await open(t, { deadLetterCount: 3 });
      assert.deepEqual((await journal.commit(P, { deadLetterAdd: [deadLetter('d1'), deadLetter('d2'), deadLetter('d3')] })).evicted, []);
      const first = await journal.commit(P, { deadLetterAdd: [deadLetter('d4'), deadLetter('d5')] });
      assert.deepEqual(first.evicted, [deadLetter('d1'), deadLetter('d2')]);
      assert.deepEqual((await journal.deadLetters(P)).map((d) => d.id), ['d3', 'd4', 'd5']);
      const many = await journal.commit(P, { deadLetterAdd: ['n1', 'n2', 'n3', 'n4', 'n5'].map((id) => deadLetter(id)) });
      assert.deepEqual(many.evicted.map((d) => d.id), ['d3', 'd4', 'd5', 'n1', 'n2']);
      assert.deepEqual((await journal.deadLetters(P)).map((d) => d.id), ['n3', 'n4', 'n5']);
      // Eviction of a letter added by an earlier call of the same tick returns it whole.
      const [x, y] = await Promise.all([
        journal.commit(P, { deadLetterAdd: [deadLetter('t1', 'first of the tick'), deadLetter('t2'), deadLetter('t3')] }),
        journal.commit(P, { deadLetterAdd: [deadLetter('t4')] }),
      ]);
      assert.deepEqual(x.evicted.map((d) => d.id), ['n3', 'n4', 'n5']);
      assert.deepEqual(y.evicted, [deadLetter('t1', 'first of the tick')]);
      assert.deepEqual((await journal.deadLetters(P)).map((d) => d.id), ['t2', 't3', 't4']);
      const stats = journal.stats();
      if (stats.dead_letters_evicted !== undefined) assert.equal(stats.dead_letters_evicted, 11);
    });

    it('evicts dead letters oldest first beyond the byte bound (UTF-8 bytes of their JSON)', async (t) => {
      const size = Buffer.byteLength(JSON.stringify(deadLetter('b1')));
      const journal = await open(t, { deadLetterBytes: size * 2 + 10 });
      await journal.commit(P, { deadLetterAdd: [deadLetter('b1'), deadLetter('b2')] });
      const third = await journal.commit(P, { deadLetterAdd: [deadLetter('b3')] });
      assert.deepEqual(third.evicted, [deadLetter('b1')]);
      const huge = deadLetter('huge', 'e'.repeat(size * 3));
      const result = await journal.commit(P, { deadLetterAdd: [huge] });
      assert.deepEqual(result.evicted.map((d) => d.id), ['b2', 'b3', 'huge'], 'a letter larger than the bound is evicted at once, and reported');
      assert.deepEqual(await journal.deadLetters(P), []);
    });

    it('keeps durable timers: set, replace, delete (also of a timer that is gone)', async (t) => {
      const journal = await open(t);
      await journal.commit(P, { timerSet: [timer('b', 2000), timer('a', 3000, null)] });
      assert.deepEqual(await journal.timers(P), [timer('b', 2000), timer('a', 3000, null)]);
      await journal.commit(P, { timerSet: [timer('a', 1000, null)] });
      assert.deepEqual((await journal.timers(P)).map((x) => [x.timer_id, x.next_at]), [['a', 1000], ['b', 2000]]);
      await journal.commit(P, { timerDelete: ['b', 'never-set'] });
      assert.deepEqual((await journal.timers(P)).map((x) => x.timer_id), ['a']);
      await rejected(journal.commit(P, { timerSet: [{ ...timer('c', 1), interval_ms: 0 }] }), /interval_ms/);
      await rejected(journal.commit(P, { timerSet: [timer('c', Number.NaN)] }), /next_at/);
    });

    it('keeps plugins apart: seqs, acks, outbox, state, dead letters and timers', async (t) => {
      const journal = await open(t);
      const [a, b, c] = ['project:a', 'project:a.b', 'builtin:a'];
      await journal.append(a, [newEvent(1), newEvent(2)]);
      const [firstOfB] = await journal.append(b, [newEvent(3)]);
      assert.equal(firstOfB!.seq, 1, 'seqs are per plugin');
      await rejected(journal.commit(c, { ack: [1] }), /sequence 1/);
      await journal.commit(b, { ack: [1], outboxAdd: [{ command_id: 'same', source_seq: 1, command: {} }], state: { k: 'b' }, deadLetterAdd: [deadLetter('same')], timerSet: [timer('same', 1)] });
      await journal.commit(a, { outboxAdd: [{ command_id: 'same', source_seq: 1, command: {} }], state: { k: 'a' }, deadLetterAdd: [deadLetter('same')] });
      assert.deepEqual((await journal.unacked(a)).map((e) => e.seq), [1, 2]);
      assert.deepEqual(await journal.unacked(b), []);
      assert.deepEqual(await journal.state(a), { k: 'a' });
      assert.deepEqual(await journal.state(b), { k: 'b' });
      assert.deepEqual(await journal.timers(a), []);
      assert.equal((await journal.timers(b)).length, 1);
      await journal.commit(a, { outboxDone: ['same'], deadLetterRemove: ['same'] });
      assert.equal((await journal.outbox(b)).length, 1);
      assert.equal((await journal.deadLetters(b)).length, 1);
      assert.deepEqual(await snapshot(journal, c), { unacked: [], outbox: [], state: {}, deadLetters: [], timers: [] });
    });

    it('refuses malformed calls with a clear, bounded error and keeps working', async (t) => {
      const journal = await open(t);
      const long = 'k'.repeat(JOURNAL_KEY_MAX_BYTES + 1);
      await rejected(journal.append('', [newEvent(1)]), /plugin identity is empty/);
      await rejected(journal.append('project:\nx', [newEvent(1)]), /control characters/);
      await rejected(journal.append(P, 'nope' as unknown as NewJournalEvent[]), /must be an array/);
      await rejected(journal.append(P, [{ ingress: 'events', event: 'text' as unknown as IngressEvent }]), /JSON object/);
      await rejected(journal.commit(P, { state: { [long]: 1 } }), new RegExp(`exceeds ${JOURNAL_KEY_MAX_BYTES} bytes`));
      await rejected(journal.commit(P, { outboxAdd: [{ command_id: long, source_seq: 1, command: {} }] }), /exceeds/);
      await rejected(journal.commit(P, null as unknown as object), /must be an object/);
      await assert.rejects(journal.unacked(long), JournalRejectedError);
      assert.deepEqual((await journal.append(P, [newEvent(1)])).map((e) => e.seq), [1]);
      assert.equal(journal.stats().write_errors, 0, 'a refusal is not a write error');
    });

    it('finishes calls issued before close, then rejects every call clearly; close is idempotent', async (t) => {
      const journal = await engine.open();
      t.after(() => journal.close());
      const pending = journal.append(P, [newEvent(1)]);
      const closed = journal.close();
      assert.deepEqual((await pending).map((e) => e.seq), [1]);
      await closed;
      await journal.close();
      const isClosed = (error: unknown): boolean => {
        assert.ok(error instanceof JournalWriteError);
        assert.equal(error.code, 'YOI_JOURNAL_CLOSED');
        assert.match(error.message, /closed/);
        return true;
      };
      await assert.rejects(journal.append(P, [newEvent(2)]), isClosed);
      await assert.rejects(journal.commit(P, { ack: [1] }), isClosed);
      for (const read of [journal.unacked(P), journal.outbox(P), journal.state(P), journal.deadLetters(P), journal.timers(P)]) await assert.rejects(read, isClosed);
    });

    it('counts appends and commits and keeps commit latency percentiles', async (t) => {
      const journal = await open(t);
      await journal.append(P, [newEvent(1), newEvent(2)]);
      await journal.commit(P, { ack: [1] });
      await journal.commit(P, { ack: [2] });
      const stats = journal.stats();
      assert.equal(stats.appended, 2);
      assert.equal(stats.commits, 2);
      assert.equal(stats.write_errors, 0);
      assert.ok(stats.commit_p50_us >= 0 && stats.commit_p50_us <= stats.commit_p99_us);
      assert.equal(typeof journal.engine, 'string');
    });

    if (engine.reopen) {
      const reopen = engine.reopen.bind(engine);

      it('keeps everything across a reopen, and carries on from it', async (t) => {
        const journal = await engine.open({ stateKeys: 2, deadLetterCount: 2 });
        await journal.append(P, [1, 2, 3].map(newEvent));
        await journal.append('project:other', [newEvent(9)]);
        await journal.commit(P, {
          ack: [2],
          attempts: [{ seq: 3, attempt: 4 }],
          outboxAdd: [{ command_id: 'c1', source_seq: 2, command: { kind: 'host_request_dispatch' } }, { command_id: 'c2', source_seq: 2, command: { k: 2 } }],
          state: { session: { id: 'abc', seq: 41 }, cursor: 'ünï' },
          deadLetterAdd: [deadLetter('d1'), deadLetter('d2')],
          timerSet: [timer('heartbeat', 12345)],
        });
        const before = await snapshot(journal);
        const otherBefore = await snapshot(journal, 'project:other');
        const again = await reopen(journal);
        t.after(() => again.close());
        assert.deepEqual(await snapshot(again), before);
        assert.deepEqual(await snapshot(again, 'project:other'), otherBefore);
        // The reopened journal knows what is pending, the state's size and the dead letters' order.
        await rejected(again.commit(P, { ack: [2] }), /sequence 2/);
        await rejected(again.commit(P, { outboxAdd: [{ command_id: 'c1', source_seq: 0, command: {} }] }), /already pending/);
        await rejected(again.commit(P, { state: { third: 1 } }), /3 keys/);
        const evicted = await again.commit(P, { ack: [1, 3], outboxDone: ['c1'], deadLetterAdd: [deadLetter('d3')] });
        assert.deepEqual(evicted.evicted.map((d) => d.id), ['d1']);
        assert.deepEqual((await again.outbox(P)).map((o) => o.command_id), ['c2']);
        assert.deepEqual(await again.unacked(P), []);
      });

      it('never reuses a sequence number after a reopen, even when every event was acknowledged', async (t) => {
        const journal = await engine.open();
        await journal.append(P, [1, 2, 3].map(newEvent));
        await journal.commit(P, { ack: [1, 2, 3] });
        const again = await reopen(journal);
        t.after(() => again.close());
        assert.deepEqual((await again.append(P, [newEvent(4)])).map((e) => e.seq), [4]);
        const third = await reopen(again);
        t.after(() => third.close());
        assert.deepEqual((await third.append(P, [newEvent(5)])).map((e) => e.seq), [5]);
        assert.deepEqual((await third.unacked(P)).map((e) => e.seq), [4, 5]);
      });
    }
  });
}

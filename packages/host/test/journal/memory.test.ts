import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JournalWriteError } from '../../src/journal/journal.js';
import { MemoryJournal } from '../../src/journal/memory-journal.js';
import { deadLetter, journalConformance, newEvent, snapshot } from './conformance.js';

journalConformance({ name: 'memory', open: async (limits) => new MemoryJournal(limits ? { limits } : {}) });

describe('memory journal', () => {
  it('fails writes as a full disk would when told to: nothing of them is stored, the books stay right, and writing resumes', async () => {
    const journal = new MemoryJournal({ limits: { deadLetterCount: 2 } });
    await journal.append('p', [newEvent(1)]);
    await journal.commit('p', { deadLetterAdd: [deadLetter('d1'), deadLetter('d2')] });
    const before = await snapshot(journal, 'p');
    journal.setWriteFailure('no space left on device');
    const failures = await Promise.allSettled([
      journal.append('p', [newEvent(2)]),
      journal.commit('p', { ack: [1], state: { k: 1 }, deadLetterAdd: [deadLetter('d3')] }),
    ]);
    for (const failure of failures) {
      assert.equal(failure.status, 'rejected');
      const error = (failure as PromiseRejectedResult).reason as JournalWriteError;
      assert.ok(error instanceof JournalWriteError);
      assert.equal(error.code, 'YOI_JOURNAL_WRITE');
      assert.match(error.message, /journal write failed \(memory\): no space left on device; nothing of this write was stored/);
    }
    assert.deepEqual(await snapshot(journal, 'p'), before);
    assert.equal(journal.stats().write_errors, 2);
    assert.match(journal.stats().last_write_error ?? '', /no space left/);
    journal.setWriteFailure(null);
    // The failed append's seq was never accepted, the failed ack never happened, d1 was not evicted.
    assert.deepEqual((await journal.append('p', [newEvent(2)])).map((e) => e.seq), [2]);
    const result = await journal.commit('p', { ack: [1], deadLetterAdd: [deadLetter('d3')] });
    assert.deepEqual(result.evicted.map((d) => d.id), ['d1']);
    assert.equal(journal.stats().last_write_error, null);
    await journal.close();
  });

  it('fails the calls of a write that breaks unexpectedly, and keeps working', async () => {
    let broken = true;
    const journal = new MemoryJournal({
      clock: () => {
        if (broken) throw new Error('clock unavailable');
        return 1234;
      },
    });
    await assert.rejects(journal.append('p', [newEvent(1)]), (error: unknown) => error instanceof JournalWriteError && /clock unavailable/.test(error.message));
    broken = false;
    const [event] = await journal.append('p', [newEvent(1)]);
    assert.deepEqual([event!.seq, event!.accepted_at], [1, 1234]);
    await journal.close();
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DeadLetterStore } from '../../src/service/dead-letters.js';
import { newIngressEvent } from '../../src/service/ingress-event.js';
import { tempDir } from '../helpers.js';

const letter = (tag: string) => ({ plugin: 'project:svc', ingress: 'events', event: newIngressEvent('events', 'job', 'test', { tag }), attempts: 1, last_error: 'failed' });

describe('dead-letter store', () => {
  it('load() waits for pending writes, so an entry added just before is never lost', async (t) => {
    const path = join(tempDir(t), 'svc.project.jsonl');
    const store = new DeadLetterStore(10, path);
    store.add(letter('a'));
    store.add(letter('b'));
    await store.load();
    assert.deepEqual(store.list().map((l) => (l.event.payload as { tag: string }).tag), ['a', 'b']);
    const fresh = new DeadLetterStore(10, path);
    await fresh.load();
    assert.equal(fresh.list().length, 2);
  });

  it('counts evictions and write failures instead of hiding them', async (t) => {
    const dir = tempDir(t);
    const store = new DeadLetterStore(2, join(dir, 'svc.project.jsonl'));
    for (const tag of ['a', 'b', 'c']) store.add(letter(tag));
    await store.flush();
    assert.equal(store.evicted, 1);
    const broken = new DeadLetterStore(2, join(dir, 'svc.project.jsonl', 'not-a-dir', 'x.jsonl'));
    broken.add(letter('d'));
    await broken.flush();
    assert.equal(broken.writeErrors, 1);
    assert.ok(broken.lastWriteError);
  });
});

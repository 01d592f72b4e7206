import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newIngressEvent } from '../../src/service/ingress-event.js';
import { IngressQueue, type QueuedEvent } from '../../src/service/ingress-queue.js';

let seq = 0;
function queued(tag: string): QueuedEvent {
  return { ingress: 'events', event: newIngressEvent('events', 'job', 'test', { tag }), enqueuedAt: 0, seq: ++seq };
}
const tagOf = (item: QueuedEvent | null | undefined): unknown => (item?.event.payload as { tag?: unknown } | undefined)?.tag ?? null;

/** Whether `promise` has settled after the microtasks queued so far ran (no timers involved). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise<void>((resolve) => setImmediate(resolve));
  return done;
}

describe('IngressQueue: places, waiting sources, host events beyond the capacity', () => {
  it('refuses a capacity that is not a positive integer', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) assert.throws(() => new IngressQueue(capacity), RangeError);
  });

  it('gives places up to the capacity at once; the next source waits, and waiting sources get places in arrival order', async () => {
    const queue = new IngressQueue(2);
    assert.equal(await queue.reserve(), true);
    assert.equal(await queue.reserve(), true);
    assert.equal(queue.tryReserve(), false, 'full: no place without waiting');
    const first = queue.reserve();
    const second = queue.reserve();
    assert.equal(queue.waiting, 2);
    assert.equal(await settled(first), false, 'held while every place is taken');
    queue.push(queued('a'));
    queue.push(queued('b'));
    assert.equal(tagOf(await queue.take()), 'a');
    assert.equal(await first, true, 'the first waiter gets the freed place');
    assert.equal(await settled(second), false, 'the second still waits');
    queue.unreserve();
    assert.equal(await second, true, 'a place given back admits the next waiter');
    assert.equal(queue.waiting, 0);
  });

  it('queues host events beyond the capacity without taking a place, in one order with source events', async () => {
    const queue = new IngressQueue(1);
    assert.equal(await queue.reserve(), true);
    queue.push(queued('source'));
    assert.equal(queue.pushBeyond(queued('response')), true);
    assert.equal(queue.depth, 2);
    const waiter = queue.reserve();
    assert.equal(tagOf(await queue.take()), 'source');
    assert.equal(await waiter, true, 'taking the placed event frees its place');
    assert.equal(tagOf(await queue.take()), 'response');
    assert.equal(queue.reserved, 1);
  });

  it('hands an event to a waiting taker directly', async () => {
    const queue = new IngressQueue(1);
    const taking = queue.take();
    assert.equal(await settled(taking), false);
    assert.equal(await queue.reserve(), true);
    queue.push(queued('direct'));
    assert.equal(tagOf(await taking), 'direct');
    assert.equal(queue.depth, 0);
    assert.equal(queue.tryReserve(), true, 'the place was freed when the taker got the event');
  });

  it('evicts the oldest placed event (drop_oldest), never a host event, and keeps its place as a reservation', async () => {
    const queue = new IngressQueue(2);
    queue.pushBeyond(queued('host'));
    for (const tag of ['old', 'new']) {
      assert.equal(await queue.reserve(), true);
      queue.push(queued(tag));
    }
    assert.equal(tagOf(queue.evictOldest()), 'old');
    assert.equal(queue.reserved, 1, 'the evicted event’s place is reserved for the newcomer');
    queue.push(queued('newcomer'));
    assert.deepEqual([tagOf(await queue.take()), tagOf(await queue.take()), tagOf(await queue.take())], ['host', 'new', 'newcomer']);
    assert.equal(queue.evictOldest(), undefined, 'nothing placed is left to evict');
  });

  it('close fails waiting sources and takers and refuses new events; reopen accepts again', async () => {
    const queue = new IngressQueue(1);
    assert.equal(await queue.reserve(), true);
    const waiting = queue.reserve();
    const taker = new IngressQueue(1).take();
    queue.close();
    assert.equal(await waiting, false, 'a held source is told the queue closed');
    assert.equal(await queue.reserve(), false);
    assert.equal(queue.push(queued('late')), false, 'an event accepted meanwhile is not queued (it stays in the journal)');
    assert.equal(queue.pushBeyond(queued('host')), false);
    assert.equal(await queue.take(), null);
    assert.equal(await settled(taker), false, 'closing one queue touches no other');
    queue.reopen();
    assert.equal(await queue.reserve(), true);
  });

  it('drain hands back everything queued and frees the places', async () => {
    const queue = new IngressQueue(2);
    for (const tag of ['a', 'b']) {
      assert.equal(await queue.reserve(), true);
      queue.push(queued(tag));
    }
    queue.pushBeyond(queued('c'));
    assert.deepEqual(queue.drain().map(tagOf), ['a', 'b', 'c']);
    assert.equal(queue.depth, 0);
    assert.equal(queue.tryReserve(), true);
    assert.equal(queue.tryReserve(), true);
  });
});

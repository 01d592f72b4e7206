import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InstancePool } from '../../src/sandbox/instance-pool.js';
import type { GuestInstance } from '../../src/sandbox/worker/guest-instance.js';
import { until } from '../helpers.js';

const instance = (): GuestInstance => ({ exports: {}, memories: [{ buffer: new ArrayBuffer(65536) } as unknown as WebAssembly.Memory], stackPointer: null });
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('InstancePool', () => {
  it('refills to its capacity, one instance per turn, and hands each instance out once', async () => {
    let made = 0;
    const pool = new InstancePool({ capacity: 3, make: () => (made++, instance()), onFailure: () => assert.fail('no failure') });
    pool.refill();
    assert.equal(pool.status.ready, 0, 'nothing is made on the caller’s turn');
    await until(() => pool.status.ready === 3, 'a full pool');
    const taken = new Set([pool.take(), pool.take(), pool.take(), pool.take()]);
    assert.equal(taken.size, 4); // three instances and one null: none twice
    assert.ok(taken.has(null));
    assert.deepEqual({ hits: pool.status.hits, misses: pool.status.misses, bytes: pool.status.bytes }, { hits: 3, misses: 1, bytes: 0 });
    await until(() => pool.status.ready === 3, 'refilled');
    assert.equal(made, 6);
    assert.equal(pool.status.bytes, 3 * 65536);
  });

  it('counts and reports an instance that failed to be made, and waits for the next take before trying again', async () => {
    const reported: unknown[] = [];
    let attempts = 0;
    const pool = new InstancePool({
      capacity: 2,
      make: () => {
        attempts++;
        throw new Error('start code trapped');
      },
      onFailure: (error) => reported.push(error),
    });
    pool.refill();
    await until(() => pool.status.failures === 1, 'the failure counted');
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(attempts, 1, 'no retry loop');
    assert.equal(reported.length, 1);
    assert.equal(pool.take(), null);
    await until(() => pool.status.failures === 2, 'one more attempt after the take');
    assert.deepEqual({ misses: pool.status.misses, ready: pool.status.ready }, { misses: 1, ready: 0 });
  });

  it('drains: ready instances are counted as discarded, and nothing is made afterwards', async () => {
    let made = 0;
    const pool = new InstancePool({ capacity: 2, make: () => (made++, instance()), onFailure: () => undefined });
    pool.refill();
    await until(() => pool.status.ready === 2, 'a full pool');
    pool.drain();
    assert.deepEqual({ ready: pool.status.ready, drained: pool.status.drained, bytes: pool.status.bytes }, { ready: 0, drained: 2, bytes: 0 });
    assert.equal(pool.take(), null);
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(made, 2);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deque } from '../../src/service/deque.js';

describe('Deque', () => {
  it('is first-in first-out across compaction, with items put back in front in their order', () => {
    const d = new Deque<number>();
    for (let i = 0; i < 5000; i++) d.push(i);
    for (let i = 0; i < 3000; i++) assert.equal(d.shift(), i);
    assert.equal(d.length, 2000);
    d.unshift(2997, 2998, 2999);
    assert.deepEqual([d.shift(), d.shift(), d.shift(), d.shift()], [2997, 2998, 2999, 3000]);
    d.unshift(-2, -1);
    assert.equal(d.findIndex((n) => n === 3005), 6);
    assert.equal(d.removeAt(6), 3005);
    const rest = d.drain();
    assert.deepEqual(rest.slice(0, 8), [-2, -1, 3001, 3002, 3003, 3004, 3006, 3007]);
    assert.equal(rest.length, 2000);
    assert.equal(d.length, 0);
    assert.equal(d.shift(), undefined);
    d.unshift(1, 2);
    d.push(3);
    assert.deepEqual(d.drain(), [1, 2, 3]);
  });
});

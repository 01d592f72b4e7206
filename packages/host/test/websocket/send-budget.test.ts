import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SendBudget } from '../../src/websocket/send-budget.js';

describe('the send budget of a host-owned connection', () => {
  it('allows `limit` frames in any window and frees each slot exactly one window after its send', () => {
    const budget = new SendBudget(3, 1_000);
    for (const at of [0, 10, 20]) {
      assert.ok(budget.hasRoom(at));
      budget.record(at);
    }
    assert.equal(budget.hasRoom(999), false, 'the window still holds three sends');
    assert.equal(budget.hasRoom(1_000), true, 'the send at 0 left the window at 1000');
    budget.record(1_000);
    assert.equal(budget.hasRoom(1_009), false);
    assert.equal(budget.used(1_015), 2, 'sends at 20 and 1000 remain');
  });

  it('property: agrees with counting the sends of the last window, for any sequence of send attempts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 500 }), fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 600 }), (limit, windowMs, gaps) => {
        const budget = new SendBudget(limit, windowMs);
        const sent: number[] = [];
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          const expected = sent.filter((t) => now - t < windowMs).length < limit;
          assert.equal(budget.hasRoom(now), expected);
          if (expected) {
            budget.record(now);
            sent.push(now);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

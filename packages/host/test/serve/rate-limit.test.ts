import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogRateLimiter } from '../../src/serve/rate-limit.js';

describe('log rate limiter', () => {
  it('admits a bounded number of lines per key and window, then says how many it held back', () => {
    let now = 0;
    const limiter = new LogRateLimiter(3, 1000, () => now);
    const admitted = Array.from({ length: 10 }, () => limiter.admit('svc/retry'));
    assert.deepEqual(admitted.map((a) => a?.suppressed ?? null), [0, 0, 0, null, null, null, null, null, null, null]);
    assert.deepEqual(limiter.admit('svc/dead_letter'), { suppressed: 0 }, 'keys are independent');
    assert.deepEqual(limiter.pending(), [{ key: 'svc/retry', suppressed: 7 }]);
    now = 999;
    assert.equal(limiter.admit('svc/retry'), null);
    now = 1000;
    assert.deepEqual(limiter.admit('svc/retry'), { suppressed: 8 }, 'the first line of the next window reports the held-back count');
    assert.deepEqual(limiter.admit('svc/retry'), { suppressed: 0 });
    assert.deepEqual(limiter.pending(), []);
  });
});

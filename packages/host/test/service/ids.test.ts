import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rfc3339, uuidv7 } from '../../src/service/ids.js';

describe('event ids', () => {
  it('uuidv7: version 7, RFC 4122 variant, the millisecond timestamp first, every id distinct (across pool refills)', () => {
    const now = Date.UTC(2026, 11, 1, 3, 30, 0, 123);
    const ids = Array.from({ length: 1000 }, () => uuidv7(now));
    for (const id of ids) {
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), now);
    }
    assert.equal(new Set(ids).size, ids.length);
    // Time-ordered: a later millisecond sorts after.
    assert.ok(uuidv7(now + 1) > uuidv7(now));
    assert.equal(parseInt(uuidv7(2 ** 48 - 1).replace(/-/g, '').slice(0, 12), 16), 2 ** 48 - 1);
  });

  it('rfc3339: the same text as toISOString, also when the same millisecond is asked again', () => {
    for (const ms of [0, 1_764_559_800_123, 1_764_559_800_123, 1_764_559_800_124]) assert.equal(rfc3339(ms), new Date(ms).toISOString());
  });
});

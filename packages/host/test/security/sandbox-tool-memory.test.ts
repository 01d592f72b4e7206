/**
 * B8: tool-world memory. Each tool-world call gets a fresh component instance; jco's glue
 * queues promise jobs on every instantiation, which run (and free what they hold) only when
 * the worker returns to its event loop. A worker that never did grew ~0.2 MiB per instance
 * until its heap ran out (1,500 calls to the builtin echo crashed it at call ~1,137). The
 * memory target itself (10,000 calls, < 50 MiB RSS growth) is a benchmark: bench/tool-memory.mjs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { openSandbox } from '../fixtures/sandbox.js';

describe('security: tool-world memory (B8)', () => {
  it('runs 1,000 fresh instances in a worker whose heap holds a few hundred leaked ones', async (t) => {
    // 12 MiB of old generation: the glue and one instance fit; 1,000 leaked instances do not.
    const { sandbox } = await openSandbox(t, await assemble(TOOL_WATS.echo), { workerHeapMib: 12 });
    let failures = 0;
    let firstFailure = '';
    for (let i = 0; i < 1000; i++) {
      try {
        const out = await sandbox.call('call', ['run', `{"summary":"call ${i}"}`], 10_000);
        assert.equal(out, `{"summary":"call ${i}"}`);
      } catch (error) {
        failures++;
        firstFailure ||= error instanceof Error ? error.message : String(error);
      }
    }
    assert.equal(failures, 0, `first failure: ${firstFailure}`);
    assert.equal(sandbox.counters.workersLost, 0, 'the worker never died');
    assert.equal(sandbox.counters.workersStarted, 1, 'sequential calls never needed a second worker');
  });
});

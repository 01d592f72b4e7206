import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../src/serve/metrics.js';
import { pluginRuntimeOf } from '../../src/host.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { EXECUTION_MODES } from '../fixtures/execution.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';
import { until } from '../helpers.js';

async function freshnessHost(t: import('node:test').TestContext, execution: (typeof EXECUTION_MODES)[number]) {
  const ws = pluginWorkspace(t, [{ manifest: watToolManifest('fresh', { tools: ['probe'] }), component: await assemble(TOOL_WATS.freshness) }]);
  const host = await ws.open({ execution });
  t.after(() => host.close());
  return host;
}

for (const execution of EXECUTION_MODES) {
  describe(`tool world: a fresh instance for every call (${execution})`, () => {
    it('never lets an instance serve two calls, one at a time or in a burst', async (t) => {
      const host = await freshnessHost(t, execution);
      for (let i = 0; i < 5; i++) assert.equal((await host.callTool('probe', {})).summary, 'fresh');
      const burst = await Promise.all(Array.from({ length: 6 }, () => host.callTool('probe', {})));
      assert.deepEqual(
        burst.map((output) => output.summary),
        Array.from({ length: 6 }, () => 'fresh'),
      );
    });
  });
}

describe('tool world in-thread: the pool of fresh instances', () => {
  it('hands calls ready instances, counts hits and misses, accounts their memory, and shows it in status and /metrics', async (t) => {
    const host = await freshnessHost(t, 'in-thread');
    const pool = () => host.status('project:fresh')[0]!.instance_pool;
    await host.callTool('probe', {}); // loads the plugin; its sandbox starts with a ready instance
    const ready = await until(() => pool()?.ready === pool()?.capacity && pool(), 'a full pool');
    assert.equal(ready.capacity, 2);
    assert.ok(ready.bytes >= 2 * 3 * 65536, `pool memory ${ready.bytes} bytes`); // each instance: 3 pages at least
    const before = { hits: ready.hits, misses: ready.misses };
    // Calls one at a time, each after the pool refilled: every one is a hit.
    for (let i = 0; i < 3; i++) {
      assert.equal((await host.callTool('probe', {})).summary, 'fresh');
      await until(() => pool()?.ready === 2, 'the pool refilled');
    }
    const after = pool()!;
    assert.equal(after.hits - before.hits, 3);
    assert.equal(after.misses, before.misses);
    assert.equal(after.failures, 0);
    const metrics = await createMetrics(() => host.status()).metrics();
    assert.match(metrics, new RegExp(`^yoi_plugin_instance_pool_hits_total\\{plugin="project:fresh"\\} ${after.hits}$`, 'm'));
    assert.match(metrics, /^yoi_plugin_instance_pool_misses_total\{plugin="project:fresh"\} \d+$/m);
    assert.match(metrics, /^yoi_plugin_instance_pool_ready\{plugin="project:fresh"\} 2$/m);
    assert.match(metrics, new RegExp(`^yoi_plugin_instance_pool_bytes\\{plugin="project:fresh"\\} ${after.bytes}$`, 'm'));
  });

  it('counts the calls of a burst larger than the pool as hits and misses, every one on a fresh instance', async (t) => {
    const host = await freshnessHost(t, 'in-thread');
    await host.callTool('probe', {});
    const before = await until(() => pool(host)?.ready === 2 && pool(host), 'a full pool');
    const burst = await Promise.all(Array.from({ length: 5 }, () => host.callTool('probe', {})));
    assert.ok(burst.every((output) => output.summary === 'fresh'));
    const after = pool(host)!;
    assert.equal(after.hits - before.hits + (after.misses - before.misses), 5);
    assert.ok(after.hits - before.hits <= 2 + (after.prepared - before.prepared), 'no more hits than instances made');
  });

  it('drains the ready instances when the plugin is unloaded', async (t) => {
    const host = await freshnessHost(t, 'in-thread');
    await host.callTool('probe', {});
    await until(() => pool(host)?.ready === 2, 'a full pool');
    const runtime = pluginRuntimeOf(host, 'project:fresh')!;
    await host.close();
    const drained = runtime.sandboxCounters!.instancePool!;
    assert.equal(drained.ready, 0);
    assert.equal(drained.bytes, 0);
    assert.equal(drained.drained, 2);
  });

  it('with spareInstances 0 (a one-shot call) runs the first call on the start instance and makes none ahead', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: watToolManifest('fresh', { tools: ['probe'] }), component: await assemble(TOOL_WATS.freshness) }]);
    const host = await ws.open({ execution: 'in-thread', spareInstances: 0 });
    t.after(() => host.close());
    assert.equal((await host.callTool('probe', {})).summary, 'fresh');
    // A refill would be scheduled with setImmediate: let a few turns pass before reading the counters.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(pick(pool(host)!), { capacity: 0, ready: 0, hits: 1, misses: 0, prepared: 1 });
    assert.equal((await host.callTool('probe', {})).summary, 'fresh'); // a second call makes its own
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(pick(pool(host)!), { capacity: 0, ready: 0, hits: 1, misses: 1, prepared: 1 });
  });

  it('shows no pool for a worker sandbox (the worker keeps its own spare)', async (t) => {
    const host = await freshnessHost(t, 'worker');
    await host.callTool('probe', {});
    assert.equal(pool(host), undefined);
  });
});

function pick({ capacity, ready, hits, misses, prepared }: import('../../src/sandbox/instance-pool.js').InstancePoolStatus) {
  return { capacity, ready, hits, misses, prepared };
}

function pool(host: { status(ref?: string): readonly { instance_pool?: import('../../src/sandbox/instance-pool.js').InstancePoolStatus }[] }) {
  return host.status('project:fresh')[0]!.instance_pool;
}

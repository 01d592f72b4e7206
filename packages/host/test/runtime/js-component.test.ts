import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PluginError } from '../../src/errors.js';
import { buildJsComponent, JS_TOOL_MANIFEST, JS_TOOL_SOURCE } from '../fixtures/js.js';
import { pluginWorkspace } from '../fixtures/workspace.js';

describe('JavaScript component (QuickJS build against our WIT)', () => {
  it('runs tools with the host\'s real clock and randomness', async (t) => {
    const component = await buildJsComponent(JS_TOOL_SOURCE, JS_TOOL_MANIFEST);
    const ws = pluginWorkspace(t, [{ manifest: JS_TOOL_MANIFEST, component, limits: { memory_mib: 256 } }]);
    const host = await ws.open();
    t.after(() => host.close());
    assert.deepEqual(await host.callTool('echo', { text: 'hi' }), { summary: 'echo: hi', content: 'hi' });

    const before = Date.now();
    const first = JSON.parse((await host.callTool('clock', {})).content!) as { now: number; random: number; bytes: number[] };
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = JSON.parse((await host.callTool('clock', {})).content!) as { now: number; random: number; bytes: number[] };
    assert.notEqual(first.random, second.random, 'Math.random repeats across instances of one build');
    assert.notDeepEqual(first.bytes, second.bytes, 'crypto.getRandomValues repeats across instances');
    assert.ok(first.now >= before - 1000 && first.now <= Date.now() + 1000, `guest time ${first.now} is not now`);
    assert.ok(second.now > first.now, 'guest time does not move');
  });

  it('surfaces a thrown error as a trap and validates input against the schema first', async (t) => {
    const component = await buildJsComponent(JS_TOOL_SOURCE, JS_TOOL_MANIFEST);
    const ws = pluginWorkspace(t, [{ manifest: JS_TOOL_MANIFEST, component }]);
    const host = await ws.open();
    t.after(() => host.close());
    await assert.rejects(host.callTool('throw', {}), (e: unknown) => e instanceof PluginError && e.code === 'SANDBOX_TRAP');
    await assert.rejects(host.callTool('echo', { text: 5 }), (e: unknown) => e instanceof PluginError && e.code === 'TOOL_INPUT_INVALID' && /\$\.text: must be string/.test(e.message));
    await assert.rejects(host.callTool('echo', {}), (e: unknown) => e instanceof PluginError && /must have required property 'text'/.test(e.message));
    await assert.rejects(host.callTool('bad_output', {}), (e: unknown) => e instanceof PluginError && e.code === 'TOOL_OUTPUT_INVALID' && /unsupported key `extra`/.test(e.message));
    assert.equal((await host.callTool('echo', { text: 'still fine' })).content, 'still fine');
  });

  it('stops a spinning JS guest at its deadline and refuses a memory hog at the cap', async (t) => {
    const component = await buildJsComponent(JS_TOOL_SOURCE, JS_TOOL_MANIFEST);
    const ws = pluginWorkspace(t, [{ manifest: JS_TOOL_MANIFEST, component, limits: { tool_timeout_ms: 1500, memory_mib: 64 } }]);
    const host = await ws.open();
    t.after(() => host.close());
    // Warm first: a call must start within its deadline, and a loaded CI machine can take long to start a worker.
    assert.equal((await host.callTool('echo', { text: 'warm' })).content, 'warm');
    await assert.rejects(host.callTool('spin', {}), (e: unknown) => e instanceof PluginError && e.code === 'SANDBOX_TIMEOUT');
    await assert.rejects(host.callTool('hog', {}), (e: unknown) => e instanceof PluginError && (e.code === 'SANDBOX_OUT_OF_MEMORY' || e.code === 'SANDBOX_TRAP'));
    assert.equal((await host.callTool('echo', { text: 'ok' })).content, 'ok');
  });
});

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PluginError } from '../../src/errors.js';
import { assemble, CORE_MODULE_BYTES, instanceWat, TOOL_WATS } from '../fixtures/wat.js';
import { EXECUTION_MODES } from '../fixtures/execution.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';
import { pluginRuntimeOf } from '../../src/host.js';
import { rejectsWithCode } from '../helpers.js';

/** A PluginError of `code`, with a bounded message. */
async function rejects(promise: Promise<unknown>, code: string, message?: RegExp): Promise<PluginError> {
  const error = await rejectsWithCode(promise, code, message);
  assert.ok(error.message.length <= 600);
  return error;
}

for (const execution of EXECUTION_MODES) {
  describe(`component runtime (WAT fixtures, ${execution})`, () => {
    it('runs a tool-world component and decodes its ToolOutput', async (t) => {
      const ws = pluginWorkspace(t, [{ manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo) }]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      assert.deepEqual(await host.callTool('run', { summary: 'hi', content: 'there' }), { summary: 'hi', content: 'there' });
      assert.deepEqual(await host.callTool('run', { summary: 'again' }), { summary: 'again', content: null });
    });

    it('reports a trap as a bounded error and keeps serving (fresh instance per call)', async (t) => {
      const ws = pluginWorkspace(t, [
        { manifest: watToolManifest('trap', { tools: ['boom'] }), component: await assemble(TOOL_WATS.trap) },
        { manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo) },
      ]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      await rejects(host.callTool('boom', {}), 'SANDBOX_TRAP', /component trapped: wasm trap/);
      await rejects(host.callTool('boom', {}), 'SANDBOX_TRAP');
      assert.equal((await host.callTool('run', { summary: 'ok' })).summary, 'ok');
    });

    it('stops an infinite loop at its deadline; the next call to another plugin succeeds', async (t) => {
      const ws = pluginWorkspace(t, [
        { manifest: watToolManifest('spin', { tools: ['spin'] }), component: await assemble(TOOL_WATS.spin), limits: { tool_timeout_ms: 300 } },
        { manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo) },
      ]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      const started = performance.now();
      await rejects(host.callTool('spin', {}), 'SANDBOX_TIMEOUT', /exceeded its 300 ms deadline/);
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 290, `stopped after ${elapsed} ms`);
      assert.equal((await host.callTool('run', { summary: 'alive' })).summary, 'alive');
      // the spinning plugin gets a new worker on its next call
      await rejects(host.callTool('spin', {}), 'SANDBOX_TIMEOUT');
    });

    it('stops a long loop, a spin deep in recursion and a loop-free tree recursion at their deadlines; later calls work', async (t) => {
      const ws = pluginWorkspace(t, [
        { manifest: watToolManifest('long', { tools: ['long'] }), component: await assemble(TOOL_WATS.longLoop), limits: { tool_timeout_ms: 200 } },
        { manifest: watToolManifest('deep', { tools: ['deep'] }), component: await assemble(TOOL_WATS.deepSpin), limits: { tool_timeout_ms: 200 } },
        { manifest: watToolManifest('fib', { tools: ['fib'] }), component: await assemble(TOOL_WATS.fib), limits: { tool_timeout_ms: 200 } },
        { manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo) },
      ]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      for (const tool of ['long', 'deep', 'fib', 'long']) await rejects(host.callTool(tool, {}), 'SANDBOX_TIMEOUT', /exceeded its 200 ms deadline/);
      assert.equal((await host.callTool('run', { summary: 'alive' })).summary, 'alive');
      for (const id of ['long', 'deep', 'fib', 'echo']) assert.equal(host.runtimes.get(`project:${id}`)!.execution, execution === 'worker' ? 'worker' : 'in-thread');
      assert.equal(host.runtimes.get('project:long')!.sandboxCounters!.deadlineKills, 2);
    });

    it('refuses memory growth at the cap', async (t) => {
      const ws = pluginWorkspace(t, [
        { manifest: watToolManifest('hog', { tools: ['hog'] }), component: await assemble(TOOL_WATS.growForever), limits: { memory_mib: 16 } },
        { manifest: watToolManifest('grow.small', { tools: ['grow_small'] }), component: await assemble(TOOL_WATS.grow16), limits: { memory_mib: 8 } },
        { manifest: watToolManifest('grow.big', { tools: ['grow_big'] }), component: await assemble(TOOL_WATS.grow16), limits: { memory_mib: 64 } },
      ]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      await rejects(host.callTool('hog', {}), 'SANDBOX_OUT_OF_MEMORY', /ran out of memory/);
      await rejects(host.callTool('grow_small', {}), 'SANDBOX_TRAP');
      assert.equal((await host.callTool('grow_big', {})).summary, 'grew 16 MiB');
    });

    it('turns deep recursion into a stack-overflow error', async (t) => {
      const ws = pluginWorkspace(t, [{ manifest: watToolManifest('rec', { tools: ['rec'] }), component: await assemble(TOOL_WATS.recurse) }]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      await rejects(host.callTool('rec', {}), 'SANDBOX_STACK_OVERFLOW', /stack/);
    });

    it('rejects output over 64 KiB', async (t) => {
      const ws = pluginWorkspace(t, [{ manifest: watToolManifest('big', { tools: ['big'] }), component: await assemble(TOOL_WATS.oversized) }]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      await rejects(host.callTool('big', {}), 'TOOL_OUTPUT_INVALID', /exceeds 65536 bytes/);
    });

    it('fails closed on a missing export, an unexpected import, a core module and a placeholder', async (t) => {
      const ws = pluginWorkspace(t, [
        { manifest: watToolManifest('noexport', { tools: ['a'] }), component: await assemble(TOOL_WATS.missingExport) },
        { manifest: watToolManifest('evilimport', { tools: ['b'] }), component: await assemble(TOOL_WATS.unexpectedImport) },
        { manifest: watToolManifest('core', { tools: ['c'] }), component: CORE_MODULE_BYTES },
        { manifest: watToolManifest('text', { tools: ['d'] }), component: new TextEncoder().encode('placeholder') },
      ]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      await rejects(host.callTool('a', {}), 'COMPONENT_INVALID', /does not export expected `yoi:plugin\/tool@1.0.0` call function/);
      await rejects(host.callTool('b', {}), 'COMPONENT_IMPORT_DENIED', /unsupported component import `yoi:evil\/net@1.0.0`/);
      await rejects(host.callTool('c', {}), 'COMPONENT_INVALID', /core WebAssembly module/);
      await rejects(host.callTool('d', {}), 'COMPONENT_INVALID', /not a WebAssembly component/);
    });

    it('refuses a host-API import that is not granted, at load', async (t) => {
      const ws = pluginWorkspace(t, [
        {
          manifest: watToolManifest('caller', { extraPermissions: '  { kind = "host_api", api = "request" },', extra: '[[request]]\nscheme = "http"\nhost = "127.0.0.1"\nmethods = ["GET"]\n' }),
          component: await assemble(TOOL_WATS.requestCaller),
          grants: { permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool', name: 'run' }] },
        },
      ]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      await rejects(host.callTool('run', {}), 'COMPONENT_IMPORT_DENIED', /yoi:host\/request@1.0.0.*granted host_api.request permission is missing/);
    });

    it('loads (verifies, transpiles, compiles) a component once however many calls ask at once', async (t) => {
      const ws = pluginWorkspace(t, [{ manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo) }]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      const runtime = pluginRuntimeOf(host, 'project:echo')!;
      const loads = await Promise.all(Array.from({ length: 20 }, () => runtime.load()));
      assert.ok(loads.every((loaded) => loaded === loads[0]));
      const outputs = await Promise.all(Array.from({ length: 20 }, (_, i) => host.callTool('run', { summary: `s${i}` })));
      assert.deepEqual(outputs.map((o) => o.summary), Array.from({ length: 20 }, (_, i) => `s${i}`));
    });

    it('re-verifies the package digest when loading', async (t) => {
      const ws = pluginWorkspace(t, [{ manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo) }]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      // replace the package after resolution with a different (valid) one
      const other = pluginWorkspace(t, [{ manifest: watToolManifest('echo').replace('0.1.0', '0.1.0 '), component: await assemble(TOOL_WATS.echo) }]);
      const { readFileSync } = await import('node:fs');
      writeFileSync(join(ws.workspace, '.yoi', 'plugins', 'echo.yoi-plugin'), readFileSync(join(other.workspace, '.yoi', 'plugins', 'echo.yoi-plugin')));
      await rejects(host.callTool('run', { summary: 'x' }), 'DIGEST_MISMATCH', /digest does not match/);
    });
  });

  describe(`instance world (${execution})`, () => {
    it('starts once with the enablement config and keeps state between calls', async (t) => {
      const ws = pluginWorkspace(t, [
        { manifest: watToolManifest('inst', { world: 'instance' }), component: await assemble(instanceWat()), config: { level: 'x' } },
      ]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      assert.equal((await host.callTool('run', { summary: 'second' })).summary, 'first call');
      assert.equal((await host.callTool('run', { summary: 'third' })).summary, 'second');
      const runtime = pluginRuntimeOf(host, 'project:inst')!;
      assert.equal(runtime.state, 'running');
      assert.deepEqual(runtime.componentStatus, { state: 'running' });
      assert.deepEqual(await runtime.status(), { state: 'running', ready: true });
      await runtime.close();
      assert.deepEqual(runtime.componentStatus, { state: 'stopped' });
    });

    it('fails closed when start returns an error or a failed state', async (t) => {
      const ws = pluginWorkspace(t, [
        { manifest: watToolManifest('bad.start', { world: 'instance', tools: ['a'] }), component: await assemble(instanceWat({ startReply: '{"error":{"code":"x","message":"no"}}' })) },
        { manifest: watToolManifest('failed.start', { world: 'instance', tools: ['b'] }), component: await assemble(instanceWat({ startReply: '{"state":"failed"}' })) },
        { manifest: watToolManifest('slow.start', { world: 'instance', tools: ['c'] }), component: await assemble(instanceWat({ spinIn: 'start' })), limits: { lifecycle_timeout_ms: 200 } },
      ]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      await rejects(host.callTool('a', {}), 'PLUGIN_START_FAILED', /start returned error/);
      await rejects(host.callTool('b', {}), 'PLUGIN_START_FAILED', /start returned failed status/);
      await rejects(host.callTool('c', {}), 'PLUGIN_START_FAILED', /deadline/);
      assert.equal(host.runtimes.get('project:bad.start')!.state, 'failed');
    });
  });
}

/**
 * B11: output size. The 64 KiB output bound was checked after the whole string had crossed to
 * the host thread (a 100 MB guest output raised host RSS by ~370 MiB). The worker now refuses
 * an oversized result, and oversized host-call arguments, before anything is posted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PluginError } from '../../src/errors.js';
import { assemble, hostArgumentOfWat, outputOfWat } from '../fixtures/wat.js';
import { openSandbox } from '../fixtures/sandbox.js';
import { EXECUTION_MODES } from '../fixtures/execution.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';

const REQUEST_PLUGIN = {
  extraPermissions: '  { kind = "host_api", api = "request" },',
  extra: '[[request]]\nscheme = "http"\nhost = "127.0.0.1"\nmethods = ["GET"]\n',
};

async function rejection(promise: Promise<unknown>): Promise<PluginError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PluginError, String(error));
    return error;
  }
  assert.fail('expected the call to fail');
}

for (const execution of EXECUTION_MODES) {
  describe(`security: guest output stays in the sandbox (B11; ${execution})`, () => {
    it('the sandbox never hands the host thread a result over 64 KiB', async (t) => {
      const { sandbox } = await openSandbox(t, await assemble(outputOfWat(8 * 1024 * 1024)), {}, {}, execution);
      const error = await rejection(sandbox.call('call', ['run', '{}'], 10_000));
      assert.equal(error.code, 'TOOL_OUTPUT_INVALID');
      assert.match(error.message, /guest output exceeds 65536 bytes \(8388608 bytes; refused inside the sandbox\)/);
      assert.ok(sandbox.alive);
    });

    it('passes a result of exactly 64 KiB', async (t) => {
      const { sandbox } = await openSandbox(t, await assemble(outputOfWat(64 * 1024)), {}, {}, execution);
      assert.equal((await sandbox.call('call', ['run', '{}'], 10_000)).length, 64 * 1024);
    });

    it('answers a host call with oversized arguments inside the worker; the host never sees it', async (t) => {
      const component = await assemble(hostArgumentOfWat(4 * 1024 * 1024));
      const { sandbox, hostCalls } = await openSandbox(t, component, {}, { manifest: watToolManifest('probe', REQUEST_PLUGIN) }, execution);
      const reply = JSON.parse(await sandbox.call('call', ['run', '{}'], 10_000)) as { error: { code: string; message: string } };
      assert.equal(reply.error.code, 'too_large');
      assert.match(reply.error.message, /host call arguments \(4194304 bytes\) exceed 65536 bytes/);
      assert.deepEqual(hostCalls, []);
    });

    it('still passes host-call arguments within the bound to the host', async (t) => {
      const { sandbox, hostCalls } = await openSandbox(t, await assemble(hostArgumentOfWat(1000)), {}, { manifest: watToolManifest('probe', REQUEST_PLUGIN) }, execution);
      assert.equal(await sandbox.call('call', ['run', '{}'], 10_000), '{"summary":"host replied"}');
      assert.deepEqual(hostCalls, [{ iface: 'yoi:host/request', fn: 'request', argumentChars: 1000 }]);
    });

    it('through the host: an oversized tool output is a bounded TOOL_OUTPUT_INVALID and the worker keeps serving', async (t) => {
      const ws = pluginWorkspace(t, [
        { manifest: watToolManifest('big', { tools: ['big'] }), component: await assemble(outputOfWat(16 * 1024 * 1024)) },
      ]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      const error = await rejection(host.callTool('big', {}));
      assert.equal(error.code, 'TOOL_OUTPUT_INVALID');
      assert.ok(error.message.length < 200);
      // the second call to the same plugin gets a fresh instance and the same answer
      assert.equal((await rejection(host.callTool('big', {}))).code, 'TOOL_OUTPUT_INVALID');
      assert.equal(host.runtimes.get('project:big')!.sandboxCounters!.workersLost, 0, 'an oversized output does not cost the worker');
    });
  });
}

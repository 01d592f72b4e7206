/**
 * Traps are classified by cause, with the codes docs/runtime.md lists: out of memory at the
 * cap (SANDBOX_OUT_OF_MEMORY), stack overflow (SANDBOX_STACK_OVERFLOW), unreachable and
 * other traps (SANDBOX_TRAP), deadline (SANDBOX_TIMEOUT). Memory exhaustion at the cap and
 * deep recursion in a JavaScript guest used to come back as a generic SANDBOX_TRAP.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PluginError } from '../../src/errors.js';
import { classifyFailure, FAILURE_CODES, memoryHeadroomBytes, type InstanceEvidence } from '../../src/sandbox/worker/failure-cause.js';
import { buildJsComponent } from '../fixtures/js.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { EXECUTION_MODES } from '../fixtures/execution.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';

const MIB = 1024 * 1024;

async function failure(promise: Promise<unknown>): Promise<PluginError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PluginError, String(error));
    assert.ok(error.message.length <= 600);
    return error;
  }
  assert.fail('expected the call to fail');
}

const JS_SOURCE = `
const out = (summary) => JSON.stringify({ summary });
function down(n) { return down(n + 1) + 1; }
export function call(tool, input) {
  switch (tool) {
    case 'recurse': return out(String(down(0)));
    case 'hog': { const keep = []; for (;;) keep.push(new Uint8Array(1 << 20)); }
    case 'throw': throw new Error('boom');
    case 'spin': for (;;) {}
    default: return out('ok');
  }
}
`;
const JS_MANIFEST = watToolManifest('js.traps', { tools: ['recurse', 'hog', 'throw', 'spin', 'ok'] });

for (const execution of EXECUTION_MODES) {
  describe(`security: trap classification (one classifier, one code per cause; ${execution})`, () => {
    const instance = (overrides: Partial<InstanceEvidence> = {}): InstanceEvidence => ({ memoryBytes: [3 * 65536], memoryCapBytes: 64 * MIB, stackPointer: 60_000, ...overrides });
    const trap = (kind: string) => new WebAssembly.RuntimeError(`wasm trap: ${kind}`);

    it('classifies each cause from the evidence', () => {
      const cases: [string, ReturnType<typeof classifyFailure>['cause'], Parameters<typeof classifyFailure>[0]][] = [
        ['deadline', 'deadline', { kind: 'deadline', deadlineMs: 300 }],
        ['engine stack', 'stack_overflow', { kind: 'thrown', error: new RangeError('Maximum call stack size exceeded'), instance: instance() }],
        ['shadow stack below 0', 'stack_overflow', { kind: 'thrown', error: trap('out of bounds memory access'), instance: instance({ stackPointer: -144 }) }],
        ['memory at the cap', 'out_of_memory', { kind: 'thrown', error: trap('wasm `unreachable` instruction executed'), instance: instance({ memoryBytes: [0, 64 * MIB - 576 * 1024] }) }],
        ['unreachable', 'unreachable', { kind: 'thrown', error: trap('wasm `unreachable` instruction executed'), instance: instance() }],
        ['other trap', 'trap', { kind: 'thrown', error: trap('integer divide by zero'), instance: instance() }],
        ['not a trap', 'error', { kind: 'thrown', error: new Error('component does not export call'), instance: null }],
        ['other RangeError', 'error', { kind: 'thrown', error: new RangeError('Invalid string length'), instance: instance() }],
      ];
      for (const [name, cause, evidence] of cases) assert.equal(classifyFailure(evidence).cause, cause, name);
    });

    it('reads causes from structure, not from message text, wherever structure exists', () => {
      // A message that says "out of memory" or "stack" is not evidence; the instance is.
      assert.equal(classifyFailure({ kind: 'thrown', error: trap('out of memory: stack exhausted'), instance: instance() }).cause, 'trap');
      assert.equal(classifyFailure({ kind: 'thrown', error: new Error('wasm trap: unreachable'), instance: instance({ memoryBytes: [64 * MIB] }) }).cause, 'error');
      // A guest that asks for far more than its cap while using little is a plain trap.
      const far = 64 * MIB - memoryHeadroomBytes(64 * MIB) - 65536;
      assert.equal(classifyFailure({ kind: 'thrown', error: trap('unreachable'), instance: instance({ memoryBytes: [far] }) }).cause, 'unreachable');
    });

    it('maps every cause to a documented code', () => {
      assert.deepEqual(FAILURE_CODES, {
        out_of_memory: 'SANDBOX_OUT_OF_MEMORY',
        stack_overflow: 'SANDBOX_STACK_OVERFLOW',
        unreachable: 'SANDBOX_TRAP',
        trap: 'SANDBOX_TRAP',
        deadline: 'SANDBOX_TIMEOUT',
        error: 'SANDBOX_TRAP',
      });
    });

    it('WAT guests: out of memory at the cap, engine and shadow stack overflow, unreachable, deadline', async (t) => {
      const ws = pluginWorkspace(t, [
        { manifest: watToolManifest('hog', { tools: ['hog'] }), component: await assemble(TOOL_WATS.growForever), limits: { memory_mib: 16 } },
        { manifest: watToolManifest('rec', { tools: ['rec'] }), component: await assemble(TOOL_WATS.recurse) },
        { manifest: watToolManifest('shadow', { tools: ['shadow'] }), component: await assemble(TOOL_WATS.shadowRecurse) },
        { manifest: watToolManifest('trap', { tools: ['trap'] }), component: await assemble(TOOL_WATS.trap) },
        { manifest: watToolManifest('spin', { tools: ['spin'] }), component: await assemble(TOOL_WATS.spin), limits: { tool_timeout_ms: 200 } },
      ]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      const hog = await failure(host.callTool('hog', {}));
      assert.equal(hog.code, 'SANDBOX_OUT_OF_MEMORY');
      assert.match(hog.message, /component ran out of memory: linear memory at 16 MiB of its 16 MiB cap/);
      assert.equal((await failure(host.callTool('rec', {}))).code, 'SANDBOX_STACK_OVERFLOW');
      const shadow = await failure(host.callTool('shadow', {}));
      assert.equal(shadow.code, 'SANDBOX_STACK_OVERFLOW');
      assert.match(shadow.message, /guest stack was exhausted/);
      const trapped = await failure(host.callTool('trap', {}));
      assert.equal(trapped.code, 'SANDBOX_TRAP');
      assert.match(trapped.message, /unreachable/);
      const spun = await failure(host.callTool('spin', {}));
      assert.equal(spun.code, 'SANDBOX_TIMEOUT');
      assert.match(spun.message, /exceeded its 200 ms deadline/);
    });

    it('JavaScript guest: deep recursion is a stack overflow, a memory hog is out of memory, a throw is a trap, a spin stops at its deadline', async (t) => {
      const component = await buildJsComponent(JS_SOURCE, JS_MANIFEST);
      const ws = pluginWorkspace(t, [{ manifest: JS_MANIFEST, component, limits: { memory_mib: 64, tool_timeout_ms: 1500 } }]);
      const host = await ws.open({ execution });
      t.after(() => host.close());
      assert.equal((await failure(host.callTool('recurse', {}))).code, 'SANDBOX_STACK_OVERFLOW');
      assert.equal((await failure(host.callTool('hog', {}))).code, 'SANDBOX_OUT_OF_MEMORY');
      assert.equal((await failure(host.callTool('throw', {}))).code, 'SANDBOX_TRAP');
      assert.equal((await host.callTool('ok', {})).summary, 'ok');
    });
  });
}

/**
 * B9: one timeout failed the queue. One spinning call among 29 normal ones to the same plugin
 * gave 1 SANDBOX_TIMEOUT and 29 SANDBOX_CLOSED: the kill took every queued call with it, the
 * backlog was unbounded, and deadlines started at dispatch. Now a call is admitted into a
 * bounded queue, its deadline runs from admission, and a kill fails only the call that overran.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PluginError } from '../../src/errors.js';
import { assemble, instanceWat, TOOL_WATS } from '../fixtures/wat.js';
import { openSandbox } from '../fixtures/sandbox.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';
import { pluginRuntimeOf } from '../../src/host.js';

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; message: string };

function settle(promise: Promise<unknown>): Promise<Outcome> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, code: error instanceof PluginError ? error.code : 'not a PluginError', message: error instanceof Error ? error.message : String(error) }),
  );
}

function codes(outcomes: readonly Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.ok ? 'ok' : o.code;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** Waits (a bounded number of event-loop turns) until `count()` reaches `n`. */
async function admitted(count: () => number, n: number): Promise<void> {
  for (let turn = 0; count() < n; turn++) {
    if (turn > 10_000) throw new Error(`only ${count()} calls were admitted`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('security: one overrunning call fails alone (B9)', () => {
  it('one spinning call among 29 normal calls to one tool-world plugin: 1 timeout, 29 successes', async (t) => {
    const ws = pluginWorkspace(t, [
      { manifest: watToolManifest('mixed', { tools: ['spin', 'run'] }), component: await assemble(TOOL_WATS.spinOrEcho), limits: { tool_timeout_ms: 3000 } },
    ]);
    const host = await ws.open();
    t.after(() => host.close());
    // The spinner is admitted first, so every other call is queued behind it.
    const calls = [settle(host.callTool('spin', {}))];
    for (let i = 0; i < 29; i++) calls.push(settle(host.callTool('run', { summary: `call ${i}` })));
    const outcomes = await Promise.all(calls);
    assert.deepEqual(codes(outcomes), { SANDBOX_TIMEOUT: 1, ok: 29 });
    assert.ok(!outcomes[0]!.ok && /exceeded its 3000 ms deadline/.test(outcomes[0]!.message));
    outcomes.slice(1).forEach((o, i) => assert.deepEqual(o, { ok: true, value: { summary: `call ${i}`, content: null } }));
    const counters = host.runtimes.get('project:mixed')!.sandboxCounters!;
    assert.equal(counters.deadlineKills, 1);
    assert.equal(counters.admitted, 30);
    // the plugin keeps serving
    assert.equal((await host.callTool('run', { summary: 'after' })).summary, 'after');
  });

  it('refuses a call when the queue is full, with a busy error, and counts it', async (t) => {
    const { sandbox } = await openSandbox(t, await assemble(TOOL_WATS.spinOrEcho), { maxQueued: 2, maxWorkers: 1 });
    const spinning = settle(sandbox.call('call', ['spin', '{}'], 60_000));
    const queued = [settle(sandbox.call('call', ['run', '{"summary":"a"}'], 60_000)), settle(sandbox.call('call', ['run', '{"summary":"b"}'], 60_000))];
    assert.equal(sandbox.queued, 2);
    const refused = await settle(sandbox.call('call', ['run', '{"summary":"c"}'], 60_000));
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.code, 'PLUGIN_BUSY');
    assert.match(!refused.ok ? refused.message : '', /2 calls are already waiting/);
    assert.equal(sandbox.counters.refusedFull, 1);
    await sandbox.close();
    assert.deepEqual(codes([await spinning, ...(await Promise.all(queued))]), { SANDBOX_CLOSED: 3 });
  });

  it('counts the deadline from admission: a call that cannot start within it fails busy without running', async (t) => {
    const { sandbox } = await openSandbox(t, await assemble(TOOL_WATS.spinOrEcho), { maxWorkers: 1 });
    const spinning = settle(sandbox.call('call', ['spin', '{}'], 60_000));
    const waiting = await settle(sandbox.call('call', ['run', '{"summary":"late"}'], 200));
    assert.equal(!waiting.ok && waiting.code, 'PLUGIN_BUSY');
    assert.match(!waiting.ok ? waiting.message : '', /waited its whole 200 ms deadline .* did not run/);
    assert.equal(sandbox.counters.expiredInQueue, 1);
    assert.equal(sandbox.queued, 0);
    await sandbox.close();
    assert.equal((await spinning).ok, false);
  });

  it('runs the call queued behind a killed call on a new worker', async (t) => {
    const { sandbox } = await openSandbox(t, await assemble(TOOL_WATS.spinOrEcho), { maxWorkers: 1 });
    const spinning = settle(sandbox.call('call', ['spin', '{}'], 300));
    const behind = settle(sandbox.call('call', ['run', '{"summary":"behind"}'], 60_000));
    assert.equal(!(await spinning).ok && ((await spinning) as { code: string }).code, 'SANDBOX_TIMEOUT');
    assert.deepEqual(await behind, { ok: true, value: '{"summary":"behind"}' });
    assert.equal(sandbox.counters.workersLost, 1);
    assert.equal(sandbox.counters.workersStarted, 2);
    assert.ok(sandbox.alive);
  });

  it('gives each worker its own host session, so concurrent calls never share host-API state', async (t) => {
    const sessions: { ended: number }[] = [];
    const { sandbox } = await openSandbox(t, await assemble(TOOL_WATS.spinOrEcho), {
      hostSession: () => {
        const session = { ended: 0 };
        sessions.push(session);
        return { dispatch: async () => '{}', endCall: () => void session.ended++ };
      },
    });
    const spinning = settle(sandbox.call('call', ['spin', '{}'], 60_000));
    assert.equal(await sandbox.call('call', ['run', '{"summary":"beside"}'], 60_000), '{"summary":"beside"}');
    assert.equal(sandbox.counters.workersStarted, 2, 'the waiting call started a second worker');
    await sandbox.close();
    assert.equal((await spinning).ok, false);
    assert.equal(sessions.length, 2);
    assert.ok(sessions.every((s) => s.ended >= 1), 'each session was ended after its own call');
  });

  it('instance world: a call queued behind an overrunning call runs on the next instance', async (t) => {
    const ws = pluginWorkspace(t, [
      {
        manifest: watToolManifest('inst', { world: 'instance', tools: ['spin', 'run'] }),
        component: await assemble(instanceWat({ spinToolsStartingWithS: true, ingressReply: '{"output_commands":[],"n":1}' })),
        limits: { tool_timeout_ms: 300, ingress_timeout_ms: 60_000 },
      },
    ]);
    const host = await ws.open();
    t.after(() => host.close());
    const runtime = pluginRuntimeOf(host, 'project:inst')!;
    await runtime.start();
    const spinning = settle(runtime.callTool('spin', '{}'));
    await admitted(() => runtime.sandboxCounters?.admitted ?? 0, 2); // `start` was the first
    const ingress = settle(runtime.callIngress('tick', '{}'));
    const spun = await spinning;
    assert.equal(!spun.ok && spun.code, 'SANDBOX_TIMEOUT');
    assert.deepEqual(await ingress, { ok: true, value: '{"output_commands":[],"n":1}' });
    assert.equal(runtime.state, 'running', 'a new instance was started for the queued call');
    // and it is a fresh instance: its first tool call returns the fixed first reply
    assert.equal((await runtime.callTool('run', '{"summary":"x"}')).summary, 'first call');
  });
});

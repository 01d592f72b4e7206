/**
 * The call protocol between the host thread (ComponentSandbox, SandboxWorker) and the sandbox
 * worker, driven into each edge by a fake glue (fixtures/fake-glue.ts): the real worker and
 * the real channels run, only the component is a stand-in whose behaviour each call chooses.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { ComponentSandbox, notStarted, type HostSession, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { SandboxWorker } from '../../src/sandbox/sandbox-worker.js';
import { IO_LIMITS } from '../../src/sandbox/limits.js';
import { CALL_BUFFER_BYTES } from '../../src/sandbox/worker/call-buffer.js';
import { PluginError } from '../../src/errors.js';
import { writeFakeGlue, type FakeGlue } from '../fixtures/fake-glue.js';

/** Generous: a call that should finish never meets it, even on a loaded machine. */
const AMPLE_MS = 30_000;
/** Short: only for guests that never answer. Asserted as an error code, never as a duration. */
const SHORT_MS = 200;

interface Harness {
  readonly sandbox: ComponentSandbox;
  /** What crossed to the host thread, in order: host calls, guest output, call ends. */
  readonly events: string[];
}

async function openFake(t: TestContext, mode: 'tool' | 'instance', options: Partial<SandboxOptions> = {}): Promise<Harness> {
  const events: string[] = [];
  let workers = 0;
  const sandbox = await ComponentSandbox.start({
    gluePath: writeFakeGlue(t, 'guest'),
    modules: {},
    mode,
    memoryBytes: 16 * 1024 * 1024,
    hostInterfaces: ['yoi:host/request'],
    inertInterfaces: ['wasi:cli/stdout'],
    hostSession: () => session(events, undefined, ++workers),
    onLog: (stream, text) => events.push(`log ${stream} ${text}`),
    startupMs: AMPLE_MS,
    ...options,
  });
  t.after(() => sandbox.close());
  return { sandbox, events };
}

/** A host session that records into `events`; sessions after the first worker's name their worker. */
function session(events: string[], dispatch?: HostSession['dispatch'], worker = 1): HostSession {
  const suffix = worker === 1 ? '' : ` (worker ${worker})`;
  return {
    dispatch: async (iface, fn, args) => {
      events.push(`host ${iface} ${fn} ${args.join(',')}${suffix}`);
      return dispatch ? dispatch(iface, fn, args) : `reply to ${String(args[0])}`;
    },
    endCall: () => events.push(`end call${suffix}`),
  };
}

/** The PluginError a promise rejects with (fails the test when it resolves or rejects otherwise). */
async function failure(promise: Promise<unknown>): Promise<PluginError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PluginError, `expected a PluginError, got ${String(error)}`);
    return error;
  }
  assert.fail('the call succeeded');
}

function startWithGlue(t: TestContext, glue: FakeGlue, startupMs = AMPLE_MS): Promise<ComponentSandbox> {
  return ComponentSandbox.start({
    gluePath: writeFakeGlue(t, glue),
    modules: {},
    mode: 'tool',
    memoryBytes: 16 * 1024 * 1024,
    hostInterfaces: [],
    inertInterfaces: [],
    hostSession: () => session([]),
    startupMs,
  });
}

describe('sandbox call protocol (fake glue)', () => {
  it('answers a call with its own result and ends it once', async (t) => {
    const { sandbox, events } = await openFake(t, 'tool');
    assert.equal(await sandbox.call('echo', ['hello'], AMPLE_MS), 'hello');
    assert.deepEqual(events, ['end call']);
  });

  it('carries strings (multi-byte UTF-8 too) and numbers to the guest and back, and an input too large for the call buffer through the port', async (t) => {
    const { sandbox } = await openFake(t, 'tool');
    const text = 'héllo ✓ 😀 end';
    assert.equal(await sandbox.call('echo', [text], AMPLE_MS), text);
    assert.deepEqual(JSON.parse(await sandbox.call('describe', [text, -2.5], AMPLE_MS)), { length: text.length, head: text.slice(0, 12), tail: text.slice(-2), number: -2.5 });
    const large = '😀'.repeat(CALL_BUFFER_BYTES / 2); // 4 UTF-8 bytes each: twice the buffer
    assert.deepEqual(JSON.parse(await sandbox.call('describe', [large, 7], AMPLE_MS)), { length: large.length, head: large.slice(0, 12), tail: '😀', number: 7 });
    assert.equal(await sandbox.call('echo', ['after'], AMPLE_MS), 'after');
  });

  it('ignores a result whose id is not the running call, and keeps the worker', async (t) => {
    // Instance world: an ok result prepares nothing, so the only preparation the host could
    // be waiting for is one the stray result made it expect. Mocked timers fire the
    // preparation watchdog now instead of after a startup window.
    const { sandbox, events } = await openFake(t, 'instance');
    t.mock.timers.enable({ apis: ['setTimeout'] });
    assert.equal(await sandbox.call('strayThenEcho', ['mine'], AMPLE_MS), 'mine');
    t.mock.timers.tick(AMPLE_MS * 3);
    assert.equal(sandbox.alive, true, 'the stray result must not make the host wait for a preparation that never comes');
    assert.deepEqual(sandbox.counters.workersLost, 0);
    assert.equal(await sandbox.call('whoAmI', [], AMPLE_MS), JSON.stringify({ instance: 1, calls: 1 }));
    assert.deepEqual(events, ['end call', 'end call']);
  });

  it('delivers guest output before the result of the call that printed it', async (t) => {
    const { sandbox, events } = await openFake(t, 'tool');
    const value = await sandbox.call('printThenEcho', ['done'], AMPLE_MS);
    events.push(`result ${value}`);
    assert.deepEqual(events, ['log stdout line 1', 'log stdout line 2', 'end call', 'result done']);
  });

  it('serves blocking host calls in the middle of a call, in order, and returns their replies to the guest', async (t) => {
    const { sandbox, events } = await openFake(t, 'tool');
    const value = await sandbox.call('hostTwice', ['a', 'b'], AMPLE_MS);
    events.push(`result ${value}`);
    assert.deepEqual(events, ['host yoi:host/request request a', 'host yoi:host/request request b', 'end call', 'result reply to a|reply to b']);
  });

  it('answers a host call whose dispatcher throws with a host_error the guest can read', async (t) => {
    const events: string[] = [];
    const { sandbox } = await openFake(t, 'tool', {
      hostSession: () =>
        session(events, async (_iface, _fn, args) => {
          if (args[0] === 'bad') throw new Error('dispatcher failed');
          return 'fine';
        }),
    });
    const value = await sandbox.call('hostTwice', ['bad', 'good'], AMPLE_MS);
    const [first, second] = value.split('|');
    assert.deepEqual(JSON.parse(first!), { error: { code: 'host_error', message: 'dispatcher failed' } });
    assert.equal(second, 'fine');
    assert.deepEqual(events, ['host yoi:host/request request bad', 'host yoi:host/request request good', 'end call']);
  });

  it('refuses oversized host call arguments inside the worker: the host never sees them', async (t) => {
    const { sandbox, events } = await openFake(t, 'tool');
    const big = 'y'.repeat(IO_LIMITS.hostCallArgumentBytes + 1);
    const value = await sandbox.call('hostTwice', [big, 'small'], AMPLE_MS);
    const [first, second] = value.split('|');
    assert.equal((JSON.parse(first!) as { error: { code: string } }).error.code, 'too_large');
    assert.equal(second, 'reply to small');
    assert.deepEqual(events, ['host yoi:host/request request small', 'end call']);
  });

  it('fails a call that traps after a host call, and the next call runs on a fresh instance of the same worker', async (t) => {
    const { sandbox, events } = await openFake(t, 'instance');
    assert.equal(await sandbox.call('whoAmI', [], AMPLE_MS), JSON.stringify({ instance: 1, calls: 1 }));
    const error = await failure(sandbox.call('hostThenTrap', ['before the trap'], AMPLE_MS));
    assert.equal(error.code, 'SANDBOX_TRAP');
    assert.match(error.message, /unreachable/);
    assert.equal(await sandbox.call('whoAmI', [], AMPLE_MS), JSON.stringify({ instance: 2, calls: 1 }));
    assert.deepEqual(events, ['end call', 'host yoi:host/request request before the trap', 'end call', 'end call']);
    assert.equal(sandbox.alive, true);
    assert.deepEqual({ started: sandbox.counters.workersStarted, lost: sandbox.counters.workersLost }, { started: 1, lost: 0 });
  });

  it('fails an export that returns no string, and keeps answering', async (t) => {
    const { sandbox } = await openFake(t, 'tool');
    const error = await failure(sandbox.call('notAString', [], AMPLE_MS));
    assert.equal(error.code, 'SANDBOX_TRAP');
    assert.match(error.message, /did not return a string/);
    const missing = await failure(sandbox.call('noSuchExport', [], AMPLE_MS));
    assert.match(missing.message, /does not export noSuchExport/);
    assert.equal(await sandbox.call('echo', ['still here'], AMPLE_MS), 'still here');
  });

  it('kills a worker whose guest never answers (SANDBOX_TIMEOUT) and runs the next call on a replacement', async (t) => {
    const { sandbox, events } = await openFake(t, 'tool', { maxWorkers: 1 });
    const error = await failure(sandbox.call('spin', [], SHORT_MS));
    assert.equal(error.code, 'SANDBOX_TIMEOUT');
    assert.match(error.message, /`spin` exceeded its 200 ms deadline; the instance was stopped/);
    const atKill = [...events];
    assert.equal(await sandbox.call('echo', ['after'], AMPLE_MS), 'after');
    assert.deepEqual(atKill, ['end call'], 'the killed call ended its host session before its caller saw the failure');
    // The dead worker's session is ended again when its thread exits (endCall is idempotent), so compare without repeats.
    assert.deepEqual([...new Set(events)], ['end call', 'end call (worker 2)']);
    const { deadlineKills, workersLost, workersStarted } = sandbox.counters;
    assert.deepEqual({ deadlineKills, workersLost, workersStarted }, { deadlineKills: 1, workersLost: 1, workersStarted: 2 });
  });

  it('in the instance world, a deadline kill loses the instance and the waiting calls fail as not started', async (t) => {
    const { sandbox } = await openFake(t, 'instance');
    const spinning = failure(sandbox.call('spin', [], SHORT_MS));
    const waiting = failure(sandbox.call('echo', ['queued'], AMPLE_MS));
    assert.equal((await spinning).code, 'SANDBOX_TIMEOUT');
    const notRun = await waiting;
    assert.equal(notRun.code, 'PLUGIN_NOT_RUNNING');
    assert.ok(notStarted(notRun));
    assert.equal(sandbox.alive, false);
  });

  it('refuses a result over the output bound inside the worker (TOOL_OUTPUT_INVALID), and the worker stays', async (t) => {
    const { sandbox } = await openFake(t, 'tool');
    assert.equal((await sandbox.call('repeat', [IO_LIMITS.guestOutputBytes], AMPLE_MS)).length, IO_LIMITS.guestOutputBytes);
    const error = await failure(sandbox.call('repeat', [IO_LIMITS.guestOutputBytes + 1], AMPLE_MS));
    assert.equal(error.code, 'TOOL_OUTPUT_INVALID');
    assert.match(error.message, new RegExp(`exceeds ${IO_LIMITS.guestOutputBytes} bytes \\(${IO_LIMITS.guestOutputBytes + 1} bytes; refused inside the sandbox\\)`));
    assert.equal(await sandbox.call('echo', ['next'], AMPLE_MS), 'next');
    assert.equal(sandbox.counters.workersLost, 0);
  });

  it('refuses a second call on a busy worker (PLUGIN_BUSY) without disturbing the first', async (t) => {
    const events: string[] = [];
    let release!: (value: string) => void;
    const held = new Promise<string>((resolve) => (release = resolve));
    const worker = await SandboxWorker.start({
      gluePath: writeFakeGlue(t, 'guest'),
      modules: {},
      mode: 'tool',
      memoryBytes: 16 * 1024 * 1024,
      maxOutputBytes: 1024,
      maxHostArgumentBytes: 1024,
      hostInterfaces: ['yoi:host/request'],
      inertInterfaces: [],
      session: session(events, () => held),
      startupMs: AMPLE_MS,
      syncWaitMs: 0,
      heapMib: 64,
    });
    t.after(() => worker.close());
    const first = worker.run('hostTwice', ['x', 'y'], AMPLE_MS);
    const second = await failure(worker.run('echo', ['z'], AMPLE_MS));
    assert.equal(second.code, 'PLUGIN_BUSY');
    release('held');
    assert.equal(await first, 'held|held');
    assert.deepEqual(events, ['host yoi:host/request request x', 'host yoi:host/request request y', 'end call']);
  });

  it('reports a worker that exits while loading as SANDBOX_CRASHED', async (t) => {
    const error = await failure(startWithGlue(t, 'exits-at-start'));
    assert.equal(error.code, 'SANDBOX_CRASHED');
    assert.match(error.message, /exited during startup/);
  });

  it('reports a component that fails to instantiate as COMPONENT_INVALID, with its reason', async (t) => {
    const error = await failure(startWithGlue(t, 'throws-at-instantiate'));
    assert.equal(error.code, 'COMPONENT_INVALID');
    assert.match(error.message, /the fake component refuses to start/);
  });

  it('stops a worker that never finishes loading (SANDBOX_TIMEOUT at the startup deadline)', async (t) => {
    const error = await failure(startWithGlue(t, 'never-loads', SHORT_MS));
    assert.equal(error.code, 'SANDBOX_TIMEOUT');
    assert.match(error.message, /did not start within 200 ms/);
  });
});

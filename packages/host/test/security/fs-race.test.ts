/**
 * B1 (fs symlink race): a swapper process keeps replacing a granted sub-folder with a symlink
 * to a directory outside the grant root while a real component (and direct host calls on the
 * same plugin's authority) read, write and list through it. No reply may carry outside
 * content or names, and nothing may be created or changed outside.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import { fsHostCall } from '../../src/hostapi/fs.js';
import { FS_PROBE_INSTANCE_WAT, fsProbeManifest, probeReply } from '../fixtures/fs-probe.js';
import { assemble } from '../fixtures/wat.js';
import { pluginWorkspace } from '../fixtures/workspace.js';
import { writeFiles } from '../helpers.js';

const SECRET = 'OUTSIDE-SECRET-the-race-must-never-read-this';
const INSIDE = 'inside-content';
const MIN_SWAPS = 2_000;
/** Bounds of the run: it stops when both call targets are met, or at the time budget. */
const COMPONENT_CALLS = 1_500;
const DIRECT_CALLS = 4_500;
const DIRECT_LANES = 3;
const BUDGET_MS = 10_000;
const MIN_COMPONENT_CALLS = 100;
const MIN_DIRECT_CALLS = 400;

const SWAPPER = join(dirname(fileURLToPath(import.meta.url)), 'fs-swapper.js');

interface Escape {
  readonly via: 'component' | 'direct';
  readonly call: number;
  readonly what: string;
}

/** Starts the swapper and resolves once it runs; `swaps()` is its latest count. */
async function startSwapper(t: TestContext, dir: string, outside: string): Promise<{ swaps: () => number; stop: () => Promise<number> }> {
  const child: ChildProcess = fork(SWAPPER, [dir, outside, String(BUDGET_MS * 3)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let swaps = 0;
  let done: ((n: number) => void) | null = null;
  const finished = new Promise<number>((resolve) => (done = resolve));
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: { ready?: boolean; swaps?: number; done?: number }) => {
      if (m.ready) resolve();
      if (m.swaps !== undefined) swaps = m.swaps;
      if (m.done !== undefined) {
        swaps = m.done;
        done!(m.done);
      }
    });
    child.on('exit', (code) => {
      reject(new Error(`swapper exited early (${code})`));
      done!(swaps);
    });
  });
  t.after(() => {
    if (child.exitCode === null) child.kill();
  });
  await ready;
  return {
    swaps: () => swaps,
    stop: async () => {
      if (child.connected) child.send('stop');
      return finished;
    },
  };
}

describe('security: fs host API under a symlink-swapping race (B1)', () => {
  it('never reads, lists or writes outside the root while a sub-folder is swapped with a symlink', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: fsProbeManifest('fs.race', 'instance'), component: await assemble(FS_PROBE_INSTANCE_WAT) }]);
    const root = ws.filesRoot;
    const outside = join(ws.root, 'outside');
    writeFiles(root, { 'sub/inside.txt': INSIDE });
    writeFiles(outside, { 'inside.txt': SECRET, 'outside-marker.txt': SECRET });
    const outsideBefore = readdirSync(outside).sort();

    const host = await ws.open();
    t.after(() => host.close());
    const subject = host.runtimes.get('project:fs.race')!.record;
    // Warm up (load and start the instance) before the race begins.
    assert.equal(JSON.parse(probeReply(await host.callTool('read', { path: 'sub/inside.txt' }))).content, INSIDE);

    const escapes: Escape[] = [];
    /** Inspects one reply; a reply that carries outside content or names is an escape. */
    const inspect = (via: Escape['via'], call: number, op: string, reply: string) => {
      if (reply.includes(SECRET)) escapes.push({ via, call, what: `${op} returned outside content` });
      if (reply.includes('outside-marker')) escapes.push({ via, call, what: `${op} listed the outside directory` });
      const written = readdirSync(outside).filter((n) => !outsideBefore.includes(n));
      if (written.length > 0 && !escapes.some((e) => e.what.startsWith('created'))) escapes.push({ via, call, what: `created ${written.join(', ')} outside` });
    };
    // Reads and lists dominate: a write fsyncs, which is slow while the swapper fills the journal.
    const request = (i: number): [string, Record<string, string>] =>
      i % 8 === 7 ? ['write', { path: `sub/planted-${i % 5}.txt`, content: 'planted' }] : i % 4 === 1 ? ['list', { path: 'sub' }] : ['read', { path: 'sub/inside.txt' }];

    const swapper = await startSwapper(t, root, outside);
    const started = Date.now();
    const inBudget = () => Date.now() - started < BUDGET_MS;
    let componentCalls = 0;
    let directCalls = 0;

    const component = (async () => {
      while (componentCalls < COMPONENT_CALLS && inBudget()) {
        const [op, input] = request(componentCalls);
        const reply = probeReply(await host.callTool(op, input));
        inspect('component', ++componentCalls, op, reply);
      }
    })();
    const direct = Array.from({ length: DIRECT_LANES }, async (_, lane) => {
      while (directCalls < DIRECT_CALLS && inBudget()) {
        const [op, input] = request(directCalls + lane);
        const reply = await fsHostCall(subject, op, JSON.stringify(input));
        inspect('direct', ++directCalls, op, reply);
      }
    });
    await Promise.all([component, ...direct]);
    const swaps = await swapper.stop();

    t.diagnostic(`${swaps} swaps, ${componentCalls} component calls, ${directCalls} direct calls in ${Date.now() - started} ms`);
    const firsts = [...new Set(escapes.map((e) => `${e.via}: ${e.what.replace(/ [^ ]*-\d\.txt.*$/, '')}`))].map((kind) => {
      const first = escapes.find((e) => `${e.via}: ${e.what.replace(/ [^ ]*-\d\.txt.*$/, '')}` === kind)!;
      return `${kind} (first at call ${first.call})`;
    });
    assert.deepEqual(firsts, [], `${escapes.length} escapes`);
    assert.ok(swaps >= MIN_SWAPS, `only ${swaps} swaps happened`);
    // The code before the fix escaped within ~50 calls of either kind; these floors only keep a
    // starved run (a very loaded machine) from passing without having raced at all.
    assert.ok(componentCalls >= MIN_COMPONENT_CALLS && directCalls >= MIN_DIRECT_CALLS, `too few calls raced: ${componentCalls} component, ${directCalls} direct`);
    assert.deepEqual(readdirSync(outside).sort(), outsideBefore, 'a file was created outside the root');
    assert.equal(readFileSync(join(outside, 'inside.txt'), 'utf8'), SECRET, 'the outside file was changed');
  });
});

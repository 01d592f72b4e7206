import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { openLmdbJournal } from '../../src/journal/lmdb-journal.js';
import { tempDir } from '../helpers.js';
import { CHILD_PLUGIN, CHILD_SCRIPT, crashEvent, seeded } from './child-protocol.js';

interface ChildRun {
  readonly lines: readonly string[];
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Runs the crash child and SIGKILLs it once it has printed `killAfter` accepted events. */
function runUntilKilled(dir: string, seed: number, killAfter: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(CHILD_SCRIPT), 'crash', dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let partial = '';
    let accepted = 0;
    let stderr = '';
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 10_000) stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const complete = text.split('\n');
      partial = complete.pop()!;
      for (const line of complete) {
        lines.push(line);
        if (line.startsWith('A ') && ++accepted === killAfter) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(guard);
      resolve({ lines, signal, stderr });
    });
  });
}

describe('lmdb journal crash safety', () => {
  for (const seed of [11, 23, 37, 41, 59]) {
    it(`keeps every acknowledged append and commit across a SIGKILL (seed ${seed})`, async (t) => {
      const dir = join(tempDir(t, 'yoi-journal-crash-'), 'journal');
      const killAfter = 40 + Math.floor(seeded(seed * 7919)() * 1500);
      const run = await runUntilKilled(dir, seed, killAfter);
      assert.equal(run.signal, 'SIGKILL', `the child was killed, not ended by itself: ${run.stderr}`);

      const accepted = new Map<number, number>();
      const intents = new Map<number, number[]>();
      const confirmed = new Set<number>();
      for (const line of run.lines) {
        const [tag, a, b] = line.split(' ');
        if (tag === 'A') {
          assert.equal(accepted.has(Number(a)), false, `seq ${a} was handed out twice`);
          accepted.set(Number(a), Number(b));
        } else if (tag === 'C') intents.set(Number(a), b!.split(',').map(Number));
        else if (tag === 'K') confirmed.add(Number(a));
      }
      assert.ok(accepted.size >= killAfter, `the child accepted ${accepted.size} events before the kill`);

      const journal = await openLmdbJournal({ dir, limits: { stateKeys: 4 } });
      t.after(() => journal.close());
      const unacked = new Map((await journal.unacked(CHILD_PLUGIN)).map((e) => [e.seq, e]));
      const outbox = new Set((await journal.outbox(CHILD_PLUGIN)).map((o) => o.command_id));
      const state = await journal.state(CHILD_PLUGIN);
      const ackIntended = new Set([...intents.values()].flat());

      // Every event whose append resolved is there, intact — unless a commit was about to ack it.
      for (const [seq, n] of accepted) {
        const event = unacked.get(seq);
        if (event) assert.deepEqual(event.event, crashEvent(n), `event ${seq} is intact`);
        else assert.ok(ackIntended.has(seq), `event ${seq} (n=${n}) was acknowledged by append and is gone, with no commit acking it`);
      }
      // Every commit is all or nothing; one whose promise resolved happened.
      let lastCommit = 0;
      for (const [c, seqs] of intents) {
        const happened = outbox.has(`cmd-${c}`);
        if (confirmed.has(c)) assert.ok(happened, `commit ${c} resolved but its outbox entry is gone`);
        for (const seq of seqs) assert.equal(unacked.has(seq), !happened, `commit ${c} ${happened ? 'happened' : 'did not happen'}, yet event ${seq} disagrees`);
        if (happened) lastCommit = Math.max(lastCommit, c);
      }
      assert.equal(state.commits ?? 0, lastCommit, 'the state is that of the last commit that happened');

      // Sequence numbers go on after the highest one ever handed out or stored.
      const highest = Math.max(0, ...accepted.keys(), ...unacked.keys());
      const [next] = await journal.append(CHILD_PLUGIN, [{ ingress: 'events', event: crashEvent(0) }]);
      assert.ok(next!.seq > highest, `seq ${next!.seq} after a crash must exceed ${highest}`);
    });
  }
});

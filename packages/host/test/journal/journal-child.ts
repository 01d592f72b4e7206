// A separate process for the LMDB journal's crash and write-failure tests (run from dist):
//   node journal-child.js crash <dir> <seed>  appends and commits until killed, printing each
//                                             fact the moment its promise resolves;
//   node journal-child.js fill <dir>          appends until a write fails, prints FULL, waits
//                                             for a line on stdin, then writes again.
// Lines go out with writeSync on a pipe: one atomic write each, so a SIGKILL never tears one.
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { JournalWriteError } from '../../src/journal/journal.js';
import { openLmdbJournal } from '../../src/journal/lmdb-journal.js';
import { CHILD_PLUGIN, crashEvent, seeded } from './child-protocol.js';

function say(line: string): void {
  writeSync(1, `${line}\n`);
}

async function crash(dir: string, seed: number): Promise<never> {
  const random = seeded(seed);
  const journal = await openLmdbJournal({ dir, limits: { stateKeys: 4 } });
  say('READY');
  const unackedHere: number[] = [];
  let k = 0;
  let commits = 0;
  for (;;) {
    const calls: Promise<void>[] = [];
    const appends = 1 + Math.floor(random() * 24);
    for (let i = 0; i < appends; i++) {
      const n = ++k;
      calls.push(
        journal.append(CHILD_PLUGIN, [{ ingress: 'events', event: crashEvent(n) }]).then(([accepted]) => {
          say(`A ${accepted!.seq} ${n}`);
          unackedHere.push(accepted!.seq);
        }),
      );
    }
    if (unackedHere.length > 0 && random() < 0.6) {
      const ack = unackedHere.splice(0, Math.min(40, 1 + Math.floor(random() * unackedHere.length)));
      const c = ++commits;
      say(`C ${c} ${ack.join(',')}`);
      calls.push(
        journal.commit(CHILD_PLUGIN, { ack, state: { commits: c }, outboxAdd: [{ command_id: `cmd-${c}`, source_seq: ack[0]!, command: { c, acked: ack.length } }] }).then(() => say(`K ${c}`)),
      );
    }
    await Promise.all(calls);
  }
}

async function fill(dir: string): Promise<void> {
  // With a file-size limit, the kernel sends SIGXFSZ on a write past it; handled, the write
  // fails with EFBIG instead of killing the process: a disk that is full for this process.
  process.on('SIGXFSZ', () => undefined);
  const journal = await openLmdbJournal({ dir });
  let last = 0;
  let failure: JournalWriteError | null = null;
  for (let round = 0; round < 5000 && !failure; round++) {
    try {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => journal.append(CHILD_PLUGIN, [{ ingress: 'events', event: { ...crashEvent(round * 8 + i), payload: { text: 'y'.repeat(2000) } } }])));
      last = results.at(-1)![0]!.seq;
    } catch (error) {
      if (!(error instanceof JournalWriteError)) throw error;
      failure = error;
    }
  }
  if (!failure) throw new Error('the journal never failed to write');
  let commitFailed = false;
  try {
    await journal.commit(CHILD_PLUGIN, { state: { big: 'z'.repeat(200_000) } });
  } catch (error) {
    if (!(error instanceof JournalWriteError)) throw error;
    commitFailed = true;
  }
  say(`FULL ${JSON.stringify({ last, code: failure.code, message: failure.message, commitFailed, stats: journal.stats() })}`);
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line !== 'GO') continue;
    const [again] = await journal.append(CHILD_PLUGIN, [{ ingress: 'events', event: crashEvent(0) }]);
    await journal.commit(CHILD_PLUGIN, { ack: [1], state: { resumed: true } });
    say(`OK ${JSON.stringify({ seq: again!.seq, stats: journal.stats() })}`);
    await journal.close();
    lines.close();
    return;
  }
}

const [mode, dir, seed] = process.argv.slice(2);
if (mode === 'crash' && dir) await crash(dir, Number(seed));
else if (mode === 'fill' && dir) await fill(dir);
else if (mode !== undefined) throw new Error(`unknown mode ${mode}`);

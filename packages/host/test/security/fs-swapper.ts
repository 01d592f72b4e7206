/**
 * The swapper of the fs race test, run as a child process: it keeps replacing `<dir>/sub` (a
 * real directory inside a grant root) with a symlink to `<outside>` and back, reporting its
 * swap count over IPC, until the parent says `stop` or its own deadline passes. It always
 * stops with the real directory back in place.
 *
 * argv: <dir> <outside> <max-ms>
 */
import { renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

const [dir, outside, maxMs] = process.argv.slice(2) as [string, string, string];
const sub = join(dir, 'sub');
const parked = join(dir, 'sub.real');
const link = join(dir, 'sub.link');
const deadline = Date.now() + Number(maxMs);
const BURST = 50;
/** A short pause in each state, so both last about as long as a host call's steps and the swapper does not hog a core. */
const PAUSE_MS = 0.02;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const pause = () => Atomics.wait(sleeper, 0, 0, PAUSE_MS);

symlinkSync(outside, link);
let swaps = 0;
let stopping = false;
process.on('message', (message) => {
  if (message === 'stop') stopping = true;
});

function burst(): void {
  for (let i = 0; i < BURST; i++) {
    renameSync(sub, parked);
    renameSync(link, sub); // `sub` is now a symlink to the outside directory
    pause();
    renameSync(sub, link);
    renameSync(parked, sub); // `sub` is the real directory again
    swaps++;
    pause();
  }
  if (stopping || Date.now() > deadline) {
    process.send!({ done: swaps }, () => process.exit(0));
    return;
  }
  process.send!({ swaps });
  setImmediate(burst);
}

process.send!({ ready: true });
setImmediate(burst);

import { workerData } from 'node:worker_threads';
import { DEADLINE_F64, FLAG, NUDGE, sharedClock, WAKE_AT_F64 } from './watchdog-layout.js';

// The watchdog: sleeps until the armed call's deadline (or until nudged), then flips that
// call's token negative so the guest's next interrupt check traps, and wakes a guest that
// waits in an inert import (wasi:io/poll).
const words = new Int32Array(workerData as SharedArrayBuffer);
const times = new Float64Array(workerData as SharedArrayBuffer);

for (;;) {
  const token = Atomics.load(words, FLAG);
  const now = sharedClock();
  let wakeAt = Number.POSITIVE_INFINITY;
  if (token > 0) {
    const deadline = times[DEADLINE_F64]!;
    if (now >= deadline) {
      if (Atomics.compareExchange(words, FLAG, token, -token) === token) Atomics.notify(words, FLAG);
      continue;
    }
    wakeAt = deadline;
  }
  times[WAKE_AT_F64] = wakeAt;
  const nudge = Atomics.load(words, NUDGE);
  // Armed, disarmed or re-armed since the read above: look again before sleeping.
  if (Atomics.load(words, FLAG) !== token) continue;
  Atomics.wait(words, NUDGE, nudge, wakeAt === Number.POSITIVE_INFINITY ? undefined : Math.max(0, wakeAt - now));
}

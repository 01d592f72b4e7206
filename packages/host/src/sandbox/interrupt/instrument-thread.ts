import { parentPort, workerData } from 'node:worker_threads';
import { instrumentInterrupts } from './instrument.js';

// Runs the binaryen rewrite of one core module off the host thread (seconds for a QuickJS
// guest), so a host keeps serving while a large module is made interruptible.
const input = workerData as Uint8Array;
const output = await instrumentInterrupts(input);
parentPort!.postMessage(output, [output.buffer as ArrayBuffer]);

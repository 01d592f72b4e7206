#!/usr/bin/env node
// The worker hop: a call into a guest that stays in a worker (one that imports a blocking host
// API), beside its floor, a bare SharedArrayBuffer round trip (Atomics.notify / Atomics.wait
// ping-pong with a worker, no payload). The sandbox row is ComponentSandbox.call of a WAT echo
// in the instance world (no per-call instantiation), so the row is the transport and the glue
// call. BENCH_REPO=<another checkout> adds the same row from that checkout's build, interleaved
// round by round in this process (to compare commits in one run).
//
//   BENCH_CALLS=3000   calls per row and round;  BENCH_ROUNDS=3
//   --json             one JSON document on stdout
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const CALLS = Number(process.env.BENCH_CALLS ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const JSON_OUT = process.argv.includes('--json');
const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = mkdtempSync(join(tmpdir(), 'yoi-bench-hop-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** A worker that answers each ping on word 0 with a pong on word 1. */
function pingPong() {
  const words = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    `const { workerData: w } = require('node:worker_threads');
     for (let n = 1; ; n++) { Atomics.wait(w, 0, n - 1); Atomics.store(w, 1, n); Atomics.notify(w, 1); }`,
    { eval: true, workerData: words },
  );
  let n = 0;
  return {
    call: () => {
      n++;
      Atomics.store(words, 0, n);
      Atomics.notify(words, 0);
      while (Atomics.load(words, 1) !== n) Atomics.wait(words, 1, n - 1);
    },
    close: () => worker.terminate(),
  };
}

async function sandboxOf(repo, component) {
  const dist = join(repo, 'packages', 'host', 'dist', 'src', 'sandbox');
  const { ComponentSandbox } = await import(join(dist, 'sandbox.js'));
  const { transpileCached } = await import(join(dist, 'transpile-cache.js'));
  const entry = await transpileCached(component, join(root, `cache-${repo.replaceAll('/', '_')}`));
  const modules = Object.fromEntries(entry.coreFiles.map((f) => [f, new WebAssembly.Module(readFileSync(join(entry.dir, f)))]));
  return ComponentSandbox.start({ gluePath: entry.gluePath, modules, mode: 'instance', memoryBytes: 64 << 20, hostInterfaces: [], inertInterfaces: [], hostSession: () => ({ dispatch: async () => '', endCall() {} }), maxWorkers: 1 });
}

const { assemble, TOOL_WATS } = await import(join(here, 'packages', 'host', 'dist', 'test', 'fixtures', 'wat.js'));
const component = await assemble(TOOL_WATS.echo);
const input = JSON.stringify({ summary: 'hello', content: 'a short tool input' });
const floor = pingPong();
const rows = { floor: { case: 'bare SharedArrayBuffer round trip (floor)', run: async () => floor.call() } };
const sandbox = await sandboxOf(here, component);
rows.sandbox = { case: 'worker call, WAT echo (this build)', run: () => sandbox.call('call', ['run', input], 10_000) };
let other = null;
if (process.env.BENCH_REPO) {
  other = await sandboxOf(process.env.BENCH_REPO, component);
  rows.other = { case: `worker call, WAT echo (${process.env.BENCH_REPO})`, run: () => other.call('call', ['run', input], 10_000) };
}
for (const row of Object.values(rows)) row.rounds = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const row of Object.values(rows)) {
    for (let i = 0; i < 300; i++) await row.run();
    const samples = [];
    const cpu = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) {
      const started = performance.now();
      await row.run();
      samples.push((performance.now() - started) * 1000);
    }
    const used = process.cpuUsage(cpu);
    row.rounds.push({ p50: median(samples), cpu: (used.user + used.system) / CALLS });
  }
}
await floor.close();
await sandbox.close();
await other?.close();
const result = Object.values(rows).map((row) => ({ case: row.case, p50_us: median(row.rounds.map((r) => r.p50)), cpu_us_per_call: median(row.rounds.map((r) => r.cpu)) }));
for (const row of result) row.ratio = row.p50_us / result[0].p50_us;
if (JSON_OUT) {
  const r2 = (v) => Math.round(v * 100) / 100;
  console.log(JSON.stringify({ bench: 'worker-hop', node: process.version, cpus: cpus().length, load: loadavg()[0], rows: result.map((r) => ({ ...r, p50_us: r2(r.p50_us), cpu_us_per_call: r2(r.cpu_us_per_call), ratio: r2(r.ratio) })) }, null, 2));
} else {
  console.log(`\nworker hop — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load ${loadavg()[0].toFixed(1)}; median of ${ROUNDS} rounds of ${CALLS} calls; CPU = both threads, per call\n`);
  console.log(['case'.padEnd(56), 'p50'.padStart(10), 'CPU'.padStart(10), 'vs floor'.padStart(10)].join(''));
  for (const r of result) console.log([r.case.padEnd(56), `${r.p50_us.toFixed(1)} µs`.padStart(10), `${r.cpu_us_per_call.toFixed(1)} µs`.padStart(10), `${r.ratio.toFixed(2)}x`.padStart(10)].join(''));
}

#!/usr/bin/env node
// Fresh tool-world instance, in-thread: what the worker pays to prepare the next instance of
// a tool-world component (a fresh instance per call). Each figure is beside its floor — the
// `new WebAssembly.Instance` calls of the same instantiations (the core modules alone) — and
// the ratio to it. One extra row runs jco's glue as jco writes it (before the transpile
// cache guards its JSPI probes, see src/sandbox/glue-patch.ts), for the QuickJS guest.
// The pool rows run the in-thread sandbox as a tool call does (interruptible, memory-capped
// modules): a call whose fresh instance was ready in the pool (hit) against one that makes its
// own (pool off), and what refilling the pool costs (CPU per instance, off the call's path).
// Bounded: a fixed number of instances per row.
//
//   BENCH_INSTANCES=200   instances per row
//   --json                one JSON document on stdout instead of the table
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseManifest } from '../packages/host/dist/src/index.js';
import { transpileCached } from '../packages/host/dist/src/sandbox/transpile-cache.js';
import { inertImports } from '../packages/host/dist/src/sandbox/worker/inert.js';
import { componentizeQuickJs } from '../packages/cli/dist/src/build/componentize.js';
import { enableWasmExtendedConst } from '../packages/host/dist/src/sandbox/component-loader.js';
enableWasmExtendedConst(); // components are compiled here without loadComponent
import { assemble, TOOL_WATS } from '../packages/host/dist/test/fixtures/wat.js';
import { PURE_JS_MANIFEST } from '../packages/host/dist/test/fixtures/js.js';
import { interruptibleModules } from '../packages/host/dist/src/sandbox/component-loader.js';
import { InThreadSandbox } from '../packages/host/dist/src/sandbox/in-thread.js';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 200);
// The first few hundred instances of a process run while V8 optimises the guest's hot Wasm
// functions in the background (on a pinned CPU it competes with the calls): warm up past that.
const WARMUP = Number(process.env.BENCH_INSTANCE_WARMUP ?? 400);
const JSON_OUT = process.argv.includes('--json');
const GOAL_MS = 3;
const root = mkdtempSync(join(tmpdir(), 'yoi-bench-instance-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const JS_TOOL = `export function call(n, i) { const { text } = JSON.parse(i); return JSON.stringify({ summary: 'echo', content: text, r: Math.random() }); }`;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Instantiates `INSTANCES` fresh instances of a transpiled component and calls each once. */
async function measure(dir, gluePath, coreFiles, interfaceImports, input) {
  const glue = await import(pathToFileURL(gluePath).href);
  const modules = Object.fromEntries(coreFiles.map((f) => [f, new WebAssembly.Module(readFileSync(join(dir, f)))]));
  const inert = interfaceImports.filter((n) => n.startsWith('wasi:')).map((n) => n.split('@')[0]);
  const imports = inertImports(inert, () => undefined);
  const total = [];
  const core = [];
  const withCall = [];
  for (let i = 0; i < WARMUP + INSTANCES; i++) {
    let coreMs = 0;
    const started = performance.now();
    const instance = glue.instantiate((p) => modules[p], imports, (m, imp) => {
      const t = performance.now();
      const made = new WebAssembly.Instance(m, imp);
      coreMs += performance.now() - t;
      return made;
    });
    const instantiated = performance.now();
    instance.call('echo', input);
    const called = performance.now();
    if (i < WARMUP) continue;
    total.push(instantiated - started);
    core.push(coreMs);
    withCall.push(called - started);
  }
  return { instantiate_ms: median(total), floor_ms: median(core), with_first_call_ms: median(withCall) };
}

/** jco's glue exactly as jco writes it: the cached entry with the unpatched component.js. */
async function unpatchedCopy(component, entry) {
  const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
  const result = await transpileBytes(new Uint8Array(component), { name: 'component', instantiation: { tag: 'async' }, emitTypescriptDeclarations: false });
  const dir = join(root, 'unpatched');
  mkdirSync(dir);
  for (const f of entry.coreFiles) copyFileSync(join(entry.dir, f), join(dir, f));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  writeFileSync(join(dir, 'component.js'), result.files['component.js']);
  return dir;
}

process.stderr.write('building the components…\n');
const manifest = parseManifest(new TextEncoder().encode(PURE_JS_MANIFEST)).value;
const components = [
  ['WAT', await assemble(TOOL_WATS.echo), '{"summary":"hello"}'],
  ['JS (QuickJS)', await componentizeQuickJs({ jsSource: JS_TOOL, manifest }), '{"text":"hello"}'],
];
const rows = [];
for (const [label, component, input] of components) {
  const entry = await transpileCached(component, join(root, 'cache'));
  rows.push({ case: `${label}: fresh instance`, ...(await measure(entry.dir, entry.gluePath, entry.coreFiles, entry.interface.imports, input)) });
  if (label.startsWith('JS')) {
    const dir = await unpatchedCopy(component, entry);
    rows.push({ case: `${label}: fresh instance, jco glue unpatched`, ...(await measure(dir, join(dir, 'component.js'), entry.coreFiles, entry.interface.imports, input)) });
  }
}
for (const row of rows) row.ratio = row.instantiate_ms / row.floor_ms;

const POOL_CALLS = Number(process.env.BENCH_POOL_CALLS ?? 100);
const turn = () => new Promise((resolve) => setImmediate(resolve));
/** Tool calls through the in-thread sandbox, one at a time, each after the pool had its chance to refill. */
async function poolCalls(entry, input, spareInstances) {
  const modules = await interruptibleModules({ transpiled: entry }, { memoryBytes: 256 * 1024 * 1024, cacheDir: join(root, 'cache') });
  const inert = entry.interface.imports.filter((n) => n.startsWith('wasi:')).map((n) => n.split('@')[0]);
  const sandbox = await InThreadSandbox.start({ gluePath: entry.gluePath, modules, mode: 'tool', memoryBytes: 256 * 1024 * 1024, inertInterfaces: inert, spareInstances });
  const callMs = [];
  const refillCpuMs = [];
  for (let i = 0; i < WARMUP / 4 + POOL_CALLS; i++) {
    for (let spin = 0; spin < 1000 && (sandbox.counters.instancePool?.ready ?? 0) < spareInstances; spin++) await turn();
    const started = performance.now();
    await sandbox.call('call', ['echo', input], 10_000);
    const called = performance.now();
    const cpu = process.cpuUsage();
    for (let spin = 0; spin < 1000 && (sandbox.counters.instancePool?.ready ?? 0) < spareInstances; spin++) await turn();
    const used = process.cpuUsage(cpu);
    if (i < WARMUP / 4) continue;
    callMs.push(called - started);
    refillCpuMs.push((used.user + used.system) / 1000);
  }
  const pool = sandbox.counters.instancePool;
  await sandbox.close();
  return { call_ms: median(callMs), refill_cpu_ms: median(refillCpuMs), hits: pool.hits, misses: pool.misses, pool_bytes_per_instance: pool.prepared > 0 ? Math.round(pool.bytes / Math.max(1, pool.ready)) : 0 };
}
const poolRows = [];
for (const [label, component, input] of components) {
  const entry = await transpileCached(component, join(root, 'cache'));
  process.stderr.write(`${label}: pool rows (making the modules interruptible)…\n`);
  const off = await poolCalls(entry, input, 0);
  const on = await poolCalls(entry, input, 2);
  poolRows.push({ case: `${label}: tool call, pool off (makes its instance)`, ...off });
  poolRows.push({ case: `${label}: tool call, fresh instance from the pool`, ...on });
}

const r2 = (v) => Math.round(v * 1000) / 1000;
if (JSON_OUT) {
  const rounded = (list) => list.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? r2(v) : v])));
  console.log(JSON.stringify({ bench: 'fresh-instance', node: process.version, cpus: cpus().length, instances: INSTANCES, goal_ms: GOAL_MS, rows: rounded(rows), pool_rows: rounded(poolRows) }, null, 2));
} else {
  console.log(`\nfresh tool-world instance, in-thread — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, median of ${INSTANCES} instances; floor = its core modules' new WebAssembly.Instance; goal ≤ ${GOAL_MS} ms\n`);
  console.log(['case'.padEnd(44), 'instantiate'.padStart(12), 'floor'.padStart(10), 'vs floor'.padStart(10), '+ 1st call'.padStart(12)].join(''));
  for (const r of rows) console.log([r.case.padEnd(44), `${r.instantiate_ms.toFixed(2)} ms`.padStart(12), `${r.floor_ms.toFixed(2)} ms`.padStart(10), `${r.ratio.toFixed(2)}x`.padStart(10), `${r.with_first_call_ms.toFixed(2)} ms`.padStart(12)].join(''));
  console.log(`\nin-thread tool calls, one at a time, median of ${POOL_CALLS}; refill = CPU to make the next instance after the call (off its path)\n`);
  console.log(['case'.padEnd(52), 'call'.padStart(10), 'refill CPU'.padStart(12), 'hits/misses'.padStart(13), 'pool bytes/inst'.padStart(17)].join(''));
  for (const r of poolRows) console.log([r.case.padEnd(52), `${r.call_ms.toFixed(3)} ms`.padStart(10), `${r.refill_cpu_ms.toFixed(2)} ms`.padStart(12), `${r.hits}/${r.misses}`.padStart(13), `${(r.pool_bytes_per_instance / 1048576).toFixed(2)} MiB`.padStart(17)].join(''));
}

#!/usr/bin/env node
// Ingress throughput: events/s through journal + queue + dispatch + output-command validation,
// for a WAT handler and JavaScript (QuickJS) handlers, beside the floor: the same handler called
// directly in-process (warmed with BENCH_DIRECT_WARMUP events, default 20k). Each host row runs
// with the journal in memory (no durability) and with the durable LMDB journal (every event
// appended and its handling committed, synced, group-committed), in worker and in-thread
// execution (a guest with a blocking host import always gets a worker). Medians of
// BENCH_RUNS runs (default 3). Bounded: a fixed number of events per run.
//
//   --json           one JSON document on stdout instead of the table
//   --rows a,b       only these rows (wat, js, js-pure)
//   BENCH_EVENTS     events per measured host run (default 5000, after 500 warm-up events)
//   BENCH_EXECUTION  only this execution mode (worker, in-thread)
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginHost, loadPluginPackage, parseManifest } from '../packages/host/dist/src/index.js';
import { writeZipArchive } from '../packages/host/dist/src/package/zip-write.js';
import { openLmdbJournal } from '../packages/host/dist/src/journal/lmdb-journal.js';
import { renderEntry } from '../packages/host/dist/src/store/enablement-edit.js';
import { transpileCached } from '../packages/host/dist/src/sandbox/transpile-cache.js';
import { inertImports } from '../packages/host/dist/src/sandbox/worker/inert.js';
import { componentizeQuickJs } from '../packages/cli/dist/src/build/componentize.js';
import { newIngressEvent } from '../packages/host/dist/src/service/ingress-event.js';
import { assemble, instanceWat } from '../packages/host/dist/test/fixtures/wat.js';
import { SERVICE_SOURCE, serviceManifest } from '../packages/host/dist/test/fixtures/service.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);
const DIRECT_WARMUP = Number(process.env.BENCH_DIRECT_WARMUP ?? 20_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const json = process.argv.includes('--json');
const rowsAt = process.argv.indexOf('--rows');
const onlyRows = rowsAt >= 0 ? new Set(process.argv[rowsAt + 1].split(',')) : null;
const root = mkdtempSync(join(tmpdir(), 'yoi-bench-ingress-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const cacheDir = join(root, 'cache');
const log = (text) => process.stderr.write(`${text}\n`);

async function host(manifest, component, journal, execution) {
  const ws = join(root, `ws-${Math.random().toString(16).slice(2)}`);
  mkdirSync(join(ws, '.yoi', 'plugins'), { recursive: true });
  const files = new Map([['plugin.toml', new TextEncoder().encode(manifest)], ['plugin.component.wasm', component]]);
  const pkg = loadPluginPackage(files);
  if (!pkg.ok) throw new Error(pkg.diagnostic.message);
  writeFileSync(join(ws, '.yoi', 'plugins', 'svc.yoi-plugin'), writeZipArchive(files).value);
  const { digest, manifest: m } = pkg.value;
  writeFileSync(join(ws, '.yoi', 'plugins.toml'), renderEntry({ id: 'project:svc', version: m.version, digest, surfaces: [], grants: { id: 'project:svc', version: m.version, digest, permissions: m.permissions, request: m.request, websocket: [], fs: [] } }));
  return PluginHost.fromWorkspace({ workspace: ws, builtinDir: join(root, 'none'), env: { HOME: root } }, { cacheDir, execution, servicePolicy: { queueCapacity: 1024 }, ...(journal ? { journal } : {}) });
}

async function direct(component) {
  const t = await transpileCached(component, cacheDir);
  const glue = await import(pathToFileURL(t.gluePath).href);
  const modules = Object.fromEntries(t.coreFiles.map((f) => [f, new WebAssembly.Module(readFileSync(join(t.dir, f)))]));
  const inert = t.interface.imports.filter((n) => n.startsWith('wasi:')).map((n) => n.split('@')[0]);
  const hostStubs = { 'yoi:host/request': { request: () => '{}' } };
  const inst = await glue.instantiate((p) => modules[p], { ...hostStubs, ...inertImports(inert, () => undefined) }, (m, i) => new WebAssembly.Instance(m, i));
  inst.start('null');
  const events = Array.from({ length: 1000 }, (_, i) => JSON.stringify(newIngressEvent('events', 'job', 'bench', { i })));
  for (let i = 0; i < DIRECT_WARMUP; i++) inst.handleIngress('events', events[i % events.length]);
  const count = Math.max(EVENTS, 10_000);
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i++) inst.handleIngress('events', events[i % events.length]);
  const used = process.cpuUsage(cpu);
  return { rate: count / ((performance.now() - started) / 1000), cpuUs: (used.user + used.system) / count };
}

async function throughHost(manifest, component, durable, execution) {
  const journal = durable ? await openLmdbJournal({ dir: join(root, `journal-${Math.random().toString(16).slice(2)}`) }) : undefined;
  const h = await host(manifest, component, journal, execution);
  await h.startServices();
  const service = h.services.get('project:svc');
  await Promise.all(Array.from({ length: WARMUP }, (_, i) => service.emit('events', 'job', 'warmup', { i })));
  await service.idle();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: EVENTS }, (_, i) => service.emit('events', 'job', 'bench', { i })));
  await service.idle();
  const rate = EVENTS / ((performance.now() - started) / 1000);
  const used = process.cpuUsage(cpu);
  const cpuUs = (used.user + used.system) / EVENTS;
  const counters = { ...service.counters };
  const stats = h.journal.stats();
  const ran = h.runtimes.get('project:svc').execution;
  await h.close();
  await journal?.close();
  if (counters.dispatched !== EVENTS + WARMUP) throw new Error(`lost events: ${JSON.stringify(counters)}`);
  return { rate, cpuUs, stats, execution: ran };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function medianOf(run) {
  const results = [];
  for (let i = 0; i < RUNS; i++) results.push(await run());
  const rate = median(results.map((r) => r.rate));
  return { ...results.find((r) => r.rate === rate), cpuUs: median(results.map((r) => r.cpuUs)), runs: results.map((r) => Math.round(r.rate)) };
}

const stripRequest = (manifest) => manifest.replace(/\[\[request\]\][\s\S]*$/, '').replace('  { kind = "host_api", api = "request" },\n', '');
const watManifest = stripRequest(serviceManifest('svc'));
const jsManifest = serviceManifest('svc');
const jsPureManifest = stripRequest(serviceManifest('svc'));
const pureSource = SERVICE_SOURCE.replace("import { request } from 'yoi:host/request@1.0.0';", "const request = () => '{}';");

const cases = [
  ['wat', 'WAT handler', watManifest, async () => assemble(instanceWat())],
  ['js', 'JS handler (imports request)', jsManifest, async () => componentizeQuickJs({ jsSource: SERVICE_SOURCE, manifest: parseManifest(new TextEncoder().encode(jsManifest)).value })],
  ['js-pure', 'JS handler (no host import)', jsPureManifest, async () => componentizeQuickJs({ jsSource: pureSource, manifest: parseManifest(new TextEncoder().encode(jsPureManifest)).value })],
];

const rows = [];
for (const [key, label, manifest, build] of cases) {
  if (onlyRows && !onlyRows.has(key)) continue;
  log(`${label}: building…`);
  const component = await build();
  const { rate: d, cpuUs: directCpuUs } = await direct(component);
  for (const execution of key === 'js' ? ['worker'] : ['worker', 'in-thread']) {
    if (process.env.BENCH_EXECUTION && process.env.BENCH_EXECUTION !== execution) continue;
    log(`${label}, ${execution}: memory journal`);
    const memory = await medianOf(() => throughHost(manifest, component, false, execution));
    log(`${label}, ${execution}: LMDB journal`);
    const lmdb = await medianOf(() => throughHost(manifest, component, true, execution));
    rows.push({
      handler: label,
      execution: lmdb.execution,
      direct_per_s: Math.round(d),
      memory_per_s: Math.round(memory.rate),
      lmdb_per_s: Math.round(lmdb.rate),
      lmdb_runs: lmdb.runs,
      lmdb_vs_direct: Number((lmdb.rate / d).toFixed(3)),
      // CPU time of the whole process (every thread) per event: less sensitive to a loaded machine than wall time.
      direct_cpu_us: Math.round(directCpuUs * 10) / 10,
      lmdb_cpu_us: Math.round(lmdb.cpuUs * 10) / 10,
      commit_p50_us: Math.round(lmdb.stats.commit_p50_us),
      commit_p99_us: Math.round(lmdb.stats.commit_p99_us),
      flushes: lmdb.stats.flushes ?? null,
    });
  }
}
const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'cpu', loadavg: loadavg().map((l) => Math.round(l * 100) / 100), pinned: process.argv.includes('--pin') };
if (json) {
  console.log(JSON.stringify({ bench: 'ingress', machine, events: EVENTS, runs: RUNS, direct_warmup: DIRECT_WARMUP, rows }, null, 2));
} else {
  console.log(`\ningress throughput — node ${machine.node}, ${machine.cpus} × ${machine.cpu}, load ${machine.loadavg.join(' ')}${machine.pinned ? ', pinned' : ''}; ${EVENTS} events per run, median of ${RUNS}; direct floor warmed with ${DIRECT_WARMUP} events; CPU = µs of process CPU (all threads) per event\n`);
  console.log(['handler'.padEnd(30), 'execution'.padEnd(10), 'direct ev/s'.padStart(12), 'memory journal'.padStart(15), 'LMDB journal'.padStart(13), 'LMDB/direct'.padStart(12), 'CPU direct'.padStart(11), 'CPU LMDB'.padStart(10), 'commit p50 µs'.padStart(14), 'p99 µs'.padStart(8), 'flushes'.padStart(8)].join(''));
  for (const r of rows) {
    console.log([r.handler.padEnd(30), r.execution.padEnd(10), String(r.direct_per_s).padStart(12), String(r.memory_per_s).padStart(15), String(r.lmdb_per_s).padStart(13), r.lmdb_vs_direct.toFixed(3).padStart(12), String(r.direct_cpu_us).padStart(11), String(r.lmdb_cpu_us).padStart(10), String(r.commit_p50_us).padStart(14), String(r.commit_p99_us).padStart(8), String(r.flushes ?? '').padStart(8)].join(''));
  }
}

#!/usr/bin/env node
// Ingress throughput: events/s through journal + queue + dispatch + output-command validation,
// for a WAT handler and JavaScript (QuickJS) handlers, beside the floor: the same handler called
// directly in-process (warmed with BENCH_DIRECT_WARMUP events, default 20k). Each host row runs
// with the journal in memory (no durability) and with the durable LMDB journal (every event
// appended and its handling committed, synced, group-committed), in worker and in-thread
// execution (a guest with a blocking host import always gets a worker), and with the JetStream
// journal (issue H: a nats-server this bench starts on loopback, stopped by PID; the column is
// left out with a note when nats-server is not installed). Each durable journal's commit
// latency is beside it twice: under the flood (call → durable of every append and commit,
// waiting behind the group being written included: a queueing figure, about queue depth /
// throughput) and paced (BENCH_PACED events first, each awaited and handled before the next: the
// cost of one durable write through the host), with the floor under LMDB's measured in the same
// run: a 4 KiB write + fdatasync in the same directory (LMDB syncs every commit; a single
// nats-server 2.9 does not, see docs/scale-out.md#durability-exactly). Medians of BENCH_RUNS runs (default 3). Bounded: a
// fixed number of events per run.
//
//   --json           one JSON document on stdout instead of the table
//   --rows a,b       only these rows (wat, js, js-pure)
//   BENCH_EVENTS     events per measured host run (default 5000, after 500 warm-up events)
//   BENCH_EXECUTION  only this execution mode (worker, in-thread)
//   BENCH_JOURNALS   only these journals (memory, lmdb, jetstream; default all)
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync, openSync, writeSync, fdatasyncSync, closeSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginHost, loadPluginPackage, parseManifest } from '../packages/host/dist/src/index.js';
import { writeZipArchive } from '../packages/host/dist/src/package/zip-write.js';
import { openLmdbJournal } from '../packages/host/dist/src/journal/lmdb-journal.js';
import { openJetStreamJournal } from '../packages/host/dist/src/journal/jetstream-journal.js';
import { findNatsServer, startNatsServer } from '../packages/host/dist/test/journal/nats-server.js';
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
const PACED = Number(process.env.BENCH_PACED ?? 200);
const json = process.argv.includes('--json');
const rowsAt = process.argv.indexOf('--rows');
const onlyRows = rowsAt >= 0 ? new Set(process.argv[rowsAt + 1].split(',')) : null;
const root = mkdtempSync(join(tmpdir(), 'yoi-bench-ingress-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const cacheDir = join(root, 'cache');
const log = (text) => process.stderr.write(`${text}\n`);
const journals = new Set((process.env.BENCH_JOURNALS ?? 'memory,lmdb,jetstream').split(','));
const nats = journals.has('jetstream') && findNatsServer() !== null ? await startNatsServer() : null;
process.on('exit', () => void nats?.kill());
if (journals.has('jetstream') && !nats) log('JetStream column left out: nats-server is not installed');

/** The floor under a synced commit: p50/p99 µs of a 4 KiB write + fdatasync in the journal's directory, now. */
function fsyncFloor(samples = 100) {
  const fd = openSync(join(root, 'fsync-probe'), 'w');
  const block = Buffer.alloc(4096, 1);
  const times = [];
  try {
    for (let i = 0; i < samples; i++) {
      const started = performance.now();
      writeSync(fd, block, 0, block.length, (i % 16) * 4096);
      fdatasyncSync(fd);
      times.push((performance.now() - started) * 1000);
    }
  } finally {
    closeSync(fd);
  }
  times.sort((a, b) => a - b);
  return { p50_us: Math.round(times[Math.floor(samples / 2)]), p99_us: Math.round(times[Math.ceil(samples * 0.99) - 1]) };
}

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

async function openJournal(engine) {
  const name = `journal-${Math.random().toString(16).slice(2)}`;
  if (engine === 'lmdb') return openLmdbJournal({ dir: join(root, name) });
  if (engine === 'jetstream') return openJetStreamJournal({ servers: nats.url, prefix: name });
  return undefined;
}

async function throughHost(manifest, component, engine, execution) {
  const journal = await openJournal(engine);
  const h = await host(manifest, component, journal, execution);
  await h.startServices();
  const service = h.services.get('project:svc');
  for (let i = 0; i < PACED; i++) {
    await service.emit('events', 'job', 'paced', { i });
    await service.idle();
  }
  const paced = h.journal.stats();
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
  if (counters.dispatched !== EVENTS + WARMUP + PACED) throw new Error(`lost events: ${JSON.stringify(counters)}`);
  return { rate, cpuUs, stats, paced, execution: ran };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function medianOf(run) {
  const results = [];
  for (let i = 0; i < RUNS; i++) results.push(await run());
  const rate = median(results.map((r) => r.rate));
  const pacedP50 = median(results.map((r) => r.paced.commit_p50_us));
  const pacedP99 = median(results.map((r) => r.paced.commit_p99_us));
  return { ...results.find((r) => r.rate === rate), cpuUs: median(results.map((r) => r.cpuUs)), runs: results.map((r) => Math.round(r.rate)), pacedP50, pacedP99 };
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
    const measure = async (engine, name) => {
      if (!journals.has(engine) || (engine === 'jetstream' && !nats)) return null;
      log(`${label}, ${execution}: ${name}`);
      return medianOf(() => throughHost(manifest, component, engine, execution));
    };
    const memory = await measure('memory', 'memory journal');
    const floor = journals.has('lmdb') ? fsyncFloor() : null;
    const lmdb = await measure('lmdb', 'LMDB journal');
    const jetstream = await measure('jetstream', 'JetStream journal');
    const per = (r) => (r ? Math.round(r.rate) : null);
    const us = (v) => (v === undefined || v === null ? null : Math.round(v));
    rows.push({
      handler: label,
      execution: (lmdb ?? jetstream ?? memory)?.execution ?? execution,
      direct_per_s: Math.round(d),
      memory_per_s: per(memory),
      lmdb_per_s: per(lmdb),
      lmdb_runs: lmdb?.runs ?? null,
      lmdb_vs_direct: lmdb ? Number((lmdb.rate / d).toFixed(3)) : null,
      jetstream_per_s: per(jetstream),
      jetstream_runs: jetstream?.runs ?? null,
      jetstream_vs_lmdb: jetstream && lmdb ? Number((jetstream.rate / lmdb.rate).toFixed(3)) : null,
      // CPU time of the whole process (every thread) per event: less sensitive to a loaded machine than wall time.
      direct_cpu_us: Math.round(directCpuUs * 10) / 10,
      lmdb_cpu_us: lmdb ? Math.round(lmdb.cpuUs * 10) / 10 : null,
      jetstream_cpu_us: jetstream ? Math.round(jetstream.cpuUs * 10) / 10 : null,
      // Call → durable of each append and commit (the last 1024), queueing behind the write in progress included.
      commit_p50_us: us(lmdb?.stats.commit_p50_us),
      commit_p99_us: us(lmdb?.stats.commit_p99_us),
      flushes: lmdb?.stats.flushes ?? null,
      paced_commit_p50_us: us(lmdb?.pacedP50),
      paced_commit_p99_us: us(lmdb?.pacedP99),
      fsync_p50_us: floor?.p50_us ?? null,
      fsync_p99_us: floor?.p99_us ?? null,
      jetstream_commit_p50_us: us(jetstream?.stats.commit_p50_us),
      jetstream_commit_p99_us: us(jetstream?.stats.commit_p99_us),
      jetstream_flushes: jetstream?.stats.flushes ?? null,
      jetstream_paced_commit_p50_us: us(jetstream?.pacedP50),
      jetstream_paced_commit_p99_us: us(jetstream?.pacedP99),
    });
  }
}
await nats?.stop();
const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'cpu', loadavg: loadavg().map((l) => Math.round(l * 100) / 100), pinned: process.argv.includes('--pin') };
if (json) {
  console.log(JSON.stringify({ bench: 'ingress', machine, events: EVENTS, runs: RUNS, direct_warmup: DIRECT_WARMUP, rows }, null, 2));
} else {
  console.log(`\ningress throughput — node ${machine.node}, ${machine.cpus} × ${machine.cpu}, load ${machine.loadavg.join(' ')}${machine.pinned ? ', pinned' : ''}; ${EVENTS} events per run, median of ${RUNS}; direct floor warmed with ${DIRECT_WARMUP} events; CPU = µs of process CPU (all threads) per event\n`);
  const cell = (v, width) => String(v ?? '-').padStart(width);
  console.log(['handler'.padEnd(30), 'execution'.padEnd(10), 'direct ev/s'.padStart(12), 'memory journal'.padStart(15), 'LMDB journal'.padStart(13), 'LMDB/direct'.padStart(12), 'CPU direct'.padStart(11), 'CPU LMDB'.padStart(10), 'commit p50 µs'.padStart(14), 'p99 µs'.padStart(8), 'flushes'.padStart(8), 'paced p50/p99 µs'.padStart(18), 'fsync p50/p99 µs'.padStart(18)].join(''));
  for (const r of rows) {
    console.log([r.handler.padEnd(30), r.execution.padEnd(10), cell(r.direct_per_s, 12), cell(r.memory_per_s, 15), cell(r.lmdb_per_s, 13), cell(r.lmdb_vs_direct?.toFixed(3), 12), cell(r.direct_cpu_us, 11), cell(r.lmdb_cpu_us, 10), cell(r.commit_p50_us, 14), cell(r.commit_p99_us, 8), cell(r.flushes, 8), cell(r.paced_commit_p50_us === null ? null : `${r.paced_commit_p50_us}/${r.paced_commit_p99_us}`, 18), cell(r.fsync_p50_us === null ? null : `${r.fsync_p50_us}/${r.fsync_p99_us}`, 18)].join(''));
  }
  if (rows.some((r) => r.jetstream_per_s !== null)) {
    console.log(`\nthe same through a JetStream journal (one local nats-server, file storage, not fsynced per write)\n`);
    console.log(['handler'.padEnd(30), 'execution'.padEnd(10), 'JetStream ev/s'.padStart(15), 'JetStream/LMDB'.padStart(15), 'CPU JetStream'.padStart(14), 'commit p50 µs'.padStart(14), 'p99 µs'.padStart(8), 'flushes'.padStart(8), 'paced p50/p99 µs'.padStart(18)].join(''));
    for (const r of rows) {
      console.log([r.handler.padEnd(30), r.execution.padEnd(10), cell(r.jetstream_per_s, 15), cell(r.jetstream_vs_lmdb?.toFixed(3), 15), cell(r.jetstream_cpu_us, 14), cell(r.jetstream_commit_p50_us, 14), cell(r.jetstream_commit_p99_us, 8), cell(r.jetstream_flushes, 8), cell(r.jetstream_paced_commit_p50_us === null ? null : `${r.jetstream_paced_commit_p50_us}/${r.jetstream_paced_commit_p99_us}`, 18)].join(''));
    }
  }
}

#!/usr/bin/env node
// Ingress throughput: events/s through journal + queue + dispatch + output-command validation,
// for a WAT handler and a JavaScript (QuickJS) handler, against calling the same handler
// directly in-process; with the journal in memory (no durability) and with the durable LMDB
// journal (every event appended and its handling committed, synced, group-committed), plus
// the journal's commit latency. Bounded: a fixed number of events per run.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginHost, loadPluginPackage, writeZipArchive, parseManifest } from '../packages/host/dist/src/index.js';
import { openLmdbJournal } from '../packages/host/dist/src/journal/lmdb-journal.js';
import { renderEntry } from '../packages/host/dist/src/store/enablement-edit.js';
import { transpileCached } from '../packages/host/dist/src/sandbox/transpile-cache.js';
import { inertImports } from '../packages/host/dist/src/sandbox/worker/inert.js';
import { componentizeQuickJs } from '../packages/cli/dist/src/build/componentize.js';
import { newIngressEvent } from '../packages/host/dist/src/service/ingress-event.js';
import { assemble, instanceWat } from '../packages/host/dist/test/fixtures/wat.js';
import { SERVICE_SOURCE, serviceManifest } from '../packages/host/dist/test/fixtures/service.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 3000);
const root = mkdtempSync(join(tmpdir(), 'yoi-bench-ingress-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const cacheDir = join(root, 'cache');

async function host(manifest, component, journal) {
  const ws = join(root, `ws-${Math.random().toString(16).slice(2)}`);
  mkdirSync(join(ws, '.yoi', 'plugins'), { recursive: true });
  const files = new Map([['plugin.toml', new TextEncoder().encode(manifest)], ['plugin.component.wasm', component]]);
  const pkg = loadPluginPackage(files);
  if (!pkg.ok) throw new Error(pkg.diagnostic.message);
  writeFileSync(join(ws, '.yoi', 'plugins', 'svc.yoi-plugin'), writeZipArchive(files).value);
  const { digest, manifest: m } = pkg.value;
  writeFileSync(join(ws, '.yoi', 'plugins.toml'), renderEntry({ id: 'project:svc', version: m.version, digest, surfaces: [], grants: { id: 'project:svc', version: m.version, digest, permissions: m.permissions, request: m.request, websocket: [], fs: [] } }));
  return PluginHost.fromWorkspace({ workspace: ws, builtinDir: join(root, 'none'), env: { HOME: root } }, { cacheDir, servicePolicy: { queueCapacity: 1024 }, ...(journal ? { journal } : {}) });
}

async function direct(component) {
  const t = await transpileCached(component, cacheDir);
  const glue = await import(pathToFileURL(t.gluePath).href);
  const modules = Object.fromEntries(t.coreFiles.map((f) => [f, new WebAssembly.Module(readFileSync(join(t.dir, f)))]));
  const inert = t.interface.imports.filter((n) => n.startsWith('wasi:')).map((n) => n.split('@')[0]);
  const hostStubs = { 'yoi:host/request': { request: () => '{}' } };
  const inst = await glue.instantiate((p) => modules[p], { ...hostStubs, ...inertImports(inert, () => undefined) }, (m, i) => new WebAssembly.Instance(m, i));
  inst.start('null');
  const events = Array.from({ length: EVENTS }, (_, i) => JSON.stringify(newIngressEvent('events', 'job', 'bench', { i })));
  for (let i = 0; i < 200; i++) inst.handleIngress('events', events[i % events.length]);
  const started = performance.now();
  for (const e of events) inst.handleIngress('events', e);
  return EVENTS / ((performance.now() - started) / 1000);
}

async function throughHost(manifest, component, durable) {
  const journal = durable ? await openLmdbJournal({ dir: join(root, `journal-${Math.random().toString(16).slice(2)}`) }) : undefined;
  const h = await host(manifest, component, journal);
  await h.startServices();
  const service = h.services.get('project:svc');
  for (let i = 0; i < 200; i++) await service.emit('events', 'job', 'warmup', { i });
  await service.idle();
  const started = performance.now();
  await Promise.all(Array.from({ length: EVENTS }, (_, i) => service.emit('events', 'job', 'bench', { i })));
  await service.idle();
  const rate = EVENTS / ((performance.now() - started) / 1000);
  const counters = { ...service.counters };
  const stats = h.journal.stats();
  await h.close();
  await journal?.close();
  if (counters.dispatched !== EVENTS + 200) throw new Error(`lost events: ${JSON.stringify(counters)}`);
  return { rate, stats };
}

const watManifest = serviceManifest('svc').replace(/\[\[request\]\][\s\S]*$/, '').replace('  { kind = "host_api", api = "request" },\n', '');
const watComponent = await assemble(instanceWat());
const jsManifest = serviceManifest('svc');
process.stderr.write('building the JavaScript handler…\n');
const jsComponent = await componentizeQuickJs({ jsSource: SERVICE_SOURCE, manifest: parseManifest(new TextEncoder().encode(jsManifest)).value });

const rows = [];
for (const [label, manifest, component] of [['WAT handler', watManifest, watComponent], ['JS (QuickJS) handler', jsManifest, jsComponent]]) {
  const d = await direct(component);
  const memory = await throughHost(manifest, component, false);
  const lmdb = await throughHost(manifest, component, true);
  rows.push([label, d, memory, lmdb]);
}
const n = (v) => Math.round(v).toString();
console.log(`\ningress throughput — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${EVENTS} events per run (queue 1024)\n`);
console.log(['handler'.padEnd(24), 'direct ev/s'.padStart(13), 'host, memory journal'.padStart(22), 'host, LMDB journal'.padStart(20), 'LMDB/memory'.padStart(13), 'commit p50 µs'.padStart(15), 'p99 µs'.padStart(9), 'flushes'.padStart(9)].join(''));
for (const [label, d, memory, lmdb] of rows) {
  console.log([label.padEnd(24), n(d).padStart(13), n(memory.rate).padStart(22), n(lmdb.rate).padStart(20), (lmdb.rate / memory.rate).toFixed(3).padStart(13), n(lmdb.stats.commit_p50_us).padStart(15), n(lmdb.stats.commit_p99_us).padStart(9), String(lmdb.stats.flushes ?? '').padStart(9)].join(''));
}

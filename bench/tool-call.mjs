#!/usr/bin/env node
// Tool-call latency: the raw in-process jco call of a component (the floor) against our
// full host path, for a WAT echo and a QuickJS JavaScript echo. Prints one table with ratios
// to the floor. Loopback-free, bounded: fixed iteration counts.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginHost } from '../packages/host/dist/src/index.js';
import { backgroundRewritesSettled } from '../packages/host/dist/src/sandbox/component-loader.js';
import { inertImports } from '../packages/host/dist/src/sandbox/worker/inert.js';
import { transpileCached } from '../packages/host/dist/src/sandbox/transpile-cache.js';
import { componentizeQuickJs } from '../packages/cli/dist/src/build/componentize.js';
import { assemble, TOOL_WATS, instanceWat } from '../packages/host/dist/test/fixtures/wat.js';
import { manifestToml } from '../packages/host/dist/test/fixtures/manifest.js';
import { loadPluginPackage, parseManifest } from '../packages/host/dist/src/index.js';
import { writeZipArchive } from '../packages/host/dist/src/package/zip-write.js';
import { renderEntry } from '../packages/host/dist/src/store/enablement-edit.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 1000);
const WARMUP = 200;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const JSON_OUT = process.argv.includes('--json');
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const root = mkdtempSync(join(tmpdir(), 'yoi-bench-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

async function measure(fn, iterations = ITERATIONS, warmup = WARMUP) {
  for (let i = 0; i < warmup; i++) await fn();
  const samples = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return stats(samples);
}

const manifestFor = (id, world) => manifestToml({ id, version: '1.0.0', world, tools: ['echo'] });

const JS_TOOL = `export function call(n, i) { const { text } = JSON.parse(i); return JSON.stringify({ summary: 'echo', content: text }); }`;
const JS_INSTANCE = `let calls = 0;
export function start(c) { return '{"state":"running"}'; }
export function handleTool(n, i) { calls++; const { text } = JSON.parse(i); return JSON.stringify({ summary: 'echo', content: text }); }
export function handleIngress(n, e) { return '{"output_commands":[]}'; }
export function status() { return JSON.stringify({ state: 'running', calls }); }
export function stop() { return '{"state":"stopped"}'; }`;

async function workspaceWith(plugins) {
  const ws = mkdtempSync(join(root, 'ws-'));
  mkdirSync(join(ws, '.yoi', 'plugins'), { recursive: true });
  const entries = [];
  for (const { id, world, component } of plugins) {
    const manifest = manifestFor(id, world);
    const files = new Map([['plugin.toml', new TextEncoder().encode(manifest)], ['plugin.component.wasm', component]]);
    const pkg = loadPluginPackage(files);
    if (!pkg.ok) throw new Error(pkg.diagnostic.message);
    writeFileSync(join(ws, '.yoi', 'plugins', `${id}.yoi-plugin`), writeZipArchive(files).value);
    const identity = `project:${id}`;
    entries.push(renderEntry({ id: identity, version: '1.0.0', digest: pkg.value.digest, surfaces: [], grants: { id: identity, version: '1.0.0', digest: pkg.value.digest, permissions: pkg.value.manifest.permissions, request: [], websocket: [], fs: [] } }));
  }
  writeFileSync(join(ws, '.yoi', 'plugins.toml'), entries.join('\n'));
  return ws;
}

async function rawFloor(component, world, cacheDir) {
  const manifest = parseManifest(new TextEncoder().encode(manifestFor('raw', world))).value;
  void manifest;
  const transpiled = await transpileCached(component, cacheDir);
  const glue = await import(pathToFileURL(transpiled.gluePath).href);
  const modules = {};
  for (const f of transpiled.coreFiles) modules[f] = new WebAssembly.Module((await import('node:fs')).readFileSync(join(transpiled.dir, f)));
  const inert = transpiled.interface.imports.filter((n) => n.startsWith('wasi:')).map((n) => n.split('@')[0]);
  const instance = await glue.instantiate((p) => modules[p], inertImports(inert, () => undefined), (m, i) => new WebAssembly.Instance(m, i));
  const fn = world === 'tool' ? instance.call : instance.handleTool;
  if (world === 'instance') instance.start('null');
  return () => fn('echo', '{"text":"hello"}');
}

const rows = [];
const input = { text: 'hello' };
const cacheDir = join(root, 'cache');

for (const [label, kind] of [['WAT', 'wat'], ['JS (QuickJS)', 'js']]) {
  process.stderr.write(`preparing ${label} components…\n`);
  const toolComponent = kind === 'wat' ? await assemble(TOOL_WATS.echo) : await componentizeQuickJs({ jsSource: JS_TOOL, manifest: parseManifest(new TextEncoder().encode(manifestFor('x', 'tool'))).value });
  const instanceComponent = kind === 'wat' ? await assemble(instanceWat()) : await componentizeQuickJs({ jsSource: JS_INSTANCE, manifest: parseManifest(new TextEncoder().encode(manifestFor('x', 'instance'))).value });
  const echoInput = kind === 'wat' ? { summary: 'hello' } : input;

  // Every figure is the median of ROUNDS p50s, each round measuring the floor again just
  // before, so a change of load on the machine moves the floor and the figure together.
  const rawInstance = await rawFloor(instanceComponent, 'instance', cacheDir);
  const rawToolCall = await rawFloor(toolComponent, 'tool', cacheDir);
  const ws = await workspaceWith([{ id: 'inst', world: 'instance', component: instanceComponent }, { id: 'tool', world: 'tool', component: toolComponent }]);
  const hosts = {};
  const open = (execution) => PluginHost.fromWorkspace({ workspace: ws, builtinDir: join(root, 'none'), env: { HOME: root } }, { cacheDir, execution });
  for (const execution of ['worker', 'auto']) hosts[execution] = await open(execution);
  const instanceTool = hosts.auto.tools.get('project:inst/echo') ? 'project:inst/echo' : 'echo';
  // auto runs a large guest (QuickJS) in a worker until its interruptible modules are cached:
  // measure a restarted host, as a workspace runs after its first start.
  await hosts.auto.callTool(instanceTool, echoInput);
  await backgroundRewritesSettled();
  await hosts.auto.close();
  hosts.auto = await open('auto');
  const rounds = { floor: [], rawTool: [], warm: [], fresh: [], warmAuto: [], freshAuto: [] };
  for (let round = 0; round < ROUNDS; round++) {
    rounds.floor.push(await measure(rawInstance));
    rounds.rawTool.push(await measure(rawToolCall));
    rounds.warm.push(await measure(() => hosts.worker.callTool(instanceTool, echoInput)));
    rounds.fresh.push(await measure(() => hosts.worker.callTool('project:tool/echo', echoInput), Math.min(ITERATIONS, 500), 20));
    rounds.warmAuto.push(await measure(() => hosts.auto.callTool(instanceTool, echoInput)));
    rounds.freshAuto.push(await measure(() => hosts.auto.callTool('project:tool/echo', echoInput), Math.min(ITERATIONS, 500), 20));
  }
  const autoExecution = hosts.auto.runtimes.get('project:inst').execution;
  for (const host of Object.values(hosts)) await host.close();
  const med = (list) => ({ p50: median(list.map((s) => s.p50)), p99: median(list.map((s) => s.p99)) });
  const floor = med(rounds.floor);
  const rawTool = med(rounds.rawTool);
  const warm = med(rounds.warm);
  const fresh = med(rounds.fresh);
  const warmInThread = med(rounds.warmAuto);
  const freshInThread = med(rounds.freshAuto);

  // cold load: a new host process-equivalent (new PluginHost + first call), with and without the transpile cache
  const coldSamples = { hit: [], miss: [] };
  for (let i = 0; i < 5; i++) {
    for (const mode of ['miss', 'hit']) {
      const dir = mode === 'miss' ? join(root, `cold-${label.length}-${i}`) : cacheDir;
      const start = process.hrtime.bigint();
      const h = await PluginHost.fromWorkspace({ workspace: ws, builtinDir: join(root, 'none'), env: { HOME: root } }, { cacheDir: dir });
      await h.callTool('project:tool/echo', echoInput);
      coldSamples[mode].push(Number(process.hrtime.bigint() - start) / 1000);
      await h.close();
      await backgroundRewritesSettled(); // a first start's background rewrite must not load the next sample
    }
  }
  // note: the in-process compiled-module memo makes later "hit" rounds cheaper than a new process
  const coldMiss = stats(coldSamples.miss);
  const coldHit = stats(coldSamples.hit);
  const ratio = (v) => (v / floor.p50).toFixed(2) + 'x';
  rows.push([`${label}: raw jco call, instance (floor)`, floor.p50, floor.p99, '1.00x']);
  rows.push([`${label}: raw jco call, tool`, rawTool.p50, rawTool.p99, ratio(rawTool.p50)]);
  rows.push([`${label}: worker host path, warm instance world`, warm.p50, warm.p99, ratio(warm.p50)]);
  rows.push([`${label}: worker host path, tool world (fresh instance)`, fresh.p50, fresh.p99, ratio(fresh.p50)]);
  rows.push([`${label}: auto (${autoExecution}) host path, warm instance`, warmInThread.p50, warmInThread.p99, ratio(warmInThread.p50)]);
  rows.push([`${label}: auto (${autoExecution}) host path, tool world`, freshInThread.p50, freshInThread.p99, ratio(freshInThread.p50)]);
  rows.push([`${label}: cold load + call, no transpile cache`, coldMiss.p50, coldMiss.p99, ratio(coldMiss.p50)]);
  rows.push([`${label}: cold load + call, transpile cache hit`, coldHit.p50, coldHit.p99, ratio(coldHit.p50)]);
}

const fmt = (us) => (us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(1)} µs`);
if (JSON_OUT) {
  const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'cpu', loadavg: loadavg().map((l) => Math.round(l * 100) / 100) };
  console.log(JSON.stringify({ bench: 'tool-call', machine, iterations: ITERATIONS, rounds: ROUNDS, rows: rows.map(([name, p50, p99, ratio]) => ({ name, p50_us: p50, p99_us: p99, vs_floor: ratio })) }, null, 2));
} else {
  console.log(`\ntool-call latency — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; median of ${ROUNDS} rounds of ${ITERATIONS} calls per row (cold: 5)\n`);
  console.log(['case'.padEnd(56), 'p50'.padStart(10), 'p99'.padStart(10), 'vs floor'.padStart(10)].join(''));
  for (const [name, p50, p99, ratio] of rows) console.log([name.padEnd(56), fmt(p50).padStart(10), fmt(p99).padStart(10), ratio.padStart(10)].join(''));
}

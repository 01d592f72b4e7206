#!/usr/bin/env node
// Fresh tool-world instance, in-thread: what the worker pays to prepare the next instance of
// a tool-world component (a fresh instance per call). Each figure is beside its floor — the
// `new WebAssembly.Instance` calls of the same instantiations (the core modules alone) — and
// the ratio to it. One extra row runs jco's glue as jco writes it (before the transpile
// cache guards its JSPI probes, see src/sandbox/glue-patch.ts), for the QuickJS guest.
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

const r2 = (v) => Math.round(v * 1000) / 1000;
if (JSON_OUT) {
  console.log(JSON.stringify({ bench: 'fresh-instance', node: process.version, cpus: cpus().length, instances: INSTANCES, goal_ms: GOAL_MS, rows: rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? r2(v) : v]))) }, null, 2));
} else {
  console.log(`\nfresh tool-world instance, in-thread — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, median of ${INSTANCES} instances; floor = its core modules' new WebAssembly.Instance; goal ≤ ${GOAL_MS} ms\n`);
  console.log(['case'.padEnd(44), 'instantiate'.padStart(12), 'floor'.padStart(10), 'vs floor'.padStart(10), '+ 1st call'.padStart(12)].join(''));
  for (const r of rows) console.log([r.case.padEnd(44), `${r.instantiate_ms.toFixed(2)} ms`.padStart(12), `${r.floor_ms.toFixed(2)} ms`.padStart(10), `${r.ratio.toFixed(2)}x`.padStart(10), `${r.with_first_call_ms.toFixed(2)} ms`.padStart(12)].join(''));
}

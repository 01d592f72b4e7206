#!/usr/bin/env node
// What the in-thread deadline costs: binaryen's rewrite time per core module (a WAT
// component's and a QuickJS guest's), and a compute-heavy guest (a loop summing 10^8
// numbers, the worst case: one cycle per iteration) instrumented vs not. Interleaved rounds,
// medians.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instrumentInterrupts, loadBinaryen } from '../packages/host/dist/src/sandbox/interrupt/instrument.js';
import { Watchdog } from '../packages/host/dist/src/sandbox/interrupt/watchdog.js';
import { transpileCached } from '../packages/host/dist/src/sandbox/transpile-cache.js';
import { componentizeQuickJs } from '../packages/cli/dist/src/build/componentize.js';
import { parseManifest } from '../packages/host/dist/src/index.js';
import { assemble, TOOL_WATS } from '../packages/host/dist/test/fixtures/wat.js';
import { PURE_JS_MANIFEST } from '../packages/host/dist/test/fixtures/js.js';
import { enableWasmExtendedConst } from '../packages/host/dist/src/sandbox/component-loader.js';
enableWasmExtendedConst(); // extended-const on Node 20 (components are compiled here without loadComponent)

const root = mkdtempSync(join(tmpdir(), 'yoi-bench-interrupt-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
let t = performance.now();
const binaryen = await loadBinaryen();
console.log(`binaryen import: ${(performance.now() - t).toFixed(0)} ms (paid on a cache miss only)`);

const manifest = parseManifest(new TextEncoder().encode(PURE_JS_MANIFEST)).value;
console.log('\nrewrite time per core module (median of 3)');
for (const [label, component] of [['WAT echo', await assemble(TOOL_WATS.echo)], ['QuickJS echo', await componentizeQuickJs({ jsSource: 'export function call(n, i) { return i; }', manifest })]]) {
  const transpiled = await transpileCached(component, join(root, 'cache'));
  for (const file of transpiled.coreFiles) {
    const raw = readFileSync(join(transpiled.dir, file));
    if (raw.length < 4096 && label !== 'WAT echo') continue;
    const times = [];
    let out;
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      out = await instrumentInterrupts(raw);
      times.push(performance.now() - t);
    }
    console.log(`  ${label.padEnd(14)} ${file.padEnd(22)} ${String(raw.length).padStart(8)} B -> ${String(out.length).padStart(8)} B  ${median(times).toFixed(1)} ms`);
  }
}

const SUM = `(module (memory 1)
 (func (export "sum") (param $n i32) (result i64) (local $i i32) (local $acc i64)
  (block $done (loop $l
    (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
    (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $i))))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $l)))
  (local.get $acc))
 (func $fib (export "fib") (param i32) (result i32) (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0)) (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1))) (call $fib (i32.sub (local.get 0) (i32.const 2))))))))`;
const m = binaryen.parseText(SUM);
const plainBytes = m.emitBinary();
m.dispose();
const plain = new WebAssembly.Instance(new WebAssembly.Module(plainBytes)).exports;
const instrumented = new WebAssembly.Instance(new WebAssembly.Module(await instrumentInterrupts(plainBytes)), Watchdog.shared.imports).exports;
for (const e of [plain, instrumented]) for (let i = 0; i < 3; i++) e.sum(100_000_000), e.fib(27);
const rows = { plain: { sum: [], fib: [] }, instrumented: { sum: [], fib: [] } };
for (let r = 0; r < 7; r++) {
  for (const [name, e] of [['plain', plain], ['instrumented', instrumented]]) {
    t = performance.now();
    e.sum(100_000_000);
    rows[name].sum.push(performance.now() - t);
    t = performance.now();
    e.fib(30);
    rows[name].fib.push(performance.now() - t);
  }
}
console.log('\ncompute-heavy guest, median of 7 interleaved rounds');
for (const kind of ['sum', 'fib']) {
  const p = median(rows.plain[kind]);
  const i = median(rows.instrumented[kind]);
  console.log(`  ${kind === 'sum' ? 'loop summing 10^8 numbers' : 'fib(30), 1.6M calls, no loops'}: plain ${p.toFixed(1)} ms, instrumented ${i.toFixed(1)} ms, ${(i / p).toFixed(2)}x`);
}

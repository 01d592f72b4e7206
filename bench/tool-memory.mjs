#!/usr/bin/env node
// Tool-world memory: sequential calls to the builtin echo (a fresh QuickJS instance per call)
// through the full host path. Before the fix, 1,500 calls grew RSS 339 → 878 MiB and the
// worker ran out of heap at call ~1,137. Goal: RSS growth < 50 MiB over 10,000 calls, 0 failures.
// BENCH_TOOL_MEMORY_CALLS overrides the count (default 10,000; each call instantiates QuickJS,
// so expect a few minutes).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginHost, loadPluginPackage, readPackageFile } from '../packages/host/dist/src/index.js';
import { renderEntry } from '../packages/host/dist/src/store/enablement-edit.js';

const CALLS = Number(process.env.BENCH_TOOL_MEMORY_CALLS ?? 10_000);
const WARMUP = 200;
const GOAL_MIB = 50;
const builtin = fileURLToPath(new URL('../packages/cli/builtin', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'yoi-bench-memory-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const files = await readPackageFile(join(builtin, 'example.echo.yoi-plugin'));
if (!files.ok) throw new Error(files.diagnostic.message);
const pkg = loadPluginPackage(files.value);
if (!pkg.ok) throw new Error(pkg.diagnostic.message);
const { manifest, digest } = pkg.value;
const id = `builtin:${manifest.id}`;
const workspace = join(root, 'ws');
mkdirSync(join(workspace, '.yoi'), { recursive: true });
writeFileSync(
  join(workspace, '.yoi', 'plugins.toml'),
  renderEntry({ id, version: manifest.version, digest, surfaces: [], grants: { id, version: manifest.version, digest, permissions: manifest.permissions, request: [], websocket: [], fs: [] } }),
);
const host = await PluginHost.fromWorkspace({ workspace, builtinDir: builtin, env: { HOME: root } }, { cacheDir: join(root, 'cache') });

const rssMib = () => process.memoryUsage().rss / (1024 * 1024);
let failures = 0;
let firstFailure = '';
async function callOnce(i) {
  try {
    const out = await host.callTool('echo', { text: `call ${i}` });
    if (out.content !== `call ${i}`) throw new Error(`wrong output: ${JSON.stringify(out)}`);
  } catch (error) {
    failures++;
    firstFailure ||= error instanceof Error ? `${error.code ?? ''} ${error.message}` : String(error);
  }
}

for (let i = 0; i < WARMUP; i++) await callOnce(-1 - i);
failures = 0;
const before = rssMib();
let peak = before;
const started = performance.now();
for (let i = 0; i < CALLS; i++) {
  await callOnce(i);
  if (i % 500 === 0) {
    peak = Math.max(peak, rssMib());
    process.stderr.write(`\r${i}/${CALLS} calls, RSS ${rssMib().toFixed(0)} MiB`);
  }
}
const seconds = (performance.now() - started) / 1000;
const after = rssMib();
peak = Math.max(peak, after);
const counters = host.runtimes.get(id)?.sandboxCounters;
await host.close();
process.stderr.write('\n');

const growth = after - before;
console.log(`\ntool-world memory — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, builtin echo, ${CALLS} sequential calls after ${WARMUP} warm-up\n`);
console.log(['case'.padEnd(44), 'RSS growth'.padStart(12), 'peak RSS'.padStart(10), 'failures'.padStart(10), 'calls/s'.padStart(9), 'goal'.padStart(22)].join(''));
console.log(
  [
    'builtin echo, sequential tool-world calls'.padEnd(44),
    `${growth.toFixed(1)} MiB`.padStart(12),
    `${peak.toFixed(0)} MiB`.padStart(10),
    String(failures).padStart(10),
    (CALLS / seconds).toFixed(1).padStart(9),
    `< ${GOAL_MIB} MiB, 0 failures`.padStart(22),
  ].join(''),
);
console.log(`workers started ${counters?.workersStarted ?? '?'}, lost ${counters?.workersLost ?? '?'}${firstFailure ? `; first failure: ${firstFailure}` : ''}`);
if (growth >= GOAL_MIB || failures > 0) process.exitCode = 1;

#!/usr/bin/env node
// Many services per process: `yoi plugin serve` (a child process) with N instance-world
// services (WAT, then JavaScript/QuickJS; none imports a host API), from spawn until every
// service is Running, the CPU time the child used until then (robust on a loaded machine) and
// its resident memory then. Medians of ROUNDS runs. The
// transpile cache is warmed first, so the figure is a restart of a workspace, not a first build.
//
//   --json        one JSON document on stdout
//   --count N     services per kind (default 50)
//   --execution M the serve's execution mode (YOI_EXECUTION; default: the host's default)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const json = args.includes('--json');
const COUNT = Number(option('--count', 50));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const execution = option('--execution', null);
// BENCH_REPO: another checkout's build (e.g. the main branch), to compare commits in one run.
const repo = process.env.BENCH_REPO ?? join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(repo, 'packages', 'host', 'dist');
const { loadPluginPackage } = await import(join(dist, 'src', 'index.js'));
const { writeZipArchive } = await import(join(dist, 'src', 'package', 'zip-write.js'));
const { renderEntry } = await import(join(dist, 'src', 'store', 'enablement-edit.js'));
const { componentizeQuickJs } = await import(join(repo, 'packages', 'cli', 'dist', 'src', 'build', 'componentize.js'));
const { parseManifest, PluginHost } = await import(join(dist, 'src', 'index.js'));
// Absent in builds before execution `auto` (BENCH_REPO pointing at an older checkout).
const { backgroundRewritesSettled } = await import(join(dist, 'src', 'sandbox', 'component-loader.js'));
const { assemble, instanceWat } = await import(join(dist, 'test', 'fixtures', 'wat.js'));
const { manifestToml } = await import(join(dist, 'test', 'fixtures', 'manifest.js'));
const yoi = join(repo, 'packages', 'cli', 'bin', 'yoi.js');

const root = mkdtempSync(join(tmpdir(), 'yoi-bench-many-'));
process.on('exit', () => process.env.BENCH_KEEP || rmSync(root, { recursive: true, force: true }));

const manifest = (id) => manifestToml({ id, version: '1.0.0', tools: ['echo'], services: [{ name: 'main', description: 'bench service', lifecycle: 'host-managed' }] });

const JS_INSTANCE = `let calls = 0;
export function start(c) { return '{"state":"running"}'; }
export function handleTool(n, i) { calls++; return JSON.stringify({ summary: 'echo', content: i }); }
export function handleIngress(n, e) { return '{"output_commands":[]}'; }
export function status() { return JSON.stringify({ state: 'running', calls }); }
export function stop() { return '{"state":"stopped"}'; }`;

function workspace(kind, component) {
  const ws = join(root, `ws-${kind}`);
  mkdirSync(join(ws, '.yoi', 'plugins'), { recursive: true });
  const entries = [];
  for (let i = 0; i < COUNT; i++) {
    const id = `${kind}${i}`;
    const files = new Map([['plugin.toml', new TextEncoder().encode(manifest(id))], ['plugin.component.wasm', component]]);
    const pkg = loadPluginPackage(files);
    if (!pkg.ok) throw new Error(pkg.diagnostic.message);
    writeFileSync(join(ws, '.yoi', 'plugins', `${id}.yoi-plugin`), writeZipArchive(files).value);
    const identity = `project:${id}`;
    const { digest, manifest: m } = pkg.value;
    entries.push(renderEntry({ id: identity, version: m.version, digest, surfaces: ['tool', 'service'], grants: { id: identity, version: m.version, digest, permissions: m.permissions, request: [], websocket: [], fs: [] } }));
  }
  writeFileSync(join(ws, '.yoi', 'plugins.toml'), entries.join('\n'));
  return ws;
}

/** CPU seconds (user + system) the process has used so far: a figure that does not grow with other load on the machine. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMib(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

/** One serve run: ms from spawn to every service Running (serve logs each service's state after starting them all), RSS then. */
async function serveOnce(ws) {
  const env = { PATH: process.env.PATH, HOME: root, XDG_DATA_HOME: join(root, 'xdg'), YOI_BUILTIN_DIR: join(root, 'no-builtin'), YOI_CACHE_DIR: join(root, 'cache'), ...(execution ? { YOI_EXECUTION: execution } : {}) };
  const started = performance.now();
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const child = spawn(process.execPath, [...profile, yoi, 'plugin', 'serve', '--workspace', ws], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.resume();
  const result = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not report ${COUNT} services within 120 s: ${out.slice(-800)}`)), 120_000);
    // serve logs JSON lines on stderr: one "service state" line per service once all were started.
    child.stderr.setEncoding('utf8').on('data', (d) => {
      out += d;
      const states = out.split('\n').filter((l) => l.includes('"service state"'));
      if (states.length < COUNT) return;
      clearTimeout(timer);
      const ms = performance.now() - started;
      const running = states.filter((l) => l.includes('"Running"')).length;
      resolve({ ms, running, rssMib: rssMib(child.pid), cpuS: cpuSeconds(child.pid) });
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}) before its services ran: ${out.slice(-800)}`)));
  });
  child.kill(profile.length > 0 ? 'SIGTERM' : 'SIGKILL'); // a profile is written on a graceful exit
  await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
  return result;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const rows = [];
for (const kind of ['wat', 'js']) {
  process.stderr.write(`preparing ${COUNT} ${kind} services…\n`);
  const component = kind === 'wat' ? await assemble(instanceWat()) : await componentizeQuickJs({ jsSource: JS_INSTANCE, manifest: parseManifest(new TextEncoder().encode(manifest('x'))).value });
  const ws = workspace(kind, component);
  // Warm the transpile cache and the interruptible modules (auto makes a QuickJS guest's in a
  // background thread on a first start), as a workspace is after its first run.
  const warm = await PluginHost.fromWorkspace({ workspace: ws, builtinDir: join(root, 'no-builtin'), env: { HOME: root } }, { cacheDir: join(root, 'cache', 'transpile') });
  await warm.startServices();
  await backgroundRewritesSettled?.();
  await warm.close();
  await serveOnce(ws);
  if (process.env.BENCH_KEEP) process.stderr.write(`workspace kept: ${ws} (cache ${join(root, 'cache')})\n`);
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) runs.push(await serveOnce(ws));
  if (runs.some((r) => r.running !== COUNT)) throw new Error(`${kind}: not every service reached Running: ${JSON.stringify(runs)}`);
  rows.push({ kind, services: COUNT, ms: median(runs.map((r) => r.ms)), cpu_s: median(runs.map((r) => r.cpuS)), rss_mib: median(runs.map((r) => r.rssMib)), runs });
}

const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'cpu', loadavg: loadavg().map((l) => Math.round(l * 100) / 100), execution: execution ?? 'default' };
if (json) console.log(JSON.stringify({ bench: 'many-services', machine, rows }, null, 2));
else {
  console.log(`\nmany services — ${COUNT} per kind, serve in a child process, median of ${ROUNDS}; node ${machine.node}, ${machine.cpus} × ${machine.cpu}, load ${machine.loadavg.join(' ')}, execution ${machine.execution}\n`);
  console.log(['kind'.padEnd(8), 'to all Running'.padStart(16), 'CPU used'.padStart(10), 'RSS'.padStart(12), 'goal (WAT)'.padStart(22)].join(''));
  for (const row of rows) console.log([row.kind.padEnd(8), `${(row.ms / 1000).toFixed(2)} s`.padStart(16), `${row.cpu_s.toFixed(2)} s`.padStart(10), `${row.rss_mib.toFixed(0)} MiB`.padStart(12), (row.kind === 'wat' ? '≤ 1.5 s, ≤ 150 MB' : '').padStart(22)].join(''));
}

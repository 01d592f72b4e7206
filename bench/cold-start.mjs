#!/usr/bin/env node
// Cold start: what a user waits for when a new process starts. Each row is a whole new Node
// process, timed from spawn to exit (median of BENCH_COLD_RUNS runs, interleaved so load
// changes hit every row alike), beside its floor — a bare `node -e ''` measured in the same
// rounds — and the ratio to it. The CPU column is the process's user + system time (all its
// threads: a worker, V8's compilers), which other load on the machine disturbs less.
//   - importing the host library (`import('@yoi-plugins/host')`);
//   - `yoi plugin --help` (the CLI's own start-up);
//   - `yoi plugin call builtin:example.echo echo` of the example workspace with a warm
//     transpile cache (the first call of the process, in a fresh worker).
// Bounded: a fixed number of processes, each with a timeout.
//
//   BENCH_COLD_RUNS=5     runs per row
//   --pin                 run every process on CPU 0 (`taskset -c 0`), where available
//   --json                one JSON document on stdout instead of the table
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 5);
const JSON_OUT = process.argv.includes('--json');
const PIN = process.argv.includes('--pin') && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'packages', 'cli', 'dist', 'src', 'cli', 'main.js');
const workspace = join(repo, 'examples', 'workspace');
const cache = mkdtempSync(join(tmpdir(), 'yoi-bench-cold-'));
process.on('exit', () => rmSync(cache, { recursive: true, force: true }));
const env = { ...process.env, YOI_CACHE_DIR: cache };

const cases = {
  floor: ['-e', ''],
  import: ['-e', "await import('@yoi-plugins/host')", '--input-type=module'],
  help: [cli, 'plugin', '--help'],
  call: [cli, 'plugin', 'call', 'builtin:example.echo', 'echo', '--input', '{"text":"hello"}', '--workspace', workspace],
};

// Reports the process's CPU time on stderr as it exits (a few lines of preload).
const CPU_MARK = 'yoi-bench-cpu-us';
const reportCpu = `data:text/javascript,process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write('${CPU_MARK} '+(u.user+u.system)+'\\n')})`;

function run(args) {
  const nodeArgs = ['--import', reportCpu, ...args];
  const [command, argv] = PIN ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const started = process.hrtime.bigint();
  const result = spawnSync(command, argv, { cwd: repo, env, encoding: 'utf8', timeout: 60_000 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  const cpu = new RegExp(`${CPU_MARK} (\\d+)`).exec(result.stderr);
  return { ms, cpuMs: cpu ? Number(cpu[1]) / 1000 : NaN, stdout: result.stdout };
}

// Warm the transpile cache (and the OS page cache) once; check the call really answers.
const warm = run(cases.call);
if (!warm.stdout.includes('hello')) throw new Error(`unexpected call output: ${warm.stdout}`);

const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
const cpuSamples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < RUNS; i++) {
  for (const [name, args] of Object.entries(cases)) {
    const { ms, cpuMs } = run(args);
    samples[name].push(ms);
    cpuSamples[name].push(cpuMs);
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const floor = median(samples.floor);
const cpuFloor = median(cpuSamples.floor);
const labels = {
  floor: "bare `node -e ''` (floor)",
  import: "import('@yoi-plugins/host')",
  help: '`yoi plugin --help`',
  call: '`yoi plugin call` (cached plugin)',
};
const goals = { call: 300 };
const rows = Object.keys(cases).map((name) => ({
  case: name,
  label: labels[name],
  median_ms: Math.round(median(samples[name]) * 10) / 10,
  min_ms: Math.round(Math.min(...samples[name]) * 10) / 10,
  floor_ms: Math.round(floor * 10) / 10,
  ratio: Math.round((median(samples[name]) / floor) * 100) / 100,
  cpu_ms: Math.round(median(cpuSamples[name]) * 10) / 10,
  cpu_floor_ms: Math.round(cpuFloor * 10) / 10,
  cpu_ratio: Math.round((median(cpuSamples[name]) / cpuFloor) * 100) / 100,
  ...(goals[name] ? { goal_ms: goals[name] } : {}),
}));

if (JSON_OUT) {
  console.log(JSON.stringify({ bench: 'cold-start', node: process.version, cpus: cpus().length, pinned: PIN, runs: RUNS, rows }, null, 2));
} else {
  console.log(`\ncold start — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, median of ${RUNS} processes${PIN ? ', pinned to CPU 0' : ''}\n`);
  console.log(['case'.padEnd(40), 'wall'.padStart(10), 'min'.padStart(10), 'floor'.padStart(10), 'vs floor'.padStart(10), 'CPU'.padStart(10), 'vs floor'.padStart(10), 'goal'.padStart(9)].join(''));
  for (const r of rows) {
    console.log(
      [
        r.label.padEnd(40),
        `${r.median_ms} ms`.padStart(10),
        `${r.min_ms} ms`.padStart(10),
        `${r.floor_ms} ms`.padStart(10),
        `${r.ratio.toFixed(2)}x`.padStart(10),
        `${r.cpu_ms} ms`.padStart(10),
        `${r.cpu_ratio.toFixed(2)}x`.padStart(10),
        (r.goal_ms ? `${r.goal_ms} ms` : '').padStart(9),
      ].join(''),
    );
  }
}

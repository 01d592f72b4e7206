#!/usr/bin/env node
// `npm run bench`: every benchmark, one after another, each a process of its own.
//
//   --json      one JSON document on stdout: each benchmark's own JSON where it has a
//               --json mode, else its table as text; progress goes to stderr
//   --pin       run each benchmark on CPU 0 only (`taskset -c 0`: the host, its workers and
//               the processes a benchmark starts share one CPU), where taskset exists
//   --only a,b  only these benchmarks (file names without .mjs)
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCHES = ['tool-call', 'worker-hop', 'interrupt', 'fresh-instance', 'cold-start', 'many-services', 'ingress', 'websocket', 'journal', 'failover', 'tool-memory', 'dev-loop'];
/** Benchmarks that print JSON themselves with --json. */
const SPEAKS_JSON = new Set(['tool-call', 'worker-hop', 'fresh-instance', 'cold-start', 'many-services', 'ingress', 'websocket', 'journal', 'failover', 'dev-loop']);

const args = process.argv.slice(2);
const json = args.includes('--json');
const pin = args.includes('--pin') && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',')) : null;
const here = dirname(fileURLToPath(import.meta.url));

const results = [];
let failed = 0;
for (const name of BENCHES) {
  if (only && !only.has(name)) continue;
  const script = join(here, `${name}.mjs`);
  const benchArgs = [script, ...(json && SPEAKS_JSON.has(name) ? ['--json'] : []), ...(pin ? ['--pin'] : [])];
  const [command, argv] = pin ? ['taskset', ['-c', '0', process.execPath, ...benchArgs]] : [process.execPath, benchArgs];
  process.stderr.write(`\n== ${name}${pin ? ' (pinned to CPU 0)' : ''}\n`);
  const result = spawnSync(command, argv, { stdio: ['ignore', json ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    failed++;
    process.stderr.write(`${name} failed (exit ${result.status ?? result.signal})\n`);
    results.push({ bench: name, error: `exit ${result.status ?? result.signal}` });
    continue;
  }
  if (json) {
    let parsed;
    try {
      parsed = SPEAKS_JSON.has(name) ? JSON.parse(result.stdout) : undefined;
    } catch {
      parsed = undefined;
    }
    results.push(parsed ?? { bench: name, text: result.stdout.trim() });
  }
}
if (json) {
  const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'cpu', loadavg: loadavg().map((l) => Math.round(l * 100) / 100), pinned: pin };
  console.log(JSON.stringify({ machine, results }, null, 2));
}
process.exitCode = failed > 0 ? 1 : 0;

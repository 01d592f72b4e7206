#!/usr/bin/env node
// `yoi plugin dev` edit → live: a ts-tool plugin enabled in a workspace with `yoi plugin serve`
// running, `yoi plugin dev` watching it; each round edits the tool's reply string and measures
// the time until `POST /v1/tools/call` on serve returns the new reply. Reports the median of
// the rounds, with dev's own split: build (type check + bundle + QuickJS componentize, the
// floor no loop can go under) and reload (re-pin + serve's hot reload).
//
//   --json     one JSON document on stdout
//   --rounds N (default 3)
//   --profile DIR  CPU profiles of serve and dev (node --cpu-prof) into DIR
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const json = args.includes('--json');
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 3;
const profile = args.includes('--profile') ? ['--cpu-prof', '--cpu-prof-dir', args[args.indexOf('--profile') + 1]] : [];
const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'cli', 'bin', 'yoi.js');
const root = mkdtempSync(join(tmpdir(), 'yoi-bench-dev-'));
const dir = join(root, 'hello');
const workspace = join(root, 'ws');
mkdirSync(join(workspace, '.yoi'), { recursive: true });
const env = { ...process.env, HOME: root, YOI_BUILTIN_DIR: join(root, 'none') };
const yoi = (...argv) => {
  const r = spawnSync(process.execPath, [BIN, 'plugin', ...argv], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`yoi plugin ${argv.join(' ')} failed: ${r.stderr}`);
};
const children = [];
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** CPU time (user + system, all threads) a process has used, in ms; null where /proc is not there. */
const cpuMs = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
};

try {
  yoi('new', 'ts-tool', dir);
  yoi('build', dir);
  yoi('enable', dir, '--workspace', workspace, '--yes', '--grant-all-requested');
  const serve = spawn(process.execPath, [...profile, BIN, 'plugin', 'serve', '--workspace', workspace], { env, stdio: ['ignore', 'ignore', 'ignore'] });
  children.push(serve);
  let control = null;
  for (let i = 0; i < 600 && !control; i++) {
    try {
      control = JSON.parse(readFileSync(join(workspace, '.yoi', 'serve.json'), 'utf8'));
    } catch {
      await sleep(50);
    }
  }
  if (!control) throw new Error('serve did not start');
  const call = async () => {
    const response = await fetch(`http://127.0.0.1:${control.port}/v1/tools/call`, {
      method: 'POST',
      headers: { authorization: `Bearer ${control.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'greet', input: { name: 'Ann' } }),
    });
    return (await response.json()).output?.summary ?? '';
  };

  const dev = spawn(process.execPath, [...profile, BIN, 'plugin', 'dev', dir, '--workspace', workspace, '--json'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(dev);
  const cycles = [];
  let buffered = '';
  dev.stdout.on('data', (chunk) => {
    buffered += chunk;
    let at;
    while ((at = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      if (line.trim()) cycles.push(JSON.parse(line));
    }
  });
  while (cycles.length === 0) await sleep(20);

  const source = join(dir, 'src', 'plugin.ts');
  const results = [];
  for (let round = 1; round <= rounds; round++) {
    const before = cycles.length;
    const cpuBefore = [cpuMs(dev.pid), cpuMs(serve.pid)];
    const text = readFileSync(source, 'utf8').replace(/Hello\d*, /, `Hello${round}, `);
    const started = performance.now();
    writeFileSync(source, text);
    const wanted = `Hello${round}, Ann!`;
    while ((await call()) !== wanted) {
      if (performance.now() - started > 120_000) throw new Error(`round ${round}: the edit never went live`);
      await sleep(10);
    }
    const liveMs = performance.now() - started;
    const cpuAfter = [cpuMs(dev.pid), cpuMs(serve.pid)];
    const cpu = cpuBefore.map((b, i) => (b === null || cpuAfter[i] === null ? null : cpuAfter[i] - b));
    // The turn that built this edit (a write can also wake a second, up-to-date turn).
    const built = () => cycles.slice(before).find((c) => c.built);
    while (!built()) await sleep(10);
    const cycle = built();
    results.push({ round, edit_to_live_ms: Math.round(liveMs), dev_cycle_ms: cycle.duration_ms, build_ms: cycle.build_ms, reload_ms: cycle.reload_ms, phases_ms: cycle.phases_ms, component: cycle.component, serve: cycle.serve, cpu_ms: { dev: cpu[0], serve: cpu[1] } });
  }
  const summary = {
    bench: 'dev-loop',
    loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
    rounds: results,
    median_edit_to_live_ms: median(results.map((r) => r.edit_to_live_ms)),
    median_build_ms: median(results.map((r) => r.build_ms)),
    median_reload_ms: median(results.map((r) => r.reload_ms)),
    // CPU time dev and serve spent from the edit until it was live: what the loop costs whatever the machine's load.
    median_cpu_ms: median(results.map((r) => (r.cpu_ms.dev ?? 0) + (r.cpu_ms.serve ?? 0))),
    goal_ms: 2000,
  };
  summary.median_outside_build_ms = summary.median_edit_to_live_ms - summary.median_build_ms;
  if (json) console.log(JSON.stringify(summary, null, 2));
  else {
    console.log('round  edit→live  dev cycle  build  reload');
    for (const r of results) console.log(`${String(r.round).padStart(5)}  ${String(r.edit_to_live_ms).padStart(9)}  ${String(r.dev_cycle_ms).padStart(9)}  ${String(r.build_ms).padStart(5)}  ${String(r.reload_ms).padStart(6)}`);
    console.log(`median edit→live ${summary.median_edit_to_live_ms} ms (goal < 2000 ms): build ${summary.median_build_ms} ms, outside the build ${summary.median_outside_build_ms} ms; loadavg ${summary.loadavg.join(' ')}`);
    console.log(`median CPU time of dev + serve from the edit until live: ${summary.median_cpu_ms} ms`);
  }
} finally {
  for (const child of children) child.kill('SIGTERM');
  await sleep(300);
  rmSync(root, { recursive: true, force: true });
}

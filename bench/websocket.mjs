#!/usr/bin/env node
// End-to-end WebSocket echo: loopback server → host-owned driver → ingress queue → plugin →
// websocket_send command → server. A sweep over offered rates (each for a bounded time), for a
// plain JavaScript handler and the PDK ts-service template. For each rate: frames handled
// (echoed back), frames dropped (sent but never handled, must be 0), the driver's own discard
// counters, socket pauses, and echo latency p50/p99. Reports the highest rate with 0 drops and
// p99 ≤ 10 ms.
//
//   BENCH_WS_RATES=500,1000,2000,3000,5000  offered msg/s (one run each)
//   BENCH_WS_SECONDS=3                       seconds per rate
//   BENCH_WS_HANDLERS=js,template            which handlers
//   BENCH_WS_EXECUTION=in-thread,worker      where the guest runs (a guest that imports a blocking
//                                            host API runs in a worker either way; that row is not repeated)
//   BENCH_WS_PROFILE=DIR                     write a CPU profile of each handler's sweep (warm-up excluded) to DIR
//   --json                                   one JSON document on stdout instead of the table
//
// The loopback server and load generator run in a peer process (ws-echo-peer.mjs), which times
// each echo; cpu_us_per_frame is the CPU time of the host process alone (every thread) per
// frame handled, from process.cpuUsage.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { PluginHost, loadPluginPackage, parseManifest } from '../packages/host/dist/src/index.js';
import { writeZipArchive } from '../packages/host/dist/src/package/zip-write.js';
import { renderEntry } from '../packages/host/dist/src/store/enablement-edit.js';
import { componentizeQuickJs } from '../packages/cli/dist/src/build/componentize.js';
import { buildPlugin } from '../packages/cli/dist/src/build/build.js';
import { newPlugin } from '../packages/cli/dist/src/build/templates.js';

const RATES = (process.env.BENCH_WS_RATES ?? process.env.BENCH_WS_RATE ?? '500,1000,2000,3000,5000').split(',').map(Number).filter((n) => n > 0);
const SECONDS = Number(process.env.BENCH_WS_SECONDS ?? 3);
const HANDLERS = (process.env.BENCH_WS_HANDLERS ?? 'js,template').split(',');
const PROFILE_DIR = process.env.BENCH_WS_PROFILE;
const EXECUTIONS = (process.env.BENCH_WS_EXECUTION ?? 'in-thread,worker').split(',');
const JSON_OUT = process.argv.includes('--json');
/** How long to wait for the backlog of one rate to drain (bounded) before counting what is missing. */
const DRAIN_MS = 30_000;
const P99_GOAL_MS = 10;

const root = mkdtempSync(join(tmpdir(), 'yoi-bench-ws-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const progress = (line) => process.stderr.write(`${line}\n`);

const JS_ECHO = `
export function start() { return '{"state":"running"}'; }
export function handleTool() { return '{"summary":"-"}'; }
export function handleIngress(name, json) {
  const e = JSON.parse(json);
  if (e.kind !== 'websocket_text') return '{}';
  return JSON.stringify({ output_commands: [{ correlation_id: e.correlation_id, source_event_id: e.correlation_id, command_id: e.correlation_id, kind: 'websocket_send', payload: { url: e.payload.url, text: 'echo: ' + e.payload.text }, requested_at: e.created_at }] });
}
export function status() { return '{"state":"running"}'; }
export function stop() { return '{"state":"stopped"}'; }
`;

const relayManifest = `schema_version = 1
id = "bench.relay"
name = "relay"
version = "0.1.0"
permissions = [{ kind = "surface", surface = "service" }, { kind = "service", name = "relay" }, { kind = "surface", surface = "ingress" }, { kind = "ingress", name = "gateway" }, { kind = "host_api", api = "websocket" }]
[runtime]
kind = "wasm-component"
component = "plugin.component.wasm"
world = "yoi:plugin/instance@1.0.0"
[[services]]
name = "relay"
description = "relay"
[[ingresses]]
name = "gateway"
description = "frames"
sources = ["websocket:{config.url}"]
[[websocket]]
scheme = "ws"
host = "127.0.0.1"
path_prefixes = ["/socket"]
`;

/** A message from the peer process that satisfies `test`. */
const fromPeer = (peer, test) =>
  new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (!test(message)) return;
      peer.off('message', onMessage);
      peer.off('exit', onExit);
      resolve(message);
    };
    const onExit = (code) => reject(new Error(`the echo peer exited (${code})`));
    peer.on('message', onMessage);
    peer.once('exit', onExit);
  });

/** One host with one connection to a loopback server in a peer process; runs every rate of the sweep on it. */
async function openHost(label, manifestText, component, execution) {
  const peer = fork(fileURLToPath(new URL('./ws-echo-peer.mjs', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await fromPeer(peer, (m) => typeof m.port === 'number');
  const ws = join(root, `ws-${label.replace(/\W/g, '')}-${execution}`);
  mkdirSync(join(ws, '.yoi', 'plugins'), { recursive: true });
  const files = new Map([['plugin.toml', new TextEncoder().encode(manifestText)], ['plugin.component.wasm', component]]);
  const pkg = loadPluginPackage(files);
  if (!pkg.ok) throw new Error(pkg.diagnostic.message);
  const { manifest, digest } = pkg.value;
  writeFileSync(join(ws, '.yoi', 'plugins', 'p.yoi-plugin'), writeZipArchive(files).value);
  const id = `project:${manifest.id}`;
  writeFileSync(join(ws, '.yoi', 'plugins.toml'), renderEntry({ id, version: manifest.version, digest, surfaces: [], config: { url: `ws://127.0.0.1:${port}/socket` }, websocket: { send_limit: 1_000_000, ping_interval_ms: 0 }, grants: { id, version: manifest.version, digest, permissions: manifest.permissions, request: [], websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/socket'] }], fs: [] } }));
  const connected = fromPeer(peer, (m) => m.connected === true);
  const host = await PluginHost.fromWorkspace({ workspace: ws, builtinDir: join(root, 'none'), env: { HOME: root } }, { cacheDir: join(root, 'cache'), execution });
  await host.startServices();
  await connected;
  const connection = () => host.status(id)[0]?.websocket_connections?.[0] ?? {};
  return {
    peer,
    execution: host.runtimes.get(id)?.execution ?? execution,
    connection,
    async close() {
      await host.close();
      peer.send('close');
      await new Promise((r) => (peer.exitCode !== null ? r() : peer.once('exit', r)));
    },
  };
}

const DISCARD_FIELDS = ['drops', 'refused', 'binary_dropped', 'skipped_undeclared', 'inbox_safety_closes'];
const counter = (status, name) => (typeof status[name] === 'number' ? status[name] : 0);

/** Offers `rate` msg/s for SECONDS on an open host; frame numbers continue from `first`. */
async function runRate(open, rate, first) {
  const before = open.connection();
  const cpu = process.cpuUsage();
  const done = fromPeer(open.peer, (m) => Array.isArray(m.latencies));
  open.peer.send({ rate, seconds: SECONDS, first, drainMs: DRAIN_MS });
  const { sent, sendSeconds, elapsed, latencies } = await done;
  const used = process.cpuUsage(cpu);
  const after = open.connection();
  latencies.sort((a, b) => a - b);
  const at = (q) => (latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
  const discards = Object.fromEntries(DISCARD_FIELDS.map((f) => [f, counter(after, f) - counter(before, f)]));
  return {
    offered: rate,
    sent,
    handled: latencies.length,
    dropped: sent - latencies.length,
    driver_discards: discards,
    pauses: counter(after, 'pauses') - counter(before, 'pauses'),
    send_seconds: sendSeconds,
    throughput: latencies.length / elapsed,
    p50_ms: at(0.5),
    p99_ms: at(0.99),
    cpu_us_per_frame: latencies.length === 0 ? NaN : (used.user + used.system) / latencies.length,
  };
}

async function sweep(label, manifestText, component, execution) {
  progress(`${label}: starting (${execution})`);
  const open = await openHost(label, manifestText, component, execution);
  if (open.execution !== execution) {
    progress(`${label}: runs in a ${open.execution} (asked for ${execution}); not measured again`);
    await open.close();
    return null;
  }
  label = `${label}, ${open.execution}`;
  const rows = [];
  let next = 0;
  try {
    // Warm-up (JIT, transpile cache): not reported.
    await runRate(open, 200, 1_000_000_000);
    const session = PROFILE_DIR ? new Session() : null;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
    }
    for (const rate of RATES) {
      const row = await runRate(open, rate, next);
      next += row.sent;
      progress(`${label}: ${rate} msg/s offered → ${row.handled}/${row.sent} handled, p99 ${row.p99_ms.toFixed(1)} ms, ${row.cpu_us_per_frame.toFixed(0)} µs CPU per frame`);
      rows.push(row);
    }
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      mkdirSync(PROFILE_DIR, { recursive: true });
      const file = join(PROFILE_DIR, `${label.replace(/\W+/g, '-')}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      progress(`${label}: CPU profile in ${file}`);
      session.disconnect();
    }
  } finally {
    await open.close();
  }
  const good = rows.filter((r) => r.dropped === 0 && r.p99_ms <= P99_GOAL_MS);
  return { label, execution: open.execution, rows, best_rate: good.length > 0 ? Math.max(...good.map((r) => r.offered)) : null };
}

progress('building handlers…');
const jsComponent = await componentizeQuickJs({ jsSource: JS_ECHO, manifest: parseManifest(new TextEncoder().encode(relayManifest)).value });
const results = [];
const sweepAll = async (label, manifestText, component) => {
  for (const execution of EXECUTIONS) {
    const result = await sweep(label, manifestText, component, execution);
    if (result) results.push(result);
  }
};
if (HANDLERS.includes('js')) await sweepAll('JS handler', relayManifest, jsComponent);
if (HANDLERS.includes('template')) {
  const templateDir = join(root, 'tpl');
  await newPlugin('ts-service', templateDir);
  await buildPlugin(templateDir);
  const templateManifest = readFileSync(join(templateDir, 'plugin.toml'), 'utf8');
  const templateComponent = readFileSync(join(templateDir, 'plugin.component.wasm'));
  await sweepAll('PDK template', templateManifest, templateComponent);
}

const machine = { node: process.version, cpus: cpus().length, model: cpus()[0]?.model ?? 'cpu', loadavg: loadavg().map((l) => Math.round(l * 100) / 100) };
if (JSON_OUT) {
  console.log(JSON.stringify({ bench: 'websocket', machine, seconds_per_rate: SECONDS, p99_goal_ms: P99_GOAL_MS, results }, null, 2));
} else {
  console.log(`\nWebSocket echo end to end — node ${machine.node}, ${machine.cpus} × ${machine.model}, load ${machine.loadavg.join(' ')}, ${SECONDS} s per offered rate\n`);
  const head = ['handler'.padEnd(24), 'offered'.padStart(8), 'handled'.padStart(14), 'dropped'.padStart(8), 'discards'.padStart(9), 'pauses'.padStart(7), 'msg/s'.padStart(7), 'p50 ms'.padStart(9), 'p99 ms'.padStart(9), 'CPU µs/frame'.padStart(13)];
  console.log(head.join(''));
  for (const result of results) {
    for (const r of result.rows) {
      const discards = Object.values(r.driver_discards).reduce((a, b) => a + b, 0);
      console.log([result.label.padEnd(24), String(r.offered).padStart(8), `${r.handled}/${r.sent}`.padStart(14), String(r.dropped).padStart(8), String(discards).padStart(9), String(r.pauses).padStart(7), Math.round(r.throughput).toString().padStart(7), r.p50_ms.toFixed(2).padStart(9), r.p99_ms.toFixed(2).padStart(9), r.cpu_us_per_frame.toFixed(0).padStart(13)].join(''));
    }
    console.log(`${result.label}: highest offered rate with 0 dropped and p99 ≤ ${P99_GOAL_MS} ms: ${result.best_rate === null ? 'none' : `${result.best_rate} msg/s`}\n`);
  }
}

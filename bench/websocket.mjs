#!/usr/bin/env node
// End-to-end WebSocket echo: loopback server → host-owned driver → ingress queue → plugin →
// websocket_send command → server. Offered at a fixed rate for a fixed time (bounded), for
// a plain JavaScript handler and the PDK ts-service template. Prints messages/s and latency.
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { PluginHost, loadPluginPackage, writeZipArchive, parseManifest } from '../packages/host/dist/src/index.js';
import { renderEntry } from '../packages/host/dist/src/store/enablement-edit.js';
import { componentizeQuickJs } from '../packages/host/dist/src/build/componentize.js';
import { buildPlugin } from '../packages/host/dist/src/build/build.js';
import { newPlugin } from '../packages/host/dist/src/build/templates.js';
import { readFileSync } from 'node:fs';

const RATE = Number(process.env.BENCH_WS_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_WS_SECONDS ?? 3);
const root = mkdtempSync(join(tmpdir(), 'yoi-bench-ws-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

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

async function run(label, manifestText, component) {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const ws = join(root, `ws-${label.replace(/\W/g, '')}`);
  mkdirSync(join(ws, '.yoi', 'plugins'), { recursive: true });
  const files = new Map([['plugin.toml', new TextEncoder().encode(manifestText)], ['plugin.component.wasm', component]]);
  const pkg = loadPluginPackage(files);
  if (!pkg.ok) throw new Error(pkg.diagnostic.message);
  const { manifest, digest } = pkg.value;
  writeFileSync(join(ws, '.yoi', 'plugins', 'p.yoi-plugin'), writeZipArchive(files).value);
  const id = `project:${manifest.id}`;
  writeFileSync(join(ws, '.yoi', 'plugins.toml'), renderEntry({ id, version: manifest.version, digest, surfaces: [], config: { url: `ws://127.0.0.1:${port}/socket` }, websocket: { send_limit: 1_000_000, ping_interval_ms: 0 }, grants: { id, version: manifest.version, digest, permissions: manifest.permissions, request: [], websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/socket'] }], fs: [] } }));
  const connected = new Promise((resolve) => wss.once('connection', resolve));
  const host = await PluginHost.fromWorkspace({ workspace: ws, builtinDir: join(root, 'none'), env: { HOME: root } }, { cacheDir: join(root, 'cache') });
  await host.startServices();
  const socket = await connected;
  const sentAt = new Map();
  const latencies = [];
  socket.on('message', (data) => {
    const n = Number(String(data).slice('echo: '.length));
    const t0 = sentAt.get(n);
    if (t0 !== undefined) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  });
  const total = RATE * SECONDS;
  const started = Date.now();
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sentAt.set(n, process.hrtime.bigint());
    socket.send(String(n));
  }
  const deadline = Date.now() + 30_000;
  while (latencies.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const elapsed = (Date.now() - started) / 1000;
  await host.close();
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => server.close(r));
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { label, offered: RATE, delivered: latencies.length, total, rate: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}

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
process.stderr.write('building handlers…\n');
const jsComponent = await componentizeQuickJs({ jsSource: JS_ECHO, manifest: parseManifest(new TextEncoder().encode(relayManifest)).value });
const templateDir = join(root, 'tpl');
await newPlugin('ts-service', templateDir);
await buildPlugin(templateDir);
const templateManifest = readFileSync(join(templateDir, 'plugin.toml'), 'utf8');
const templateComponent = readFileSync(join(templateDir, 'plugin.component.wasm'));

const rows = [await run('JS handler (QuickJS)', relayManifest, jsComponent), await run('PDK ts-service template', templateManifest, templateComponent)];
console.log(`\nWebSocket echo end to end — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, offered ${RATE} msg/s for ${SECONDS} s\n`);
console.log(['handler'.padEnd(26), 'delivered'.padStart(12), 'msg/s'.padStart(8), 'p50 ms'.padStart(9), 'p99 ms'.padStart(9)].join(''));
for (const r of rows) console.log([r.label.padEnd(26), `${r.delivered}/${r.total}`.padStart(12), Math.round(r.rate).toString().padStart(8), r.p50.toFixed(2).padStart(9), r.p99.toFixed(2).padStart(9)].join(''));

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { PluginHost } from '../../src/host.js';
import { Secrets } from '../../src/secrets/secrets.js';
import { buildPlugin } from '../../src/build/build.js';
import { newPlugin } from '../../src/build/templates.js';
import { buildJsComponent } from '../fixtures/js.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { cli, tempDir } from '../helpers.js';

interface Loopback {
  readonly port: number;
  readonly sockets: ServerSocket[];
  readonly received: string[];
  readonly upgrades: { at: number; headers: Record<string, string | string[] | undefined> }[];
  refuse: boolean;
  server: Server;
  wss: WebSocketServer;
}

async function loopback(t: TestContext, options: { autoPong?: boolean; onConnection?: (socket: ServerSocket) => void } = {}): Promise<Loopback> {
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true, autoPong: options.autoPong ?? true });
  const state: Loopback = { port: 0, sockets: [], received: [], upgrades: [], refuse: false, server, wss };
  server.on('upgrade', (req, socket, head) => {
    state.upgrades.push({ at: Date.now(), headers: req.headers });
    if (state.refuse) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      state.sockets.push(ws);
      ws.on('message', (data) => state.received.push(data.toString()));
      options.onConnection?.(ws);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (state as { port: number }).port = (server.address() as AddressInfo).port;
  t.after(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

async function until<T>(fn: () => T | undefined | null | false, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A relay service: echoes text frames, records events, sends `{{secret:…}}` frames on request. */
const RELAY_SOURCE = `
const seen = [];
export function start(c) { return JSON.stringify({ state: 'running' }); }
export function handleTool(name, input) { return JSON.stringify({ summary: String(seen.length), content: JSON.stringify(seen) }); }
export function handleIngress(name, eventJson) {
  const e = JSON.parse(eventJson);
  seen.push({ kind: e.kind, payload: e.payload });
  const cmd = (kind, payload, i = 0) => ({ correlation_id: e.correlation_id, source_event_id: e.correlation_id, command_id: e.correlation_id + ':' + i, kind, payload, requested_at: e.created_at });
  if (e.kind === 'websocket_text') {
    const text = e.payload.text;
    if (text.startsWith('slow')) { const until = Date.now() + 30; while (Date.now() < until) {} return JSON.stringify({}); }
    if (text === 'identify') return JSON.stringify({ output_commands: [cmd('websocket_send', { url: e.payload.url, text: '{"op":2,"token":"{{secret:bot_token}}"}' })] });
    if (text === 'leak') return JSON.stringify({ output_commands: [cmd('websocket_send', { url: e.payload.url, text: '{{secret:other}}' })] });
    if (text === 'close') return JSON.stringify({ output_commands: [cmd('websocket_close', { code: 4000, reason: 'bye' })] });
    return JSON.stringify({ output_commands: [cmd('websocket_send', { url: e.payload.url, text: 'echo: ' + text })] });
  }
  return JSON.stringify({});
}
export function status() { return JSON.stringify({ state: 'running', seen: seen.length }); }
export function stop() { return JSON.stringify({ state: 'stopped' }); }
`;

function relayManifest(extraKinds = ''): string {
  return `schema_version = 1
id = "relay"
name = "relay"
version = "0.1.0"
permissions = [
  { kind = "surface", surface = "tool" }, { kind = "tool", name = "seen" },
  { kind = "surface", surface = "service" }, { kind = "service", name = "relay" },
  { kind = "surface", surface = "ingress" }, { kind = "ingress", name = "gateway" },
  { kind = "host_api", api = "websocket" },
]
[runtime]
kind = "wasm-component"
component = "plugin.component.wasm"
world = "yoi:plugin/instance@1.0.0"
[[tools]]
name = "seen"
description = "events seen"
input_schema = { type = "object" }
[[services]]
name = "relay"
description = "relay"
[[ingresses]]
name = "gateway"
description = "frames"
event_kinds = ["websocket_open", "websocket_text", "websocket_close", "websocket_error"${extraKinds}]
sources = ["websocket:{config.url}"]
[[websocket]]
scheme = "ws"
host = "127.0.0.1"
path_prefixes = ["/socket"]
`;
}

async function relayHost(t: TestContext, port: number, options: { policy?: object; grant?: object; secrets?: Record<string, string>; queue?: number; extraKinds?: string } = {}) {
  const manifest = relayManifest(options.extraKinds);
  const component = await buildJsComponent(RELAY_SOURCE, manifest);
  const grantWebsocket = options.grant ?? { scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/socket'], headers: [{ name: 'Authorization', secret: 'bot_token', prefix: 'Bot ' }], frame_secrets: ['bot_token'] };
  const ws = pluginWorkspace(t, [
    {
      manifest,
      component,
      config: { url: `ws://127.0.0.1:${port}/socket` },
      grants: {
        permissions: [
          { kind: 'surface', surface: 'tool' }, { kind: 'tool', name: 'seen' },
          { kind: 'surface', surface: 'service' }, { kind: 'service', name: 'relay' },
          { kind: 'surface', surface: 'ingress' }, { kind: 'ingress', name: 'gateway' },
          { kind: 'host_api', api: 'websocket' },
        ],
        websocket: [grantWebsocket as never],
      },
    },
  ]);
  const host = await PluginHost.fromWorkspace(
    { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } },
    {
      cacheDir: TEST_TRANSPILE_CACHE,
      secrets: new Secrets(new Map(Object.entries(options.secrets ?? { bot_token: 'sekret-token-123' }))),
      servicePolicy: { retryBaseMs: 5, retryMaxMs: 20, restartBaseMs: 5, ...(options.queue ? { queueCapacity: options.queue } : {}) },
      connectionPolicy: { reconnect_base_ms: 50, reconnect_max_ms: 400, ping_interval_ms: 0, ...options.policy },
    },
  );
  t.after(() => host.close());
  await host.startServices();
  const service = host.services.get('project:relay')!;
  const connection = () => host.status('project:relay')[0]!.websocket_connections[0] as Record<string, unknown>;
  return { host, service, connection };
}

describe('host-owned WebSocket driver', () => {
  it('opens the source with granted secret headers, delivers frames as events and executes websocket_send', async (t) => {
    const server = await loopback(t);
    const { host, connection } = await relayHost(t, 0 + (await Promise.resolve(server.port)));
    await until(() => server.sockets[0], 'a connection');
    assert.equal(server.upgrades[0]!.headers['authorization'], 'Bot sekret-token-123');
    server.sockets[0]!.send('hello');
    await until(() => server.received.includes('echo: hello'), 'the echo');
    server.sockets[0]!.send('identify');
    await until(() => server.received.some((m) => m.includes('"op":2')), 'identify');
    assert.ok(server.received.includes('{"op":2,"token":"sekret-token-123"}'), 'the host substituted the granted secret');
    // a server that echoes the frame back must not hand the secret to the plugin
    server.sockets[0]!.send('{"op":2,"token":"sekret-token-123"}');
    await until(() => server.received.some((m) => m.startsWith('echo: {"op":2')), 'the echo of the echo');
    assert.ok(server.received.includes('echo: {"op":2,"token":"<secret:bot_token>"}'), server.received.join(' | '));
    const seen = JSON.parse((await host.callTool('seen', {})).content!) as { kind: string; payload: Record<string, unknown> }[];
    assert.equal(seen[0]!.kind, 'websocket_open');
    assert.deepEqual(seen[1], { kind: 'websocket_text', payload: { url: `ws://127.0.0.1:${server.port}/socket`, text: 'hello' } });
    assert.ok(!JSON.stringify(seen).includes('sekret'), 'the guest never saw the secret');
    const status = connection();
    assert.equal(status['state'], 'Connected');
    assert.equal(status['frames_in'], 3);
    assert.equal(status['frames_out'], 3);
    assert.ok(!JSON.stringify(host.status()).includes('sekret'), 'status never shows the secret');
  });

  it('refuses ungranted frame secrets and reports it without the value', async (t) => {
    const server = await loopback(t);
    const { service } = await relayHost(t, server.port, { secrets: { bot_token: 'sekret-token-123', other: 'other-secret-456' } });
    await until(() => server.sockets[0], 'a connection');
    server.sockets[0]!.send('leak');
    await until(() => service.commandResults.toArray().some((r) => r.status === 'Rejected'), 'a rejected send');
    const result = service.commandResults.toArray().find((r) => r.status === 'Rejected')!;
    assert.match(result.message, /secret `other` is not granted for frames on this connection/);
    assert.ok(!server.received.some((m) => m.includes('other-secret')));
  });

  it('reconnects with exponential backoff while connections are refused, then recovers', async (t) => {
    const server = await loopback(t);
    server.refuse = true;
    const { host, connection } = await relayHost(t, server.port);
    await until(() => server.upgrades.length >= 4, 'four refused attempts');
    server.refuse = false;
    await until(() => connection()['state'] === 'Connected', 'recovery', 15_000);
    const gaps = server.upgrades.slice(1, 4).map((u, i) => u.at - server.upgrades[i]!.at);
    // base 50 ms doubling with ±20 % jitter: 50, 100, 200 …; asserted loosely (growth, not timing)
    assert.ok(gaps[1]! > gaps[0]! * 1.1 && gaps[2]! > gaps[1]! * 1.1, `gaps ${gaps.join(', ')}`);
    const seen = JSON.parse((await host.callTool('seen', {})).content!) as { kind: string; payload: { reconnect?: boolean; attempt?: number } }[];
    const open = seen.find((e) => e.kind === 'websocket_open')!;
    assert.equal(open.payload.reconnect, true);
    assert.ok((open.payload.attempt ?? 0) >= 3);
  });

  it('detects a half-open (zombie) connection by its missing pongs and replaces it', async (t) => {
    const server = await loopback(t, { autoPong: false });
    const { connection } = await relayHost(t, server.port, { policy: { ping_interval_ms: 100, pong_timeout_ms: 150 } });
    await until(() => server.sockets.length >= 1, 'a connection');
    await until(() => server.sockets.length >= 2, 'a replacement after missing pongs', 5_000);
    assert.match(String(connection()['last_error'] ?? ''), /no pong within 150 ms/);
  });

  it('fails for good on a fatal close code, and stays visible in status', async (t) => {
    const server = await loopback(t, { onConnection: (ws) => setTimeout(() => ws.close(4004, 'Authentication failed'), 20) });
    const { connection } = await relayHost(t, server.port);
    await until(() => connection()['state'] === 'Failed', 'Failed');
    assert.equal(connection()['last_close_code'], 4004);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(server.upgrades.length, 1, 'no reconnect after a fatal code');
  });

  it('pauses the socket while the queue is full: no frame is lost, frames stay in order', async (t) => {
    const server = await loopback(t);
    const { host, connection } = await relayHost(t, server.port, { queue: 2 });
    await until(() => server.sockets[0], 'a connection');
    const N = 60;
    for (let i = 0; i < N; i++) server.sockets[0]!.send(`slow ${i}`);
    await until(() => (connection()['frames_in'] as number) === N, 'all frames read', 20_000);
    let texts: string[] = [];
    for (let i = 0; i < 200 && texts.length < N; i++) {
      const all = JSON.parse((await host.callTool('seen', {})).content!) as { kind: string; payload: { text?: string } }[];
      texts = all.filter((e) => e.kind === 'websocket_text').map((e) => e.payload.text!);
      if (texts.length < N) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(texts, Array.from({ length: N }, (_, i) => `slow ${i}`));
    assert.ok((connection()['paused_ms'] as number) > 0, 'the socket was paused');
    assert.equal(connection()['drops'], 0);
  });

  it('counts binary frames the ingress does not declare, and delivers them base64 when it does', async (t) => {
    const server = await loopback(t);
    const { connection } = await relayHost(t, server.port);
    await until(() => server.sockets[0], 'a connection');
    server.sockets[0]!.send(Buffer.from([1, 2, 3]));
    await until(() => connection()['binary_dropped'] === 1, 'a counted binary drop');

    const server2 = await loopback(t);
    const second = await relayHost(t, server2.port, { extraKinds: ', "websocket_binary"' });
    await until(() => server2.sockets[0], 'a connection');
    server2.sockets[0]!.send(Buffer.from([1, 2, 3]));
    for (let i = 0; i < 100; i++) {
      const seen = JSON.parse((await second.host.callTool('seen', {})).content!) as { kind: string; payload: { data_base64?: string } }[];
      const binary = seen.find((e) => e.kind === 'websocket_binary');
      if (binary) {
        assert.equal(binary.payload.data_base64, 'AQID');
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('no websocket_binary event');
  });

  it('rejects ungranted targets before dialing and secrets in URLs', async (t) => {
    const server = await loopback(t);
    const { connection } = await relayHost(t, server.port, { grant: { scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/other'] } });
    await until(() => connection()['state'] === 'Failed', 'Failed');
    assert.match(String(connection()['last_error']), /not covered by enabled WebSocket grants/);
    assert.equal(server.upgrades.length, 0, 'nothing was dialled');

    const server2 = await loopback(t);
    const leaky = await relayHost(t, server2.port, { secrets: { bot_token: String(server2.port) + '0', port_secret: `127.0.0.1:${server2.port}` } });
    await until(() => leaky.connection()['state'] === 'Failed', 'Failed');
    assert.match(String(leaky.connection()['last_error']), /must not contain secret values/);
    assert.equal(server2.upgrades.length, 0);
  });

  it('closes on a websocket_close command and does not reconnect', async (t) => {
    const server = await loopback(t);
    const { connection } = await relayHost(t, server.port);
    await until(() => server.sockets[0], 'a connection');
    server.sockets[0]!.send('close');
    await until(() => connection()['state'] === 'Closed', 'Closed');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(server.upgrades.length, 1);
  });
});

describe('the ts-service template, served', () => {
  it('echoes a text frame from a loopback server', async (t) => {
    const server = await loopback(t);
    const root = tempDir(t);
    const dir = join(root, 'relay');
    await newPlugin('ts-service', dir);
    await buildPlugin(dir);
    mkdirSync(join(root, 'ws'));
    const env = { HOME: root, YOI_BUILTIN_DIR: join(root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
    const enabled = await cli(['plugin', 'enable', dir, '--workspace', join(root, 'ws'), '--grant-all-requested', '--yes', '--config-json', JSON.stringify({ url: `ws://127.0.0.1:${server.port}/socket` })], { env });
    assert.equal(enabled.code, 0, enabled.stderr);
    writeFileSync(join(root, 'unused'), '');
    const host = await PluginHost.fromWorkspace({ workspace: join(root, 'ws'), builtinDir: join(root, 'none'), env: { HOME: root } }, { cacheDir: TEST_TRANSPILE_CACHE });
    t.after(() => host.close());
    await host.startServices();
    await until(() => server.sockets[0], 'the host-owned connection');
    server.sockets[0]!.send('hi there');
    await until(() => server.received.includes('echo: hi there'), 'the echo');
  });
});

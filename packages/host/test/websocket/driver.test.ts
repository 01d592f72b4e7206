import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { PluginHost } from '../../src/host.js';
import { Secrets } from '../../src/secrets/secrets.js';
import { buildPlugin } from '@yoi-plugins/cli/internal/build/build.js';
import { newPlugin } from '@yoi-plugins/cli/internal/build/templates.js';
import { buildJsComponent } from '../fixtures/js.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { cli, tempDir, YOI_MANIFESTS, until } from '../helpers.js';
import { loopback } from './loopback.js';
import { manifestToml } from '../fixtures/manifest.js';

/** A relay service: echoes text frames, records events, sends `{{secret:…}}` frames on request. */
const RELAY_SOURCE = `
const seen = [];
export function start(c) { return JSON.stringify({ state: 'running' }); }
export function handleTool(name, input) { return JSON.stringify({ summary: String(seen.length), content: JSON.stringify(seen) }); }
export function handleIngress(name, eventJson) {
  const e = JSON.parse(eventJson);
  const bulky = e.kind === 'websocket_text' && e.payload.text.startsWith('bulk');
  seen.push({ kind: e.kind, payload: bulky ? { text: e.payload.text.split(' ').slice(0, 2).join(' ') } : e.payload });
  const cmd = (kind, payload, i = 0) => ({ correlation_id: e.correlation_id, source_event_id: e.correlation_id, command_id: e.correlation_id + ':' + i, kind, payload, requested_at: e.created_at });
  if (e.kind === 'websocket_text') {
    const text = e.payload.text;
    if (text.startsWith('slow')) { const until = Date.now() + 30; while (Date.now() < until) {} return JSON.stringify({}); }
    if (text === 'identify') return JSON.stringify({ output_commands: [cmd('websocket_send', { url: e.payload.url, text: '{"op":2,"token":"{{secret:bot_token}}"}' })] });
    if (text === 'leak') return JSON.stringify({ output_commands: [cmd('websocket_send', { url: e.payload.url, text: '{{secret:other}}' })] });
    if (text === 'close') return JSON.stringify({ output_commands: [cmd('websocket_close', { code: 4000, reason: 'bye' })] });
    if (text === 'reconnect') {
      // Gives the server's frames time to reach the socket's buffer before it is replaced.
      const until = Date.now() + 50; while (Date.now() < until) {}
      return JSON.stringify({ output_commands: [cmd('websocket_reconnect', {})] });
    }
    if (text.startsWith('bulk')) return JSON.stringify({});
    return JSON.stringify({ output_commands: [cmd('websocket_send', { url: e.payload.url, text: 'echo: ' + text })] });
  }
  return JSON.stringify({});
}
export function status() { return JSON.stringify({ state: 'running', seen: seen.length }); }
export function stop() { return JSON.stringify({ state: 'stopped' }); }
`;

function relayManifest(extraKinds: readonly string[] = []): string {
  return manifestToml({
    id: 'relay',
    tools: [{ name: 'seen', description: 'events seen' }],
    services: ['relay'],
    ingresses: [{ name: 'gateway', description: 'frames', eventKinds: ['websocket_open', 'websocket_text', 'websocket_close', 'websocket_error', ...extraKinds], sources: ['websocket:{config.url}'] }],
    hostApis: ['websocket'],
    websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/socket'] }],
  });
}

async function relayHost(t: TestContext, port: number, options: { policy?: object; grant?: object; secrets?: Record<string, string>; queue?: number; extraKinds?: readonly string[] } = {}) {
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

/** The texts of the websocket_text events the relay saw, once there are at least `n` (bounded wait). */
async function seenTexts(host: PluginHost, n: number): Promise<string[]> {
  return until(async () => {
    const all = JSON.parse((await host.callTool('seen', {})).content!) as { kind: string; payload: { text?: string } }[];
    const texts = all.filter((e) => e.kind === 'websocket_text').map((e) => e.payload.text!);
    return texts.length >= n && texts;
  }, `${n} websocket_text events`);
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

  it('answers a burst of frames in the order read: one send each, every result Recorded, a refused send in its place', async (t) => {
    const server = await loopback(t);
    const { service, connection } = await relayHost(t, server.port, { secrets: { bot_token: 'sekret-token-123', other: 'other-secret-456' } });
    await until(() => server.sockets[0], 'a connection');
    // One burst: the frames are read together, accepted together and answered by one batch's
    // sends, which start without waiting for each other; a refused send (an ungranted secret)
    // sits among them and must not disturb the others or their order.
    // (Within the default send budget of 110 frames per minute.)
    const burst = Array.from({ length: 80 }, (_, i) => (i === 40 ? 'leak' : `b${i}`));
    for (const text of burst) server.sockets[0]!.send(text);
    const echoes = burst.filter((text) => text !== 'leak').map((text) => `echo: ${text}`);
    await until(() => server.received.filter((m) => m.startsWith('echo: b')).length >= echoes.length, 'every echo');
    assert.deepEqual(server.received.filter((m) => m.startsWith('echo: b')), echoes, 'echoes in the order read');
    await until(() => connection()['frames_out'] === echoes.length, 'every send counted');
    assert.equal(connection()['send_failures'], 1, 'only the ungranted secret was refused');
    // The latest results (status keeps a bounded ring of them): the sends after the refused one, each Recorded.
    const results = service.commandResults;
    assert.ok(results.length > 0 && results.every((r) => r.status === 'Recorded' && /^sent \d+ bytes to /.test(r.message)), JSON.stringify(results.slice(0, 2)));
  });

  it('refuses ungranted frame secrets and reports it without the value', async (t) => {
    const server = await loopback(t);
    const { service } = await relayHost(t, server.port, { secrets: { bot_token: 'sekret-token-123', other: 'other-secret-456' } });
    await until(() => server.sockets[0], 'a connection');
    server.sockets[0]!.send('leak');
    await until(() => service.commandResults.some((r) => r.status === 'Rejected'), 'a rejected send');
    const result = service.commandResults.find((r) => r.status === 'Rejected')!;
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
    // The delays the driver scheduled (never wall-clock gaps): base 50 ms doubling, capped at
    // 400 ms, each with ±20 % jitter — 40–60, 80–120, 160–240 ms for the first three.
    const delays = connection()['reconnect_delays_ms'] as number[];
    assert.ok(delays.length >= 3, `delays ${delays.join(', ')}`);
    [[40, 60], [80, 120], [160, 240]].forEach(([min, max], i) => assert.ok(delays[i]! >= min! && delays[i]! <= max!, `delay ${i + 1}: ${delays.join(', ')}`));
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
    // No sleep to watch for a reconnect: a reconnect is only ever scheduled with a backoff delay,
    // and Failed was reached without one.
    assert.deepEqual(connection()['reconnect_delays_ms'], [], 'no reconnect was scheduled after a fatal code');
    assert.equal(connection()['reconnects'], 0);
    assert.equal(server.upgrades.length, 1);
  });

  it('pauses the socket at the inbox high-water mark while the queue is full: no frame is lost, frames stay in order', async (t) => {
    const server = await loopback(t);
    const { host, connection } = await relayHost(t, server.port, { queue: 2, policy: { inbox_high_water: 8, inbox_low_water: 2 } });
    await until(() => server.sockets[0], 'a connection');
    const N = 60;
    for (let i = 0; i < N; i++) server.sockets[0]!.send(`slow ${i}`);
    await until(() => (connection()['frames_in'] as number) === N, 'all frames read', 20_000);
    const texts = await seenTexts(host, N);
    assert.deepEqual(texts, Array.from({ length: N }, (_, i) => `slow ${i}`));
    await until(() => connection()['inbox_depth'] === 0, 'the inbox drained');
    const status = connection();
    assert.ok((status['pauses'] as number) >= 1, 'the socket was paused');
    assert.equal(status['resumes'], status['pauses'], 'and resumed at the low-water mark');
    assert.ok((status['paused_ms'] as number) > 0);
    assert.equal(status['drops'], 0);
    assert.equal(status['events_delivered'], N + 1, 'every frame and the open event');
  });

  it('closes and re-dials when the inbox passes its byte safety limit; every frame already read is still delivered', async (t) => {
    const N = 40;
    const server = await loopback(t, {
      onConnection: (socket) => {
        if (server.sockets.length === 1) for (let i = 0; i < N; i++) socket.send(`slow ${i} ${'.'.repeat(150)}`);
      },
    });
    const { host, service, connection } = await relayHost(t, server.port, { queue: 2, policy: { inbox_high_water: 100_000, inbox_high_water_bytes: 1 << 30, inbox_max_bytes: 4096 } });
    await until(() => server.sockets.length >= 2, 'a second connection after the safety close', 20_000);
    const read = connection()['frames_in'] as number;
    assert.ok(read > 0);
    const texts = await seenTexts(host, read);
    assert.deepEqual(texts, Array.from({ length: read }, (_, i) => `slow ${i} ${'.'.repeat(150)}`), 'every frame read was delivered, in order');
    const status = connection();
    assert.equal(status['inbox_safety_closes'], 1);
    assert.equal(status['drops'], 0);
    assert.match(String(status['last_error']), /inbox safety limit of 4096/);
    assert.ok(service.diagnostics.some((d) => d.kind === 'ServiceWebSocketInboxLimit'), 'logged');
    const close = await until(async () => {
      const seen = JSON.parse((await host.callTool('seen', {})).content!) as { kind: string; payload: { code?: number; disposition?: string } }[];
      return seen.find((e) => e.kind === 'websocket_close');
    }, 'a websocket_close event');
    assert.deepEqual([close.payload.code, close.payload.disposition], [1006, 'resume'], 'the plugin is told to resume its session');
  });

  it('counts binary frames the ingress does not declare, and delivers them base64 when it does', async (t) => {
    const server = await loopback(t);
    const { connection } = await relayHost(t, server.port);
    await until(() => server.sockets[0], 'a connection');
    server.sockets[0]!.send(Buffer.from([1, 2, 3]));
    await until(() => connection()['binary_dropped'] === 1, 'a counted binary drop');

    const server2 = await loopback(t);
    const second = await relayHost(t, server2.port, { extraKinds: ['websocket_binary'] });
    await until(() => server2.sockets[0], 'a connection');
    server2.sockets[0]!.send(Buffer.from([1, 2, 3]));
    const binary = await until(async () => {
      const seen = JSON.parse((await second.host.callTool('seen', {})).content!) as { kind: string; payload: { data_base64?: string } }[];
      return seen.find((e) => e.kind === 'websocket_binary');
    }, 'a websocket_binary event');
    assert.equal(binary.payload.data_base64, 'AQID');
  });

  it('rejects ungranted targets before dialing; a URL containing a secret value is treated like any other', async (t) => {
    const server = await loopback(t);
    const { connection } = await relayHost(t, server.port, { grant: { scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/other'] } });
    await until(() => connection()['state'] === 'Failed', 'Failed');
    assert.match(String(connection()['last_error']), /not covered by enabled WebSocket grants/);
    assert.equal(server.upgrades.length, 0, 'nothing was dialled');

    const server2 = await loopback(t);
    const leaky = await relayHost(t, server2.port, { secrets: { bot_token: 'sekret-token-123', port_secret: `127.0.0.1:${server2.port}` } });
    // No oracle: a guessed value gets the same answer as any other string (docs/operators.md, Secrets).
    await until(() => leaky.connection()['state'] === 'Connected', 'Connected');
    assert.equal(server2.upgrades.length, 1);
    assert.equal(leaky.connection()['last_error'], null);
  });

  it('closes on a websocket_close command and does not reconnect', async (t) => {
    const server = await loopback(t);
    const { connection } = await relayHost(t, server.port);
    await until(() => server.sockets[0], 'a connection');
    server.sockets[0]!.send('close');
    await until(() => connection()['state'] === 'Closed', 'Closed');
    assert.deepEqual(connection()['reconnect_delays_ms'], [], 'no reconnect was scheduled after the close command');
    assert.equal(connection()['reconnects'], 0);
    assert.equal(server.upgrades.length, 1);
  });
});

/** Yoi's own service template manifest, its source pointed at a loopback server (event_kinds untouched). */
function yoiTemplateManifest(): string {
  const original = readFileSync(join(YOI_MANIFESTS, 'yoi-service-template', 'plugin.toml'), 'utf8');
  const local = original
    .replace('"websocket:wss://example.com/socket"', '"websocket:{config.url}"')
    .replace('scheme = "wss"\nhost = "example.com"', 'scheme = "ws"\nhost = "127.0.0.1"');
  assert.notEqual(local, original);
  assert.match(local, /event_kinds = \["websocket_text"\]/);
  return local;
}

/** Every piece of `secret` of length `n` found in `text` (markers are not secret text). */
function piecesIn(text: string, secret: string, n: number): string[] {
  const plain = text.replace(/<secret:[A-Za-z0-9_.-]+>/g, '\u0000');
  const found: string[] = [];
  for (let i = 0; i + n <= secret.length; i++) if (plain.includes(secret.slice(i, i + n))) found.push(secret.slice(i, i + n));
  return found;
}

describe('host-owned WebSocket driver: what is not delivered, and secrets across frames', () => {
  it("does not send event kinds the ingress does not declare (Yoi's service template): skipped and counted, not an InvalidEvent", async (t) => {
    const server = await loopback(t);
    const manifest = yoiTemplateManifest();
    const ws = pluginWorkspace(t, [{ manifest, component: await buildJsComponent(RELAY_SOURCE, manifest), config: { url: `ws://127.0.0.1:${server.port}/socket` } }]);
    const host = await PluginHost.fromWorkspace(
      { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } },
      { cacheDir: TEST_TRANSPILE_CACHE, connectionPolicy: { reconnect_base_ms: 20, reconnect_max_ms: 50, ping_interval_ms: 0 } },
    );
    t.after(() => host.close());
    await host.startServices();
    const id = 'project:example.rust_service_plugin';
    const service = host.services.get(id)!;
    const connection = () => host.status(id)[0]!.websocket_connections[0] as Record<string, unknown>;
    await until(() => server.sockets[0], 'a connection');
    server.sockets[0]!.send('hello');
    await until(() => server.received.includes('echo: hello'), 'the echo');
    server.sockets[0]!.close(4000, 'go away');
    await until(() => server.sockets[1], 'a reconnect');
    server.sockets[1]!.send('again');
    await until(() => server.received.includes('echo: again'), 'the second echo');
    const seen = JSON.parse((await host.callTool('example_echo', {})).content!) as { kind: string; payload: { text?: string } }[];
    assert.deepEqual(seen.map((e) => [e.kind, e.payload.text]), [['websocket_text', 'hello'], ['websocket_text', 'again']]);
    assert.equal(connection()['skipped_undeclared'], 3, 'open, close, open');
    assert.equal(connection()['drops'], 0);
    assert.equal(service.counters.rejected, 0, 'not counted against the plugin');
    const diagnostics = service.diagnostics;
    assert.ok(!diagnostics.some((d) => d.kind === 'InvalidEvent'), 'no InvalidEvent');
    assert.ok(diagnostics.some((d) => d.kind === 'ServiceWebSocketEventSkipped' && /websocket_open event not delivered: ingress example_ws does not declare it/.test(d.message)));
  });

  for (const size of [20, 5]) {
    it(`never hands the plugin a piece of 8+ characters of a secret a server echoes back in ${size}-character frames`, async (t) => {
      const secret = 'xq7Vd1bN4tZ0pL9sK2mW8rY5cJ3hG6fA';
      let pieces = 0;
      const server = await loopback(t, {
        onMessage: (socket, text) => {
          if (!text.includes(secret)) return;
          for (let i = 0; i < text.length; i += size) {
            socket.send(text.slice(i, i + size));
            pieces++;
          }
        },
      });
      const { host } = await relayHost(t, server.port, { secrets: { bot_token: secret } });
      await until(() => server.sockets[0], 'a connection');
      server.sockets[0]!.send('identify');
      await until(() => pieces > 0, 'the echo in pieces');
      const texts = await seenTexts(host, 1 + pieces);
      assert.equal(texts.length, 1 + pieces);
      const joined = texts.slice(1).join('');
      assert.deepEqual(piecesIn(joined, secret, 8), [], joined);
      assert.ok(joined.startsWith('{"op":2,"token":"'), joined);
      assert.ok(joined.endsWith('"}'), joined);
      assert.ok(!server.received.some((m) => m.startsWith('echo: ') && piecesIn(m, secret, 8).length > 0), 'nor can it echo one back');
    });
  }

  it('keeps the events read but not yet accepted across a stop, and delivers them first at the next start', async (t) => {
    const N = 40;
    const server = await loopback(t, {
      onConnection: (socket) => {
        if (server.sockets.length === 1) for (let i = 0; i < N; i++) socket.send(`slow ${i}`);
      },
    });
    const { host, service, connection } = await relayHost(t, server.port, { queue: 2, policy: { inbox_high_water: 8, inbox_low_water: 2 } });
    await until(() => (connection()['inbox_depth'] as number) >= 5, 'events waiting in the inbox', 20_000);
    const report = await service.stop();
    const held = connection()['inbox_depth'] as number;
    const read = connection()['frames_in'] as number;
    assert.ok(held >= 1, 'events are held');
    assert.ok(service.diagnostics.some((d) => d.kind === 'ServiceWebSocketInboxHeld'));
    await service.start();
    // First the events the service had accepted (kept in its journal across the stop), then the
    // driver's held frames, then the new connection: every frame read, in order, none twice.
    const before = report.waiting + held;
    const seen = await until(async () => {
      const all = JSON.parse((await host.callTool('seen', {})).content!) as { kind: string; payload: { text?: string } }[];
      return all.length >= before + 1 && all;
    }, 'the kept events, the held frames and the new connection');
    const expected = Array.from({ length: before }, (_, i) => `slow ${read - before + i}`);
    assert.deepEqual(seen.slice(0, before).map((e) => e.payload.text), expected, 'the kept events and the held frames, in order, first');
    assert.equal(seen[before]?.kind, 'websocket_open', 'then the new connection');
    assert.equal(connection()['refused'], 0, 'nothing was counted as refused across the stop');
  });

  it('counts the frames a replaced socket still emits after websocket_reconnect as stale, and delivers everything read before', async (t) => {
    const N = 100;
    const bulk = (i: number) => `bulk ${i} ${'.'.repeat(2_000)}`;
    const server = await loopback(t, {
      onConnection: (socket) => {
        if (server.sockets.length !== 1) return;
        socket.send('reconnect');
        for (let i = 0; i < N; i++) socket.send(bulk(i));
      },
    });
    const { host, service, connection } = await relayHost(t, server.port, { queue: 2, policy: { inbox_high_water: 4, inbox_low_water: 1 } });
    await until(() => server.sockets.length >= 2, 'the reconnect', 20_000);
    const read = (connection()['frames_in'] as number) - 1;
    const texts = await seenTexts(host, read + 1);
    assert.deepEqual(texts, ['reconnect', ...Array.from({ length: read }, (_, i) => `bulk ${i}`)], 'every frame read before the reconnect, in order');
    const status = connection();
    assert.ok((status['stale_frames'] as number) > 0, 'the old socket had frames buffered');
    assert.equal(read + (status['stale_frames'] as number) <= N, true);
    assert.equal(status['drops'], status['stale_frames']);
    assert.ok(service.diagnostics.some((d) => d.kind === 'ServiceWebSocketStaleFrame'));
  });

  it('opens its connections again when the service starts after a stop', async (t) => {
    const server = await loopback(t);
    const { service, connection } = await relayHost(t, server.port);
    await until(() => server.sockets[0], 'a connection');
    await service.stop();
    assert.equal(connection()['state'], 'Closed');
    await service.start();
    await until(() => server.sockets[1], 'a new connection after the start');
    server.sockets[1]!.send('back');
    await until(() => server.received.includes('echo: back'), 'the echo');
    assert.equal(connection()['state'], 'Connected');
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

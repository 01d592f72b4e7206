/**
 * The pull WebSocket host API (`WebSocketPullSession`) against a real `ws` server on
 * 127.0.0.1: reply shapes, bounds, the connection limit, denials before dialing, and cleanup.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AuthoritySubject } from '../../src/authority/authorize.js';
import { HostApiDispatcher } from '../../src/hostapi/dispatcher.js';
import { WEBSOCKET_PULL_LIMITS, WebSocketPullSession } from '../../src/hostapi/websocket.js';
import { expectError, expectOk, hostApiManifest, subjectOf } from './support.js';
import { until } from '../helpers.js';

interface WsServer {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Server-side close events so far, with their codes. */
  readonly closes: number[];
  readonly received: string[];
  readonly paths: string[];
}

/**
 * A `ws` server on 127.0.0.1:0. Paths: `/ws/echo` echoes text, `/ws/silent` never sends,
 * `/ws/welcome` sends "welcome" right after the handshake, `/ws/binary` answers with a binary
 * frame; on every path the text "bye" makes the server close with 1000.
 */
async function wsServer(t: TestContext): Promise<WsServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const closes: number[] = [];
  const received: string[] = [];
  const paths: string[] = [];
  let connections = 0;
  const sockets: WebSocket[] = [];
  server.on('connection', (socket, request) => {
    connections++;
    sockets.push(socket);
    const path = (request.url ?? '').split('?')[0] ?? '';
    paths.push(request.url ?? '');
    socket.on('close', (code) => closes.push(code));
    if (path === '/ws/welcome') socket.send('welcome');
    socket.on('message', (data, isBinary) => {
      const text = data.toString();
      received.push(text);
      if (text === 'bye') socket.close(1000, 'bye');
      else if (path === '/ws/binary') socket.send(Buffer.from([1, 2, 3]), { binary: true });
      else if (path === '/ws/echo' && !isBinary) socket.send(text);
    });
  });
  t.after(async () => {
    for (const socket of sockets) socket.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, connections: () => connections, closes, received, paths };
}

function wsManifestToml(port: number | undefined, host = '127.0.0.1'): string {
  return `
[[websocket]]
scheme = "ws"
host = "${host}"
${port !== undefined ? `port = ${port}` : ''}
path_prefixes = ["/ws"]
`;
}

function wsSubject(port: number | undefined): AuthoritySubject {
  return subjectOf(hostApiManifest(['websocket'], wsManifestToml(port)), 'all');
}

function session(t: TestContext, subject: AuthoritySubject): WebSocketPullSession {
  const s = new WebSocketPullSession(subject);
  t.after(() => s.closeAll());
  return s;
}

const open = (url: string, extra: Record<string, unknown> = {}): string => JSON.stringify({ url, ...extra });

/** Lets any (wrongly) started dial reach the server before counting connections. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('host_api.websocket pull session against a real server', () => {
  it('opens, sends text, receives and closes with the documented reply shapes', async (t) => {
    const server = await wsServer(t);
    const ws = session(t, wsSubject(server.port));
    const opened = expectOk(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/echo?token=QUERYSECRET`)]));
    assert.deepEqual(opened, { handle: 1, url: `ws://127.0.0.1:${server.port}/ws/echo` });
    assert.equal(server.connections(), 1);
    assert.deepEqual(server.paths, ['/ws/echo?token=QUERYSECRET'], 'the query string is sent to the server, only hidden from the label');

    assert.deepEqual(expectOk(await ws.call('send-text', [1, 'hello'])), { sent: true, bytes: 5 });
    assert.deepEqual(expectOk(await ws.call('recv', [1, 2_000])), { type: 'text', text: 'hello' });
    assert.deepEqual(expectOk(await ws.call('send-text', [1, 'héllo ✓'])), { sent: true, bytes: Buffer.byteLength('héllo ✓') });
    assert.deepEqual(expectOk(await ws.call('recv', [1, 2_000])), { type: 'text', text: 'héllo ✓' });
    assert.deepEqual(server.received, ['hello', 'héllo ✓']);

    assert.deepEqual(expectOk(await ws.call('close', [1])), { closed: true });
    await until(() => server.closes.length === 1, 'server-side close');
    assert.deepEqual(server.closes, [1000], 'a clean close handshake');
    assert.deepEqual(expectOk(await ws.call('close', [1])), { closed: false });
    expectError(await ws.call('send-text', [1, 'again']), 'invalid_request', { message: /unknown WebSocket handle 1/ });
    expectError(await ws.call('recv', [1, 10]), 'invalid_request', { message: /unknown WebSocket handle/ });

    // Handles increase; a closed handle's number is not reused at once.
    assert.equal(expectOk<{ handle: number }>(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/echo`)])).handle, 2);
  });

  it('times out a recv with code `timeout`', async (t) => {
    const server = await wsServer(t);
    const ws = session(t, wsSubject(server.port));
    const { handle } = expectOk<{ handle: number }>(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/silent`)]));
    const started = Date.now();
    expectError(await ws.call('recv', [handle, 100]), 'timeout', { message: /WebSocket receive timed out/ });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 90 && elapsed < 2_000, `recv waited ${elapsed} ms for a 100 ms timeout`);
  });

  it('reports a server close as {type:"closed"} and refuses to send afterwards', async (t) => {
    const server = await wsServer(t);
    const ws = session(t, wsSubject(server.port));
    const { handle } = expectOk<{ handle: number }>(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/silent`)]));
    expectOk(await ws.call('send-text', [handle, 'bye']));
    assert.deepEqual(expectOk(await ws.call('recv', [handle, 2_000])), { type: 'closed' });
    expectError(await ws.call('send-text', [handle, 'late']), 'closed');
  });

  it('rejects binary frames from the server on recv', async (t) => {
    const server = await wsServer(t);
    const ws = session(t, wsSubject(server.port));
    const { handle } = expectOk<{ handle: number }>(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/binary`)]));
    expectOk(await ws.call('send-text', [handle, 'give me binary']));
    expectError(await ws.call('recv', [handle, 2_000]), 'failed', { message: /binary/ });
  });

  it('bounds text frames at 32 KiB (bytes)', async (t) => {
    const server = await wsServer(t);
    const ws = session(t, wsSubject(server.port));
    const { handle } = expectOk<{ handle: number }>(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/silent`)]));
    expectError(await ws.call('send-text', [handle, 'x'.repeat(WEBSOCKET_PULL_LIMITS.sendBytes + 1)]), 'too_large', { message: /exceeds 32768 bytes/ });
    expectError(await ws.call('send-text', [handle, 'é'.repeat(WEBSOCKET_PULL_LIMITS.sendBytes / 2 + 1)]), 'too_large');
    assert.deepEqual(expectOk(await ws.call('send-text', [handle, 'x'.repeat(WEBSOCKET_PULL_LIMITS.sendBytes)])), { sent: true, bytes: 32_768 });
    await until(() => server.received.length === 1, 'the frame at the bound');
    assert.equal(server.received[0]!.length, 32_768);
  });

  it(
    'delivers a message the server sends right after the handshake',
    async (t) => {
      const server = await wsServer(t);
      const ws = session(t, wsSubject(server.port));
      for (let i = 0; i < 5; i++) {
        const { handle } = expectOk<{ handle: number }>(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/welcome`)]));
        assert.deepEqual(expectOk(await ws.call('recv', [handle, 500])), { type: 'text', text: 'welcome' }, `attempt ${i}`);
        expectOk(await ws.call('close', [handle]));
      }
    },
  );
});

describe('host_api.websocket limits and denials before dialing', () => {
  it('refuses a 5th open connection before dialing, and frees the slot on close', async (t) => {
    const server = await wsServer(t);
    const ws = session(t, wsSubject(server.port));
    const handles: number[] = [];
    for (let i = 0; i < WEBSOCKET_PULL_LIMITS.openConnections; i++) {
      handles.push(expectOk<{ handle: number }>(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/silent`)])).handle);
    }
    assert.deepEqual(handles, [1, 2, 3, 4]);
    expectError(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/silent`)]), 'limit', {
      message: /open connection limit \(4\) exceeded before dialing/,
    });
    // Concurrent opens at the limit are refused too (reservations count).
    const replies = await Promise.all([1, 2, 3].map(() => ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/silent`)])));
    for (const reply of replies) expectError(reply, 'limit');
    await settle();
    assert.equal(server.connections(), 4, 'the refused opens dialed the server');

    expectOk(await ws.call('close', [2]));
    assert.equal(expectOk<{ handle: number }>(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/silent`)])).handle, 5);
    assert.equal(server.connections(), 5);
  });

  it('counts concurrent opens against the limit while they are dialing', async (t) => {
    const server = await wsServer(t);
    const ws = session(t, wsSubject(server.port));
    const replies = await Promise.all(Array.from({ length: 6 }, () => ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/silent`)])));
    const opened = replies.filter((r) => !('error' in (JSON.parse(r) as object)));
    const limited = replies.filter((r) => (JSON.parse(r) as { error?: { code: string } }).error?.code === 'limit');
    assert.equal(opened.length, 4, replies.join('\n'));
    assert.equal(limited.length, 2, replies.join('\n'));
    await settle();
    assert.equal(server.connections(), 4);
  });

  it('releases the reservation when a dial fails', async (t) => {
    const server = await wsServer(t);
    const ws = session(t, wsSubject(undefined)); // any port on 127.0.0.1
    const dead = await closedPort();
    for (let i = 0; i < WEBSOCKET_PULL_LIMITS.openConnections + 2; i++) {
      expectError(await ws.call('open', [open(`ws://127.0.0.1:${dead}/ws/echo?token=DIALSECRET`)]), 'failed', {
        secrets: ['DIALSECRET'],
        message: /WebSocket connection failed for ws:\/\/127\.0\.0\.1:\d+\/ws\/echo$/,
      });
    }
    for (let i = 0; i < WEBSOCKET_PULL_LIMITS.openConnections; i++) {
      expectOk(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/silent`)]), `open ${i} after failed dials`);
    }
    assert.equal(server.connections(), 4);
  });

  it('rejects subprotocols, guest headers, http URLs, ungranted targets and malformed descriptors without connecting', async (t) => {
    const server = await wsServer(t);
    const ws = session(t, wsSubject(server.port));
    const PASSWORD = 'ws-USERINFO-PASSWORD-5150';
    const TOKEN = 'ws-HEADER-TOKEN-8675309';
    const p = server.port;
    const cases: [string, string, string, RegExp?][] = [
      ['subprotocol', open(`ws://127.0.0.1:${p}/ws/echo`, { protocols: ['chat'] }), 'denied', /subprotocol negotiation is not supported/],
      ['subprotocol as a string', open(`ws://127.0.0.1:${p}/ws/echo`, { protocols: 'chat' }), 'denied'],
      ['guest Authorization header', open(`ws://127.0.0.1:${p}/ws/echo`, { headers: [{ name: 'Authorization', value: `Bearer ${TOKEN}` }] }), 'denied', /handshake headers/],
      ['guest harmless header', open(`ws://127.0.0.1:${p}/ws/echo`, { headers: [{ name: 'X-Trace', value: '1' }] }), 'denied', /handshake headers/],
      ['headers as an object', open(`ws://127.0.0.1:${p}/ws/echo`, { headers: { Cookie: TOKEN } }), 'denied'],
      ['http URL', open(`http://127.0.0.1:${p}/ws/echo`), 'denied', /HTTP URLs are not supported/],
      ['https URL', open(`https://127.0.0.1:${p}/ws/echo`), 'denied', /HTTP URLs are not supported/],
      ['ftp URL', open(`ftp://127.0.0.1:${p}/ws/echo`), 'denied'],
      ['wss (not declared)', open(`wss://127.0.0.1:${p}/ws/echo`), 'denied', /not declared by the plugin manifest/],
      ['path outside the prefix', open(`ws://127.0.0.1:${p}/other`), 'denied', /not declared by the plugin manifest/],
      ['/ws2 vs prefix /ws', open(`ws://127.0.0.1:${p}/ws2`), 'denied'],
      ['dot-dot out of the prefix', open(`ws://127.0.0.1:${p}/ws/../other`), 'denied'],
      ['localhost instead of 127.0.0.1', open(`ws://localhost:${p}/ws/echo`), 'denied'],
      ['another port', open(`ws://127.0.0.1:${p === 65535 ? p - 1 : p + 1}/ws/echo`), 'denied'],
      ['default port', open('ws://127.0.0.1/ws/echo'), 'denied'],
      ['userinfo', open(`ws://user:${PASSWORD}@127.0.0.1:${p}/ws/echo`), 'denied'],
      ['token userinfo', open(`ws://${PASSWORD}@127.0.0.1:${p}/ws/echo`), 'denied'],
      ['unknown field', open(`ws://127.0.0.1:${p}/ws/echo`, { origin: 'x' }), 'invalid_request', /unknown field `origin`/],
      ['url not a string', JSON.stringify({ url: 1 }), 'invalid_request'],
      ['missing url', JSON.stringify({}), 'invalid_request'],
      ['invalid JSON', '{"url":', 'invalid_request'],
      ['unparsable URL', open('not a url'), 'denied'],
      ['descriptor > 8 KiB', open(`ws://127.0.0.1:${p}/ws/echo?pad=${'p'.repeat(WEBSOCKET_PULL_LIMITS.descriptorBytes)}`), 'too_large', /exceeds 8192 bytes/],
    ];
    for (const [label, json, code, message] of cases) {
      expectError(await ws.call('open', [json]), code, { label, secrets: [PASSWORD, TOKEN], ...(message ? { message } : {}) });
    }
    await settle();
    assert.equal(server.connections(), 0, `the server was dialed: ${server.paths.join(', ')}`);
  });

  it('denies every function without a websocket grant; request grants do not authorise WebSockets', async (t) => {
    const server = await wsServer(t);
    const toml = wsManifestToml(server.port);
    const declared = hostApiManifest(['websocket'], toml);
    const url = `ws://127.0.0.1:${server.port}/ws/echo`;
    const subjects: [string, AuthoritySubject, RegExp][] = [
      ['API not granted', subjectOf(declared, { permissions: [], websocket: declared.websocket }), /granted host_api.websocket permission is missing/],
      ['API not requested', subjectOf(hostApiManifest([], toml), 'all'), /requested host_api.websocket permission is missing/],
      ['no manifest target', subjectOf(hostApiManifest(['websocket']), { permissions: declared.permissions, websocket: declared.websocket }), /manifest host_api.websocket target declaration is missing/],
      ['no grant target', subjectOf(declared, { permissions: declared.permissions, websocket: [] }), /enabled host_api.websocket grants are missing/],
      [
        'request API and a wildcard request grant only',
        subjectOf(
          hostApiManifest(['request'], `[[request]]\nscheme = "*"\nhost = "*"\nmethods = ["GET"]\npath_prefixes = []\n`),
          'all',
        ),
        /requested host_api.websocket permission is missing/,
      ],
      [
        'grant target on another path',
        subjectOf(declared, { permissions: declared.permissions, websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/elsewhere'] }] }),
        /not covered by enabled WebSocket grants/,
      ],
    ];
    for (const [label, subject, message] of subjects) {
      const ws = session(t, subject);
      const text = expectError(await ws.call('open', [open(url)]), 'denied', { label });
      assert.match(text, message, label);
      expectError(await ws.call('send-text', [1, 'x']), label === 'grant target on another path' ? 'invalid_request' : 'denied', { label });
      expectError(await ws.call('no-such-function', []), label === 'grant target on another path' ? 'unknown_function' : 'denied', { label });
    }
    await settle();
    assert.equal(server.connections(), 0);
  });
});

describe('host_api.websocket cleanup', () => {
  it('closeAll() closes every open socket (the server sees the close) and forgets the handles', async (t) => {
    const server = await wsServer(t);
    const ws = session(t, wsSubject(server.port));
    const a = expectOk<{ handle: number }>(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/echo`)])).handle;
    const b = expectOk<{ handle: number }>(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/silent`)])).handle;
    assert.equal(server.connections(), 2);
    ws.closeAll();
    await until(() => server.closes.length === 2, 'both server-side closes');
    expectError(await ws.call('send-text', [a, 'x']), 'invalid_request');
    expectError(await ws.call('recv', [b, 10]), 'invalid_request');
    assert.deepEqual(expectOk(await ws.call('close', [a])), { closed: false });
    // The session stays usable, with its full capacity.
    for (let i = 0; i < WEBSOCKET_PULL_LIMITS.openConnections; i++) expectOk(await ws.call('open', [open(`ws://127.0.0.1:${server.port}/ws/silent`)]));
  });

  it('HostApiDispatcher routes websocket calls and endCall() closes the call\'s sockets', async (t) => {
    const server = await wsServer(t);
    const dispatcher = new HostApiDispatcher(wsSubject(server.port));
    t.after(() => dispatcher.endCall());
    const { handle } = expectOk<{ handle: number }>(await dispatcher.dispatch('yoi:host/websocket', 'open', [open(`ws://127.0.0.1:${server.port}/ws/echo`)]));
    assert.deepEqual(expectOk(await dispatcher.dispatch('yoi:host/websocket', 'send-text', [handle, 'ping'])), { sent: true, bytes: 4 });
    assert.deepEqual(expectOk(await dispatcher.dispatch('yoi:host/websocket', 'recv', [handle, 2_000])), { type: 'text', text: 'ping' });
    dispatcher.endCall();
    await until(() => server.closes.length === 1, 'the server-side close after endCall');
    expectError(await dispatcher.dispatch('yoi:host/websocket', 'recv', [handle, 10]), 'invalid_request');

    expectError(await dispatcher.dispatch('yoi:host/shell', 'exec', ['ls']), 'denied', { message: /unknown host interface/ });
    expectError(await dispatcher.dispatch('yoi:host/request', 'fetch', ['{}']), 'unknown_function');
    // The subject has no request or fs authority: those APIs deny.
    expectError(await dispatcher.dispatch('yoi:host/request', 'request', [JSON.stringify({ method: 'GET', url: 'http://127.0.0.1/ws' })]), 'denied');
    expectError(await dispatcher.dispatch('yoi:host/fs', 'read', [JSON.stringify({ path: 'a.txt' })]), 'denied');
  });
});

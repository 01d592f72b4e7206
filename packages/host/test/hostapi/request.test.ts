/**
 * host_api.request against a real loopback HTTP server: allowed requests, response bounds,
 * no redirects, credential header filtering, timeouts, and every denial happening before any
 * I/O (the server's request count stays 0) with a bounded, redacted message.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { AuthoritySubject } from '../../src/authority/authorize.js';
import { HOST_MESSAGE_BOUND } from '../../src/hostapi/reply.js';
import { executeRequest, prepareRequest, REQUEST_LIMITS, requestHostCall, type PreparedRequest } from '../../src/hostapi/request.js';
import { expectError, expectOk, hostApiManifest, subjectOf } from './support.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface Loopback {
  readonly port: number;
  /** Every request the server received (including ones it never answers). */
  readonly seen: Seen[];
  readonly hits: () => number;
}

interface HttpReply {
  readonly status: number;
  readonly headers: { name: string; value: string }[];
  readonly body: string;
  readonly truncated: boolean;
}

const BIG = 200 * 1024;

/** A loopback HTTP server on 127.0.0.1:0 that records requests; closed (with its sockets) after the test. */
async function loopback(t: TestContext): Promise<Loopback> {
  const seen: Seen[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const path = (req.url ?? '').split('?')[0];
      switch (path) {
        case '/api/ok':
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ ok: true }));
          return;
        case '/api/big':
          res.end('x'.repeat(BIG));
          return;
        case '/api/exact':
          res.end('y'.repeat(REQUEST_LIMITS.responseBodyBytes));
          return;
        case '/api/exact-plus-one':
          res.end('y'.repeat(REQUEST_LIMITS.responseBodyBytes + 1));
          return;
        case '/api/euro':
          // 2 + 3·k bytes: the 64 KiB cut falls after the first byte of a 3-byte character.
          res.end('xx' + '€'.repeat(30_000));
          return;
        case '/api/emoji':
          // 1 + 4·k bytes: the 64 KiB cut falls after three bytes of a 4-byte character.
          res.end('x' + '😀'.repeat(20_000));
          return;
        case '/api/redirect':
          res.statusCode = 302;
          res.setHeader('location', '/api/ok');
          res.end('moved');
          return;
        case '/api/redirect-out':
          res.statusCode = 301;
          res.setHeader('location', `http://localhost:${(server.address() as AddressInfo).port}/private`);
          res.end();
          return;
        case '/api/headers':
          res.setHeader('set-cookie', ['session=SETCOOKIESECRET; HttpOnly', 'other=SETCOOKIESECRET2']);
          res.setHeader('authorization', 'Bearer RESPONSEAUTHSECRET');
          res.setHeader('proxy-authorization', 'Basic PROXYAUTHSECRET');
          res.setHeader('x-api-key', 'RESPONSEAPIKEYSECRET');
          res.setHeader('x-auth-token', 'RESPONSETOKENSECRET');
          res.setHeader('x-safe', 'visible');
          res.setHeader('x-debug', 'token=DEBUGSECRETVALUE');
          res.end('headers');
          return;
        case '/api/many-headers':
          for (let i = 0; i < 30; i++) res.setHeader(`x-h-${i}`, String(i));
          res.end('many');
          return;
        case '/api/echo':
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ method: req.method, body, headers: req.headers }));
          return;
        case '/api/slow':
          hanging.push(res); // never answered within the test's timeout
          return;
        default:
          res.statusCode = 404;
          res.end('not found');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { port, seen, hits: () => seen.length };
}

/** A subject whose manifest declares (and grants) http://127.0.0.1:<port> GET,POST under /api. */
function loopbackSubject(port: number | undefined, host = '127.0.0.1'): AuthoritySubject {
  return subjectOf(
    hostApiManifest(
      ['request'],
      `
[[request]]
scheme = "http"
host = "${host}"
${port !== undefined ? `port = ${port}` : ''}
methods = ["GET", "POST"]
path_prefixes = ["/api"]
`,
    ),
    'all',
  );
}

function get(url: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ method: 'GET', url, ...extra });
}

const QUICK = { timeoutMs: 1_000 } as const;

describe('host_api.request: allowed requests against a loopback server', () => {
  it('performs a granted GET and returns status, headers, body and truncated=false', async (t) => {
    const server = await loopback(t);
    const subject = loopbackSubject(server.port);
    const reply = expectOk<HttpReply>(await requestHostCall(subject, get(`http://127.0.0.1:${server.port}/api/ok?q=1`), QUICK));
    assert.equal(reply.status, 200);
    assert.equal(reply.body, '{"ok":true}');
    assert.equal(reply.truncated, false);
    assert.deepEqual(Object.keys(reply).sort(), ['body', 'headers', 'status', 'truncated']);
    assert.ok(reply.headers.some((h) => h.name === 'content-type' && h.value === 'application/json'));
    assert.equal(server.hits(), 1);
    assert.equal(server.seen[0]!.url, '/api/ok?q=1', 'the query string is sent as given');
    assert.equal(server.seen[0]!.headers['user-agent'], 'yoi-plugin-request-host-api/0.1');
  });

  it('prepareRequest returns the validated request; executeRequest runs it', async (t) => {
    const server = await loopback(t);
    const subject = loopbackSubject(server.port);
    const prepared = prepareRequest(
      subject,
      JSON.stringify({ method: 'POST', url: `http://127.0.0.1:${server.port}/api/echo`, headers: [{ name: 'X-Custom', value: 'v1' }], body: 'payload' }),
    );
    assert.ok(!('reply' in prepared), JSON.stringify(prepared));
    const request = prepared as PreparedRequest;
    assert.equal(request.method, 'POST');
    assert.equal(request.url.href, `http://127.0.0.1:${server.port}/api/echo`);
    assert.deepEqual(request.headers, [{ name: 'X-Custom', value: 'v1' }]);
    assert.equal(request.body, 'payload');
    assert.equal(server.hits(), 0, 'prepareRequest does no I/O');

    const reply = expectOk<HttpReply>(await executeRequest(request, QUICK));
    assert.equal(reply.status, 200);
    const echoed = JSON.parse(reply.body) as { method: string; body: string; headers: Record<string, string> };
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.body, 'payload');
    assert.equal(echoed.headers['x-custom'], 'v1');
    assert.equal(server.hits(), 1);
  });

  it('matches any port when the target declares none', async (t) => {
    const server = await loopback(t);
    const reply = expectOk<HttpReply>(await requestHostCall(loopbackSubject(undefined), get(`http://127.0.0.1:${server.port}/api/ok`), QUICK));
    assert.equal(reply.status, 200);
    assert.equal(server.hits(), 1);
  });

  it('bounds the response body at 64 KiB and flags it truncated', async (t) => {
    const server = await loopback(t);
    const subject = loopbackSubject(server.port);
    const big = expectOk<HttpReply>(await requestHostCall(subject, get(`http://127.0.0.1:${server.port}/api/big`), QUICK));
    assert.equal(big.status, 200);
    assert.equal(big.truncated, true);
    assert.equal(big.body.length, 65_536);
    assert.equal(big.body, 'x'.repeat(65_536));

    const exact = expectOk<HttpReply>(await requestHostCall(subject, get(`http://127.0.0.1:${server.port}/api/exact`), QUICK));
    assert.equal(exact.truncated, false, 'exactly 64 KiB is not truncated');
    assert.equal(exact.body.length, 65_536);

    const over = expectOk<HttpReply>(await requestHostCall(subject, get(`http://127.0.0.1:${server.port}/api/exact-plus-one`), QUICK));
    assert.equal(over.truncated, true, '64 KiB + 1 is truncated');
    assert.equal(over.body.length, 65_536);
  });

  it('truncates a multibyte body at a character boundary (no U+FFFD at the cut)', async (t) => {
    const server = await loopback(t);
    const subject = loopbackSubject(server.port);
    const euro = expectOk<HttpReply>(await requestHostCall(subject, get(`http://127.0.0.1:${server.port}/api/euro`), QUICK));
    assert.equal(euro.truncated, true);
    assert.ok(!euro.body.includes('\uFFFD'), 'a replacement character was left at the cut');
    assert.ok(Buffer.byteLength(euro.body) <= REQUEST_LIMITS.responseBodyBytes);
    assert.equal(euro.body, 'xx' + '€'.repeat(Math.floor((REQUEST_LIMITS.responseBodyBytes - 2) / 3)));

    const emoji = expectOk<HttpReply>(await requestHostCall(subject, get(`http://127.0.0.1:${server.port}/api/emoji`), QUICK));
    assert.equal(emoji.truncated, true);
    assert.ok(!emoji.body.includes('\uFFFD'), 'a replacement character was left at the cut');
    assert.equal(emoji.body, 'x' + '😀'.repeat(Math.floor((REQUEST_LIMITS.responseBodyBytes - 1) / 4)));
  });

  it('does not follow redirects (the 3xx is returned to the guest)', async (t) => {
    const server = await loopback(t);
    const subject = loopbackSubject(server.port);
    const reply = expectOk<HttpReply>(await requestHostCall(subject, get(`http://127.0.0.1:${server.port}/api/redirect`), QUICK));
    assert.equal(reply.status, 302);
    assert.equal(reply.body, 'moved');
    assert.ok(reply.headers.some((h) => h.name === 'location' && h.value === '/api/ok'));
    assert.deepEqual(
      server.seen.map((s) => s.url),
      ['/api/redirect'],
    );

    const out = expectOk<HttpReply>(await requestHostCall(subject, get(`http://127.0.0.1:${server.port}/api/redirect-out`), QUICK));
    assert.equal(out.status, 301, 'a redirect to an ungranted origin is not followed either');
    assert.deepEqual(
      server.seen.map((s) => s.url),
      ['/api/redirect', '/api/redirect-out'],
    );
  });

  it('drops credential response headers, keeps the others (redacted) and bounds their number', async (t) => {
    const server = await loopback(t);
    const subject = loopbackSubject(server.port);
    const raw = await requestHostCall(subject, get(`http://127.0.0.1:${server.port}/api/headers`), QUICK);
    const reply = expectOk<HttpReply>(raw);
    const names = reply.headers.map((h) => h.name.toLowerCase());
    for (const dropped of ['set-cookie', 'authorization', 'proxy-authorization', 'x-api-key', 'x-auth-token']) {
      assert.ok(!names.includes(dropped), `${dropped} was returned`);
    }
    for (const secret of ['SETCOOKIESECRET', 'RESPONSEAUTHSECRET', 'PROXYAUTHSECRET', 'RESPONSEAPIKEYSECRET', 'RESPONSETOKENSECRET', 'DEBUGSECRETVALUE']) {
      assert.ok(!raw.includes(secret), `reply leaks ${secret}`);
    }
    assert.deepEqual(
      reply.headers.filter((h) => h.name === 'x-safe'),
      [{ name: 'x-safe', value: 'visible' }],
    );
    const debug = reply.headers.find((h) => h.name === 'x-debug');
    assert.ok(debug, 'a non-credential header with a secret-looking value is kept');
    assert.match(debug.value, /<redacted>/);

    const many = expectOk<HttpReply>(await requestHostCall(subject, get(`http://127.0.0.1:${server.port}/api/many-headers`), QUICK));
    assert.equal(many.status, 200);
    assert.ok(many.headers.length <= REQUEST_LIMITS.responseHeaders, `${many.headers.length} response headers returned`);
    assert.equal(many.headers.length, REQUEST_LIMITS.responseHeaders);
  });

  it('times out with code `timeout` and a message without the query string', async (t) => {
    const server = await loopback(t);
    const subject = loopbackSubject(server.port);
    const url = `http://127.0.0.1:${server.port}/api/slow?access_token=QUERYSECRET123`;
    const prepared = prepareRequest(subject, get(url));
    assert.ok(!('reply' in prepared), JSON.stringify(prepared));
    const started = Date.now();
    const message = expectError(await executeRequest(prepared as PreparedRequest, { timeoutMs: 200 }), 'timeout', {
      secrets: ['QUERYSECRET123', 'access_token'],
      message: /timed out/,
    });
    assert.ok(Date.now() - started < 3_000, 'timeout was not honoured promptly');
    assert.match(message, new RegExp(`http://127\\.0\\.0\\.1:${server.port}/api/slow`));

    expectError(await requestHostCall(subject, get(url), { timeoutMs: 200 }), 'timeout', { secrets: ['QUERYSECRET123'] });
    assert.equal(server.hits(), 2, 'both attempts reached the server');
  });

  it('reports a refused connection as `failed` without the query string', async (t) => {
    const server = await loopback(t);
    // A port nobody listens on: bind, read the port, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    expectError(await requestHostCall(loopbackSubject(undefined), get(`http://127.0.0.1:${closedPort}/api/ok?token=REFUSEDSECRET`), QUICK), 'failed', {
      secrets: ['REFUSEDSECRET'],
      message: /request to http:\/\/127\.0\.0\.1:\d+\/api\/ok failed/,
    });
    assert.equal(server.hits(), 0);
  });

  it('reports an unresolvable granted host as an error reply', async (t) => {
    const server = await loopback(t);
    const subject = loopbackSubject(undefined, 'yoi-plugin-test.invalid');
    const reply = await requestHostCall(subject, get('http://yoi-plugin-test.invalid/api/ok'), QUICK);
    const parsed = JSON.parse(reply) as { error?: { code: string } };
    assert.ok(parsed.error && ['failed', 'timeout'].includes(parsed.error.code), reply);
    assert.equal(server.hits(), 0);
  });

  it(
    'pins DNS: a granted host name (`localhost`) is resolved once and reaches the loopback server',
    async (t) => {
      const server = await loopback(t);
      const subject = loopbackSubject(server.port, 'localhost');
      const raw = await requestHostCall(subject, get(`http://localhost:${server.port}/api/ok`), QUICK);
      const reply = expectOk<HttpReply>(raw);
      assert.equal(reply.status, 200);
      assert.equal(reply.body, '{"ok":true}');
      assert.equal(server.hits(), 1);
      assert.equal(server.seen[0]!.headers.host, `localhost:${server.port}`, 'the Host header keeps the granted name');
    },
  );
});

describe('host_api.request: denials happen before any I/O, with bounded, redacted messages', () => {
  const PASSWORD = 'hunter2-URL-PASSWORD-9f8e7d';
  const TOKEN = 'tok-HEADER-SECRET-1a2b3c4d5e';
  const SECRETS = [PASSWORD, TOKEN];

  interface Case {
    readonly label: string;
    readonly json: (port: number) => string;
    readonly code: string;
    readonly message?: RegExp;
  }

  const base = (port: number): string => `http://127.0.0.1:${port}`;
  const header = (name: string, value = TOKEN) => (port: number) => get(`${base(port)}/api/ok`, { headers: [{ name, value }] });

  const CASES: Case[] = [
    // hosts
    { label: 'localhost instead of 127.0.0.1', json: (p) => get(`http://localhost:${p}/api/ok`), code: 'denied', message: /not declared by the plugin manifest/ },
    { label: 'another loopback address', json: (p) => get(`http://127.0.0.2:${p}/api/ok`), code: 'denied' },
    { label: 'IPv6 loopback', json: (p) => get(`http://[::1]:${p}/api/ok`), code: 'denied' },
    { label: 'a public host name', json: () => get('http://example.com/api/ok'), code: 'denied' },
    // ports
    { label: 'another port', json: (p) => get(`http://127.0.0.1:${p === 65535 ? p - 1 : p + 1}/api/ok`), code: 'denied' },
    { label: 'default port', json: () => get('http://127.0.0.1/api/ok'), code: 'denied' },
    // schemes
    { label: 'https', json: (p) => get(`https://127.0.0.1:${p}/api/ok`), code: 'denied' },
    { label: 'ftp', json: (p) => get(`ftp://127.0.0.1:${p}/api/ok`), code: 'denied', message: /only http and https/ },
    { label: 'file', json: () => get('file:///etc/passwd'), code: 'denied', message: /only http and https/ },
    { label: 'ws', json: (p) => get(`ws://127.0.0.1:${p}/api/ok`), code: 'denied', message: /WebSocket URLs are not supported/ },
    { label: 'wss', json: (p) => get(`wss://127.0.0.1:${p}/api/ok`), code: 'denied', message: /WebSocket URLs are not supported/ },
    { label: 'data', json: () => get('data:text/plain,hello'), code: 'denied' },
    { label: 'javascript', json: () => get('javascript:alert(1)'), code: 'denied' },
    // methods
    { label: 'TRACE', json: (p) => JSON.stringify({ method: 'TRACE', url: `${base(p)}/api/ok` }), code: 'invalid_request', message: /method is not allowed/ },
    { label: 'CONNECT', json: (p) => JSON.stringify({ method: 'CONNECT', url: `${base(p)}/api/ok` }), code: 'invalid_request' },
    { label: 'OPTIONS', json: (p) => JSON.stringify({ method: 'OPTIONS', url: `${base(p)}/api/ok` }), code: 'invalid_request' },
    { label: 'lowercase get', json: (p) => JSON.stringify({ method: 'get', url: `${base(p)}/api/ok` }), code: 'invalid_request' },
    { label: 'padded GET', json: (p) => JSON.stringify({ method: ' GET', url: `${base(p)}/api/ok` }), code: 'invalid_request' },
    { label: 'missing method', json: (p) => JSON.stringify({ url: `${base(p)}/api/ok` }), code: 'invalid_request' },
    { label: 'allowed method the target does not list (PUT)', json: (p) => JSON.stringify({ method: 'PUT', url: `${base(p)}/api/ok` }), code: 'denied' },
    { label: 'DELETE not in target', json: (p) => JSON.stringify({ method: 'DELETE', url: `${base(p)}/api/ok` }), code: 'denied' },
    // paths
    { label: 'path outside the prefix', json: (p) => get(`${base(p)}/private`), code: 'denied' },
    { label: 'root path', json: (p) => get(`${base(p)}/`), code: 'denied' },
    { label: '/api10 vs prefix /api', json: (p) => get(`${base(p)}/api10`), code: 'denied' },
    { label: '/apix/ok vs prefix /api', json: (p) => get(`${base(p)}/apix/ok`), code: 'denied' },
    { label: 'prefix case differs', json: (p) => get(`${base(p)}/API/ok`), code: 'denied' },
    { label: 'dot-dot out of the prefix', json: (p) => get(`${base(p)}/api/../private`), code: 'denied' },
    { label: 'encoded dot-dot out of the prefix', json: (p) => get(`${base(p)}/api/%2e%2e/private`), code: 'denied' },
    { label: 'encoded slash after the prefix', json: (p) => get(`${base(p)}/api%2fok`), code: 'denied' },
    { label: 'secret-looking denied path', json: (p) => get(`${base(p)}/private/password=${PASSWORD}`), code: 'denied' },
    { label: 'query secret on a denied path', json: (p) => get(`${base(p)}/private?api_key=${PASSWORD}`), code: 'denied' },
    // userinfo
    { label: 'user:password@', json: (p) => get(`http://user:${PASSWORD}@127.0.0.1:${p}/api/ok`), code: 'denied', message: /embedded credentials/ },
    { label: 'token@', json: (p) => get(`http://${PASSWORD}@127.0.0.1:${p}/api/ok`), code: 'denied', message: /embedded credentials/ },
    { label: ':password@', json: (p) => get(`http://:${PASSWORD}@127.0.0.1:${p}/api/ok`), code: 'denied', message: /embedded credentials/ },
    // credential headers, any case
    { label: 'Authorization', json: header('Authorization', `Bearer ${TOKEN}`), code: 'denied', message: /credential-like/ },
    { label: 'authorization', json: header('authorization'), code: 'denied', message: /credential-like/ },
    { label: 'AUTHORIZATION', json: header('AUTHORIZATION'), code: 'denied', message: /credential-like/ },
    { label: 'Proxy-Authorization', json: header('Proxy-Authorization'), code: 'denied', message: /credential-like/ },
    { label: 'cookie', json: header('cookie', `session=${TOKEN}`), code: 'denied', message: /credential-like/ },
    { label: 'Cookie', json: header('Cookie'), code: 'denied', message: /credential-like/ },
    { label: 'Set-Cookie', json: header('Set-Cookie'), code: 'denied', message: /credential-like/ },
    { label: 'X-API-Key', json: header('X-API-Key'), code: 'denied', message: /credential-like/ },
    { label: 'x-api-key', json: header('x-api-key'), code: 'denied', message: /credential-like/ },
    { label: 'X-Api-KEY', json: header('X-Api-KEY'), code: 'denied', message: /credential-like/ },
    { label: 'X-Auth-Token', json: header('X-Auth-Token'), code: 'denied', message: /credential-like/ },
    { label: 'Api-Key', json: header('Api-Key'), code: 'denied', message: /credential-like/ },
    { label: 'APIKEY', json: header('APIKEY'), code: 'denied', message: /credential-like/ },
    // persistent connections and host-owned headers
    { label: 'Upgrade', json: header('Upgrade', 'websocket'), code: 'denied', message: /upgrade headers/ },
    { label: 'Connection: upgrade', json: header('Connection', 'keep-alive, Upgrade'), code: 'denied', message: /upgrade headers/ },
    { label: 'Accept: text/event-stream', json: header('Accept', 'text/event-stream'), code: 'denied', message: /event-stream/ },
    { label: 'Accept: mixed-case event-stream', json: header('accept', 'application/json, TEXT/EVENT-STREAM'), code: 'denied', message: /event-stream/ },
    { label: 'Host', json: header('Host', 'evil.example'), code: 'denied' },
    { label: 'Content-Length', json: header('Content-Length', '5'), code: 'denied' },
    { label: 'Transfer-Encoding', json: header('Transfer-Encoding', 'chunked'), code: 'denied' },
    // header syntax and bounds
    { label: 'CRLF in a header value', json: header('X-Note', `a\r\nAuthorization: ${TOKEN}`), code: 'invalid_request' },
    { label: 'space in a header name', json: header('Bad Name', 'x'), code: 'invalid_request' },
    { label: 'empty header name', json: header('', 'x'), code: 'invalid_request' },
    { label: 'header name > 64 bytes', json: header('x'.repeat(65), 'x'), code: 'invalid_request' },
    { label: 'header value > 1024 bytes', json: header('X-Long', 'v'.repeat(1025)), code: 'invalid_request' },
    {
      label: '17 headers',
      json: (p) => get(`${base(p)}/api/ok`, { headers: Array.from({ length: 17 }, (_, i) => ({ name: `x-h-${i}`, value: 'v' })) }),
      code: 'invalid_request',
      message: /at most 16/,
    },
    { label: 'headers not an array', json: (p) => get(`${base(p)}/api/ok`, { headers: { 'x-a': 'b' } }), code: 'invalid_request' },
    { label: 'header with an extra key', json: (p) => get(`${base(p)}/api/ok`, { headers: [{ name: 'x-a', value: 'b', secret: TOKEN }] }), code: 'invalid_request' },
    { label: 'header value not a string', json: (p) => get(`${base(p)}/api/ok`, { headers: [{ name: 'x-a', value: 1 }] }), code: 'invalid_request' },
    // bodies and descriptors
    {
      label: 'body > 32 KiB',
      json: (p) => JSON.stringify({ method: 'POST', url: `${base(p)}/api/echo`, body: 'b'.repeat(REQUEST_LIMITS.bodyBytes + 1) }),
      code: 'too_large',
      message: /request body exceeds 32768 bytes/,
    },
    { label: 'body not a string', json: (p) => JSON.stringify({ method: 'POST', url: `${base(p)}/api/echo`, body: { a: 1 } }), code: 'invalid_request' },
    {
      label: 'descriptor > 48 KiB',
      json: (p) => JSON.stringify({ method: 'POST', url: `${base(p)}/api/echo`, body: 'b'.repeat(REQUEST_LIMITS.descriptorBytes) }),
      code: 'too_large',
      message: /descriptor exceeds 49152 bytes/,
    },
    { label: 'unknown descriptor field', json: (p) => get(`${base(p)}/api/ok`, { proxy: 'http://127.0.0.1:1' }), code: 'invalid_request', message: /unknown field `proxy`/ },
    { label: 'unknown field with a secret-like name', json: (p) => get(`${base(p)}/api/ok`, { [`x ${TOKEN}`]: 1 }), code: 'invalid_request', message: /name not shown/ },
    { label: 'invalid JSON', json: (p) => `{"method":"GET","url":"${base(p)}/api/ok"`, code: 'invalid_request', message: /not valid JSON/ },
    { label: 'JSON array', json: (p) => JSON.stringify([{ method: 'GET', url: `${base(p)}/api/ok` }]), code: 'invalid_request' },
    { label: 'JSON null', json: () => 'null', code: 'invalid_request' },
    { label: 'empty string', json: () => '', code: 'invalid_request' },
    { label: 'url not a string', json: () => JSON.stringify({ method: 'GET', url: 5 }), code: 'invalid_request' },
    { label: 'unparsable url', json: () => get('not a url'), code: 'invalid_request' },
    { label: 'relative url', json: () => get('/api/ok'), code: 'invalid_request' },
  ];

  it('denies every ungranted or malformed request without contacting the server', async (t) => {
    const server = await loopback(t);
    const subject = loopbackSubject(server.port);
    for (const c of CASES) {
      const json = c.json(server.port);
      const prepared = prepareRequest(subject, json);
      assert.ok('reply' in prepared, `prepareRequest accepted: ${c.label}`);
      expectError(prepared.reply, c.code, { secrets: SECRETS, label: c.label, ...(c.message ? { message: c.message } : {}) });
      // The full host call answers the same, without I/O.
      assert.equal(await requestHostCall(subject, json, QUICK), prepared.reply, c.label);
    }
    assert.equal(server.hits(), 0, `the server was contacted: ${JSON.stringify(server.seen.map((s) => s.url))}`);
  });

  it('denies when the subject lacks authority, before parsing the descriptor', async (t) => {
    const server = await loopback(t);
    const target = `
[[request]]
scheme = "http"
host = "127.0.0.1"
methods = ["GET"]
path_prefixes = ["/api"]
`;
    const declared = hostApiManifest(['request'], target);
    const json = get(`http://127.0.0.1:${server.port}/api/ok`);
    const subjects: [string, AuthoritySubject, RegExp][] = [
      ['no host_api.request grant', subjectOf(declared, { permissions: [], request: declared.request }), /granted host_api.request permission is missing/],
      ['host_api.request not requested', subjectOf(hostApiManifest([], target), 'all'), /requested host_api.request permission is missing/],
      ['manifest declares no target', subjectOf(hostApiManifest(['request']), { permissions: declared.permissions, request: declared.request }), /manifest host_api.request target declaration is missing/],
      ['no request grant targets', subjectOf(declared, { permissions: declared.permissions, request: [] }), /enabled host_api.request grants are missing/],
      [
        'grant bound to another digest',
        { ...subjectOf(declared, 'all'), digest: 'sha256:' + 'b'.repeat(64) },
        /digest binding does not match/,
      ],
      [
        'grant target without methods',
        subjectOf(declared, { permissions: declared.permissions, request: [{ scheme: 'http', host: '127.0.0.1', methods: [], path_prefixes: ['/api'] }] }),
        /enabled host_api.request grants are missing/,
      ],
    ];
    for (const [label, subject, message] of subjects) {
      const text = expectError(await requestHostCall(subject, json, QUICK), 'denied', { label, message: /^plugin host API dispatch denied: / });
      assert.match(text, message, label);
      // Authorization comes before JSON parsing (Yoi's order): invalid JSON is still `denied`.
      expectError(await requestHostCall(subject, '{not json', QUICK), 'denied', { label: `${label}, invalid JSON` });
    }
    assert.equal(server.hits(), 0);
  });

  it('requires both a manifest target and a grant target (independently)', async (t) => {
    const server = await loopback(t);
    const manifest = hostApiManifest(
      ['request'],
      `
[[request]]
scheme = "http"
host = "127.0.0.1"
methods = ["GET"]
path_prefixes = ["/api"]
`,
    );
    const narrowGrant = subjectOf(manifest, {
      permissions: manifest.permissions,
      request: [{ scheme: 'http', host: '127.0.0.1', methods: ['GET'], path_prefixes: ['/api/ok'] }],
    });
    expectError(await requestHostCall(narrowGrant, get(`http://127.0.0.1:${server.port}/api/big`), QUICK), 'denied', {
      message: /not covered by enabled request grants/,
    });
    const wideGrant = subjectOf(manifest, {
      permissions: manifest.permissions,
      request: [{ scheme: '*', host: '*', methods: ['GET', 'POST'], path_prefixes: [] }],
    });
    expectError(await requestHostCall(wideGrant, get(`http://127.0.0.1:${server.port}/private`), QUICK), 'denied', {
      message: /not declared by the plugin manifest/,
    });
    expectError(await requestHostCall(wideGrant, JSON.stringify({ method: 'POST', url: `http://127.0.0.1:${server.port}/api/ok` }), QUICK), 'denied', {
      message: /not declared by the plugin manifest/,
    });
    assert.equal(server.hits(), 0);

    // Both sides covering it: allowed.
    assert.equal(expectOk<HttpReply>(await requestHostCall(narrowGrant, get(`http://127.0.0.1:${server.port}/api/ok`), QUICK)).status, 200);
    assert.equal(server.hits(), 1);
  });

  it('bounds long denial messages and redacts secret-looking URL parts', async (t) => {
    const server = await loopback(t);
    const subject = loopbackSubject(server.port);
    const longPath = `/private/${'segment/'.repeat(200)}token=${PASSWORD}`;
    const message = expectError(await requestHostCall(subject, get(`http://127.0.0.1:${server.port}${longPath}`), QUICK), 'denied', { secrets: SECRETS });
    assert.equal(message.length, HOST_MESSAGE_BOUND + 1, 'cut at the bound and marked with an ellipsis');
    assert.ok(message.endsWith('…'));
    const short = expectError(await requestHostCall(subject, get(`http://127.0.0.1:${server.port}/private/secret=${PASSWORD}`), QUICK), 'denied', {
      secrets: SECRETS,
    });
    assert.match(short, /<redacted>/);
    assert.equal(server.hits(), 0);
  });
});

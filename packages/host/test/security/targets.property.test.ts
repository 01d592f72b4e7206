/**
 * Property tests for target matching (issue G item 8). URLs are assembled from pieces chosen to
 * confuse a matcher (case, trailing dots, userinfo, other ports, dot segments in every
 * spelling, encoded slashes and backslashes, look-alike path segments); whatever the mix, a
 * URL the host lets through reaches exactly the granted origin and stays under the granted path
 * prefix as the server will see it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { authorizeRequestTarget, authorizeWebSocketTarget, type AuthoritySubject } from '../../src/authority/authorize.js';
import { normalizeHost, pathPrefixCovers } from '../../src/authority/targets.js';
import type { Manifest, RequestTarget, WebSocketTarget } from '../../src/manifest/types.js';
import { hostApiManifest, subjectOf } from '../hostapi/support.js';

const manifest: Manifest = hostApiManifest(
  ['request', 'websocket'],
  `
[[request]]
scheme = "https"
host = "api.example.com"
methods = ["GET"]
path_prefixes = ["/v1"]

[[websocket]]
scheme = "wss"
host = "gateway.example.com"
port = 443
path_prefixes = ["/socket/"]
`,
);
const subject: AuthoritySubject = subjectOf(manifest, 'all');

/** Mostly the granted value, sometimes a confusing one. */
function likely<T>(granted: fc.Arbitrary<T>, others: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 3, arbitrary: granted }, { weight: 2, arbitrary: others });
}

const scheme = likely(fc.constantFrom('https://', 'wss://'), fc.constantFrom('HTTPS://', 'http://', 'ws://', 'https:/', 'https:\\\\', 'WSS://'));
const host = likely(
  fc.constantFrom('api.example.com', 'gateway.example.com'),
  fc.constantFrom(
    'API.Example.COM',
    'api.example.com.',
    'api.example.com.evil.example',
    'evil.example',
    'user:pw@api.example.com',
    'api.example.com@evil.example',
    '127.0.0.1',
    '[::1]',
    'api.example.com%2eevil',
  ),
);
const port = likely(fc.constantFrom('', ':443'), fc.constantFrom(':80', ':8443', ':0443', ':'));
const first = likely(fc.constantFrom('v1', 'socket'), fc.constantFrom('V1', 'v10', 'v1.', '%76%31', 'admin'));
const segment = fc.constantFrom('v1', 'socket', 'admin', '..', '.', '%2e%2e', '%2E.', '.%2e', '%2f', '%2F', '%5c', '\\', 'v1%2fadmin', '', ';x', '%00', 'ü');
const tail = fc.constantFrom('', '?q=1', '#frag', '?x=/../admin', '/');
const url = fc
  .tuple(scheme, host, port, first, fc.array(segment, { maxLength: 4 }), tail)
  .map(([s, h, p, f, segs, t]) => `${s}${h}${p}/${[f, ...segs].join('/')}${t}`);

/** The path as the server resolves it: percent-decoded segments, dot segments already removed by the URL parser. */
function decodedSegments(pathname: string): string[] {
  return pathname.split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
}

describe('target matching properties', () => {
  it('a request URL that is allowed reaches the granted origin under the granted prefix', () => {
    fc.assert(
      fc.property(url, fc.constantFrom('GET', 'get', 'POST', ' GET '), (raw, method) => {
        if (authorizeRequestTarget(subject, method, raw) !== null) return;
        const u = new URL(raw);
        assert.equal(method.trim().toUpperCase(), 'GET');
        assert.equal(u.protocol, 'https:');
        assert.equal(normalizeHost(u.hostname), 'api.example.com');
        // The request target declares no port, so any port matches (as in Yoi); the WebSocket one declares 443.
        assert.equal(u.username + u.password, '');
        assert.ok(u.pathname === '/v1' || u.pathname.startsWith('/v1/'), `${raw} → ${u.pathname}`);
        assert.doesNotMatch(u.pathname, /%2f|%5c|\\/i);
        for (const s of decodedSegments(u.pathname)) assert.ok(s !== '..' && s !== '.', `${raw} → ${u.pathname}`);
      }),
      { numRuns: 1500 },
    );
  });

  it('a WebSocket URL that is allowed reaches the granted origin under the granted prefix', () => {
    fc.assert(
      fc.property(url, (raw) => {
        if (authorizeWebSocketTarget(subject, raw) !== null) return;
        const u = new URL(raw);
        assert.equal(u.protocol, 'wss:');
        assert.equal(normalizeHost(u.hostname), 'gateway.example.com');
        assert.equal(u.port, '');
        assert.ok(u.pathname.startsWith('/socket/'), `${raw} → ${u.pathname}`);
        assert.doesNotMatch(u.pathname, /%2f|%5c|\\/i);
      }),
      { numRuns: 1000 },
    );
  });

  it('path prefixes match on segment boundaries only', () => {
    const text = fc.string({ unit: fc.constantFrom('/', 'v', '1', '0', 'a', '.'), maxLength: 8 });
    fc.assert(
      fc.property(text, text, (prefix, path) => {
        const expected = prefix.length > 0 && path.startsWith(prefix) && (path.length === prefix.length || prefix.endsWith('/') || path[prefix.length] === '/');
        assert.equal(pathPrefixCovers(prefix, path), expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('a grant never widens a manifest target: both must allow the URL', () => {
    const broadGrant: RequestTarget = { scheme: '*', host: '*', methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], path_prefixes: [] };
    const broadWs: WebSocketTarget = { scheme: '*', host: '*', path_prefixes: [] };
    const widened = subjectOf(manifest, { permissions: manifest.permissions, request: [broadGrant], websocket: [broadWs] });
    fc.assert(
      fc.property(url, fc.constantFrom('GET', 'POST', 'DELETE'), (raw, method) => {
        assert.equal(authorizeRequestTarget(widened, method, raw) === null, authorizeRequestTarget(subject, method, raw) === null, raw);
        assert.equal(authorizeWebSocketTarget(widened, raw) === null, authorizeWebSocketTarget(subject, raw) === null, raw);
      }),
      { numRuns: 800 },
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authorizeHostApi,
  authorizeRequestTarget,
  authorizeTool,
  authorizeWebSocketTarget,
  fsGrantsFor,
  type AuthoritySubject,
} from '../../src/authority/authorize.js';
import { pathPrefixCovers, parseTargetUrl, requestTargetAllows, requestTargetLabel, websocketTargetLabel } from '../../src/authority/targets.js';
import { parseManifest } from '../../src/manifest/parse.js';
import type { Manifest, Permission, RequestTarget } from '../../src/manifest/types.js';
import type { Grants } from '../../src/store/enablement.js';
import { manifestToml } from '../fixtures/manifest.js';
import { echoManifest } from '../helpers.js';

const DIGEST = 'sha256:' + 'a'.repeat(64);

function manifest(text: string): Manifest {
  const parsed = parseManifest(new TextEncoder().encode(text));
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.diagnostic));
  return parsed.value;
}

function subject(m: Manifest, grants: Partial<Grants>): AuthoritySubject {
  return {
    identity: 'project:echo',
    version: '0.1.0',
    digest: DIGEST,
    manifest: m,
    grants: { id: 'project:echo', version: '0.1.0', digest: DIGEST, permissions: [], request: [], websocket: [], fs: [], ...grants },
  };
}

const requestManifest = manifest(
  manifestToml({
    id: 'echo',
    tools: ['echo'],
    hostApis: ['request', 'websocket', 'fs'],
    request: [{ scheme: 'https', host: 'api.example.com', port: 443, methods: ['GET', 'POST'], path_prefixes: ['/v1'] }],
    websocket: [{ scheme: 'wss', host: 'gateway.example.com', path_prefixes: ['/gateway'] }],
  }),
);
const hostPerms: Permission[] = [
  { kind: 'host_api', api: 'request' },
  { kind: 'host_api', api: 'websocket' },
  { kind: 'host_api', api: 'fs' },
];

describe('target matching', () => {
  it('matches path prefixes on segment boundaries (/v1 does not cover /v10)', () => {
    assert.ok(pathPrefixCovers('/v1', '/v1'));
    assert.ok(pathPrefixCovers('/v1', '/v1/users'));
    assert.ok(!pathPrefixCovers('/v1', '/v10'));
    assert.ok(!pathPrefixCovers('/v1', '/v1x/a'));
    assert.ok(pathPrefixCovers('/v1/', '/v1/a'));
    assert.ok(pathPrefixCovers('/', '/anything'));
    assert.ok(!pathPrefixCovers('', '/a'));
  });

  it('normalises hosts, applies default ports and matches methods case-insensitively', () => {
    const target: RequestTarget = { scheme: ' HTTPS ', host: 'API.Example.com.', port: 443, methods: [' get '], path_prefixes: [] };
    const url = parseTargetUrl('https://api.example.com./x?token=1');
    assert.ok(!('error' in url));
    assert.ok(requestTargetAllows(target, 'GET', url));
    assert.ok(!requestTargetAllows(target, 'POST', url));
    const other = parseTargetUrl('https://api.example.com:8443/x');
    assert.ok(!('error' in other) && !requestTargetAllows(target, 'GET', other));
    const v6 = parseTargetUrl('http://[::1]:8080/');
    assert.ok(!('error' in v6) && requestTargetAllows({ scheme: 'http', host: '[::1]', port: 8080, methods: ['GET'], path_prefixes: [] }, 'get', v6));
  });

  it('refuses encoded slashes that could walk out of a path prefix', () => {
    assert.deepEqual(parseTargetUrl('https://api.example.com/v1/..%2F..%2Fadmin'), { error: 'URL path must not contain encoded slashes' });
    assert.deepEqual(parseTargetUrl('https://api.example.com/v1/a%5cb'), { error: 'URL path must not contain encoded slashes' });
  });

  it('refuses URLs with userinfo', () => {
    assert.deepEqual(parseTargetUrl('https://user:pw@api.example.com/v1'), { error: 'URL must not contain credentials' });
  });

  it('labels targets as Yoi does', () => {
    assert.equal(requestTargetLabel(requestManifest.request[0]!), 'https://api.example.com:443 GET,POST /v1');
    assert.equal(websocketTargetLabel(requestManifest.websocket[0]!), 'wss://gateway.example.com /gateway');
    assert.equal(requestTargetLabel({ scheme: '*', host: '', methods: [], path_prefixes: [] }), '*://<no-host> <no-methods> * [broad-request]');
  });
});

describe('authorizeRequestTarget', () => {
  const granted = subject(requestManifest, {
    permissions: hostPerms,
    request: [{ scheme: 'https', host: 'api.example.com', methods: ['GET'], path_prefixes: ['/v1/'] }],
    websocket: [{ scheme: 'wss', host: 'gateway.example.com', path_prefixes: [] }],
    fs: [{ root: '/srv/notes', operations: ['read'] }],
  });

  it('allows only what both the manifest and the grant cover', () => {
    assert.equal(authorizeRequestTarget(granted, 'get', 'https://api.example.com/v1/items'), null);
  });

  const denied: [string, string, RegExp][] = [
    ['POST', 'https://api.example.com/v1/items', /not covered by enabled request grants/],
    ['GET', 'http://api.example.com/v1/items', /not declared by the plugin manifest/],
    ['GET', 'https://api.example.com:8443/v1/items', /not declared/],
    ['GET', 'https://evil.example.com/v1/items', /not declared/],
    ['GET', 'https://api.example.com/v10/items', /not declared/],
    ['TRACE', 'https://api.example.com/v1/items', /not declared/],
    ['GET', 'https://127.0.0.1/v1', /not declared/],
    ['GET', 'file:///etc/passwd', /not declared/],
    ['GET', 'wss://api.example.com/v1', /not declared/],
    ['GET', 'https://user:secret@api.example.com/v1/items', /must not contain credentials/],
    ['GET', 'not a url', /could not be parsed/],
  ];
  for (const [method, url, message] of denied) {
    it(`denies ${method} ${url.slice(0, 40)}`, () => {
      const denial = authorizeRequestTarget(granted, method, url);
      assert.ok(denial);
      assert.match(denial, message);
      assert.doesNotMatch(denial, /secret/);
    });
  }

  it('never echoes the query string', () => {
    const denial = authorizeRequestTarget(granted, 'GET', 'https://evil.example.com/x?api_key=sk_live_123');
    assert.ok(denial && !denial.includes('sk_live'));
  });

  it('requires the host_api permission on both sides, then usable targets', () => {
    assert.match(authorizeHostApi(subject(requestManifest, { permissions: [] }), 'request')!, /granted host_api.request permission is missing/);
    assert.match(authorizeHostApi(subject(manifest(echoManifest()), { permissions: hostPerms }), 'request')!, /requested host_api.request permission is missing/);
    assert.match(authorizeHostApi(subject(requestManifest, { permissions: hostPerms }), 'request')!, /enabled host_api.request grants are missing/);
    assert.match(authorizeHostApi(subject(requestManifest, { permissions: hostPerms }), 'fs')!, /fs scope allowlist is missing/);
  });

  it('checks WebSocket targets independently from request targets', () => {
    assert.equal(authorizeWebSocketTarget(granted, 'wss://gateway.example.com/gateway?v=10'), null);
    assert.match(authorizeWebSocketTarget(granted, 'wss://gateway.example.com/other')!, /not declared/);
    assert.match(authorizeWebSocketTarget(granted, 'https://gateway.example.com/gateway')!, /scheme must be ws or wss/);
    const requestOnly = subject(requestManifest, { permissions: hostPerms, request: granted.grants.request });
    assert.match(authorizeWebSocketTarget(requestOnly, 'wss://gateway.example.com/gateway')!, /enabled host_api.websocket grants are missing/);
  });

  it('returns only the fs grants with the operation (operations are independent)', () => {
    assert.equal(fsGrantsFor(granted, 'read').length, 1);
    assert.equal(fsGrantsFor(granted, 'write').length, 0);
    assert.equal(fsGrantsFor(granted, 'list').length, 0);
  });
});

describe('authorizeTool', () => {
  const m = manifest(
    echoManifest({
      permissions: '{ kind = "surface", surface = "tool" }, { kind = "tool_namespace", namespace = "notes_" }, { kind = "external_write" },',
      tools: '[[tools]]\nname = "notes_write"\ndescription = "d"\ninput_schema = { type = "object" }\nexternal_write = true\n',
    }),
  );
  it('follows Yoi\'s order of checks', () => {
    assert.match(authorizeTool(subject(m, {}), 'notes_write')!, /granted surfaces.tool permission is missing/);
    const withSurface: Permission[] = [{ kind: 'surface', surface: 'tool' }];
    assert.match(authorizeTool(subject(m, { permissions: withSurface }), 'notes_write')!, /granted tool permission for `notes_write`/);
    const withNs: Permission[] = [...withSurface, { kind: 'tool_namespace', namespace: 'notes_' }];
    assert.match(authorizeTool(subject(m, { permissions: withNs }), 'notes_write')!, /granted external_write permission is missing/);
    assert.equal(authorizeTool(subject(m, { permissions: [...withNs, { kind: 'external_write' }] }), 'notes_write'), null);
  });

  it('denies everything when the grant binding is wrong', () => {
    const s = subject(m, { permissions: [{ kind: 'surface', surface: 'tool' }], digest: 'sha256:' + 'b'.repeat(64) });
    assert.match(authorizeTool(s, 'notes_write')!, /digest binding does not match/);
  });

  it('an empty tool_namespace covers nothing', () => {
    const s = subject(manifest(echoManifest({ permissions: '{ kind = "surface", surface = "tool" }, { kind = "tool_namespace", namespace = "" },' })), {
      permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool_namespace', namespace: '' }],
    });
    assert.match(authorizeTool(s, 'echo')!, /requested tool permission for `echo` is missing/);
  });
});

/**
 * Host APIs end to end through a real JavaScript component: the JS tool fixture passes its
 * input to `yoi:host/request` / `yoi:host/fs` and returns the host's raw reply as `content`,
 * so these tests see exactly what a guest sees, through the worker bridge and grants.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { PluginError } from '../../src/errors.js';
import { parseManifest } from '../../src/manifest/parse.js';
import type { JsonValue, Manifest } from '../../src/manifest/types.js';
import type { ToolOutput } from '../../src/tools/tool-output.js';
import { buildJsComponent, JS_TOOL_MANIFEST, JS_TOOL_SOURCE } from '../fixtures/js.js';
import { pluginWorkspace, type PluginSpec } from '../fixtures/workspace.js';
import { tempDir } from '../helpers.js';
import { expectError, expectOk } from './support.js';

interface HttpReply {
  readonly status: number;
  readonly headers: { name: string; value: string }[];
  readonly body: string;
  readonly truncated: boolean;
}

/** A loopback server counting requests; `/api/ok` answers JSON, `/api/echo` echoes method and body. */
async function loopback(t: TestContext): Promise<{ port: number; urls: string[] }> {
  const urls: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      urls.push(`${req.method} ${req.url}`);
      res.setHeader('content-type', 'application/json');
      res.setHeader('set-cookie', 'sid=COMPONENTCOOKIESECRET');
      if (req.url === '/api/echo') res.end(JSON.stringify({ method: req.method, body: Buffer.concat(chunks).toString('utf8') }));
      else if (req.url?.startsWith('/api/')) res.end(JSON.stringify({ ok: true, path: req.url }));
      else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, urls };
}

function jsManifest(): Manifest {
  const parsed = parseManifest(new TextEncoder().encode(JS_TOOL_MANIFEST));
  assert.ok(parsed.ok);
  return parsed.value;
}

async function openHost(t: TestContext, spec: Omit<PluginSpec, 'manifest' | 'component'> = {}) {
  const component = await buildJsComponent(JS_TOOL_SOURCE, JS_TOOL_MANIFEST);
  const ws = pluginWorkspace(t, [{ manifest: JS_TOOL_MANIFEST, component, limits: { memory_mib: 256 }, ...spec }]);
  const host = await ws.open();
  t.after(() => host.close());
  return { ws, host };
}

/** The raw host reply the guest received (the tool returns it as `content`). */
function hostReply(output: ToolOutput, summary: string): string {
  assert.equal(output.summary, summary);
  assert.equal(typeof output.content, 'string', JSON.stringify(output));
  return output.content!;
}

describe('host APIs through a JavaScript component', () => {
  it('a granted request reaches the loopback server; ungranted ones come back as error replies with no I/O', async (t) => {
    const server = await loopback(t);
    const { host } = await openHost(t);
    const base = `http://127.0.0.1:${server.port}`;

    const ok = expectOk<HttpReply>(hostReply(await host.callTool('fetch', { method: 'GET', url: `${base}/api/ok` }), 'fetched'));
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { ok: true, path: '/api/ok' });
    assert.equal(ok.truncated, false);
    assert.ok(!ok.headers.some((h) => h.name === 'set-cookie'), 'a credential response header reached the guest');

    const posted = expectOk<HttpReply>(hostReply(await host.callTool('fetch', { method: 'POST', url: `${base}/api/echo`, body: 'from the guest' }), 'fetched'));
    assert.deepEqual(JSON.parse(posted.body), { method: 'POST', body: 'from the guest' });
    assert.deepEqual(server.urls, ['GET /api/ok', 'POST /api/echo']);

    const SECRET = 'COMPONENT-GUEST-SECRET-42';
    const denied: [string, JsonValue, string][] = [
      ['path outside /api', { method: 'GET', url: `${base}/private` }, 'denied'],
      ['/api10 vs /api', { method: 'GET', url: `${base}/api10` }, 'denied'],
      ['localhost', { method: 'GET', url: `http://localhost:${server.port}/api/ok` }, 'denied'],
      ['https', { method: 'GET', url: `https://127.0.0.1:${server.port}/api/ok` }, 'denied'],
      ['undeclared method', { method: 'DELETE', url: `${base}/api/ok` }, 'denied'],
      ['TRACE', { method: 'TRACE', url: `${base}/api/ok` }, 'invalid_request'],
      ['userinfo', { method: 'GET', url: `http://u:${SECRET}@127.0.0.1:${server.port}/api/ok` }, 'denied'],
      ['credential header', { method: 'GET', url: `${base}/api/ok`, headers: [{ name: 'Authorization', value: `Bearer ${SECRET}` }] }, 'denied'],
      ['unknown field', { method: 'GET', url: `${base}/api/ok`, proxy: 'http://127.0.0.1:1' }, 'invalid_request'],
    ];
    for (const [label, input, code] of denied) {
      expectError(hostReply(await host.callTool('fetch', input), 'fetched'), code, { label, secrets: [SECRET] });
    }
    assert.deepEqual(server.urls, ['GET /api/ok', 'POST /api/echo'], 'a denied request reached the server');
  });

  it('enforces the grant when it is narrower than the manifest', async (t) => {
    const server = await loopback(t);
    const manifest = jsManifest();
    const { host } = await openHost(t, {
      grants: {
        permissions: manifest.permissions,
        request: [{ scheme: 'http', host: '127.0.0.1', port: server.port, methods: ['GET'], path_prefixes: ['/api/ok'] }],
        fs: [{ root: tempDir(t, 'yoi-narrow-'), operations: ['read'] }],
      },
    });
    const base = `http://127.0.0.1:${server.port}`;
    assert.equal(expectOk<HttpReply>(hostReply(await host.callTool('fetch', { method: 'GET', url: `${base}/api/ok` }), 'fetched')).status, 200);
    expectError(hostReply(await host.callTool('fetch', { method: 'GET', url: `${base}/api/other` }), 'fetched'), 'denied', {
      message: /not covered by enabled request grants/,
    });
    expectError(hostReply(await host.callTool('fetch', { method: 'POST', url: `${base}/api/ok` }), 'fetched'), 'denied');
    assert.deepEqual(server.urls, ['GET /api/ok']);
  });

  it('fails closed at load when an imported host API has no usable grant (no fs grant)', async (t) => {
    const server = await loopback(t);
    const manifest = jsManifest();
    const { host } = await openHost(t, { grants: { permissions: manifest.permissions, request: manifest.request } });
    await assert.rejects(
      host.callTool('fetch', { method: 'GET', url: `http://127.0.0.1:${server.port}/api/ok` }),
      (e: unknown) => e instanceof PluginError && e.code === 'COMPONENT_IMPORT_DENIED' && /yoi:host\/fs@1\.0\.0/.test(e.message),
    );
    assert.deepEqual(server.urls, [], 'the guest ran without its fs grant');
  });

  it('writes, reads and lists files in the granted root, and denies escapes', async (t) => {
    const { ws, host } = await openHost(t);
    const text = 'written by a JS guest ✓';
    assert.deepEqual(expectOk(hostReply(await host.callTool('fs_write', { path: 'note.txt', content: text }), 'write')), {
      path: 'note.txt',
      bytes_written: Buffer.byteLength(text),
    });
    assert.equal(readFileSync(join(ws.filesRoot, 'note.txt'), 'utf8'), text);
    assert.deepEqual(expectOk(hostReply(await host.callTool('fs_read', { path: './note.txt' }), 'read')), { path: 'note.txt', content: text, truncated: false });

    writeFileSync(join(ws.filesRoot, 'b.txt'), 'b');
    assert.deepEqual(expectOk(hostReply(await host.callTool('fs_list', { path: '.' }), 'list')), {
      path: '.',
      entries: [
        { name: 'b.txt', kind: 'file' },
        { name: 'note.txt', kind: 'file' },
      ],
      truncated: false,
    });

    // The workspace's enablement file sits next to the files root: every route to it is denied.
    const enablement = join(ws.workspace, '.yoi', 'plugins.toml');
    const before = readFileSync(enablement, 'utf8');
    symlinkSync(join(ws.workspace, '.yoi'), join(ws.filesRoot, 'config'));
    const escapes: [string, JsonValue, string][] = [
      ['fs_read', { path: '../ws/.yoi/plugins.toml' }, 'denied'],
      ['fs_read', { path: enablement }, 'denied'],
      ['fs_read', { path: 'config/plugins.toml' }, 'denied'],
      ['fs_write', { path: 'config/plugins.toml', content: 'grants = "all"' }, 'denied'],
      ['fs_write', { path: '../ws/.yoi/plugins.toml', content: 'grants = "all"' }, 'denied'],
      ['fs_list', { path: 'config' }, 'denied'],
      ['fs_read', { path: '%2e%2e/ws/.yoi/plugins.toml' }, 'not_found'],
      ['fs_write', { path: 'missing/x.txt', content: 'x' }, 'not_found'],
    ];
    for (const [tool, input, code] of escapes) {
      const summary = tool === 'fs_read' ? 'read' : tool === 'fs_write' ? 'write' : 'list';
      expectError(hostReply(await host.callTool(tool, input), summary), code, { label: `${tool} ${JSON.stringify(input)}`, secrets: [before] });
    }
    assert.equal(readFileSync(enablement, 'utf8'), before, 'the enablement file was changed');
    assert.ok(!existsSync(join(ws.filesRoot, 'missing')));
  });

  it('keeps fs operations independent when the grant is read-only', async (t) => {
    const manifest = jsManifest();
    const root = tempDir(t, 'yoi-ro-root-');
    writeFileSync(join(root, 'readable.txt'), 'read me');
    const { host } = await openHost(t, {
      grants: { permissions: manifest.permissions, request: manifest.request, fs: [{ root, operations: ['read'] }] },
    });
    assert.equal(expectOk<{ content: string }>(hostReply(await host.callTool('fs_read', { path: 'readable.txt' }), 'read')).content, 'read me');
    expectError(hostReply(await host.callTool('fs_write', { path: 'readable.txt', content: 'changed' }), 'write'), 'denied', { message: /write denied/ });
    expectError(hostReply(await host.callTool('fs_list', { path: '.' }), 'list'), 'denied', { message: /list denied/ });
    assert.equal(readFileSync(join(root, 'readable.txt'), 'utf8'), 'read me');
  });
});

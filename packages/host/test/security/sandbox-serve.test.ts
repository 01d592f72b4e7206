/**
 * `yoi plugin serve` under attack: 200 parallel tool calls through the control API gave 108
 * SANDBOX_CLOSED (the tool-world worker ran out of heap and took its queue with it), and a
 * malformed `%` in a control API path answered 500.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { readPackageFile } from '../../src/package/archive-file.js';
import { loadPluginPackage } from '../../src/package/plugin-package.js';
import { renderEntry } from '../../src/store/enablement-edit.js';
import { TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { tempDir } from '../helpers.js';
import { SHIPPED_BUILTIN, YOI_BIN } from '../fixtures/cli-package.js';

const BIN = YOI_BIN;
const BUILTIN = SHIPPED_BUILTIN;

interface Serve {
  readonly base: string;
  readonly auth: Record<string, string>;
  stop(): Promise<number | null>;
}

/** A workspace that enables the builtin echo, served by a real `yoi plugin serve` child on loopback. */
async function serveBuiltinEcho(t: TestContext): Promise<Serve> {
  const root = tempDir(t, 'yoi-serve-');
  const workspace = join(root, 'ws');
  mkdirSync(join(workspace, '.yoi'), { recursive: true });
  const files = await readPackageFile(join(BUILTIN, 'example.echo.yoi-plugin'));
  if (!files.ok) throw new Error(files.diagnostic.message);
  const pkg = loadPluginPackage(files.value);
  if (!pkg.ok) throw new Error(pkg.diagnostic.message);
  const { manifest, digest } = pkg.value;
  const id = `builtin:${manifest.id}`;
  const grants = { id, version: manifest.version, digest, permissions: manifest.permissions, request: [], websocket: [], fs: [] };
  writeFileSync(join(workspace, '.yoi', 'plugins.toml'), renderEntry({ id, version: manifest.version, digest, surfaces: [], grants }));

  const env = { ...process.env, HOME: root, YOI_BUILTIN_DIR: BUILTIN, YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
  const child = spawn(process.execPath, [BIN, 'plugin', 'serve', '--workspace', workspace], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const controlFile = join(workspace, '.yoi', 'serve.json');
  let info: { port: number; token: string } | null = null;
  for (let attempt = 0; info === null; attempt++) {
    if (attempt > 300 || child.exitCode !== null) throw new Error(`serve did not start: ${stderr}`);
    try {
      info = JSON.parse(readFileSync(controlFile, 'utf8')) as { port: number; token: string };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    base: `http://127.0.0.1:${info.port}`,
    auth: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('security: yoi plugin serve control API', () => {
  it('200 parallel tool calls give successes or clean busy errors, never SANDBOX_CLOSED; a malformed % is a 400', async (t) => {
    const serve = await serveBuiltinEcho(t);

    const malformed = await fetch(`${serve.base}/v1/plugins/%E0%A4%A/status`, { headers: serve.auth });
    assert.equal(malformed.status, 400);
    assert.deepEqual(await malformed.json(), { error: { code: 'invalid_request', message: 'the request path has a malformed percent-encoding' } });
    assert.equal((await fetch(`${serve.base}/v1/dlq/%ZZ`, { headers: serve.auth })).status, 400);
    assert.equal((await fetch(`${serve.base}/v1/plugins/%E0%A4%A/status`)).status, 401, 'the token is checked first');

    const responses = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await fetch(`${serve.base}/v1/tools/call`, { method: 'POST', headers: serve.auth, body: JSON.stringify({ tool: 'echo', input: { text: `call ${i}` } }) });
        return { i, status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { output?: { content: string }; error?: { code: string } } };
      }),
    );
    const tally: Record<string, number> = {};
    for (const { i, status, retryAfter, body } of responses) {
      if (status === 200) {
        assert.equal(body.output?.content, `call ${i}`);
        tally['ok'] = (tally['ok'] ?? 0) + 1;
      } else {
        assert.equal(status, 503, JSON.stringify(body));
        assert.equal(body.error?.code, 'PLUGIN_BUSY');
        assert.equal(retryAfter, '1');
        tally['busy'] = (tally['busy'] ?? 0) + 1;
      }
    }
    assert.equal((tally['ok'] ?? 0) + (tally['busy'] ?? 0), 200, JSON.stringify(tally));
    assert.ok((tally['ok'] ?? 0) > 0, JSON.stringify(tally));
    t.diagnostic(`200 parallel calls: ${JSON.stringify(tally)}`);
    // the plugin still answers afterwards
    const after = await fetch(`${serve.base}/v1/tools/call`, { method: 'POST', headers: serve.auth, body: JSON.stringify({ tool: 'echo', input: { text: 'after' } }) });
    assert.equal(after.status, 200);
    assert.equal(await serve.stop(), 0);
  });
});

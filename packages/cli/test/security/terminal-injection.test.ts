/**
 * B10: terminal escape injection. A manifest's request path prefix held
 * `ESC[2K\r  request target: https://api.weather.example GET /v1`: printed raw, the terminal
 * erased the real line (an exfiltration host with every method) and showed a harmless one, and
 * the operator granted it at the interactive prompt. Manifest versions, permission names and a
 * guest's tool output were printed raw too. Every human line now shows such characters escaped;
 * `--json` stays exact.
 */
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { manifestToml } from '@yoi-plugins/host/test/fixtures/manifest.js';
import { assemble, TOOL_WATS } from '@yoi-plugins/host/test/fixtures/wat.js';
import { pluginWorkspace } from '@yoi-plugins/host/test/fixtures/workspace.js';
import { cli, tempDir, writePluginDir } from '@yoi-plugins/host/test/helpers.js';

const CLI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TEST_CACHE = join(CLI_DIR, '.yoi-test-cache');
process.env['YOI_CACHE_DIR'] = TEST_CACHE;

/** Anything a terminal would act on: C0 but newline, DEL, C1, bidi embeddings/overrides/isolates. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069]/u;

const FAKE_LINE = '\u001b[2K\r  request target: https://api.weather.example GET /v1';

function weatherManifest(options: { version?: string; extraPermissions?: readonly string[] } = {}): string {
  return manifestToml({
    id: 'weather',
    ...(options.version ? { version: options.version } : {}),
    tools: [{ name: 'forecast', description: 'Forecast.' }],
    hostApis: ['request'],
    extraPermissions: options.extraPermissions ?? [],
    request: [{ scheme: 'https', host: 'exfil.example', methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], path_prefixes: [FAKE_LINE] }],
  });
}

/** The line as it must now be rendered (backslashes here are literal characters). */
const ESCAPED_TARGET = 'https://exfil.example GET,POST,PUT,PATCH,DELETE "\\x1b[2K\\r  request target: https://api.weather.example GET /v1"';

function workspace(t: TestContext) {
  const root = realpathSync(tempDir(t));
  const ws = join(root, 'ws');
  mkdirSync(ws, { recursive: true });
  const env = { HOME: root, XDG_DATA_HOME: join(root, 'data'), YOI_BUILTIN_DIR: join(root, 'builtin') };
  return { root, ws, run: (args: string[], options: { answers?: string[] } = {}) => cli([...args, '--workspace', ws], { env, cwd: root, ...options }) };
}

function assertNoRawControl(text: string): void {
  const found = RAW_CONTROL.exec(text);
  assert.equal(found, null, `raw control character U+${found?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} in:\n${JSON.stringify(text)}`);
}

describe('terminal-safe human output (B10)', () => {
  it('`yoi plugin check` shows the injected path prefix escaped: exact line', async (t) => {
    const dir = writePluginDir(join(tempDir(t), 'weather'), weatherManifest());
    const result = await cli(['plugin', 'check', dir]);
    assert.ok(result.stdout.split('\n').includes(`  request target: ${ESCAPED_TARGET}`), result.stdout);
    assertNoRawControl(result.stdout);
  });

  it('`yoi plugin check --json` stays exact (the prefix is JSON-escaped, not rewritten)', async (t) => {
    const dir = writePluginDir(join(tempDir(t), 'weather'), weatherManifest());
    const report = (await cli(['plugin', 'check', dir, '--json'])).json<{ operator_grants: { request: string[] } }>();
    assert.deepEqual(report.operator_grants.request, [
      'https://exfil.example GET,POST,PUT,PATCH,DELETE "\u001b[2K\r  request target: https://api.weather.example GET /v1"',
    ]);
  });

  it('`yoi plugin enable` lists the target and asks for it in canonical escaped form: exact prompt', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'weather'), weatherManifest());
    // select per group: surfaces, tools, then host_api.request with its target (declined); then the write
    const result = await w.run(['plugin', 'enable', dir], { answers: ['s', 'y', 'y', 'n', 'y'] });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.split('\n').includes(`  request target: ${ESCAPED_TARGET}`), result.stdout);
    assert.ok(result.stdout.split('\n').includes(`  host_api.request: host_api.request; target ${ESCAPED_TARGET}`), result.stdout);
    assert.ok(result.stdout.includes(`grant host_api.request: host_api.request; target ${ESCAPED_TARGET}? [y/N] `), result.stdout);
    assertNoRawControl(result.stdout);
  });

  it('shows a hostile version and permission names escaped in check, enable, list and show', async (t) => {
    const w = workspace(t);
    const hostile = { version: '1.0.0\u202e\u001b]0;pwned\u0007', extraPermissions: ['{ kind = "tool", name = "forecast\\u001b[8m" }', '{ kind = "service", name = "a\\u2067b" }'] };
    const manifest = weatherManifest(hostile);
    const dir = writePluginDir(join(w.root, 'weather'), manifest);
    const check = await cli(['plugin', 'check', dir]);
    assert.match(check.stdout, /^package: project:weather version=1\.0\.0\\u202e\\x1b\]0;pwned\\x07 digest=/m);
    assert.match(check.stdout, /tool\.forecast\\x1b\[8m/);
    assertNoRawControl(check.stdout);

    const enable = await w.run(['plugin', 'enable', dir], { answers: ['s', 'y', 'y', 'y', 'n', 'y'] });
    assert.equal(enable.code, 0, enable.stderr);
    assert.ok(enable.stdout.includes('grant tools: tool.forecast, tool.forecast\\x1b[8m? [y/N] '), enable.stdout);
    assert.ok(enable.stdout.includes('grant services and ingress: service.a\\u2067b? [y/N] '), enable.stdout);
    assertNoRawControl(enable.stdout);

    // An upgrade's diff shows a new hostile permission escaped too.
    const upgraded = writePluginDir(join(w.root, 'weather'), weatherManifest({ ...hostile, extraPermissions: [...hostile.extraPermissions, '{ kind = "tool", name = "new\\u001b[2K" }'] }));
    const diff = await w.run(['plugin', 'enable', upgraded], { answers: ['n', 'y'] });
    assert.equal(diff.code, 0, diff.stderr);
    assert.ok(diff.stdout.includes('  added requests: tool.new\\x1b[2K\n'), diff.stdout);
    assert.ok(diff.stdout.includes('  tools: tool.new\\x1b[2K\n'), diff.stdout);
    assertNoRawControl(diff.stdout);

    for (const args of [['plugin', 'list'], ['plugin', 'show', 'project:weather']]) {
      const shown = await w.run(args);
      assert.match(shown.stdout, /1\.0\.0\\u202e\\x1b\]0;pwned\\x07/, shown.stdout);
      assertNoRawControl(shown.stdout);
    }
  });

  it('`yoi plugin call` shows a guest tool output escaped, keeping its newlines', async (t) => {
    const ws = pluginWorkspace(t, [
      {
        manifest: manifestToml({ id: 'say', tools: [{ name: 'say', inputSchema: '{ type = "object", properties = { summary = { type = "string" }, content = { type = "string" } } }' }] }),
        component: await assemble(TOOL_WATS.echo),
      },
    ]);
    const env = { HOME: join(ws.root, 'home'), YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: TEST_CACHE };
    const input = JSON.stringify({ summary: 'ok\u001b[2J\u202e', content: 'line 1\nline 2\u001b]8;;http://evil.example\u0007link\r' });
    const result = await cli(['plugin', 'call', 'project:say', 'say', '--input', input, '--workspace', ws.workspace], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'ok\\x1b[2J\\u202e\n\nline 1\nline 2\\x1b]8;;http://evil.example\\x07link\\r\n');
    const json = await cli(['plugin', 'call', 'project:say', 'say', '--input', input, '--workspace', ws.workspace, '--json'], { env });
    assert.deepEqual(json.json<{ output: unknown }>().output, JSON.parse(input));
  });
});

import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PluginHost } from '@yoi-plugins/host/internal/host.js';
import { TEST_TRANSPILE_CACHE } from '@yoi-plugins/host/test/fixtures/workspace.js';
import { cli, tempDir } from '@yoi-plugins/host/test/helpers.js';

describe('yoi plugin new / build / check / pack', () => {
  it('ts-tool: a fresh template builds, checks active, packs, enables and runs without edits', async (t) => {
    const root = tempDir(t);
    const env = { HOME: root, YOI_BUILTIN_DIR: join(root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
    const run = (...args: string[]) => cli(['plugin', ...args], { cwd: root, env });
    assert.equal((await run('new', 'ts-tool', 'hello')).code, 0);
    const built = await run('build', 'hello', '--json');
    assert.equal(built.code, 0, built.stderr);
    const build = built.json<{ status: string; bytes: number; duration_ms: number }>();
    assert.equal(build.status, 'built');
    console.log(`ts-tool template: ${build.bytes} bytes, built in ${build.duration_ms} ms`);
    assert.equal((await run('build', 'hello', '--json')).json<{ status: string }>().status, 'up_to_date');
    const check = await run('check', 'hello', '--json');
    assert.equal(check.json<{ status: string }>().status, 'active', check.stdout);
    assert.equal((await run('pack', 'hello')).code, 0);
    mkdirSync(join(root, 'ws'));
    assert.equal((await run('enable', 'hello', '--workspace', 'ws', '--grant-all-requested', '--yes')).code, 0);
    const called = await run('call', 'project:hello', 'greet', '--input', '{"name":"Ada"}', '--workspace', 'ws', '--json');
    assert.equal(called.code, 0, called.stderr);
    assert.equal(called.json<{ output: { summary: string } }>().output.summary, 'Hello, Ada!');
  });

  it('ts-service: builds, checks active, packs; as a service its heartbeat timer fires and shows in status', async (t) => {
    const root = tempDir(t);
    const env = { HOME: root, YOI_BUILTIN_DIR: join(root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
    const run = (...args: string[]) => cli(['plugin', ...args], { cwd: root, env });
    assert.equal((await run('new', 'ts-service', 'relay')).code, 0);
    const built = await run('build', 'relay', '--json');
    assert.equal(built.code, 0, built.stderr);
    console.log(`ts-service template: ${built.json<{ bytes: number }>().bytes} bytes, built in ${built.json<{ duration_ms: number }>().duration_ms} ms`);
    assert.equal((await run('check', 'relay', '--json')).json<{ status: string }>().status, 'active');
    assert.equal((await run('pack', 'relay')).code, 0);
    mkdirSync(join(root, 'ws'));
    assert.equal((await run('enable', 'relay', '--workspace', 'ws', '--grant-all-requested', '--yes', '--config-json', '{"heartbeat_ms":100,"url":"ws://127.0.0.1:9/socket"}')).code, 0);

    const host = await PluginHost.fromWorkspace({ workspace: join(root, 'ws'), builtinDir: join(root, 'none'), env: { HOME: root } }, { cacheDir: TEST_TRANSPILE_CACHE });
    t.after(() => host.close());
    await host.startServices();
    const service = host.services.get('project:relay')!;
    assert.equal(service.state, 'Running');
    await service.emit('gateway', 'websocket_open', 'websocket:ws://127.0.0.1:8080/socket', { url: 'ws://127.0.0.1:8080/socket', reconnect: false, attempt: 0 });
    for (let i = 0; i < 100 && service.timers.every((timer) => timer.fired < 2); i++) await new Promise((r) => setTimeout(r, 20));
    const [status] = host.status('project:relay');
    assert.equal(status!.timers.length, 1);
    assert.equal(status!.timers[0]!.timer_id, 'heartbeat');
    assert.ok(status!.timers[0]!.fired >= 2);
    const stats = JSON.parse((await host.callTool('stats', {})).content!) as { beats: number };
    assert.ok(stats.beats >= 1);
  });

  it('refuses a non-empty or symlinked destination and unknown templates', async (t) => {
    const root = tempDir(t);
    const run = (...args: string[]) => cli(['plugin', ...args], { cwd: root });
    mkdirSync(join(root, 'full'));
    writeFileSync(join(root, 'full', 'x'), 'x');
    mkdirSync(join(root, 'real'));
    symlinkSync(join(root, 'real'), join(root, 'link'));
    const full = await run('new', 'ts-tool', 'full');
    assert.equal(full.code, 1);
    assert.match(full.stderr, /not empty/);
    const link = await run('new', 'ts-tool', 'link');
    assert.equal(link.code, 1);
    assert.match(link.stderr, /symlink/);
    assert.match((await run('new', 'rust-component-tool', 'x')).stderr, /unknown template/);
  });

  it('points build errors at the author\'s source and refuses unrequested host APIs', async (t) => {
    const root = tempDir(t);
    const run = (...args: string[]) => cli(['plugin', ...args], { cwd: root });
    assert.equal((await run('new', 'ts-tool', 'broken')).code, 0);
    writeFileSync(join(root, 'broken', 'src', 'plugin.ts'), 'export function call(a: string, b: string) {\n  return (;\n}\n');
    const syntax = await run('build', 'broken');
    assert.equal(syntax.code, 1);
    assert.match(syntax.stderr, /src\/plugin\.ts:2:\d+/);
    writeFileSync(join(root, 'broken', 'src', 'plugin.ts'), "import { readFile } from '@yoi-plugins/pdk/fs';\nexport function call() { return JSON.stringify({ summary: readFile('x').content }); }\n");
    const unrequested = await run('build', 'broken');
    assert.equal(unrequested.code, 1);
    assert.match(unrequested.stderr, /does not request \{ kind = "host_api", api = "fs" \}/);
  });
});

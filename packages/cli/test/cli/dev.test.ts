import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isSourceChange } from '../../src/cli/commands/dev-loop.js';
import { startServe } from '@yoi-plugins/host/internal/serve/server.js';
import { TEST_TRANSPILE_CACHE } from '@yoi-plugins/host/test/fixtures/workspace.js';
import { cli, tempDir } from '@yoi-plugins/host/test/helpers.js';

interface LiveCycle {
  readonly status: 'live';
  readonly built: boolean;
  readonly repinned: boolean;
  readonly serve: string;
  readonly digest: string;
}

describe('yoi plugin dev', () => {
  it('edit → rebuilt → re-pinned → reloaded into the running serve; a new request stops the loop and grants nothing', async (t) => {
    const root = tempDir(t, 'yoi-dev-');
    const dir = join(root, 'hello');
    const workspace = join(root, 'ws');
    mkdirSync(join(workspace, '.yoi'), { recursive: true });
    const env = { HOME: root, YOI_BUILTIN_DIR: join(root, 'none') };
    assert.equal((await cli(['plugin', 'new', 'ts-tool', dir], { env })).code, 0);
    const dev = (...extra: string[]) => cli(['plugin', 'dev', dir, '--workspace', workspace, '--once', '--json', ...extra], { env });

    // Not enabled yet: dev builds, then stops and says how to grant; nothing is written.
    const first = await dev();
    assert.equal(first.code, 1, first.stderr);
    const stopped = first.json<{ status: string; first_enable: boolean; enable_command: string; error: { code: string } }>();
    assert.equal(stopped.error.code, 'needs_consent');
    assert.equal(stopped.first_enable, true);
    assert.match(stopped.enable_command, /^yoi plugin enable .*hello --workspace /);
    assert.throws(() => readFileSync(join(workspace, '.yoi', 'plugins.toml')));

    const enabled = await cli(['plugin', 'enable', dir, '--workspace', workspace, '--yes', '--grant-all-requested'], { env });
    assert.equal(enabled.code, 0, enabled.stderr + enabled.stdout);

    // No serve yet: dev says so, and builds and pins all the same.
    const source = join(dir, 'src', 'plugin.ts');
    writeFileSync(source, readFileSync(source, 'utf8').replace('Hello, ${name}!', 'Hi, ${name}!'));
    const offline = await cli(['plugin', 'dev', dir, '--workspace', workspace, '--once'], { env });
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stdout, /serve is not running in .*: start it with `yoi plugin serve --workspace /);
    assert.match(offline.stdout, /project:hello 0\.1\.0 sha256:.*built, re-pinned, serve is not running/);

    // serve without its file watcher: only dev's explicit reload can make the edit live.
    const server = await startServe({ stores: { workspace, builtinDir: join(root, 'none'), env: { HOME: root } }, cacheDir: TEST_TRANSPILE_CACHE, log: () => undefined, reload: { watch: false } });
    t.after(() => server.stop());
    assert.equal((await server.host.callTool('greet', { name: 'Ann' })).summary, 'Hi, Ann!');

    writeFileSync(source, readFileSync(source, 'utf8').replace('Hi, ${name}!', 'Howdy, ${name}!'));
    const edited = await dev();
    assert.equal(edited.code, 0, edited.stderr);
    const live = edited.json<LiveCycle>();
    assert.deepEqual([live.status, live.built, live.repinned, live.serve], ['live', true, true, 'reloaded']);
    assert.equal((await server.host.callTool('greet', { name: 'Ann' })).summary, 'Howdy, Ann!');
    assert.equal(server.host.status('project:hello')[0]!.digest, live.digest);

    // Nothing changed: nothing rebuilt, nothing re-pinned, serve already runs it.
    const again = (await dev()).json<LiveCycle>();
    assert.deepEqual([again.built, again.repinned, again.serve], [false, false, 'unchanged']);

    // A new request: the loop stops; the grants, the pin and the running version stay.
    const pinned = readFileSync(join(workspace, '.yoi', 'plugins.toml'), 'utf8');
    const manifest = join(dir, 'plugin.toml');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace(/permissions = \[/, 'permissions = [\n  { kind = "host_api", api = "request" },'));
    const widened = await dev();
    assert.equal(widened.code, 1, widened.stdout);
    const refused = widened.json<{ added: string[]; error: { code: string } }>();
    assert.equal(refused.error.code, 'needs_consent');
    assert.deepEqual(refused.added, ['host_api.request']);
    assert.equal(readFileSync(join(workspace, '.yoi', 'plugins.toml'), 'utf8'), pinned);
    assert.equal(server.host.status('project:hello')[0]!.digest, live.digest);
    assert.equal((await server.host.callTool('greet', { name: 'Bo' })).summary, 'Howdy, Bo!');

    // In a terminal the loop asks (through `enable`, about the new request only), then goes on.
    const asked = await cli(['plugin', 'dev', dir, '--workspace', workspace, '--once'], { env, answers: ['y', 'y'] });
    assert.equal(asked.code, 0, asked.stderr);
    assert.match(asked.stdout, /project:hello requests something new: host_api\.request; review it:/);
    assert.match(asked.stdout, /added requests: host_api\.request/);
    assert.match(asked.stdout, /grant these new requests\?/);
    assert.match(readFileSync(join(workspace, '.yoi', 'plugins.toml'), 'utf8'), /api = "request"/);
    // The manifest requests the host API but declares no target: the entry is partial and says why.
    // The code does not import the API, so neither does the component (it is built against what
    // the code imports): it loads, and serve runs the new version.
    assert.match(asked.stdout, /static_eligibility: host_api\.request: manifest host_api\.request target declaration is missing/);
    assert.match(asked.stdout, /up to date, pin unchanged, reloaded in serve/);
    assert.notEqual(server.host.status('project:hello')[0]!.digest, live.digest);
    assert.equal((await server.host.callTool('greet', { name: 'Cy' })).summary, 'Howdy, Cy!');
  });

  it('rebuilds on source edits only, never on what the build itself writes', () => {
    assert.equal(isSourceChange('src/plugin.ts', 'plugin.component.wasm'), true);
    assert.equal(isSourceChange('plugin.toml', 'plugin.component.wasm'), true);
    assert.equal(isSourceChange('plugin.component.wasm', 'plugin.component.wasm'), false);
    assert.equal(isSourceChange('.yoi-build/stamp.json', 'plugin.component.wasm'), false);
    assert.equal(isSourceChange('node_modules/@yoi-plugins/pdk/index.d.ts', null), false);
    assert.equal(isSourceChange('hello.yoi-plugin', null), false);
  });
});

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LEGACY_MANIFEST, manifestToml } from '@yoi-plugins/host/test/fixtures/manifest.js';
import { cli, echoManifest, writeFiles, writePluginDir } from '@yoi-plugins/host/test/helpers.js';
import { startServe } from '@yoi-plugins/host/internal/serve/server.js';
import { TEST_TRANSPILE_CACHE } from '@yoi-plugins/host/test/fixtures/workspace.js';
import { workspace, type EnableJson, type Item } from './enable-support.js';

const SURFACE_TOOL = { kind: 'surface', surface: 'tool' };

const WEATHER = manifestToml({
  id: 'weather',
  tools: ['forecast', 'alerts'],
  hostApis: ['request'],
  request: [{ scheme: 'https', host: 'api.weather.example', methods: ['GET'], path_prefixes: ['/v1'] }],
});

const NOTES = manifestToml({ id: 'notes', tools: ['echo'], hostApis: ['fs'] });

const OPERATOR_TEXT = `# Operator notes: keep me.
# Second line of notes.

# Enabled by hand for another plugin.
[[plugins.enabled]]
id = "project:other"   # trailing comment on the id
version = "1.0.0"
# closing remark inside the other entry
`;

describe('yoi plugin enable', () => {
  it('installs a directory into the project store and pins the entry and its grants to version + digest', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'echo'));
    const result = await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = result.json<EnableJson>();
    const installedPath = join(w.store, 'echo.yoi-plugin');
    assert.match(report.digest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(report, {
      command: 'enable',
      status: 'enabled',
      reference: 'project:echo',
      version: '0.1.0',
      digest: report.digest,
      installed: { path: installedPath, changed: true },
      enablement_path: w.enablementPath,
      replaced: false,
      upgrade: null,
      granted: { permissions: ['surfaces.tool', 'tool.echo'], request: [], websocket: [], fs: [] },
      not_granted: [],
      limits: {},
      plugin_status: 'active',
      running_service_state: null,
      diagnostics: [],
      via: 'in-process',
    });
    assert.deepEqual(readdirSync(w.store), ['echo.yoi-plugin']);

    const shown = await w.run(['plugin', 'show', 'project:echo', '--json']);
    assert.equal(shown.json<Item>().digest, report.digest, 'the installed archive has the directory digest');

    assert.deepEqual(w.entries(), [
      {
        id: 'project:echo',
        version: '0.1.0',
        digest: report.digest,
        surfaces: [],
        grants: {
          id: 'project:echo',
          version: '0.1.0',
          digest: report.digest,
          permissions: [SURFACE_TOOL, { kind: 'tool', name: 'echo' }],
          request: [],
          websocket: [],
          fs: [],
        },
      },
    ]);

    const item = (await w.list()).get('project:echo')!;
    assert.equal(item.status, 'active');
    assert.equal(item.pinned_digest, report.digest);
    assert.equal(item.digest, report.digest);
  });

  it('tells a running serve through the same checked discovery as call/status/logs (`via`), and none when serve.json is stale', async (t) => {
    const w = workspace(t);
    const server = await startServe({ stores: { workspace: w.ws, builtinDir: join(w.root, 'builtin'), env: { HOME: w.root } }, cacheDir: TEST_TRANSPILE_CACHE, log: () => undefined, reload: { watch: false } });
    let stopped = false;
    t.after(() => (stopped ? undefined : server.stop()));
    const viaServe = await w.run(['plugin', 'enable', writePluginDir(join(w.root, 'echo')), '--grant-all-requested', '--yes', '--json']);
    assert.equal(viaServe.code, 0, viaServe.stderr);
    assert.equal(viaServe.json<EnableJson>().via, 'serve');
    const human = await w.run(['plugin', 'enable', 'project:echo', '--grant-all-requested', '--yes']);
    assert.match(human.stdout, new RegExp(`running serve \\(pid ${process.pid}\\): reloads the entry by itself`));

    // serve is gone but left its file behind (a crash): enable does not take it for a running serve.
    const controlFile = join(w.ws, '.yoi', 'serve.json');
    const left = readFileSync(controlFile);
    await server.stop();
    stopped = true;
    writeFileSync(controlFile, left);
    const stale = await w.run(['plugin', 'enable', 'project:echo', '--grant-all-requested', '--yes', '--json']);
    assert.equal(stale.code, 0, stale.stderr);
    assert.equal(stale.json<EnableJson>().via, 'in-process');
  });

  it('makes the plugin rejected with a digest diagnostic once the installed package bytes change', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'echo'));
    const enabled = await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes', '--json']);
    assert.equal(enabled.code, 0, enabled.stderr);
    const digest = enabled.json<EnableJson>().digest;
    assert.equal((await w.list()).get('project:echo')!.status, 'active');

    const changed = writePluginDir(join(w.root, 'echo-changed'), echoManifest().replace('name = "Echo"', 'name = "Echo"\ndescription = "A changed package."'));
    const repacked = await cli(['plugin', 'pack', changed, '--output', join(w.store, 'echo.yoi-plugin'), '--json']);
    assert.equal(repacked.code, 0, repacked.stderr);
    const newDigest = repacked.json<{ package: { digest: string; reference: string } }>().package;
    assert.equal(newDigest.reference, 'project:echo');
    assert.notEqual(newDigest.digest, digest);

    const item = (await w.list()).get('project:echo')!;
    assert.equal(item.status, 'rejected');
    assert.equal(item.pinned_digest, digest);
    assert.equal(item.digest, newDigest.digest);
    assert.ok(item.diagnostics.some((d) => d.kind === 'digest'), JSON.stringify(item.diagnostics));
    const human = await w.run(['plugin', 'list']);
    assert.match(human.stdout, /^rejected\s+project:echo\s+0\.1\.0\s+sha256:\S+\s+pinned\s/m);
    assert.match(human.stdout, /^ {4}digest: /m);
  });

  it("keeps the operator's comments and unrelated entries, and edits its own entry in place on re-enabling", async (t) => {
    const w = workspace(t);
    mkdirSync(join(w.ws, '.yoi'), { recursive: true });
    writeFileSync(w.enablementPath, OPERATOR_TEXT);
    const dir = writePluginDir(join(w.root, 'echo'));

    const first = await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes', '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.json<EnableJson>().replaced, false);
    const afterFirst = w.text();
    assert.ok(afterFirst.startsWith(OPERATOR_TEXT), afterFirst);
    assert.deepEqual(w.entries().map((e) => e.id), ['project:other', 'project:echo']);

    const second = await w.run(['plugin', 'enable', dir, '--revoke', 'tool.echo', '--yes', '--json']);
    assert.equal(second.code, 0, second.stderr);
    const report = second.json<EnableJson>();
    assert.equal(report.replaced, true);
    assert.deepEqual(report.installed, { path: join(w.store, 'echo.yoi-plugin'), changed: false });
    assert.deepEqual(report.not_granted, ['tool.echo']);
    const afterSecond = w.text();
    assert.ok(afterSecond.startsWith(OPERATOR_TEXT), afterSecond);
    const entries = w.entries();
    assert.deepEqual(entries.map((e) => e.id), ['project:other', 'project:echo']);
    assert.deepEqual(entries[1]!.grants.permissions, [SURFACE_TOOL]);
    assert.equal(afterSecond.split('project:echo').length - 1, 2, 'one entry id + one grant binding, not duplicated');
  });

  it('enables an installed package by source-qualified ref and by bare id', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'echo'));
    assert.equal((await w.run(['plugin', 'enable', dir, '--grant', 'surfaces.tool', '--yes'])).code, 0);

    const byRef = await w.run(['plugin', 'enable', 'project:echo', '--grant', 'surfaces.tool', '--grant', 'tool.echo', '--yes', '--json']);
    assert.equal(byRef.code, 0, byRef.stderr);
    assert.equal(byRef.json<EnableJson>().installed, null);
    assert.equal(byRef.json<EnableJson>().plugin_status, 'active');

    const byId = await w.run(['plugin', 'enable', 'echo', '--grant-all-requested', '--yes', '--json']);
    assert.equal(byId.code, 0, byId.stderr);
    assert.equal(byId.json<EnableJson>().reference, 'project:echo');
    assert.equal(w.entries().length, 1);
  });

  it('installs from a .yoi-plugin archive exactly as packed', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'echo'));
    const archive = join(w.root, 'echo.yoi-plugin');
    assert.equal((await cli(['plugin', 'pack', dir, '--output', archive])).code, 0);
    const result = await w.run(['plugin', 'enable', archive, '--grant-all-requested', '--yes', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = result.json<EnableJson>();
    assert.equal(report.plugin_status, 'active');
    assert.ok(readFileSync(join(w.store, 'echo.yoi-plugin')).equals(readFileSync(archive)));
  });

  it('fails (exit 1) for a ref that is not discovered and for a package that does not validate', async (t) => {
    const w = workspace(t);
    const missing = await w.run(['plugin', 'enable', 'project:nothere', '--grant-all-requested', '--yes']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /was not discovered/);

    const legacy = writeFiles(join(w.root, 'legacy'), {
      'plugin.toml': LEGACY_MANIFEST,
    });
    const rejected = await w.run(['plugin', 'enable', legacy, '--grant-all-requested', '--yes']);
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /plugin enable failed: .*wasm-component/);
    assert.ok(!existsSync(w.enablementPath));
    assert.ok(!existsSync(join(w.store, 'legacy.yoi-plugin')));
  });

  it('refuses (exit 1) to edit an invalid plugins.toml and leaves it as it was', async (t) => {
    const w = workspace(t);
    mkdirSync(join(w.ws, '.yoi'), { recursive: true });
    const invalid = '# hand-edited\n[[plugins.enabled]\nid = "project:echo"\n';
    writeFileSync(w.enablementPath, invalid);
    const dir = writePluginDir(join(w.root, 'echo'));
    const result = await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /not valid/);
    assert.equal(w.text(), invalid);
    const disabled = await w.run(['plugin', 'disable', 'project:echo']);
    assert.equal(disabled.code, 1);
    assert.equal(w.text(), invalid);
  });

  it('refuses (exit 2) to grant a permission the package does not request', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'echo'));
    const result = await w.run(['plugin', 'enable', dir, '--grant', 'tool.x', '--yes']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /`tool\.x` is not a permission requested by project:echo/);
    assert.ok(!existsSync(w.enablementPath));
  });

  it('needs --yes when not interactive (exit 2) and writes no enablement', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'echo'));
    const result = await w.run(['plugin', 'enable', dir, '--grant-all-requested']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--yes/);
    assert.ok(!existsSync(w.enablementPath));
  });

  it(
    'leaves the project store untouched when enable stops on a usage error or is cancelled',
    async (t) => {
      const w = workspace(t);
      const dir = writePluginDir(join(w.root, 'echo'));
      const noYes = await w.run(['plugin', 'enable', dir, '--grant-all-requested']);
      assert.equal(noYes.code, 2);
      const badGrant = await w.run(['plugin', 'enable', dir, '--grant', 'tool.x', '--yes']);
      assert.equal(badGrant.code, 2);
      const cancelled = await w.run(['plugin', 'enable', dir, '--grant-all-requested'], { answers: ['n'] });
      assert.equal(cancelled.code, 1);
      assert.match(cancelled.stderr, /nothing was written/);
      assert.ok(!existsSync(join(w.store, 'echo.yoi-plugin')), 'no package was installed');
    },
  );

  it('asks one question for everything requested, grouped, and then whether to write', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'weather'), WEATHER);
    const result = await w.run(['plugin', 'enable', dir], { answers: ['y', 'y'] });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      result.stdout.includes(
        'the plugin requests:\n  surfaces: surfaces.tool\n  tools: tool.forecast, tool.alerts\n  host_api.request: host_api.request; target https://api.weather.example GET /v1\n' +
          'grant all of this? [y]es, [n]o, [s]elect per group: ',
      ),
      result.stdout,
    );
    assert.equal(result.stdout.split('? [').length - 1, 2, 'two questions: the summary and the write');
    assert.match(result.stdout, /write this enablement to .*plugins\.toml\? \[y\/N\] /);
    assert.match(result.stdout, /status: active/);
    assert.equal(w.entries()[0]!.grants.permissions.length, 4);
  });

  it('asks one question per group when the operator selects, and writes only what was granted', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'weather'), WEATHER);
    // select; surfaces yes, tools no, host_api.request yes; write yes
    const result = await w.run(['plugin', 'enable', dir], { answers: ['s', 'y', 'n', 'yes', 'y'] });
    assert.equal(result.code, 0, result.stderr);
    for (const prompt of [
      'grant surfaces: surfaces.tool? [y/N] ',
      'grant tools: tool.forecast, tool.alerts? [y/N] ',
      'grant host_api.request: host_api.request; target https://api.weather.example GET /v1? [y/N] ',
    ]) {
      assert.ok(result.stdout.includes(prompt), `prompt ${JSON.stringify(prompt)} in\n${result.stdout}`);
    }
    assert.match(result.stdout, /will grant: surfaces\.tool, host_api\.request/);
    assert.match(result.stdout, /not granted: tool\.forecast, tool\.alerts/);
    const [entry] = w.entries();
    assert.deepEqual(entry!.grants.permissions, [SURFACE_TOOL, { kind: 'host_api', api: 'request' }]);
    assert.deepEqual(entry!.grants.request, [{ scheme: 'https', host: 'api.weather.example', methods: ['GET'], path_prefixes: ['/v1'] }]);
  });

  it('grants nothing when the operator answers no to the summary', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'weather'), WEATHER);
    const result = await w.run(['plugin', 'enable', dir], { answers: ['n', 'y'] });
    assert.equal(result.code, 0, result.stderr);
    const [entry] = w.entries();
    assert.deepEqual(entry!.grants.permissions, []);
    assert.deepEqual(entry!.grants.request, []);
  });

  it('writes nothing when the operator answers no at the final confirmation (exit 1)', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'weather'), WEATHER);
    const result = await w.run(['plugin', 'enable', dir], { answers: ['y', 'n'] });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cancelled/);
    assert.ok(!existsSync(w.enablementPath));
  });

  it('with grant flags but no --yes, asks only the final confirmation', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'echo'));
    const result = await w.run(['plugin', 'enable', dir, '--grant-all-requested'], { answers: ['y'] });
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /grant surfaces\.tool\?/);
    assert.equal(w.entries()[0]!.grants.permissions.length, 2);
  });

  it('resolves a relative --fs root against the workspace (not the cwd) and writes it absolute', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'notes'), NOTES);
    mkdirSync(join(w.ws, 'notes-data'));
    mkdirSync(join(w.root, 'notes-data')); // the cwd has one too: not the one granted
    const result = await w.run([
      'plugin',
      'enable',
      dir,
      '--grant',
      'surfaces.tool',
      '--grant',
      'tool.echo',
      '--grant',
      'host_api.fs',
      '--fs',
      './notes-data:read,list',
      '--yes',
      '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const root = join(w.ws, 'notes-data');
    const report = result.json<EnableJson>();
    assert.deepEqual(report.granted.fs, [`${root} read,list`]);
    assert.equal(report.plugin_status, 'active');
    assert.deepEqual(w.entries()[0]!.grants.fs, [{ root, operations: ['read', 'list'] }]);
    assert.deepEqual((await w.list()).get('project:notes')!.configured_fs_grants, [`${root} read,list`]);
  });

  it('refuses host_api.fs without --fs, --fs without host_api.fs and bad --fs values (exit 2)', async (t) => {
    const w = workspace(t);
    const notes = writePluginDir(join(w.root, 'notes'), NOTES);
    const echo = writePluginDir(join(w.root, 'echo'));
    const cases: [string[], RegExp][] = [
      [[notes, '--grant-all-requested', '--yes'], /--fs/],
      [[notes, '--grant', 'host_api.fs', '--yes'], /--fs/],
      [[echo, '--grant-all-requested', '--fs', '/srv/notes:read', '--yes'], /host_api\.fs/],
      [[notes, '--grant-all-requested', '--fs', '/srv/notes:delete', '--yes'], /--fs/],
      [[notes, '--grant-all-requested', '--fs', 'no-operations', '--yes'], /--fs/],
      // a folder that does not exist is refused, naming where a relative root was looked for
      [[notes, '--grant-all-requested', '--fs', './missing-folder:read', '--yes'], new RegExp(`--fs root ${join(w.ws, 'missing-folder').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not exist \\(a relative root is resolved against the workspace `)],
    ];
    for (const [args, message] of cases) {
      const result = await w.run(['plugin', 'enable', ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    assert.ok(!existsSync(w.enablementPath));
  });

  it('writes --surfaces and --config-json, and refuses invalid values (exit 2)', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'echo'));
    const ok = await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--surfaces', 'tool', '--config-json', '{"level":"brief","n":3}', '--yes']);
    assert.equal(ok.code, 0, ok.stderr);
    const [entry] = w.entries();
    assert.deepEqual(entry!.surfaces, ['tool']);
    assert.deepEqual(entry!.config, { level: 'brief', n: 3 });
    assert.equal((await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--surfaces', 'bogus', '--yes'])).code, 2);
    assert.equal((await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--config-json', '{not json', '--yes'])).code, 2);
  });

  it('prints a human summary', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'weather'), WEATHER);
    const result = await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.match(lines[0]!, /^plugin project:weather version=0\.1\.0 digest=sha256:[0-9a-f]{64}$/);
    assert.ok(lines.includes('  requests: surfaces.tool, tool.forecast, tool.alerts, host_api.request'), result.stdout);
    assert.ok(lines.includes('  request target: https://api.weather.example GET /v1'), result.stdout);
    assert.ok(lines.some((l) => l.startsWith(`enabled project:weather in ${w.enablementPath} (pinned to sha256:`)), result.stdout);
    assert.ok(lines.includes(`  installed: ${join(w.store, 'weather.yoi-plugin')}`), result.stdout);
    assert.ok(lines.includes('  granted request target: https://api.weather.example GET /v1'), result.stdout);
    assert.ok(lines.includes('  status: active'), result.stdout);
  });
});

describe('yoi plugin disable', () => {
  it('removes only its entry and keeps comments and other entries; the package stays in the store', async (t) => {
    const w = workspace(t);
    mkdirSync(join(w.ws, '.yoi'), { recursive: true });
    writeFileSync(w.enablementPath, OPERATOR_TEXT);
    const dir = writePluginDir(join(w.root, 'echo'));
    assert.equal((await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes'])).code, 0);

    const result = await w.run(['plugin', 'disable', 'project:echo', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.json(), { command: 'disable', status: 'disabled', reference: 'project:echo', enablement_path: w.enablementPath });
    const text = w.text();
    assert.ok(text.startsWith(OPERATOR_TEXT.trimEnd()), text);
    assert.ok(!text.includes('project:echo'), text);
    assert.deepEqual(w.entries().map((e) => e.id), ['project:other']);
    assert.equal((await w.list()).get('project:echo')!.status, 'disabled');
  });

  it('accepts a bare id and prints a human line', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'echo'));
    assert.equal((await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes'])).code, 0);
    const result = await w.run(['plugin', 'disable', 'echo']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `disabled project:echo in ${w.enablementPath} (the package stays in its store)\n`);
    assert.deepEqual(w.entries(), []);
  });

  it('fails (exit 1) for a plugin that is not enabled and leaves the file alone', async (t) => {
    const w = workspace(t);
    mkdirSync(join(w.ws, '.yoi'), { recursive: true });
    writeFileSync(w.enablementPath, OPERATOR_TEXT);
    for (const ref of ['project:echo', 'echo']) {
      const result = await w.run(['plugin', 'disable', ref]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /is not enabled/);
    }
    assert.equal(w.text(), OPERATOR_TEXT);
    const nothing = workspace(t);
    assert.equal((await nothing.run(['plugin', 'disable', 'project:echo'])).code, 1);
    assert.ok(!existsSync(nothing.enablementPath));
  });
});

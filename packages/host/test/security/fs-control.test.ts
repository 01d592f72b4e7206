/**
 * B2 (the workspace's own files): a plugin whose fs grant covers the workspace must not read
 * `.yoi/secrets.toml` or `.yoi/serve.json`, nor rewrite `.yoi/plugins.toml` to grant itself
 * more; nor reach the stores or the transpile cache by any other name. `enable --fs` refuses
 * roots inside them, and a hand-written grant is refused at resolution and by the host API.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { PluginHost } from '../../src/host.js';
import { fsHostCall } from '../../src/hostapi/fs.js';
import { parseEnablementConfig } from '../../src/store/enablement.js';
import { renderEntry } from '../../src/store/enablement-edit.js';
import { FS_PROBE_WAT, fsProbeManifest, probeReply } from '../fixtures/fs-probe.js';
import { assemble } from '../fixtures/wat.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE, type TestWorkspace } from '../fixtures/workspace.js';
import { expectError, expectOk, hostApiManifest, subjectOf } from '../hostapi/support.js';
import { fsGrantRootProblem } from '../../src/fs/control-guard.js';
import { hostControlLocations } from '../../src/store/control-paths.js';
import { cli, echoManifest, tempDir, writeFiles, writePluginDir } from '../helpers.js';

const SECRET = 'sk-B2-secret-value-never-readable';
const TOKEN = 'serve-control-token-never-readable';
const ID = 'project:fs.b2';

interface Setup {
  readonly ws: TestWorkspace;
  readonly host: PluginHost;
  readonly enablement: string;
  /** Calls a tool of the probe and returns the host's raw reply. */
  call(op: 'read' | 'list' | 'write', input: Record<string, string>): Promise<string>;
}

/** Rewrites the fs grant of the (single) enablement entry, as an operator editing plugins.toml would. */
function grantFs(ws: TestWorkspace, fs: { root: string; operations: ('read' | 'list' | 'write')[]; allow_hard_link_reads?: boolean }[]): void {
  const path = join(ws.workspace, '.yoi', 'plugins.toml');
  const parsed = parseEnablementConfig(readFileSync(path, 'utf8'));
  assert.ok(parsed.ok);
  const entry = parsed.value.enabled[0]!;
  writeFileSync(path, renderEntry({ ...entry, grants: { ...entry.grants, fs } }));
}

/** A workspace with `.yoi/secrets.toml`, `.yoi/serve.json` and state, and the fs probe granted `fs`. */
async function setup(t: TestContext, fs: (ws: TestWorkspace) => Parameters<typeof grantFs>[1], open?: (ws: TestWorkspace) => Promise<PluginHost>): Promise<Setup> {
  const ws = pluginWorkspace(t, [{ manifest: fsProbeManifest('fs.b2'), component: await assemble(FS_PROBE_WAT) }]);
  writeFiles(ws.workspace, {
    '.yoi/secrets.toml': `[secrets]\napi = "${SECRET}"\n`,
    '.yoi/serve.json': JSON.stringify({ port: 1, token: TOKEN }),
    '.yoi/state/events.jsonl': `{"secret":"${SECRET}"}\n`,
    'notes.txt': 'workspace notes',
  });
  chmodSync(join(ws.workspace, '.yoi', 'secrets.toml'), 0o600);
  grantFs(ws, fs(ws));
  const host = await (open ?? ((w) => w.open()))(ws);
  t.after(() => host.close());
  const enablement = readFileSync(join(ws.workspace, '.yoi', 'plugins.toml'), 'utf8');
  return { ws, host, enablement, call: async (op, input) => probeReply(await host.callTool(op, input)) };
}

const ALL: ('read' | 'list' | 'write')[] = ['read', 'list', 'write'];
const NO_LEAKS = [SECRET, TOKEN];

describe('security: the workspace control files are out of reach of fs grants (B2)', () => {
  it('a grant covering the workspace cannot read secrets.toml or serve.json, nor rewrite plugins.toml', async (t) => {
    const { ws, call, enablement } = await setup(t, (w) => [{ root: w.workspace, operations: ALL }]);
    assert.equal(expectOk<{ content: string }>(await call('read', { path: 'notes.txt' })).content, 'workspace notes', 'the grant itself works');
    const refused: [op: 'read' | 'list' | 'write', input: Record<string, string>][] = [
      ['read', { path: '.yoi/secrets.toml' }],
      ['read', { path: '.yoi/serve.json' }],
      ['read', { path: '.yoi/plugins.toml' }],
      ['read', { path: './.yoi//state/events.jsonl' }],
      ['list', { path: '.yoi' }],
      ['list', { path: '.yoi/state' }],
      ['write', { path: '.yoi/plugins.toml', content: '[[plugins.enabled]]\nid = "project:fs.b2"\n[[plugins.enabled.grants.fs]]\nroot = "/"\noperations = ["read", "write"]\n' }],
      ['write', { path: '.yoi/secrets.toml', content: '' }],
      ['write', { path: '.yoi/new.txt', content: 'x' }],
    ];
    for (const [op, input] of refused) {
      expectError(await call(op, input), 'denied', { secrets: NO_LEAKS, message: /\.yoi control directory, which no fs grant can reach/, label: `${op} ${input['path']}` });
    }
    assert.equal(readFileSync(join(ws.workspace, '.yoi', 'plugins.toml'), 'utf8'), enablement, 'plugins.toml was rewritten');
    assert.ok(!existsSync(join(ws.workspace, '.yoi', 'new.txt')));
    assert.match(readFileSync(join(ws.workspace, '.yoi', 'secrets.toml'), 'utf8'), new RegExp(SECRET));
    // Listing the workspace shows the folder's name, never its content.
    const listing = expectOk<{ entries: { name: string }[] }>(await call('list', { path: '.' }));
    assert.deepEqual(listing.entries.map((e) => e.name).sort(), ['.yoi', 'notes.txt']);
  });

  it('refuses every other name for them: a broader root, a relocated secrets file, a symlink, a hard link', async (t) => {
    const { ws, call } = await setup(t, (w) => [{ root: w.root, operations: ALL, allow_hard_link_reads: true }]);
    // The secrets file lives elsewhere, inside the granted root; .yoi/secrets.toml links to it.
    writeFiles(ws.root, { 'keys/yoi-secrets.toml': `[secrets]\napi = "${SECRET}"\n` });
    execFileSync('rm', [join(ws.workspace, '.yoi', 'secrets.toml')]);
    symlinkSync(join(ws.root, 'keys', 'yoi-secrets.toml'), join(ws.workspace, '.yoi', 'secrets.toml'));
    // A hard link to serve.json inside the root (hard-link reads are allowed by this grant).
    linkSync(join(ws.workspace, '.yoi', 'serve.json'), join(ws.root, 'files', 'serve-copy.json'));
    symlinkSync(join(ws.workspace, '.yoi'), join(ws.root, 'files', 'control'));

    expectError(await call('read', { path: 'ws/.yoi/secrets.toml' }), 'denied', { secrets: NO_LEAKS, message: /\.yoi control directory/ });
    expectError(await call('write', { path: 'ws/.yoi/plugins.toml', content: 'x' }), 'denied', { message: /\.yoi control directory/ });
    expectError(await call('read', { path: 'keys/yoi-secrets.toml' }), 'denied', { secrets: NO_LEAKS, message: /reaches the secrets file/ });
    expectError(await call('write', { path: 'keys/yoi-secrets.toml', content: 'x' }), 'denied', { message: /the secrets file/ });
    expectError(await call('read', { path: 'files/serve-copy.json' }), 'denied', { secrets: NO_LEAKS, message: /reaches serve's control file/ });
    expectError(await call('read', { path: 'files/control/serve.json' }), 'denied', { secrets: NO_LEAKS, message: /symlink/ });
    assert.match(readFileSync(join(ws.root, 'keys', 'yoi-secrets.toml'), 'utf8'), new RegExp(SECRET));
  });

  it('keeps the user and builtin stores, the transpile cache and the dead letters out of reach under a granted home folder', async (t) => {
    const home = (ws: TestWorkspace) => join(ws.root, 'home');
    const { ws, call } = await setup(
      t,
      (w) => {
        writeFiles(home(w), {
          '.local/share/yoi/plugins/other.yoi-plugin': 'package bytes',
          'projects/readme.txt': 'mine',
          'builtin/example.yoi-plugin': 'package bytes',
          'letters/project%3Afs.b2.jsonl': SECRET,
        });
        return [{ root: home(w), operations: ALL }];
      },
      (w) =>
        PluginHost.fromWorkspace(
          { workspace: w.workspace, builtinDir: join(home(w), 'builtin'), env: { HOME: home(w) } },
          { cacheDir: join(home(w), 'cache', 'transpile'), stateDir: join(home(w), 'letters') },
        ),
    );
    assert.equal(expectOk<{ content: string }>(await call('read', { path: 'projects/readme.txt' })).content, 'mine');
    const cached = readdirSync(join(home(ws), 'cache', 'transpile')).find((n) => /^[0-9a-f]{64}$/.test(n));
    assert.ok(cached, 'the host transpiled the probe into the granted folder');
    const refused: [op: 'read' | 'list' | 'write', input: Record<string, string>, message: RegExp][] = [
      ['list', { path: '.local/share/yoi/plugins' }, /the user plugin store/],
      ['read', { path: '.local/share/yoi/plugins/other.yoi-plugin' }, /the user plugin store/],
      ['write', { path: '.local/share/yoi/plugins/evil.yoi-plugin', content: 'x' }, /the user plugin store/],
      ['list', { path: 'cache/transpile' }, /the transpile cache/],
      ['write', { path: `cache/transpile/${cached}/component.js`, content: 'process.exit(1)' }, /the transpile cache/],
      ['list', { path: 'builtin' }, /the builtin plugin store/],
      ['write', { path: 'builtin/example.yoi-plugin', content: 'x' }, /the builtin plugin store/],
      ['read', { path: 'letters/project%3Afs.b2.jsonl' }, /the host's state directory/],
    ];
    for (const [op, input, message] of refused) expectError(await call(op, input), 'denied', { message, secrets: [SECRET], label: `${op} ${input['path']}` });
    assert.ok(!existsSync(join(home(ws), '.local', 'share', 'yoi', 'plugins', 'evil.yoi-plugin')));
    assert.doesNotMatch(readFileSync(join(home(ws), 'cache', 'transpile', cached, 'component.js'), 'utf8'), /process\.exit\(1\)/);
  });

  it('keeps /proc out of reach, so the host environment (YOI_SECRET_*) cannot be read under a broad root', async (t) => {
    const root = tempDir(t, 'yoi-fs-proc-');
    const subject = (grantRoot: string) => subjectOf(hostApiManifest(['fs']), 'all', [{ root: grantRoot, operations: ['read', 'list'] }]);
    expectError(await fsHostCall(subject('/'), 'read', '{"path":"proc/self/environ"}'), 'denied', { message: /reaches the host's process information \(\/proc\)/ });
    expectError(await fsHostCall(subject('/'), 'list', '{"path":"proc"}'), 'denied', { message: /\/proc/ });
    expectError(await fsHostCall(subject(`/proc/${process.pid}`), 'read', '{"path":"environ"}'), 'denied', { message: /configured fs grant root is inside the host's process information/ });
    // `/` itself stays usable for everything else (here: the test's own folder).
    writeFiles(root, { 'x.txt': 'x' });
    assert.equal(expectOk<{ content: string }>(await fsHostCall(subject('/'), 'read', JSON.stringify({ path: join(root, 'x.txt').slice(1) }))).content, 'x');
    const enable = await fsGrantRootProblem('/proc/1', hostControlLocations());
    assert.match(enable ?? '', /is inside the host's process information/);
  });

  it('refuses a hand-written grant root inside .yoi at resolution, and in the host API when resolution is bypassed', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: fsProbeManifest('fs.b2'), component: await assemble(FS_PROBE_WAT) }]);
    const state = join(ws.workspace, '.yoi', 'state');
    mkdirSync(state);
    writeFileSync(join(state, 'events.jsonl'), SECRET);
    grantFs(ws, [{ root: state, operations: ALL }]);
    const host = await ws.open();
    t.after(() => host.close());
    const refusal = host.diagnostics.find((d) => d.identity === ID);
    assert.ok(refusal, 'no diagnostic for the refused entry');
    assert.equal(refusal.kind, 'grant');
    assert.match(refusal.message, /fs grant root `.*\/\.yoi\/state` is inside a \.yoi control directory/);
    assert.equal(host.runtimes.has(ID), false, 'the entry was resolved');
    await assert.rejects(host.callTool('read', { path: 'events.jsonl' }));

    const listed = await cli(['plugin', 'list', '--workspace', ws.workspace, '--json'], { env: { HOME: join(ws.root, 'home') } });
    const item = listed.json<{ items: { reference: string; status: string; diagnostics: { message: string }[] }[] }>().items.find((i) => i.reference === ID)!;
    assert.equal(item.status, 'rejected');
    assert.ok(item.diagnostics.some((d) => /is inside a \.yoi control directory/.test(d.message)));

    // An embedder that resolves records itself gets no resolution check: the host API still refuses.
    grantFs(ws, [{ root: ws.filesRoot, operations: ALL }]);
    const good = await ws.open();
    t.after(() => good.close());
    const record = good.runtimes.get(ID)!.record;
    const bypass = { ...record, grants: { ...record.grants, fs: [{ root: state, operations: ALL }] } };
    for (const [fn, json] of [['read', '{"path":"events.jsonl"}'], ['list', '{"path":"."}'], ['write', '{"path":"x","content":"x"}']] as const) {
      expectError(await fsHostCall(bypass, fn, json), 'denied', { secrets: [SECRET], message: /configured fs grant root is inside a \.yoi control directory/ });
    }
    const { controlLocations: _dropped, ...bare } = bypass;
    expectError(await fsHostCall(bare, 'read', '{"path":"events.jsonl"}'), 'denied', { secrets: [SECRET], message: /inside a \.yoi control directory/ });
    const embedded = PluginHost.fromResolved([bypass], { cacheDir: TEST_TRANSPILE_CACHE });
    t.after(() => embedded.close());
    expectError(probeReply(await embedded.callTool('read', { path: 'events.jsonl' })), 'denied', { secrets: [SECRET] });
  });

  it('refuses a bind mount of .yoi inside the root (device and inode, not names)', async (t) => {
    const probe = spawnSync('unshare', ['-Urm', 'true']);
    if (probe.status !== 0) {
      t.skip('unprivileged user and mount namespaces are unavailable (unshare -Urm)');
      return;
    }
    const ws = pluginWorkspace(t, [{ manifest: fsProbeManifest('fs.b2'), component: await assemble(FS_PROBE_WAT) }]);
    writeFiles(ws.workspace, { '.yoi/secrets.toml': SECRET });
    mkdirSync(join(ws.filesRoot, 'mounted'));
    const host = await ws.open();
    t.after(() => host.close());
    const record = host.runtimes.get(ID)!.record;
    // In a private mount namespace, `files/mounted` becomes .yoi under another name; the
    // child calls the host API with this plugin's record and prints the replies.
    const script = `
      const { fsHostCall } = await import(${JSON.stringify(new URL('../../src/hostapi/fs.js', import.meta.url).href)});
      const record = JSON.parse(process.argv[1]);
      const replies = [];
      for (const [fn, json] of [['read', '{"path":"mounted/secrets.toml"}'], ['list', '{"path":"mounted"}'], ['write', '{"path":"mounted/plugins.toml","content":"x"}']]) replies.push(await fsHostCall(record, fn, json));
      const rooted = { ...record, grants: { ...record.grants, fs: [{ root: process.argv[2], operations: ['read', 'list', 'write'] }] } };
      replies.push(await fsHostCall(rooted, 'read', '{"path":"secrets.toml"}'));
      console.log(JSON.stringify(replies));`;
    const mounted = join(realpathSync(ws.filesRoot), 'mounted');
    const out = execFileSync(
      'unshare',
      ['-Urm', 'sh', '-c', 'mount --bind "$1" "$2" && exec "$3" --input-type=module -e "$4" "$5" "$2"', 'sh', join(ws.workspace, '.yoi'), mounted, process.execPath, script, JSON.stringify(record)],
      { encoding: 'utf8' },
    );
    const replies = JSON.parse(out) as string[];
    for (const reply of replies.slice(0, 3)) expectError(reply, 'denied', { secrets: [SECRET], message: /reaches the workspace's \.yoi control directory/ });
    expectError(replies[3]!, 'denied', { secrets: [SECRET], message: /configured fs grant root is inside the workspace's \.yoi control directory/ });
    assert.equal(readFileSync(join(ws.workspace, '.yoi', 'plugins.toml'), 'utf8').includes('"x"'), false);
  });
});

describe('security: `enable --fs` refuses roots inside Yoi control locations', () => {
  it('refuses .yoi, folders inside it, the user store and symlinked routes to them (exit 2); allows a root that contains .yoi', async (t) => {
    const root = realpathSync(tempDir(t, 'yoi-enable-fs-'));
    const ws = join(root, 'ws');
    const env = { HOME: root, XDG_DATA_HOME: join(root, 'data'), YOI_BUILTIN_DIR: join(root, 'builtin') };
    mkdirSync(join(ws, '.yoi', 'state'), { recursive: true });
    mkdirSync(join(root, 'data', 'yoi', 'plugins'), { recursive: true });
    symlinkSync(join(ws, '.yoi'), join(root, 'innocent'));
    symlinkSync(join(root, 'data', 'yoi', 'plugins'), join(root, 'store-link'));
    const notes = writePluginDir(join(root, 'notes'), echoManifest({ id: 'notes', permissions: '{ kind = "surface", surface = "tool" }, { kind = "tool", name = "echo" }, { kind = "host_api", api = "fs" },' }));
    const enable = (fs: string) => cli(['plugin', 'enable', notes, '--grant-all-requested', '--fs', fs, '--yes', '--json', '--workspace', ws], { env, cwd: root });
    const refused: [string, RegExp][] = [
      [`${ws}/.yoi:read`, /is inside a \.yoi control directory/],
      [`${ws}/.yoi/state:read,write`, /is inside a \.yoi control directory/],
      ['./.yoi/plugins:list', /is inside a \.yoi control directory/], // relative to the workspace
      [`${root}/data/yoi/plugins:read`, /is inside the user plugin store/],
      [`${root}/.cache/yoi/transpile/x:read`, /is inside the transpile cache/],
      [`${root}/innocent:read`, /is inside a \.yoi control directory/],
      [`${root}/store-link:read`, /is inside the user plugin store/],
    ];
    for (const [fs, message] of refused) {
      const result = await enable(fs);
      assert.equal(result.code, 2, `${fs}: ${result.stderr}`);
      assert.match(result.stderr, message, fs);
      assert.match(result.stderr, /out of reach of every fs grant/);
    }
    assert.ok(!existsSync(join(ws, '.yoi', 'plugins.toml')), 'a refused grant was written');
    const allowed = await enable(`${ws}:read,list`);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.deepEqual(allowed.json<{ granted: { fs: string[] } }>().granted.fs, [`${ws} read,list`]);
  });
});

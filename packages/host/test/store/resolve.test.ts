import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { discoverPlugins } from '../../src/store/discover.js';
import { parseEnablementConfig, type EnablementConfig } from '../../src/store/enablement.js';
import { storeLocations } from '../../src/store/locations.js';
import { resolveEnabledPlugins } from '../../src/store/resolve.js';
import { writeZipArchive } from '../../src/package/zip-write.js';
import { LEGACY_MANIFEST } from '../fixtures/manifest.js';
import { COMPONENT_PREAMBLE, echoManifest, tempDir } from '../helpers.js';

const enc = (s: string) => new TextEncoder().encode(s);

function archive(files: Record<string, string | Uint8Array>): Uint8Array {
  const map = new Map(Object.entries(files).map(([k, v]) => [k, typeof v === 'string' ? enc(v) : v]));
  const out = writeZipArchive(map);
  assert.ok(out.ok);
  return out.value;
}

function echoArchive(manifest = echoManifest()): Uint8Array {
  return archive({ 'plugin.toml': manifest, 'plugin.component.wasm': COMPONENT_PREAMBLE });
}

function setup(t: TestContext) {
  const root = tempDir(t);
  const workspace = join(root, 'ws');
  const dataHome = join(root, 'data');
  const project = join(workspace, '.yoi', 'plugins');
  const user = join(dataHome, 'yoi', 'plugins');
  mkdirSync(project, { recursive: true });
  mkdirSync(user, { recursive: true });
  const stores = storeLocations({ workspace, userDataHome: dataHome, builtinDir: join(root, 'builtin') });
  return { root, workspace, project, user, stores };
}

function config(text: string): EnablementConfig {
  const parsed = parseEnablementConfig(text);
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.diagnostic));
  return parsed.value;
}

describe('discovery', () => {
  it('discovers valid user and project packages with source-qualified refs and digests', async (t) => {
    const s = setup(t);
    writeFileSync(join(s.user, 'user_one.yoi-plugin'), echoArchive(echoManifest({ id: 'user_one' })));
    writeFileSync(join(s.project, 'project_one.yoi-plugin'), echoArchive(echoManifest({ id: 'project_one' })));
    const d = await discoverPlugins(s.stores);
    assert.deepEqual(d.diagnostics, []);
    assert.deepEqual(d.packages.map((p) => p.identity), ['project:project_one', 'user:user_one']);
    for (const p of d.packages) assert.match(p.digest, /^sha256:[0-9a-f]{64}$/);
  });

  it('keeps the legacy raw runtime out of the inventory with an api diagnostic naming it', async (t) => {
    const s = setup(t);
    writeFileSync(
      join(s.project, 'legacy.yoi-plugin'),
      archive({ 'plugin.toml': LEGACY_MANIFEST }),
    );
    const d = await discoverPlugins(s.stores);
    assert.equal(d.packages.length, 0);
    assert.equal(d.diagnostics.length, 1);
    const diag = d.diagnostics[0]!;
    assert.equal(diag.kind, 'api');
    assert.equal(diag.phase, 'manifest');
    assert.equal(diag.identity, 'project:legacy');
    assert.match(diag.message, /legacy raw wasm/);
    assert.match(diag.message, /wasm-component/);
  });

  it('reports a broken package without affecting the others', async (t) => {
    const s = setup(t);
    writeFileSync(join(s.project, 'broken.yoi-plugin'), 'not a zip');
    writeFileSync(join(s.project, 'echo.yoi-plugin'), echoArchive());
    const d = await discoverPlugins(s.stores);
    assert.deepEqual(d.packages.map((p) => p.identity), ['project:echo']);
    assert.equal(d.diagnostics[0]!.kind, 'malformed');
    assert.equal(d.diagnostics[0]!.package, 'broken.yoi-plugin');
  });

  it('rejects a store symlink that escapes the store with traversal', async (t) => {
    const s = setup(t);
    writeFileSync(join(s.root, 'outside.yoi-plugin'), echoArchive());
    symlinkSync(join(s.root, 'outside.yoi-plugin'), join(s.project, 'escape.yoi-plugin'));
    const d = await discoverPlugins(s.stores);
    assert.equal(d.packages.length, 0);
    assert.equal(d.diagnostics[0]!.kind, 'traversal');
    assert.match(d.diagnostics[0]!.message, /escapes its source store/);
  });

  it('accepts a symlink that stays inside the store', async (t) => {
    const s = setup(t);
    mkdirSync(join(s.project, 'real'));
    writeFileSync(join(s.project, 'real', 'echo.bin'), echoArchive());
    symlinkSync(join(s.project, 'real', 'echo.bin'), join(s.project, 'echo.yoi-plugin'));
    const d = await discoverPlugins(s.stores);
    assert.deepEqual(d.packages.map((p) => p.identity), ['project:echo']);
  });

  it('rejects an archive entry escaping the root with traversal', async (t) => {
    const s = setup(t);
    // the writer refuses `../evil`, so patch a valid archive's names in place (same length)
    const bytes = Buffer.from(archive({ 'plugin.toml': echoManifest(), 'xx/evil': 'x', 'plugin.component.wasm': COMPONENT_PREAMBLE }));
    const patched = Buffer.from(bytes.toString('latin1').replaceAll('xx/evil', '../evil'), 'latin1');
    writeFileSync(join(s.project, 'evil.yoi-plugin'), patched);
    const d = await discoverPlugins(s.stores);
    assert.equal(d.packages.length, 0);
    assert.equal(d.diagnostics[0]!.kind, 'traversal');
  });
});

describe('resolveEnabledPlugins', () => {
  async function resolveWith(t: TestContext, files: Record<string, Uint8Array>, enablement: string) {
    const s = setup(t);
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(s.project, name), bytes);
    const discovery = await discoverPlugins(s.stores);
    return { discovery, resolution: resolveEnabledPlugins(config(enablement), discovery) };
  }

  it('resolves nothing and reports nothing without enablement (discovery is inventory only)', async (t) => {
    const { resolution } = await resolveWith(t, { 'echo.yoi-plugin': echoArchive() }, '');
    assert.deepEqual(resolution, { resolved: [], diagnostics: [] });
  });

  it('resolves an explicit enablement with surfaces defaulting to the declared ones and config kept', async (t) => {
    const { resolution } = await resolveWith(t, { 'echo.yoi-plugin': echoArchive() }, '[[plugins.enabled]]\nid = "project:echo"\nconfig = { level = "concise" }\n');
    assert.equal(resolution.diagnostics.length, 0);
    const r = resolution.resolved[0]!;
    assert.equal(r.identity, 'project:echo');
    assert.deepEqual(r.enabledSurfaces, ['tool', 'wasm']);
    assert.deepEqual(r.config, { level: 'concise' });
    assert.equal(r.version, '0.1.0');
  });

  it('fails closed on duplicate identities and on bare ids', async (t) => {
    const { discovery, resolution } = await resolveWith(
      t,
      { 'a.yoi-plugin': echoArchive(echoManifest({ id: 'dup' })), 'b.yoi-plugin': echoArchive(echoManifest({ id: 'dup', version: '0.2.0' })) },
      '[[plugins.enabled]]\nid = "project:dup"\n[[plugins.enabled]]\nid = "dup"\n[[plugins.enabled]]\nid = "other:dup"\n',
    );
    assert.equal(discovery.diagnostics[0]!.kind, 'duplicate');
    assert.deepEqual(resolution.resolved, []);
    assert.deepEqual(resolution.diagnostics.map((d) => d.kind), ['duplicate', 'ambiguous', 'malformed']);
  });

  it('fails closed on a missing package, a digest pin and an exact version mismatch', async (t) => {
    const { resolution } = await resolveWith(
      t,
      { 'echo.yoi-plugin': echoArchive() },
      '[[plugins.enabled]]\nid = "project:gone"\n[[plugins.enabled]]\nid = "project:echo"\ndigest = "sha256:0000"\n[[plugins.enabled]]\nid = "project:echo"\nversion = "0.2.0"\n',
    );
    assert.deepEqual(resolution.diagnostics.map((d) => [d.kind, d.phase]), [
      ['missing', 'resolution'],
      ['digest', 'resolution'],
      ['version', 'resolution'],
    ]);
    assert.ok(!resolution.diagnostics.some((d) => d.kind === 'api'));
  });

  it('binds grants to exactly id + version + digest', async (t) => {
    const s = setup(t);
    writeFileSync(join(s.project, 'echo.yoi-plugin'), echoArchive());
    const discovery = await discoverPlugins(s.stores);
    const digest = discovery.packages[0]!.digest;
    const entry = (id: string, version: string | null, dg: string | null) =>
      `[[plugins.enabled]]\nid = "project:echo"\n[plugins.enabled.grants]\nid = "${id}"\n${version ? `version = "${version}"\n` : ''}${dg ? `digest = "${dg}"\n` : ''}permissions = [{ kind = "surface", surface = "tool" }]\n`;
    const good = resolveEnabledPlugins(config(entry('project:echo', '0.1.0', digest)), discovery);
    assert.equal(good.resolved.length, 1);
    const cases: [string, RegExp][] = [
      [entry('project:other', '0.1.0', digest), /id binding does not match/],
      [entry('echo', '0.1.0', digest), /not a valid source-qualified plugin id/],
      [entry('project:echo', '0.2.0', digest), /version binding does not match/],
      [entry('project:echo', null, digest), /missing an exact package version binding/],
      [entry('project:echo', '0.1.0', 'sha256:' + '0'.repeat(64)), /digest binding does not match/],
      [entry('project:echo', '0.1.0', null), /missing a deterministic digest binding/],
      ['[[plugins.enabled]]\nid = "project:echo"\n[[plugins.enabled.grants.fs]]\nroot = "/tmp"\noperations = ["read"]\n', /missing a source-qualified package id binding/],
    ];
    for (const [text, message] of cases) {
      const r = resolveEnabledPlugins(config(text), discovery);
      assert.equal(r.resolved.length, 0);
      assert.equal(r.diagnostics[0]!.kind, 'grant');
      assert.match(r.diagnostics[0]!.message, message);
    }
  });

  it('rejects an undeclared surface', async (t) => {
    const { resolution } = await resolveWith(t, { 'echo.yoi-plugin': echoArchive() }, '[[plugins.enabled]]\nid = "project:echo"\nsurfaces = ["service"]\n');
    assert.equal(resolution.diagnostics[0]!.kind, 'surface');
    assert.match(resolution.diagnostics[0]!.message, /undeclared surface `service`/);
  });
});

describe('parseEnablementConfig', () => {
  it('parses Yoi\'s shape including grant target tables and config', () => {
    const c = config(`[[plugins.enabled]]
id = "project:example.echo"
version = "0.1.0"
digest = "sha256:abc"
surfaces = ["tool"]
config = { level = "concise" }

[plugins.enabled.grants]
id = "project:example.echo"
version = "0.1.0"
digest = "sha256:abc"
permissions = [ { kind = "surface", surface = "tool" }, { kind = "tool", name = "example_echo" } ]

[[plugins.enabled.grants.request]]
scheme = "http"
host = "localhost"
port = 8080
methods = ["GET"]

[[plugins.enabled.grants.websocket]]
scheme = "wss"
host = "gateway.example.com"
path_prefixes = ["/gateway"]

[[plugins.enabled.grants.fs]]
root = "/srv/notes"
operations = ["read", "list"]
`);
    const e = c.enabled[0]!;
    assert.equal(e.grants.request[0]!.port, 8080);
    assert.deepEqual(e.grants.fs[0], { root: '/srv/notes', operations: ['read', 'list'] });
    assert.equal(e.grants.websocket.length, 1);
  });

  it('fails only the file when it is not TOML or its plugins table is not Yoi\'s shape', () => {
    for (const text of ['[[plugins.enabled]\nid = ', '[plugins]\npriority = 1\n', '[plugins]\nenabled = "project:x"\n', '[plugins]\nresolved = "x"\n', 'other = 1\n']) {
      const parsed = parseEnablementConfig(text);
      assert.ok(!parsed.ok, text);
      assert.equal(parsed.diagnostic.kind, 'malformed');
    }
  });

  it('fails a bad entry closed and keeps the others (unknown key, old [[https]] grant table, wrong type)', () => {
    const c = config(
      '[[plugins.enabled]]\nid = "project:a"\npriority = 1\n' +
        '[[plugins.enabled]]\nid = "project:b"\n' +
        '[[plugins.enabled]]\nid = "project:c"\n[[plugins.enabled.grants.https]]\nhost = "x"\n' +
        '[[plugins.enabled]]\nid = "project:d"\nsurfaces = "tool"\n',
    );
    assert.deepEqual(c.enabled.map((e) => e.id), ['project:b']);
    assert.deepEqual(c.rejected!.map((r) => [r.index, r.id, r.diagnostic.kind]), [
      [0, 'project:a', 'malformed'],
      [2, 'project:c', 'malformed'],
      [3, 'project:d', 'malformed'],
    ]);
    assert.match(c.rejected![1]!.diagnostic.message, /plugin enablement entry could not be parsed: unknown key `plugins\.enabled\[2\]\.grants\.https`/);
  });

  it('accepts what Yoi accepts: no id, [plugins] resolved and diagnostics, fs grant without root', () => {
    const c = config(`[plugins]
resolved = [{ identity = "project:x" }]
diagnostics = [{ kind = "missing", phase = "resolution", message = "m" }]

[[plugins.enabled]]
version = "0.1.0"

[[plugins.enabled]]
id = "project:x"
[plugins.enabled.grants]
id = "project:x"
[[plugins.enabled.grants.fs]]
operations = ["read"]
`);
    assert.deepEqual(c.recordedPlan, { resolved: 1, diagnostics: 1 });
    assert.deepEqual(c.rejected!.map((r) => [r.index, r.id, r.diagnostic.kind, r.diagnostic.message]), [
      [0, undefined, 'ambiguous', 'plugin enablement id must be source-qualified as user:<id>, project:<id>, or builtin:<id>'],
    ]);
    assert.deepEqual(c.enabled[0]!.grants.fs, [{ root: '', operations: ['read'] }]);
  });
});

describe('entries that fail closed', () => {
  it('resolve to their diagnostic in file order while the other entries resolve', async (t) => {
    const s = setup(t);
    writeFileSync(join(s.project, 'echo.yoi-plugin'), echoArchive());
    const discovery = await discoverPlugins(s.stores);
    const r = resolveEnabledPlugins(
      config('[[plugins.enabled]]\nsurfaces = ["tool"]\n[[plugins.enabled]]\nid = "project:echo"\n[[plugins.enabled]]\nid = "project:echo"\nbogus = true\n[[plugins.enabled]]\nid = "project:gone"\n'),
      discovery,
    );
    assert.deepEqual(r.resolved.map((p) => p.identity), ['project:echo']);
    assert.deepEqual(r.diagnostics.map((d) => [d.kind, d.identity]), [
      ['ambiguous', undefined],
      ['malformed', 'project:echo'],
      ['missing', 'project:gone'],
    ]);
  });

  it('an fs grant without root is never usable (Yoi: root defaults to "")', async (t) => {
    const { authorizeHostApi } = await import('../../src/authority/authorize.js');
    const s = setup(t);
    writeFileSync(join(s.project, 'echo.yoi-plugin'), echoArchive(echoManifest({ permissions: '{ kind = "surface", surface = "tool" }, { kind = "tool", name = "echo" }, { kind = "host_api", api = "fs" },' })));
    const discovery = await discoverPlugins(s.stores);
    const pkg = discovery.packages[0]!;
    const r = resolveEnabledPlugins(
      config(`[[plugins.enabled]]\nid = "project:echo"\n[plugins.enabled.grants]\nid = "project:echo"\nversion = "0.1.0"\ndigest = "${pkg.digest}"\npermissions = [{ kind = "host_api", api = "fs" }]\n[[plugins.enabled.grants.fs]]\noperations = ["read"]\n`),
      discovery,
    );
    assert.equal(r.resolved.length, 1);
    assert.equal(authorizeHostApi(r.resolved[0]!, 'fs'), 'granted host_api.fs scope allowlist is missing');
  });
});

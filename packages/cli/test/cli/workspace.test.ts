import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { writeZipArchive } from '@yoi-plugins/host/internal/package/zip-write.js';
import { LEGACY_MANIFEST, manifestToml } from '@yoi-plugins/host/test/fixtures/manifest.js';
import { cli, CORE_MODULE_PREAMBLE, echoManifest, tempDir, writePluginDir, type CliResult } from '@yoi-plugins/host/test/helpers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const WRONG_DIGEST = 'sha256:' + '0'.repeat(64);

interface Tool {
  name: string;
  permission: string;
  requested: boolean;
  granted: boolean;
  eligible: boolean;
  external_write: boolean;
  diagnostic?: string;
}

interface Item {
  reference: string;
  local_ref: string | null;
  status: string;
  source: string | null;
  package: string | null;
  package_path: string | null;
  version: string | null;
  schema_version: number | null;
  api_version: number | null;
  digest: string | null;
  pinned_digest: string | null;
  configured: boolean;
  discovered: boolean;
  resolved: boolean;
  static_eligible: boolean;
  declared_surfaces: string[];
  enabled_surfaces: string[];
  requested_permissions: string[];
  configured_grants: string[];
  configured_request_grants: string[];
  configured_websocket_grants: string[];
  configured_fs_grants: string[];
  tools: Tool[];
  static_runtime: {
    runtime: { eligible: boolean; status: string; diagnostic?: string };
    host_apis: { permission: string; eligible: boolean }[];
    tools: Tool[];
    services: { name: string; eligible: boolean; diagnostic?: string }[];
    ingresses: { name: string; eligible: boolean }[];
    statically_eligible: boolean;
  } | null;
  diagnostics: { kind: string; message: string }[];
}

interface Snapshot {
  workspace: string;
  enablement_path: string;
  items: Item[];
  omitted: number;
}

interface Workspace {
  root: string;
  ws: string;
  store: string;
  userStore: string;
  run(args: string[]): Promise<CliResult>;
  /** Packs a plugin source directory into a store; returns its digest. */
  pack(name: string, manifest: string, store?: string): Promise<string>;
  enablement(text: string): void;
  list(): Promise<Snapshot>;
  show(ref: string): Promise<Item>;
}

function workspace(t: TestContext): Workspace {
  const root = realpathSync(tempDir(t));
  const ws = join(root, 'ws');
  const store = join(ws, '.yoi', 'plugins');
  const userStore = join(root, 'data', 'yoi', 'plugins');
  mkdirSync(store, { recursive: true });
  const env = { HOME: root, XDG_DATA_HOME: join(root, 'data'), YOI_BUILTIN_DIR: join(root, 'builtin') };
  const run = (args: string[]) => cli([...args, '--workspace', ws], { env, cwd: root });
  let sources = 0;
  return {
    root,
    ws,
    store,
    userStore,
    run,
    async pack(name, manifest, into = store) {
      const dir = writePluginDir(join(root, 'src', `${name}-${(sources += 1)}`), manifest);
      const result = await cli(['plugin', 'pack', dir, '--output', join(into, `${name}.yoi-plugin`), '--json'], { env, cwd: root });
      assert.equal(result.code, 0, result.stderr);
      return result.json<{ package: { digest: string } }>().package.digest;
    },
    enablement(text) {
      writeFileSync(join(ws, '.yoi', 'plugins.toml'), text);
    },
    async list() {
      const result = await run(['plugin', 'list', '--json']);
      assert.equal(result.code, 0, result.stderr);
      return result.json<Snapshot>();
    },
    async show(ref) {
      const result = await run(['plugin', 'show', ref, '--json']);
      assert.equal(result.code, 0, result.stderr);
      return result.json<Item>();
    },
  };
}

/** A `[[plugins.enabled]]` entry pinned to version + digest with bound grants. */
function pinned(
  id: string,
  digest: string,
  permissions: string[],
  options: { version?: string; surfaces?: string[]; grantDigest?: string; grantVersion?: string; grantId?: string; extra?: string } = {},
): string {
  const version = options.version ?? '0.1.0';
  return `[[plugins.enabled]]
id = "${id}"
version = "${version}"
digest = "${digest}"
${options.surfaces ? `surfaces = ${JSON.stringify(options.surfaces)}\n` : ''}
[plugins.enabled.grants]
id = "${options.grantId ?? id}"
version = "${options.grantVersion ?? version}"
digest = "${options.grantDigest ?? digest}"
permissions = [
${permissions.map((p) => `  ${p},`).join('\n')}
]
${options.extra ?? ''}
`;
}

const SURFACE_TOOL = '{ kind = "surface", surface = "tool" }';
const tool = (name: string) => `{ kind = "tool", name = "${name}" }`;

const TWO_TOOLS = manifestToml({ id: 'duo', tools: ['echo', 'other'] });

const TOOL_AND_SERVICE = manifestToml({ id: 'svc', tools: ['ping'], services: [{ name: 'worker', lifecycle: 'host-managed' }] });

function archive(files: Record<string, string | Uint8Array>): Uint8Array {
  const written = writeZipArchive(new Map(Object.entries(files).map(([k, v]) => [k, typeof v === 'string' ? enc(v) : v])));
  assert.ok(written.ok);
  return written.value;
}

function byRef(snapshot: Snapshot): Map<string, Item> {
  return new Map(snapshot.items.map((i) => [i.reference, i]));
}

/** A workspace with exactly one plugin in each status. */
async function everyStatus(t: TestContext): Promise<Workspace & { echoDigest: string; duoDigest: string }> {
  const w = workspace(t);
  const echoDigest = await w.pack('echo', echoManifest());
  const duoDigest = await w.pack('duo', TWO_TOOLS);
  await w.pack('idle', echoManifest({ id: 'idle' }));
  writeFileSync(join(w.store, 'legacy.yoi-plugin'), archive({ 'plugin.toml': LEGACY_MANIFEST }));
  w.enablement(
    [
      '# every status',
      '',
      pinned('project:echo', echoDigest, [SURFACE_TOOL, tool('echo')]),
      pinned('project:duo', duoDigest, [SURFACE_TOOL, tool('echo')]),
      '[[plugins.enabled]]\nid = "project:legacy"\n',
      '[[plugins.enabled]]\nid = "project:gone"\nversion = "1.0.0"\n',
    ].join('\n'),
  );
  return { ...w, echoDigest, duoDigest };
}

describe('yoi plugin list', () => {
  it('reports exactly the statuses active, partial, disabled, missing and rejected', async (t) => {
    const w = await everyStatus(t);
    const snapshot = await w.list();
    assert.equal(snapshot.workspace, w.ws);
    assert.equal(snapshot.enablement_path, join(w.ws, '.yoi', 'plugins.toml'));
    assert.equal(snapshot.omitted, 0);
    assert.deepEqual(
      Object.fromEntries(snapshot.items.map((i) => [i.reference, i.status])),
      {
        'project:duo': 'partial',
        'project:echo': 'active',
        'project:gone': 'missing',
        'project:idle': 'disabled',
        'project:legacy': 'rejected',
      },
    );
    assert.deepEqual(new Set(snapshot.items.map((i) => i.status)), new Set(['active', 'partial', 'disabled', 'missing', 'rejected']));

    const items = byRef(snapshot);
    const echo = items.get('project:echo')!;
    assert.equal(echo.pinned_digest, w.echoDigest);
    assert.equal(echo.digest, w.echoDigest);
    const duo = items.get('project:duo')!;
    assert.deepEqual(
      duo.tools.map((x) => [x.name, x.eligible]),
      [
        ['echo', true],
        ['other', false],
      ],
    );
    const idle = items.get('project:idle')!;
    assert.deepEqual([idle.discovered, idle.configured, idle.resolved], [true, false, false]);
    assert.ok(idle.tools.every((x) => x.diagnostic === 'plugin is discovered but not enabled'));
    const gone = items.get('project:gone')!;
    assert.deepEqual([gone.discovered, gone.configured], [false, true]);
    assert.equal(gone.package_path, join(w.store, 'gone.yoi-plugin'));
    assert.deepEqual(gone.diagnostics.map((d) => d.kind), ['missing']);
    const legacy = items.get('project:legacy')!;
    assert.equal(legacy.discovered, false);
    assert.equal(legacy.static_eligible, false);
    const api = legacy.diagnostics.find((d) => d.kind === 'api');
    assert.ok(api, JSON.stringify(legacy.diagnostics));
    assert.match(api.message, /legacy/);
    assert.match(api.message, /wasm-component/);
  });

  it('prints one scannable row per plugin with its status, digest pin and diagnostics', async (t) => {
    const w = await everyStatus(t);
    const result = await w.run(['plugin', 'list']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.equal(lines[0], `plugin packages (workspace: ${w.ws})`);
    assert.match(lines[1]!, /^STATUS\s+REFERENCE\s+VERSION\s+DIGEST\s+PIN\s+SURFACES\s+TOOLS OK$/);
    const row = (status: string, ref: string) => lines.find((l) => new RegExp(`^${status}\\s+${ref.replace('.', '\\.')}\\s`).test(l));
    assert.match(row('active', 'project:echo') ?? '', /\s0\.1\.0\s+sha256:[0-9a-f]{12}…\s+pinned\s+tool.*\s1\/1$/);
    assert.match(row('partial', 'project:duo') ?? '', /\spinned\s.*\s1\/2$/);
    assert.match(row('disabled', 'project:idle') ?? '', /\s0\.1\.0\s+sha256:/);
    assert.match(row('missing', 'project:gone') ?? '', /\sunpinned\s/);
    assert.ok(row('rejected', 'project:legacy'), result.stdout);
    assert.ok(lines.includes('    missing: enabled plugin package was not discovered'), result.stdout);
    assert.ok(lines.some((l) => /^ {4}api: .*wasm-component/.test(l)), result.stdout);
  });

  it('shows (none) for an empty workspace', async (t) => {
    const w = workspace(t);
    const result = await w.run(['plugin', 'list']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `plugin packages (workspace: ${w.ws})\n  (none)\n`);
    assert.deepEqual((await w.list()).items, []);
  });
});

describe('yoi plugin show', () => {
  it('prints the JSON fields of an active plugin', async (t) => {
    const w = await everyStatus(t);
    const item = await w.show('project:echo');
    assert.equal(item.reference, 'project:echo');
    assert.equal(item.local_ref, 'echo');
    assert.equal(item.status, 'active');
    assert.equal(item.source, 'project');
    assert.equal(item.package, 'echo');
    assert.equal(item.package_path, join(w.store, 'echo.yoi-plugin'));
    assert.equal(item.version, '0.1.0');
    assert.equal(item.schema_version, 1);
    assert.equal(item.api_version, 1);
    assert.equal(item.digest, w.echoDigest);
    assert.equal(item.pinned_digest, w.echoDigest);
    assert.equal(item.configured, true);
    assert.equal(item.discovered, true);
    assert.equal(item.resolved, true);
    assert.equal(item.static_eligible, true);
    assert.equal(item.enabled_surfaces[0], 'tool');
    assert.deepEqual(item.requested_permissions, ['surfaces.tool', 'tool.echo']);
    assert.deepEqual(item.configured_grants, ['surfaces.tool', 'tool.echo']);
    assert.deepEqual(item.configured_request_grants, []);
    assert.deepEqual(item.configured_websocket_grants, []);
    assert.deepEqual(item.configured_fs_grants, []);
    assert.equal(item.tools.length, 1);
    assert.deepEqual(item.tools[0], { name: 'echo', permission: 'tool.echo', requested: true, granted: true, eligible: true, external_write: false });
    assert.ok(item.static_runtime);
    assert.deepEqual(item.static_runtime.runtime, { eligible: true, status: 'wasm-component/yoi:plugin/tool@1.0.0' });
    assert.equal(item.static_runtime.statically_eligible, true);
    assert.deepEqual(item.diagnostics, []);
  });

  it('prints human lines for every field', async (t) => {
    const w = await everyStatus(t);
    const result = await w.run(['plugin', 'show', 'project:duo']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    for (const expected of [
      'plugin project:duo',
      '  status: partial',
      '  source: project',
      `  package_path: ${join(w.store, 'duo.yoi-plugin')}`,
      '  version: 0.1.0',
      `  digest: ${w.duoDigest}`,
      `  pinned_digest: ${w.duoDigest}`,
      '  configured: true',
      '  discovered: true',
      '  resolved: true',
      '  static_eligible: false',
      '  configured_grants: surfaces.tool, tool.echo',
      '  configured_fs_grants: (none)',
      '  runtime: wasm-component/yoi:plugin/tool@1.0.0 eligible=true',
      '  tools:',
      '    - echo permission=tool.echo requested=true granted=true eligible=true external_write=false',
      '    - other permission=tool.other requested=true granted=false eligible=false external_write=false',
      '      diagnostic: granted tool permission for `other` is missing',
      '  diagnostics:',
      '    - [static_eligibility] tool other: granted tool permission for `other` is missing',
    ]) {
      assert.ok(lines.includes(expected), `missing line ${JSON.stringify(expected)} in\n${result.stdout}`);
    }
  });

  it('resolves a bare id when it is unique', async (t) => {
    const w = await everyStatus(t);
    assert.equal((await w.show('echo')).reference, 'project:echo');
    assert.equal((await w.show('gone')).status, 'missing');
  });

  it('fails with a bounded "was not found" error (exit 1)', async (t) => {
    const w = await everyStatus(t);
    const result = await w.run(['plugin', 'show', 'nothere']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /was not found/);
    assert.ok(result.stderr.trim().length < 120, result.stderr);

    const long = await w.run(['plugin', 'show', 'x'.repeat(5000)]);
    assert.equal(long.code, 1);
    assert.ok(long.stderr.length < 400, `bounded: ${long.stderr.length} chars`);
  });

  it('fails with a bounded "is ambiguous" error when a bare id is in two stores (exit 1)', async (t) => {
    const w = workspace(t);
    await w.pack('echo', echoManifest());
    await w.pack('echo', echoManifest(), w.userStore);
    const refs = (await w.list()).items.map((i) => i.reference);
    assert.deepEqual(refs, ['project:echo', 'user:echo']);
    const result = await w.run(['plugin', 'show', 'echo']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is ambiguous/);
    assert.ok(result.stderr.trim().length < 160, result.stderr);
    assert.equal((await w.show('user:echo')).source, 'user');
  });

  it('renders request targets, grants, grant-only grants and broad targets in human show', async (t) => {
    const w = workspace(t);
    const manifest = manifestToml({
      id: 'fetcher',
      tools: ['echo'],
      hostApis: ['request'],
      request: [
        { scheme: 'https', host: 'api.example.com', methods: ['GET'], path_prefixes: ['/v1'] },
        { scheme: 'https', host: '*', methods: ['GET'], path_prefixes: [] },
      ],
    });
    const digest = await w.pack('fetcher', manifest);
    const grantTargets = `
[[plugins.enabled.grants.request]]
scheme = "https"
host = "api.example.com"
methods = ["GET"]
path_prefixes = ["/v1"]

[[plugins.enabled.grants.request]]
scheme = "http"
host = "other.example"
methods = ["GET"]
path_prefixes = ["/x"]
`;
    w.enablement(pinned('project:fetcher', digest, [SURFACE_TOOL, tool('echo'), '{ kind = "host_api", api = "request" }'], { extra: grantTargets }));
    const item = await w.show('project:fetcher');
    assert.deepEqual(item.configured_request_grants, ['http://other.example GET /x', 'https://api.example.com GET /v1']);
    const result = await w.run(['plugin', 'show', 'project:fetcher']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    for (const expected of [
      '  configured_request_grants: http://other.example GET /x, https://api.example.com GET /v1',
      '    - host_api.request grant https://api.example.com GET /v1 requested=true granted=true eligible=true',
      '  host_api_permissions:',
      '    - host_api.request requested=true granted=true eligible=true',
      '    - host_api.request target https://api.example.com GET /v1 requested=true granted=true eligible=true',
      '    - host_api.request target https://* GET * [broad-request] requested=true granted=true eligible=true',
      '      diagnostic: partially covered by enabled request grant; broad manifest target is constrained by narrower grants',
      '    - host_api.request grant-only http://other.example GET /x requested=false granted=true eligible=false',
      '      diagnostic: enabled request grant has no matching manifest declaration',
    ]) {
      assert.ok(lines.includes(expected), `missing line ${JSON.stringify(expected)} in\n${result.stdout}`);
    }
    assert.equal(item.status, 'partial', 'the tool is usable, the grant-only target is a finding');
  });

  it('lists no tools for a service-only enablement of a tool + service package', async (t) => {
    const w = workspace(t);
    const digest = await w.pack('svc', TOOL_AND_SERVICE);
    w.enablement(pinned('project:svc', digest, ['{ kind = "surface", surface = "service" }', '{ kind = "service", name = "worker" }'], { surfaces: ['service'] }));
    const item = await w.show('project:svc');
    assert.equal(item.status, 'active', JSON.stringify(item.diagnostics));
    assert.deepEqual(item.enabled_surfaces, ['service']);
    assert.deepEqual(item.tools, []);
    assert.deepEqual(item.diagnostics, []);
    assert.deepEqual(item.static_runtime?.services.map((s) => [s.name, s.eligible]), [['worker', true]]);
    const human = await w.run(['plugin', 'show', 'project:svc']);
    assert.ok(human.stdout.split('\n').includes('  tools: (none)'), human.stdout);
    assert.ok(human.stdout.split('\n').includes('    - worker permission=service.worker requested=true granted=true eligible=true'), human.stdout);
  });
});

describe('fail-closed statuses', () => {
  it('rejects an entry whose grants are bound to another digest, with a grant diagnostic', async (t) => {
    const w = workspace(t);
    const digest = await w.pack('echo', echoManifest());
    w.enablement(pinned('project:echo', digest, [SURFACE_TOOL, tool('echo')], { grantDigest: WRONG_DIGEST }));
    const item = await w.show('project:echo');
    assert.equal(item.status, 'rejected');
    assert.deepEqual([item.discovered, item.configured, item.resolved], [true, true, false]);
    assert.deepEqual(item.diagnostics.map((d) => d.kind), ['grant']);
    assert.match(item.diagnostics[0]!.message, /digest binding/);
  });

  it('rejects an entry whose grants are bound to another version or id', async (t) => {
    const w = workspace(t);
    const digest = await w.pack('echo', echoManifest());
    w.enablement(pinned('project:echo', digest, [SURFACE_TOOL, tool('echo')], { grantVersion: '9.9.9' }));
    const byVersion = await w.show('project:echo');
    assert.equal(byVersion.status, 'rejected');
    assert.deepEqual(byVersion.diagnostics.map((d) => d.kind), ['grant']);
    w.enablement(pinned('project:echo', digest, [SURFACE_TOOL, tool('echo')], { grantId: 'project:other' }));
    const byId = await w.show('project:echo');
    assert.equal(byId.status, 'rejected');
    assert.deepEqual(byId.diagnostics.map((d) => d.kind), ['grant']);
  });

  it('rejects a resolved plugin that nothing is eligible in, with a static_eligibility diagnostic', async (t) => {
    const w = workspace(t);
    const digest = await w.pack('echo', echoManifest());
    w.enablement(pinned('project:echo', digest, [SURFACE_TOOL]));
    const item = await w.show('project:echo');
    assert.equal(item.resolved, true);
    assert.equal(item.status, 'rejected');
    assert.equal(item.static_eligible, false);
    assert.ok(item.diagnostics.some((d) => d.kind === 'static_eligibility' && /tool echo/.test(d.message)), JSON.stringify(item.diagnostics));
  });

  it('rejects a digest pin mismatch with a digest diagnostic', async (t) => {
    const w = workspace(t);
    const digest = await w.pack('echo', echoManifest());
    w.enablement(pinned('project:echo', WRONG_DIGEST, [SURFACE_TOOL, tool('echo')], { grantDigest: digest }));
    const item = await w.show('project:echo');
    assert.equal(item.status, 'rejected');
    assert.equal(item.pinned_digest, WRONG_DIGEST);
    assert.equal(item.digest, digest);
    assert.deepEqual(item.diagnostics.map((d) => d.kind), ['digest']);
    const human = await w.run(['plugin', 'list']);
    assert.match(human.stdout, /^rejected\s+project:echo\s/m);
    assert.match(human.stdout, /^ {4}digest: enabled plugin digest pin does not match/m);
  });

  it('rejects an exact version mismatch with a version diagnostic', async (t) => {
    const w = workspace(t);
    const digest = await w.pack('echo', echoManifest());
    w.enablement(pinned('project:echo', digest, [SURFACE_TOOL, tool('echo')], { version: '2.0.0', grantVersion: '0.1.0' }));
    const item = await w.show('project:echo');
    assert.equal(item.status, 'rejected');
    assert.deepEqual(item.diagnostics.map((d) => d.kind), ['version']);
  });

  it('reports a present but unreadable configured package as rejected, never missing', async (t) => {
    const w = workspace(t);
    writeFileSync(join(w.store, 'broken.yoi-plugin'), 'this is not a zip archive');
    w.enablement('[[plugins.enabled]]\nid = "project:broken"\n');
    const item = await w.show('project:broken');
    assert.equal(item.status, 'rejected');
    assert.equal(item.discovered, false);
    assert.equal(item.package_path, join(w.store, 'broken.yoi-plugin'));
    assert.ok(item.diagnostics.some((d) => d.kind === 'malformed'), JSON.stringify(item.diagnostics));
  });

  it('reports a configured package whose manifest names a missing file as rejected, never missing', async (t) => {
    const w = workspace(t);
    writeFileSync(join(w.store, 'hollow.yoi-plugin'), archive({ 'plugin.toml': echoManifest({ id: 'hollow' }) }));
    w.enablement('[[plugins.enabled]]\nid = "project:hollow"\n');
    const item = await w.show('project:hollow');
    assert.equal(item.status, 'rejected');
    assert.ok(item.diagnostics.some((d) => d.kind === 'missing' && /not present/.test(d.message)), JSON.stringify(item.diagnostics));
  });

  it('reports a configured core-module package as rejected, not active', async (t) => {
    const w = workspace(t);
    const file = join(w.store, 'core.yoi-plugin');
    writeFileSync(file, archive({ 'plugin.toml': echoManifest({ id: 'core' }), 'plugin.component.wasm': CORE_MODULE_PREAMBLE }));
    const checked = await cli(['plugin', 'check', file, '--json']);
    assert.equal(checked.code, 1);
    const digest = checked.json<{ package: { digest: string } }>().package.digest;
    w.enablement(pinned('project:core', digest, [SURFACE_TOOL, tool('echo')]));
    const item = await w.show('project:core');
    assert.equal(item.status, 'rejected');
    assert.equal(item.static_runtime?.runtime.eligible, false);
  });

  it(
    'reports an enablement entry with an unqualified or malformed id as rejected with its own diagnostic',
    async (t) => {
      const w = workspace(t);
      await w.pack('echo', echoManifest());
      w.enablement('[[plugins.enabled]]\nid = "echo"\n\n[[plugins.enabled]]\nid = "bogus:echo"\n');
      const items = byRef(await w.list());
      assert.equal(items.get('project:echo')?.status, 'disabled');
      const bare = items.get('echo');
      assert.ok(bare);
      assert.equal(bare.status, 'rejected');
      assert.deepEqual(bare.diagnostics.map((d) => d.kind), ['ambiguous']);
      const bogus = items.get('bogus:echo');
      assert.ok(bogus);
      assert.equal(bogus.status, 'rejected');
      assert.deepEqual(bogus.diagnostics.map((d) => d.kind), ['malformed']);
    },
  );

  it('still lists the stores when plugins.toml is not TOML, with the problem on a <global> row', async (t) => {
    const w = workspace(t);
    await w.pack('echo', echoManifest());
    w.enablement('[[plugins.enabled]]\nid = "project:echo\n');
    const snapshot = await w.list();
    const items = byRef(snapshot);
    assert.equal(items.get('project:echo')?.status, 'disabled');
    const global = items.get('<global>');
    assert.ok(global, JSON.stringify(snapshot.items.map((i) => i.reference)));
    assert.equal(global.status, 'rejected');
    assert.deepEqual(global.diagnostics.map((d) => d.kind), ['malformed']);
    assert.match(global.diagnostics[0]!.message, /plugin enablement config could not be parsed/);
  });

  it('shows an entry that cannot be read as rejected on its own row; the other entries stay active', async (t) => {
    const w = workspace(t);
    await w.pack('echo', echoManifest());
    await w.pack('other', echoManifest({ id: 'other' }));
    w.enablement('[[plugins.enabled]]\nid = "project:echo"\nunknown_key = 1\n\n[[plugins.enabled]]\nid = "project:other"\n');
    const items = byRef(await w.list());
    assert.equal(items.get('project:echo')?.status, 'rejected');
    assert.match(items.get('project:echo')!.diagnostics[0]!.message, /plugin enablement entry could not be parsed: unknown key `plugins\.enabled\[\d+\]\.unknown_key`/);
    assert.equal(items.get('project:other')?.resolved, true, 'the readable entry still resolves');
    assert.equal(items.get('<global>'), undefined);
  });
});

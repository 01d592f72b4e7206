import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { INSPECTION_SAFETY } from '@yoi-plugins/host/internal/inventory/safety.js';
import { writeZipArchive } from '@yoi-plugins/host/internal/package/zip-write.js';
import {
  cli,
  COMPONENT_PREAMBLE,
  CORE_MODULE_PREAMBLE,
  echoManifest,
  tempDir,
  writeFiles,
  writePluginDir,
  YOI_MANIFESTS,
} from '@yoi-plugins/host/test/helpers.js';
import { LEGACY_MANIFEST, manifestToml } from '@yoi-plugins/host/test/fixtures/manifest.js';

const UNZIP = '/usr/bin/unzip';
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

interface CheckDiagnostic {
  kind: string;
  phase: string;
  message: string;
}

interface CheckJson {
  command: string;
  status: 'active' | 'partial' | 'rejected';
  input_path: string;
  input_kind: 'directory' | 'package';
  package: {
    reference: string;
    package: string;
    source: string;
    version: string;
    schema_version: number;
    digest: string;
    package_path: string;
    entries: string[];
    surfaces: string[];
    tools: string[];
    permissions: string[];
  } | null;
  diagnostics: CheckDiagnostic[];
  static_inspection: { status: string; diagnostics: number } | null;
  operator_grants: { permissions: string[]; request: string[]; websocket: string[]; fs: boolean } | null;
  safety: Record<string, boolean>;
  next_steps: string[];
}

interface PackJson {
  command: string;
  status: string;
  input_path: string;
  output_path: string;
  bytes: number;
  package: NonNullable<CheckJson['package']>;
  safety: Record<string, boolean>;
}

async function checkJson(path: string): Promise<{ code: number; stderr: string; report: CheckJson }> {
  const result = await cli(['plugin', 'check', path, '--json']);
  return { code: result.code, stderr: result.stderr, report: result.json<CheckJson>() };
}

/** Like Yoi's rust-component-service template, but with a component-looking artifact. */
const SERVICE_MANIFEST = manifestToml({
  id: 'svc',
  version: '0.2.0',
  tools: [{ name: 'example_echo', description: 'Echo.' }],
  services: [{ name: 'example_service', description: 'Service.', lifecycle: 'host-managed' }],
  ingresses: [{ name: 'example_ws', description: 'Ingress.', eventKinds: ['websocket_text'], sources: ['websocket:wss://example.com/socket'], inputSchema: '{ type = "object" }' }],
  hostApis: ['websocket'],
  websocket: [{ scheme: 'wss', host: 'example.com', path_prefixes: ['/socket'] }],
});

/** Writes a valid archive holding `xx/evil`, then renames that entry to `../evil` in place. */
function unsafeArchive(): Uint8Array {
  const written = writeZipArchive(
    new Map([
      ['plugin.toml', enc(echoManifest())],
      ['plugin.component.wasm', COMPONENT_PREAMBLE],
      ['xx/evil', enc('evil')],
    ]),
  );
  assert.ok(written.ok);
  const bytes = Buffer.from(written.value);
  const from = Buffer.from('xx/evil');
  const to = Buffer.from('../evil');
  let patched = 0;
  for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1)) {
    to.copy(bytes, at);
    patched += 1;
  }
  assert.equal(patched, 2, 'the name appears in the local and the central header');
  return new Uint8Array(bytes);
}

describe('yoi plugin check', () => {
  it("checks each of Yoi's own manifests as active or partial (placeholders are partial)", async () => {
    const dirs = readdirSync(YOI_MANIFESTS).sort();
    assert.deepEqual(dirs, ['yoi-echo-doc', 'yoi-hook-example', 'yoi-service-template', 'yoi-tool-template']);
    for (const name of dirs) {
      const dir = join(YOI_MANIFESTS, name);
      const { code, report } = await checkJson(dir);
      assert.equal(code, 0, `${name}: ${JSON.stringify(report.diagnostics)}`);
      assert.ok(report.status === 'active' || report.status === 'partial', `${name}: ${report.status}`);
      assert.ok(report.package, name);
      assert.match(report.package.digest, DIGEST);
      for (const d of report.diagnostics) assert.ok(d.kind === 'placeholder' || d.kind === 'note', `${name}: ${JSON.stringify(d)}`);
      if (existsSync(join(dir, 'plugin.component.wasm'))) {
        // Their component files are text placeholders.
        assert.equal(report.status, 'partial', name);
        const placeholder = report.diagnostics.find((d) => d.kind === 'placeholder');
        assert.ok(placeholder, name);
        assert.equal(placeholder.phase, 'runtime');
        assert.match(placeholder.message, /plugin\.component\.wasm/);
        assert.ok(report.next_steps.some((s) => /Do not enable/.test(s)), name);
      }
    }
  });

  it("reports the service template's websocket target as an operator grant instead of rejecting it", async () => {
    const { code, report } = await checkJson(join(YOI_MANIFESTS, 'yoi-service-template'));
    assert.equal(code, 0);
    assert.equal(report.status, 'partial');
    assert.ok(report.operator_grants);
    assert.ok(report.operator_grants.permissions.includes('host_api.websocket'));
    assert.deepEqual(report.operator_grants.websocket, ['wss://example.com /socket']);
  });

  it('prints the JSON shape (Yoi fields plus operator grants) for a valid directory', async (t) => {
    const dir = writePluginDir(join(tempDir(t), 'echo'));
    const { code, report } = await checkJson(dir);
    assert.equal(code, 0);
    assert.deepEqual(Object.keys(report).sort(), [
      'command',
      'diagnostics',
      'input_kind',
      'input_path',
      'next_steps',
      'operator_grants',
      'package',
      'safety',
      'static_inspection',
      'status',
    ]);
    assert.equal(report.command, 'check');
    assert.equal(report.status, 'active');
    assert.equal(report.input_path, dir);
    assert.equal(report.input_kind, 'directory');
    assert.ok(report.package);
    assert.equal(report.package.reference, 'project:echo');
    assert.equal(report.package.package, 'echo');
    assert.equal(report.package.source, 'project');
    assert.equal(report.package.version, '0.1.0');
    assert.equal(report.package.schema_version, 1);
    assert.match(report.package.digest, DIGEST);
    assert.deepEqual(report.package.entries, ['plugin.component.wasm', 'plugin.toml']);
    assert.ok(report.package.surfaces.includes('tool'));
    assert.deepEqual(report.package.tools, ['echo']);
    assert.deepEqual(report.package.permissions, ['surfaces.tool', 'tool.echo']);
    assert.deepEqual(report.diagnostics, []);
    assert.deepEqual(report.static_inspection, { status: 'active', diagnostics: 0 });
    assert.deepEqual(report.operator_grants, { permissions: ['surfaces.tool', 'tool.echo'], request: [], websocket: [], fs: false });
    assert.deepEqual(report.safety, { ...INSPECTION_SAFETY });
    assert.ok(report.next_steps.length > 0 && report.next_steps.every((s) => typeof s === 'string'));
    assert.ok(report.next_steps.some((s) => s.includes(report.package!.digest)));
  });

  it('prints a human report a person can scan', async (t) => {
    const dir = writePluginDir(join(tempDir(t), 'echo'));
    const { report } = await checkJson(dir);
    const human = await cli(['plugin', 'check', dir]);
    assert.equal(human.code, 0);
    const lines = human.stdout.split('\n');
    assert.equal(lines[0], `plugin check: ${dir} [active] input_kind=directory`);
    assert.ok(lines.includes(`package: project:echo version=0.1.0 digest=${report.package!.digest} entries=2 surfaces=${report.package!.surfaces.join(', ')} tools=1`), human.stdout);
    assert.ok(lines.includes('diagnostics: none'));
    assert.ok(lines.includes('  permissions: surfaces.tool, tool.echo'));
    assert.ok(lines.some((l) => l.startsWith('safety: no plugin execution')));
    assert.equal(human.stderr, '');
  });

  it('does not reject a service package that requests host_api.websocket; it lists the target to grant', async (t) => {
    const dir = writePluginDir(join(tempDir(t), 'svc'), SERVICE_MANIFEST);
    const { code, report } = await checkJson(dir);
    assert.equal(code, 0, JSON.stringify(report.diagnostics));
    assert.equal(report.status, 'active');
    assert.deepEqual(report.diagnostics, []);
    assert.deepEqual(report.operator_grants, {
      permissions: [
        'surfaces.tool',
        'tool.example_echo',
        'surfaces.service',
        'service.example_service',
        'surfaces.ingress',
        'ingress.example_ws',
        'host_api.websocket',
      ],
      request: [],
      websocket: ['wss://example.com /socket'],
      fs: false,
    });
    const human = await cli(['plugin', 'check', dir]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^ {2}websocket target: wss:\/\/example\.com \/socket$/m);
  });

  it('lists a requested request target under operator grants', async (t) => {
    const dir = writePluginDir(
      join(tempDir(t), 'req'),
      manifestToml({ id: 'echo', tools: ['echo'], hostApis: ['request'], request: [{ scheme: 'https', host: 'api.example.com', methods: ['GET'], path_prefixes: ['/v1'] }] }),
    );
    const { code, report } = await checkJson(dir);
    assert.equal(code, 0, JSON.stringify(report.diagnostics));
    assert.equal(report.status, 'active');
    assert.ok(report.operator_grants);
    assert.deepEqual(report.operator_grants.request, ['https://api.example.com GET /v1']);
    assert.ok(report.operator_grants.permissions.includes('host_api.request'));
  });

  it('lists host_api.fs under operator grants (fs is grant-only) without rejecting', async (t) => {
    const dir = writePluginDir(join(tempDir(t), 'fs'), manifestToml({ id: 'echo', tools: ['echo'], hostApis: ['fs'] }));
    const { code, report } = await checkJson(dir);
    assert.equal(code, 0, JSON.stringify(report.diagnostics));
    assert.equal(report.status, 'active');
    assert.ok(report.operator_grants);
    assert.equal(report.operator_grants.fs, true);
    assert.ok(report.operator_grants.permissions.includes('host_api.fs'));
    const human = await cli(['plugin', 'check', dir]);
    assert.match(human.stdout, /^ {2}fs: a root folder/m);
  });

  it('rejects the legacy raw-Wasm runtime with an api diagnostic naming wasm-component (exit 1)', async (t) => {
    const dir = writeFiles(join(tempDir(t), 'legacy'), { 'plugin.toml': LEGACY_MANIFEST });
    const { code, stderr, report } = await checkJson(dir);
    assert.equal(code, 1);
    assert.equal(report.status, 'rejected');
    assert.equal(report.package, null);
    assert.equal(report.operator_grants, null);
    assert.equal(report.diagnostics.length, 1);
    const [d] = report.diagnostics;
    assert.equal(d!.kind, 'api');
    assert.equal(d!.phase, 'manifest');
    assert.match(d!.message, /legacy/);
    assert.match(d!.message, /wasm-component/);
    assert.match(stderr, /plugin check failed/);
    assert.deepEqual(report.next_steps, ['Fix the reported package diagnostic and run `yoi plugin check` again.']);
    const human = await cli(['plugin', 'check', dir]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /\[rejected\]/);
    assert.match(human.stdout, /\[api\/manifest\] .*wasm-component/);
    assert.equal(human.stderr, 'yoi plugin: plugin check failed; see diagnostics above\n');
  });

  it('rejects an invalid manifest in the manifest phase', async (t) => {
    const dir = writePluginDir(join(tempDir(t), 'bad'), echoManifest().replace('surfaces =', 'bogus = 1\nsurfaces ='));
    const { code, report } = await checkJson(dir);
    assert.equal(code, 1);
    assert.equal(report.status, 'rejected');
    assert.equal(report.package, null);
    assert.equal(report.diagnostics.length, 1);
    assert.equal(report.diagnostics[0]!.phase, 'manifest');
    assert.equal(report.diagnostics[0]!.kind, 'malformed');
  });

  it('rejects a manifest whose runtime artifact is not present', async (t) => {
    const dir = writeFiles(join(tempDir(t), 'nocomponent'), { 'plugin.toml': echoManifest() });
    const { code, report } = await checkJson(dir);
    assert.equal(code, 1);
    assert.equal(report.status, 'rejected');
    assert.equal(report.diagnostics[0]!.kind, 'missing');
    assert.equal(report.diagnostics[0]!.phase, 'manifest');
    assert.match(report.diagnostics[0]!.message, /not present/);
  });

  it('rejects an archive with an entry escaping its root', async (t) => {
    const file = join(tempDir(t), 'evil.yoi-plugin');
    writeFileSync(file, unsafeArchive());
    const { code, stderr, report } = await checkJson(file);
    assert.equal(code, 1);
    assert.equal(report.status, 'rejected');
    assert.equal(report.input_kind, 'package');
    assert.equal(report.package, null);
    assert.equal(report.diagnostics[0]!.kind, 'traversal');
    assert.match(report.diagnostics[0]!.message, /escapes/);
    assert.match(stderr, /plugin check failed/);
  });

  it('rejects a core WebAssembly module (the retired runtime format) with an api diagnostic', async (t) => {
    const dir = writePluginDir(join(tempDir(t), 'core'), echoManifest(), CORE_MODULE_PREAMBLE);
    const { code, report } = await checkJson(dir);
    assert.equal(code, 1);
    assert.equal(report.status, 'rejected');
    assert.ok(report.package, 'the package itself is valid');
    const api = report.diagnostics.filter((d) => d.kind === 'api');
    assert.equal(api.length, 1, JSON.stringify(report.diagnostics));
    assert.match(api[0]!.message, /core WebAssembly module/);
    assert.match(api[0]!.message, /wasm-component/);
  });

  it('rejects an invalid tool name and an invalid input schema, in JSON and in human output', async (t) => {
    const dir = writePluginDir(
      join(tempDir(t), 'tools'),
      manifestToml({
        id: 'echo',
        tools: [
          { name: 'bad name', description: 'Whitespace in the name.' },
          { name: 'bad_schema', description: 'Root type is not object.', inputSchema: '{ type = "string" }' },
        ],
      }),
    );
    const { code, report } = await checkJson(dir);
    assert.equal(code, 1);
    assert.equal(report.status, 'rejected');
    assert.ok(report.package);
    assert.deepEqual(report.package.tools, ['bad name', 'bad_schema']);
    const name = report.diagnostics.find((d) => /`bad name` has invalid name/.test(d.message));
    const schema = report.diagnostics.find((d) => /`bad_schema` has invalid input_schema/.test(d.message));
    assert.ok(name, JSON.stringify(report.diagnostics));
    assert.ok(schema, JSON.stringify(report.diagnostics));
    assert.deepEqual([name.kind, name.phase], ['malformed', 'resolution']);
    assert.deepEqual([schema.kind, schema.phase], ['malformed', 'resolution']);

    const human = await cli(['plugin', 'check', dir]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /^ {2}- \[malformed\/resolution\] tool `bad name` has invalid name/m);
    assert.match(human.stdout, /^ {2}- \[malformed\/resolution\] tool `bad_schema` has invalid input_schema/m);
  });

  it('inspects tools even when the tool surface is only implied by [[tools]]', async (t) => {
    // The builder writes no `surfaces` key: the tool surface is only implied.
    const manifest = manifestToml({ id: 'echo', tools: [{ name: 'echo', description: 'd', inputSchema: '{ type = "string" }' }] });
    const dir = writePluginDir(join(tempDir(t), 'implied'), manifest);
    const { code, report } = await checkJson(dir);
    assert.equal(code, 1);
    assert.equal(report.status, 'rejected');
    assert.ok(report.diagnostics.some((d) => d.kind === 'malformed' && /invalid input_schema/.test(d.message)), JSON.stringify(report.diagnostics));
  });

  it('reports a missing input path as rejected with an io diagnostic', async (t) => {
    const { code, report } = await checkJson(join(tempDir(t), 'does-not-exist'));
    assert.equal(code, 1);
    assert.equal(report.status, 'rejected');
    assert.equal(report.diagnostics[0]!.kind, 'io');
  });
});

describe('yoi plugin pack', () => {
  it('writes byte-identical archives on two runs that unzip -t accepts and that check with the directory digest', async (t) => {
    const root = tempDir(t);
    const dir = writeFiles(writePluginDir(join(root, 'echo')), { 'README.md': '# echo\n', 'docs/usage.md': 'usage\n' });
    const first = join(root, 'out', 'one.yoi-plugin');
    const second = join(root, 'out', 'two.yoi-plugin');
    const a = await cli(['plugin', 'pack', dir, '--output', first, '--json']);
    const b = await cli(['plugin', 'pack', dir, '--output', second, '--json']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.ok(Buffer.from(readFileSync(first)).equals(readFileSync(second)), 'two packs are byte-identical');

    const packed = a.json<PackJson>();
    assert.equal(packed.command, 'pack');
    assert.equal(packed.status, 'packed');
    assert.equal(packed.input_path, dir);
    assert.equal(packed.output_path, first);
    assert.equal(packed.bytes, statSync(first).size);
    assert.deepEqual(packed.safety, { ...INSPECTION_SAFETY });
    assert.equal(packed.package.reference, 'project:echo');
    assert.deepEqual(packed.package.entries, ['README.md', 'docs/usage.md', 'plugin.component.wasm', 'plugin.toml']);

    const fromDir = await checkJson(dir);
    const fromArchive = await checkJson(first);
    assert.equal(fromDir.code, 0);
    assert.equal(fromArchive.code, 0);
    assert.equal(fromArchive.report.input_kind, 'package');
    assert.equal(fromDir.report.package!.digest, fromArchive.report.package!.digest);
    assert.equal(packed.package.digest, fromDir.report.package!.digest);
    assert.deepEqual(fromDir.report.package!.entries, fromArchive.report.package!.entries);

    if (!existsSync(UNZIP)) {
      t.diagnostic(`${UNZIP} is not installed; skipped unzip -t`);
      return;
    }
    const tested = spawnSync(UNZIP, ['-t', first], { encoding: 'utf8' });
    assert.equal(tested.status, 0, `${tested.stdout}\n${tested.stderr}`);
    assert.match(tested.stdout, /No errors detected/);
  });

  it('writes <dir>.yoi-plugin beside the directory by default and prints a human summary', async (t) => {
    const root = tempDir(t);
    const dir = writePluginDir(join(root, 'my-plugin'));
    const result = await cli(['plugin', 'pack', 'my-plugin'], { cwd: root });
    assert.equal(result.code, 0, result.stderr);
    const output = join(root, 'my-plugin.yoi-plugin');
    assert.ok(existsSync(output));
    assert.ok(!existsSync(join(dir, 'my-plugin.yoi-plugin')));
    const lines = result.stdout.split('\n');
    assert.equal(lines[0], `plugin pack: ${output} [packed]`);
    assert.match(lines[1]!, /^package: project:echo version=0\.1\.0 digest=sha256:[0-9a-f]{64} entries=2 bytes=\d+$/);
    assert.match(result.stdout, /^safety: deterministic stored \.yoi-plugin archive/m);
  });

  it('fails with exit 1 for a directory with the legacy runtime and writes nothing', async (t) => {
    const root = tempDir(t);
    const dir = writeFiles(join(root, 'legacy'), { 'plugin.toml': LEGACY_MANIFEST });
    const result = await cli(['plugin', 'pack', dir]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^yoi plugin: plugin pack failed: .*wasm-component/);
    assert.equal(result.stdout, '');
    assert.deepEqual(readdirSync(root), ['legacy']);
  });

  it('refuses to pack an archive (directories only)', async (t) => {
    const root = tempDir(t);
    const dir = writePluginDir(join(root, 'echo'));
    assert.equal((await cli(['plugin', 'pack', dir])).code, 0);
    const again = await cli(['plugin', 'pack', join(root, 'echo.yoi-plugin'), '--output', join(root, 'copy.yoi-plugin')]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /plugin pack failed/);
  });
});

describe('authoring ignore rule', () => {
  async function digestOf(dir: string): Promise<{ digest: string; entries: string[] }> {
    const { code, report } = await checkJson(dir);
    assert.equal(code, 0, JSON.stringify(report.diagnostics));
    return { digest: report.package!.digest, entries: report.package!.entries };
  }

  function setup(t: TestContext): { root: string; dir: string } {
    const root = tempDir(t);
    return { root, dir: writePluginDir(join(root, 'echo')) };
  }

  it('skips VCS, dependency and build folders, OS clutter and packed archives, also for pack', async (t) => {
    const { root, dir } = setup(t);
    const before = await digestOf(dir);
    const packedBefore = join(root, 'before.yoi-plugin');
    assert.equal((await cli(['plugin', 'pack', dir, '--output', packedBefore])).code, 0);

    writeFiles(dir, {
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.git/objects/ab/cdef': 'blob',
      'node_modules/dep/index.js': 'export {};\n',
      'target/debug/plugin.wasm': 'build output',
      'src/target/nested.txt': 'nested build output',
      '.DS_Store': 'clutter',
      'docs/.DS_Store': 'clutter',
      'x.yoi-plugin': 'a stray package',
      'sub/old.yoi-plugin': 'another stray package',
    });
    mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
    symlinkSync('../dep/index.js', join(dir, 'node_modules', '.bin', 'dep'));
    // An empty folder adds no entry either (docs/ only holds clutter now).
    const after = await digestOf(dir);
    assert.deepEqual(after, before);

    const packedAfter = join(root, 'after.yoi-plugin');
    const pack = await cli(['plugin', 'pack', dir, '--output', packedAfter, '--json']);
    assert.equal(pack.code, 0, pack.stderr);
    assert.equal(pack.json<PackJson>().package.digest, before.digest);
    assert.ok(Buffer.from(readFileSync(packedBefore)).equals(readFileSync(packedAfter)));
  });

  it('includes every other file, hidden ones too', async (t) => {
    const { dir } = setup(t);
    const before = await digestOf(dir);
    writeFiles(dir, { '.hidden-config': 'x' });
    const after = await digestOf(dir);
    assert.notEqual(after.digest, before.digest);
    assert.deepEqual(after.entries, ['.hidden-config', ...before.entries]);
  });

  it('refuses a symlink outside the skipped folders (traversal), in check and in pack', async (t) => {
    const { root, dir } = setup(t);
    mkdirSync(join(dir, 'assets'));
    symlinkSync(join(dir, 'plugin.toml'), join(dir, 'assets', 'link.toml'));
    const { code, report } = await checkJson(dir);
    assert.equal(code, 1);
    assert.equal(report.status, 'rejected');
    assert.equal(report.diagnostics[0]!.kind, 'traversal');
    assert.match(report.diagnostics[0]!.message, /symlink/);

    const pack = await cli(['plugin', 'pack', dir, '--output', join(root, 'out.yoi-plugin')]);
    assert.equal(pack.code, 1);
    assert.match(pack.stderr, /plugin pack failed: .*symlink/);
    assert.ok(!existsSync(join(root, 'out.yoi-plugin')));
  });

  it('refuses a symlink to a directory', async (t) => {
    const { root, dir } = setup(t);
    mkdirSync(join(root, 'elsewhere'));
    writeFileSync(join(root, 'elsewhere', 'secret.txt'), 'not part of the plugin');
    symlinkSync(join(root, 'elsewhere'), join(dir, 'linked-dir'));
    const { code, report } = await checkJson(dir);
    assert.equal(code, 1);
    assert.equal(report.diagnostics[0]!.kind, 'traversal');
  });
});

describe('usage and help', () => {
  for (const argv of [['--help'], ['plugin', '--help'], ['plugin', 'check', '--help'], ['plugin', 'pack', '--help'], ['plugin', 'enable', '--help'], ['plugin', 'list', '-h']]) {
    it(`\`yoi ${argv.join(' ')}\` prints usage and exits 0`, async () => {
      const result = await cli(argv);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Usage: yoi/);
    });
  }

  it(
    'exits 0 for the advertised `help [command]` subcommand',
    async () => {
      for (const argv of [['help'], ['plugin', 'help'], ['plugin', 'help', 'check']]) {
        const result = await cli(argv);
        assert.match(result.stdout, /Usage: yoi/);
        assert.equal(result.code, 0, `yoi ${argv.join(' ')}`);
      }
    },
  );

  it('shows the enable examples in its help', async () => {
    const result = await cli(['plugin', 'enable', '--help']);
    assert.match(result.stdout, /--grant-all-requested/);
    assert.match(result.stdout, /Examples:/);
  });

  const usageErrors: [string, string[]][] = [
    ['no arguments', []],
    ['no subcommand', ['plugin']],
    ['an unknown subcommand', ['plugin', 'frobnicate']],
    ['an unknown option', ['plugin', 'check', '.', '--bogus']],
    ['a missing argument', ['plugin', 'check']],
    ['a missing option value', ['plugin', 'pack', '.', '--output']],
    ['an extra argument', ['plugin', 'show', 'a', 'b']],
    ['a workspace that is not a directory', ['plugin', 'list', '--workspace', '/nonexistent/workspace/dir']],
  ];
  for (const [what, argv] of usageErrors) {
    it(`exits 2 on ${what}`, async () => {
      const result = await cli(argv);
      assert.equal(result.code, 2, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
      if (argv.length > 0) assert.notEqual(result.stderr, '');
    });
  }
});

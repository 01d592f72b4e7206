/** Yoi's `crates/yoi/src/plugin_cli.rs` tests (reference §9.3) through our `yoi plugin` CLI. */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LEGACY_MANIFEST } from '@yoi-plugins/host/test/fixtures/manifest.js';
import { cli, echoManifest, tempDir, writeFiles, writePluginDir } from '@yoi-plugins/host/test/helpers.js';
import { fileMap, grantAll, loadManifestPackage, packageFiles, stores, yoiFixture, type Stores } from '@yoi-plugins/host/test/conformance/support.js';
import { loadPluginPackage } from '@yoi-plugins/host/internal/package/plugin-package.js';
import type { ConformanceCase } from '@yoi-plugins/host/test/conformance/table.js';

interface Item {
  reference: string;
  status: string;
  enabled_surfaces: string[];
  configured_grants: string[];
  tools: { name: string; permission: string; granted: boolean; eligible: boolean; diagnostic?: string }[];
  diagnostics: { kind: string; message: string }[];
  static_runtime: { host_apis: { permission: string; eligible: boolean; diagnostic?: string }[] } | null;
  schema_version: number | null;
  api_version: number | null;
  package_path: string | null;
}

async function list(s: Stores): Promise<Map<string, Item>> {
  const run = await s.run(['plugin', 'list', '--json']);
  assert.equal(run.code, 0, run.stderr);
  return new Map(run.json<{ items: Item[] }>().items.map((i) => [i.reference, i]));
}

async function show(s: Stores, ref: string): Promise<Item> {
  const run = await s.run(['plugin', 'show', ref, '--json']);
  assert.equal(run.code, 0, run.stderr);
  return run.json<Item>();
}

/** An echo package in the project store, enabled with `extra` grant text. */
function enabledEcho(s: Stores, manifest = echoManifest(), extraGrants = '', entryExtra = ''): ReturnType<typeof loadManifestPackage> {
  const pkg = loadManifestPackage(manifest);
  s.put('project', `${pkg.manifest.id}.yoi-plugin`, pkg.files);
  s.enablement(grantAll(`project:${pkg.manifest.id}`, pkg, extraGrants).replace('[plugins.enabled.grants]', `${entryExtra}[plugins.enabled.grants]`));
  return pkg;
}

const TWO_TOOLS = echoManifest({
  permissions: '{ kind = "surface", surface = "tool" }, { kind = "tool", name = "echo" }, { kind = "tool", name = "other" },',
  tools: '[[tools]]\nname = "echo"\ndescription = "e"\ninput_schema = { type = "object" }\n\n[[tools]]\nname = "other"\ndescription = "o"\ninput_schema = { type = "object" }\n',
});


export const CLI_CASES: readonly ConformanceCase[] = [
  {
    upstream: 'active_list_and_show_json_are_structured_and_non_executing',
    gist: 'active, tools, static_eligible, schema/api version 1, package_path, enabled_surfaces[0]=tool, tools[0].granted, configured grants, tool permission label',
    run: async (t) => {
      const s = stores(t);
      enabledEcho(s);
      const item = await show(s, 'project:echo');
      assert.equal(item.status, 'active');
      assert.deepEqual([item.schema_version, item.api_version], [1, 1]);
      assert.equal(item.enabled_surfaces[0], 'tool');
      assert.deepEqual([item.tools[0]!.granted, item.tools[0]!.permission], [true, 'tool.echo']);
      assert.ok(item.configured_grants.includes('surfaces.tool'));
      assert.equal(item.package_path, join(s.project, 'echo.yoi-plugin'));
      const human = await s.run(['plugin', 'show', 'project:echo']);
      assert.match(human.stdout, /^plugin project:echo\n {2}status: active\n/);
    },
  },
  {
    upstream: 'render_show_distinguishes_request_grant_statuses_and_broad_targets',
    gist: 'human show lists target / grant / grant-only lines and broad labels',
    run: async (t) => {
      const s = stores(t);
      enabledEcho(
        s,
        echoManifest({ permissions: '{ kind = "surface", surface = "tool" }, { kind = "tool", name = "echo" }, { kind = "host_api", api = "request" },', extra: '[[request]]\nscheme = "https"\nhost = "*"\nmethods = ["GET"]\n' }),
        '[[plugins.enabled.grants.request]]\nscheme = "https"\nhost = "api.example.com"\nmethods = ["GET"]\npath_prefixes = ["/v1"]\n[[plugins.enabled.grants.request]]\nscheme = "ftp"\nhost = "files.example.com"\nmethods = ["GET"]\n',
      );
      const human = (await s.run(['plugin', 'show', 'project:echo'])).stdout;
      assert.match(human, /- host_api\.request target https:\/\/\* GET \* \[broad-request\] requested=true granted=true eligible=true/);
      assert.match(human, /- host_api\.request grant https:\/\/api\.example\.com GET \/v1 /);
      assert.match(human, /- host_api\.request grant-only ftp:\/\/files\.example\.com GET \* \[broad-request\] requested=false granted=true eligible=false/);
    },
  },
  {
    upstream: 'service_only_enablement_ignores_unselected_tool_static_grants',
    gist: 'a service-only enablement of a tool+service package is active with no tools and no tool diagnostics',
    run: async (t) => {
      const s = stores(t);
      const loaded = loadPluginPackage(yoiFixture('yoi-service-template'));
      assert.ok(loaded.ok);
      const pkg = loaded.value;
      s.put('project', 'svc.yoi-plugin', pkg.files);
      const text = grantAll('project:example.rust_service_plugin', pkg, '[[plugins.enabled.grants.websocket]]\nscheme = "wss"\nhost = "example.com"\npath_prefixes = ["/socket"]\n');
      s.enablement(text.replace('[plugins.enabled.grants]', 'surfaces = ["service"]\n[plugins.enabled.grants]').replace(/\{ kind = "tool", name = "example_echo" \}, /, ''));
      const item = await show(s, 'project:example.rust_service_plugin');
      assert.deepEqual(item.tools, []);
      assert.ok(!item.diagnostics.some((d) => d.message.includes('example_echo')), JSON.stringify(item.diagnostics));
      assert.notEqual(item.status, 'rejected');
    },
  },
  {
    upstream: 'human_list_uses_required_status_vocabulary',
    gist: 'statuses are active/disabled/missing/rejected; a list line shows version, package path and enabled surfaces',
    divergence: 'cli-surface',
    run: async (t) => {
      const s = stores(t);
      enabledEcho(s);
      s.put('project', 'idle.yoi-plugin', packageFiles(echoManifest({ id: 'idle' })));
      s.put('project', 'legacy.yoi-plugin', fileMap({ 'plugin.toml': LEGACY_MANIFEST }));
      s.enablement(`${readFileSync(join(s.workspace, '.yoi', 'plugins.toml'), 'utf8')}\n[[plugins.enabled]]\nid = "project:gone"\n\n[[plugins.enabled]]\nid = "project:legacy"\n`);
      const items = await list(s);
      assert.deepEqual(Object.fromEntries([...items].map(([ref, i]) => [ref, i.status])), {
        'project:echo': 'active',
        'project:gone': 'missing',
        'project:idle': 'disabled',
        'project:legacy': 'rejected',
      });
      const human = (await s.run(['plugin', 'list'])).stdout;
      assert.match(human, /^STATUS +REFERENCE +VERSION +DIGEST +PIN +SURFACES +TOOLS OK$/m);
      assert.match(human, /^active +project:echo +0\.1\.0 +\S+ +pinned +tool/m);
    },
  },
  {
    upstream: 'missing_ref_is_bounded_error',
    gist: '`show` of an unknown ref fails with a message under 120 characters',
    run: async (t) => {
      const s = stores(t);
      const run = await s.run(['plugin', 'show', 'project:nothing-here']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /not found/);
      assert.ok(run.stderr.trim().length < 120, run.stderr);
    },
  },
  {
    upstream: 'ambiguous_ref_is_bounded_error',
    gist: 'a bare id matching two sources fails with a message under 160 characters',
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'echo.yoi-plugin', packageFiles(echoManifest()));
      s.put('user', 'echo.yoi-plugin', packageFiles(echoManifest()));
      const run = await s.run(['plugin', 'show', 'echo']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /ambiguous; use a source-qualified ref/);
      assert.ok(run.stderr.trim().length < 160, run.stderr);
    },
  },
  {
    upstream: 'grant_mismatch_is_inspectable',
    gist: 'resolved but ineligible is `rejected` with a static_eligibility diagnostic',
    run: async (t) => {
      const s = stores(t);
      enabledEcho(s, echoManifest(), '', '');
      s.enablement(readFileSync(join(s.workspace, '.yoi', 'plugins.toml'), 'utf8').replace('{ kind = "tool", name = "echo" }', '{ kind = "tool", name = "nope" }'));
      const item = await show(s, 'project:echo');
      assert.equal(item.status, 'rejected');
      assert.ok(item.diagnostics.some((d) => d.kind === 'static_eligibility' && /granted tool permission for `echo` is missing/.test(d.message)));
    },
  },
  {
    upstream: 'partial_status_represents_mixed_tool_usability',
    gist: 'one granted tool and one not is `partial`',
    run: async (t) => {
      const s = stores(t);
      enabledEcho(s, TWO_TOOLS);
      s.enablement(readFileSync(join(s.workspace, '.yoi', 'plugins.toml'), 'utf8').replace(', { kind = "tool", name = "other" }', ''));
      assert.equal((await show(s, 'project:echo')).status, 'partial');
    },
  },
  {
    upstream: 'invalid_manifest_and_digest_mismatch_are_rejected_diagnostics',
    gist: 'an invalid archive lists as rejected with diagnostics; a digest pin mismatch is rejected with `digest`',
    run: async (t) => {
      const s = stores(t);
      enabledEcho(s);
      s.put('project', 'broken.yoi-plugin', new Uint8Array([1, 2, 3]));
      s.enablement(readFileSync(join(s.workspace, '.yoi', 'plugins.toml'), 'utf8').replace(/digest = "sha256:[0-9a-f]+"\n\[plugins/, `digest = "sha256:${'0'.repeat(64)}"\n[plugins`));
      const items = await list(s);
      assert.equal(items.get('project:broken')?.status, 'rejected');
      assert.ok(items.get('project:broken')!.diagnostics.length > 0);
      assert.equal(items.get('project:echo')?.status, 'rejected');
      assert.ok(items.get('project:echo')!.diagnostics.some((d) => d.kind === 'digest'));
    },
  },
  {
    upstream: 'legacy_raw_wasm_package_is_rejected_not_active_or_eligible',
    gist: 'a legacy package is rejected, not discovered, with an `api` diagnostic naming legacy and wasm-component',
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'legacy.yoi-plugin', fileMap({ 'plugin.toml': LEGACY_MANIFEST }));
      s.enablement('[[plugins.enabled]]\nid = "project:legacy"\n');
      const item = await show(s, 'project:legacy');
      assert.equal(item.status, 'rejected');
      assert.ok(item.diagnostics.some((d) => d.kind === 'api' && /legacy/.test(d.message) && /wasm-component/.test(d.message)));
    },
  },
  {
    upstream: 'configured_invalid_or_incompatible_package_is_rejected_not_missing',
    gist: 'a present package that does not validate is `rejected` (api), never `missing`',
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'future.yoi-plugin', packageFiles(echoManifest({ id: 'future' }).replace('schema_version = 1', 'schema_version = 2')));
      s.enablement('[[plugins.enabled]]\nid = "project:future"\n');
      const item = await show(s, 'project:future');
      assert.equal(item.status, 'rejected');
      assert.ok(item.diagnostics.some((d) => d.kind === 'api'), JSON.stringify(item.diagnostics));
    },
  },
  {
    upstream: 'configured_present_package_with_missing_manifest_entries_is_rejected_not_missing',
    gist: 'a present package whose manifest names a missing file is `rejected` (missing diagnostic), never `missing`',
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'hollow.yoi-plugin', fileMap({ 'plugin.toml': echoManifest({ id: 'hollow' }) }));
      s.enablement('[[plugins.enabled]]\nid = "project:hollow"\n');
      const item = await show(s, 'project:hollow');
      assert.equal(item.status, 'rejected');
      assert.ok(item.diagnostics.some((d) => d.kind === 'missing' && /not present in the package/.test(d.message)));
    },
  },
  {
    upstream: 'invalid_tool_schema_and_name_are_rejected_in_json_and_human_output',
    gist: 'an invalid tool name and input_schema are reported in JSON and human output',
    run: async (t) => {
      const s = stores(t);
      enabledEcho(
        s,
        echoManifest({
          permissions: '{ kind = "surface", surface = "tool" }, { kind = "tool", name = "bad name" }, { kind = "tool", name = "schema" },',
          tools: '[[tools]]\nname = "bad name"\ndescription = "d"\ninput_schema = { type = "object" }\n\n[[tools]]\nname = "schema"\ndescription = "d"\ninput_schema = { type = "object", properties = { q = { type = "string", minLength = 1 } } }\n',
        }),
      );
      const item = await show(s, 'project:echo');
      assert.match(item.tools[0]!.diagnostic!, /invalid name/);
      assert.match(item.tools[1]!.diagnostic!, /invalid input_schema: \$\.properties\.q: unsupported schema keyword `minLength`/);
      const human = (await s.run(['plugin', 'show', 'project:echo'])).stdout;
      assert.match(human, /diagnostic: tool `bad name` has invalid name/);
      assert.match(human, /diagnostic: tool `schema` has invalid input_schema/);
    },
  },
  {
    upstream: 'plugin_new_creates_template_files_and_refuses_non_empty_destination',
    gist: 'new writes the template files; the service template packs; a second new into the same folder fails "not empty"',
    divergence: 'templates',
    run: async (t) => {
      const root = tempDir(t);
      const dest = join(root, 'svc');
      const created = await cli(['plugin', 'new', 'ts-service', dest]);
      assert.equal(created.code, 0, created.stderr);
      assert.ok(readdirSync(dest).includes('plugin.toml'));
      const again = await cli(['plugin', 'new', 'ts-tool', dest]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /not empty/);
    },
  },
  {
    upstream: 'plugin_new_refuses_symlink_destination_without_following_it',
    gist: 'a symlink destination is refused and nothing is written through it',
    run: async (t) => {
      const root = tempDir(t);
      mkdirSync(join(root, 'real'));
      symlinkSync(join(root, 'real'), join(root, 'link'));
      const run = await cli(['plugin', 'new', 'ts-tool', join(root, 'link')]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /symlink; refusing to follow it/);
      assert.deepEqual(readdirSync(join(root, 'real')), []);
    },
  },
  {
    upstream: 'plugin_check_accepts_valid_directory_and_reports_json_shape',
    gist: 'check of a valid directory is active with a digest, states it does not mutate config, and has the JSON fields',
    run: async (t) => {
      const dir = writePluginDir(join(tempDir(t), 'echo'));
      const run = await cli(['plugin', 'check', dir, '--json']);
      assert.equal(run.code, 0, run.stderr);
      const report = run.json<{ status: string; package: { digest: string }; safety: Record<string, boolean> }>();
      assert.equal(report.status, 'active');
      assert.match(report.package.digest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(report.safety['no_enablement_config_mutation'], true);
      for (const key of ['command', 'status', 'input_path', 'input_kind', 'package', 'diagnostics', 'static_inspection', 'safety', 'next_steps']) assert.ok(key in report, key);
    },
  },
  {
    upstream: 'plugin_check_rejects_legacy_raw_wasm_package',
    gist: 'check of the legacy runtime is rejected (exit 1)',
    run: async (t) => {
      const dir = writeFiles(join(tempDir(t), 'legacy'), { 'plugin.toml': LEGACY_MANIFEST });
      const run = await cli(['plugin', 'check', dir, '--json']);
      assert.equal(run.code, 1);
      assert.equal(run.json<{ status: string }>().status, 'rejected');
    },
  },
  {
    upstream: 'plugin_check_rejects_invalid_manifest_and_missing_runtime_artifact',
    gist: 'an invalid manifest and a missing artifact are rejected in phase manifest ("path not present")',
    run: async (t) => {
      const dir = writeFiles(join(tempDir(t), 'hollow'), { 'plugin.toml': echoManifest() });
      const run = await cli(['plugin', 'check', dir, '--json']);
      assert.equal(run.code, 1);
      const d = run.json<{ diagnostics: { kind: string; phase: string; message: string }[] }>().diagnostics[0]!;
      assert.deepEqual([d.kind, d.phase], ['missing', 'manifest']);
      assert.match(d.message, /path not present/);
      const bad = writeFiles(join(tempDir(t), 'bad'), { 'plugin.toml': 'schema_version = [' });
      assert.equal((await cli(['plugin', 'check', bad, '--json'])).json<{ diagnostics: { phase: string }[] }>().diagnostics[0]!.phase, 'manifest');
    },
  },
  {
    upstream: 'plugin_check_rejects_unsafe_package_archive',
    gist: 'an archive with an escaping entry is rejected ("escapes")',
    run: async (t) => {
      const root = tempDir(t);
      const { archive } = await import('@yoi-plugins/host/test/conformance/support.js');
      const bytes = Buffer.from(archive(packageFiles(echoManifest(), { 'xx/evil': 'x' })));
      const path = join(root, 'evil.yoi-plugin');
      writeFileSync(path, Buffer.from(bytes.toString('latin1').replaceAll('xx/evil', '../evil'), 'latin1'));
      const run = await cli(['plugin', 'check', path, '--json']);
      assert.equal(run.code, 1);
      assert.match(run.json<{ diagnostics: { message: string }[] }>().diagnostics[0]!.message, /escapes/);
    },
  },
  {
    upstream: 'plugin_pack_is_deterministic_and_discoverable',
    gist: 'two packs are byte-identical with the same digest and discover as project:echo',
    run: async (t) => {
      const s = stores(t);
      const dir = writePluginDir(join(s.root, 'echo'));
      const a = join(s.root, 'a.yoi-plugin');
      const b = join(s.project, 'echo.yoi-plugin');
      assert.equal((await cli(['plugin', 'pack', dir, '--output', a])).code, 0);
      assert.equal((await cli(['plugin', 'pack', dir, '--output', b])).code, 0);
      assert.deepEqual(readFileSync(a), readFileSync(b));
      const d = await s.discover();
      assert.deepEqual(d.packages.map((p) => p.identity), ['project:echo']);
    },
  },
];

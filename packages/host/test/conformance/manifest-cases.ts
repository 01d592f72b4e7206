/** Yoi's `crates/manifest` tests (reference §9.1) through our package, store and enablement surfaces. */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requestTargetLabel, websocketTargetLabel } from '../../src/authority/targets.js';
import { declaredSurfaces } from '../../src/manifest/types.js';
import { parseEnablementConfig, grantsHaveContent } from '../../src/store/enablement.js';
import { loadPluginPackage } from '../../src/package/plugin-package.js';
import { manifestToml } from '../fixtures/manifest.js';
import { echoManifest } from '../helpers.js';
import { archive, fileMap, grantAll, loadManifestPackage, manifestDiagnostic, packageFiles, stores, yoiFixture } from './support.js';
import type { ConformanceCase } from './table.js';

const REQUEST_MANIFEST = manifestToml({
  id: 'echo',
  tools: ['echo'],
  hostApis: ['request', 'websocket'],
  request: [{ scheme: 'https', host: 'api.example.com', port: 443, methods: ['GET', 'POST'], path_prefixes: ['/v1/'] }],
  websocket: [{ scheme: 'wss', host: 'gateway.example.com', path_prefixes: ['/gateway'] }],
});

const hookPackage = (id: string) => fileMap({ 'plugin.toml': `schema_version = 1\nid = "${id}"\nname = "H"\nversion = "0.1.0"\nsurfaces = ["hook"]\n[[hooks]]\nid = "h"\nfile = "hooks/h.md"\n`, 'hooks/h.md': '# h' });

export const MANIFEST_CASES: readonly ConformanceCase[] = [
  {
    upstream: 'embedded_rust_component_tool_template_is_valid_package_shape',
    gist: 'the tool template: safe paths, schema 1, wasm-component, tool world, one tool',
    run: () => {
      const loaded = loadPluginPackage(yoiFixture('yoi-tool-template'));
      assert.ok(loaded.ok);
      const m = loaded.value.manifest;
      assert.deepEqual([m.schema_version, m.runtime?.kind, m.runtime?.world, m.tools.length], [1, 'wasm-component', 'yoi:plugin/tool@1.0.0', 1]);
    },
  },
  {
    upstream: 'embedded_rust_component_instance_template_is_valid_package_shape',
    gist: 'the service template: instance world, one service, one ingress, service and ingress declared',
    run: () => {
      const loaded = loadPluginPackage(yoiFixture('yoi-service-template'));
      assert.ok(loaded.ok);
      const m = loaded.value.manifest;
      assert.equal(m.runtime?.world, 'yoi:plugin/instance@1.0.0');
      assert.deepEqual([m.services.length, m.ingresses.length], [1, 1]);
      const declared = declaredSurfaces(m);
      assert.ok(declared.has('service') && declared.has('ingress'));
    },
  },
  {
    upstream: 'request_host_api_manifest_and_grant_parse_with_request_names',
    gist: 'host_api.request and [[request]] with a port parse; label `https://api.example.com:443 GET,POST /v1/`; a localhost grant parses',
    run: () => {
      const pkg = loadManifestPackage(REQUEST_MANIFEST);
      assert.equal(requestTargetLabel(pkg.manifest.request[0]!), 'https://api.example.com:443 GET,POST /v1/');
      const grants = parseEnablementConfig('[[plugins.enabled]]\nid = "project:echo"\n[[plugins.enabled.grants.request]]\nscheme = "http"\nhost = "localhost"\nport = 8080\nmethods = ["GET"]\n');
      assert.ok(grants.ok);
      assert.equal(grants.value.enabled[0]!.grants.request[0]!.port, 8080);
    },
  },
  {
    upstream: 'legacy_https_request_names_are_not_accepted',
    gist: '`api = "https"` is an unknown variant; a `[[https]]` grant table is an unknown field',
    divergence: 'enablement-entry-fails-alone',
    run: () => {
      const d = manifestDiagnostic(echoManifest({ permissions: '{ kind = "host_api", api = "https" },' }));
      assert.equal(d?.kind, 'malformed');
      assert.match(d!.message, /unknown variant/);
      const grants = parseEnablementConfig('[[plugins.enabled]]\nid = "project:echo"\n[[plugins.enabled.grants.https]]\nhost = "x"\n');
      assert.ok(grants.ok, 'the file still reads');
      assert.match(grants.value.rejected![0]!.diagnostic.message, /unknown key `plugins\.enabled\[0\]\.grants\.https`/);
    },
  },
  {
    upstream: 'websocket_manifest_and_grants_parse_independently_from_request',
    gist: 'request and WebSocket targets parse side by side with their labels; a grant block with only target tables has content',
    run: () => {
      const pkg = loadManifestPackage(echoManifest({
        permissions: '{ kind = "host_api", api = "request" }, { kind = "host_api", api = "websocket" },',
        extra: '[[request]]\nscheme = "https"\nhost = "api.example.com"\nmethods = ["GET"]\npath_prefixes = ["/v1"]\n[[websocket]]\nscheme = "wss"\nhost = "gateway.example.com"\npath_prefixes = ["/gateway"]\n',
      }));
      assert.equal(requestTargetLabel(pkg.manifest.request[0]!), 'https://api.example.com GET /v1');
      assert.equal(websocketTargetLabel(pkg.manifest.websocket[0]!), 'wss://gateway.example.com /gateway');
      const parsed = parseEnablementConfig('[[plugins.enabled]]\nid = "project:x"\n[[plugins.enabled.grants.websocket]]\nscheme = "wss"\nhost = "gateway.example.com"\n');
      assert.ok(parsed.ok);
      assert.ok(grantsHaveContent(parsed.value.enabled[0]!.grants));
    },
  },
  {
    upstream: 'service_ingress_require_instance_component_world',
    gist: 'services on the tool world are a `surface` diagnostic',
    run: () => {
      const d = manifestDiagnostic(echoManifest({ extra: '[[services]]\nname = "svc"\ndescription = "s"\n' }));
      assert.equal(d?.kind, 'surface');
      assert.match(d!.message, /service\/ingress declarations require the yoi:plugin\/instance@1.0.0 component world/);
    },
  },
  {
    upstream: 'legacy_raw_wasm_runtime_manifest_is_rejected',
    gist: 'discovery keeps no package; an api/manifest diagnostic for project:legacy names legacy raw wasm and wasm-component',
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'legacy.yoi-plugin', fileMap({ 'plugin.toml': 'schema_version = 1\nid = "legacy"\nname = "L"\nversion = "1"\n[runtime]\nkind = "wasm"\nabi = "yoi-plugin-wasm-1"\nentry = "run"\n' }));
      const d = await s.discover();
      assert.equal(d.packages.length, 0);
      assert.deepEqual([d.diagnostics[0]!.kind, d.diagnostics[0]!.phase, d.diagnostics[0]!.identity], ['api', 'manifest', 'project:legacy']);
      assert.match(d.diagnostics[0]!.message, /legacy raw wasm.*wasm-component/);
    },
  },
  {
    upstream: 'discovers_valid_user_and_workspace_packages',
    gist: 'user and project stores, no diagnostics, refs user:user_one and project:project_one, sha256 digests',
    run: async (t) => {
      const s = stores(t);
      s.put('user', 'one.yoi-plugin', packageFiles(echoManifest({ id: 'user_one' })));
      s.put('project', 'one.yoi-plugin', packageFiles(echoManifest({ id: 'project_one' })));
      const d = await s.discover();
      assert.deepEqual(d.diagnostics, []);
      assert.deepEqual(d.packages.map((p) => p.identity).sort(), ['project:project_one', 'user:user_one']);
      assert.ok(d.packages.every((p) => p.digest.startsWith('sha256:')));
    },
  },
  {
    upstream: 'discovery_only_does_not_activate_packages',
    gist: 'without enablement nothing resolves and nothing is reported',
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'echo.yoi-plugin', packageFiles(echoManifest()));
      assert.deepEqual(await s.resolve(''), { resolved: [], diagnostics: [] });
    },
  },
  {
    upstream: 'explicit_enablement_resolves_typed_metadata',
    gist: 'project:example resolves; surfaces default to the declared ones (hook); grants empty',
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'example.yoi-plugin', hookPackage('example'));
      const r = await s.resolve('[[plugins.enabled]]\nid = "project:example"\n');
      assert.deepEqual(r.diagnostics, []);
      assert.deepEqual(r.resolved[0]!.enabledSurfaces, ['hook']);
      assert.deepEqual(r.resolved[0]!.grants.permissions, []);
    },
  },
  {
    upstream: 'duplicate_and_unqualified_ids_fail_closed',
    gist: 'a duplicate id is a discovery `duplicate`; enabling it is `duplicate`; a bare id is `ambiguous`; nothing resolves',
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'a.yoi-plugin', hookPackage('dup'));
      s.put('project', 'b.yoi-plugin', fileMap({ ...Object.fromEntries(hookPackage('dup')), 'extra.md': 'x' }));
      assert.equal((await s.discover()).diagnostics[0]!.kind, 'duplicate');
      const r = await s.resolve('[[plugins.enabled]]\nid = "project:dup"\n[[plugins.enabled]]\nid = "dup"\n');
      assert.deepEqual(r.resolved, []);
      assert.deepEqual(r.diagnostics.map((d) => d.kind), ['duplicate', 'ambiguous']);
    },
  },
  {
    upstream: 'digest_mismatch_fails_closed',
    gist: 'a digest pin sha256:0000 is a `digest` diagnostic',
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'example.yoi-plugin', hookPackage('example'));
      const r = await s.resolve('[[plugins.enabled]]\nid = "project:example"\ndigest = "sha256:0000"\n');
      assert.deepEqual(r.diagnostics.map((d) => d.kind), ['digest']);
    },
  },
  {
    upstream: 'exact_version_mismatch_fails_closed_with_distinct_diagnostic',
    gist: 'a version mismatch is `version` in phase resolution, never `api`',
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'example.yoi-plugin', hookPackage('example'));
      const r = await s.resolve('[[plugins.enabled]]\nid = "project:example"\nversion = "9.9.9"\n');
      assert.deepEqual(r.diagnostics.map((d) => [d.kind, d.phase]), [['version', 'resolution']]);
    },
  },
  {
    upstream: 'resolved_plan_pins_unpinned_enablement_for_restore',
    gist: 'a recorded startup plan keeps 0.1.0 after the package is replaced by 0.2.0 (a fresh resolution picks 0.2.0)',
    divergence: 'recorded-plan',
    run: async (t) => {
      // We pin in the entry itself (`yoi plugin enable` writes version + digest): the pinned
      // entry never silently moves to 0.2.0; an unpinned one resolves what is there now.
      const s = stores(t);
      const old = loadManifestPackage(echoManifest({ version: '0.1.0' }));
      s.put('project', 'echo.yoi-plugin', old.files);
      s.put('project', 'echo.yoi-plugin', packageFiles(echoManifest({ version: '0.2.0' })));
      const pinned = await s.resolve(`[[plugins.enabled]]\nid = "project:echo"\nversion = "0.1.0"\ndigest = "${old.digest}"\n`);
      assert.deepEqual(pinned.resolved, []);
      assert.deepEqual(pinned.diagnostics.map((d) => d.kind), ['digest']);
      const unpinned = await s.resolve('[[plugins.enabled]]\nid = "project:echo"\n');
      assert.equal(unpinned.resolved[0]!.version, '0.2.0');
    },
  },
  {
    upstream: 'currently_documented_manifest_shape_is_accepted',
    gist: "the docs' hook example is discovered as project:example.summarizer",
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'summarizer.yoi-plugin', yoiFixture('yoi-hook-example'));
      const d = await s.discover();
      assert.deepEqual(d.diagnostics, []);
      assert.deepEqual(d.packages.map((p) => p.identity), ['project:example.summarizer']);
    },
  },
  {
    upstream: 'package_manifest_tool_surface_shape_is_accepted',
    gist: '[[tools]] parse and declare the tool surface',
    run: () => {
      const pkg = loadManifestPackage(echoManifest().replace('surfaces = ["tool"]\n', ''));
      assert.equal(pkg.manifest.tools[0]!.name, 'echo');
      assert.ok(declaredSurfaces(pkg.manifest).has('tool'));
    },
  },
  {
    upstream: 'malformed_manifest_multibyte_diagnostic_is_bounded_and_redacted',
    gist: 'a parse diagnostic is at most 241 bytes and echoes nothing of the file',
    divergence: 'messages',
    run: () => {
      const secret = 'ÄÖÜ-super-secret-値'.repeat(40);
      const d = manifestDiagnostic(`schema_version = 1\nid = "x"\nname = "${secret}\nversion = `);
      assert.equal(d?.kind, 'malformed');
      assert.ok(Buffer.byteLength(d!.message) <= 241, d!.message);
      assert.ok(!d!.message.includes('secret'));
      assert.match(d!.message, /^plugin\.toml could not be parsed/);
    },
  },
  {
    upstream: 'traversal_root_escape_in_archive_fails_closed',
    gist: 'an entry `../evil` is `traversal`',
    run: async (t) => {
      const s = stores(t);
      const bytes = Buffer.from(archive(packageFiles(echoManifest(), { 'xx/evil': 'x' })));
      s.put('project', 'evil.yoi-plugin', new Uint8Array(Buffer.from(bytes.toString('latin1').replaceAll('xx/evil', '../evil'), 'latin1')));
      const d = await s.discover();
      assert.equal(d.packages.length, 0);
      assert.equal(d.diagnostics[0]!.kind, 'traversal');
    },
  },
  {
    upstream: 'package_symlink_store_escape_fails_closed',
    gist: 'a store symlink to a file outside the store is `traversal`',
    run: async (t) => {
      const s = stores(t);
      writeFileSync(join(s.root, 'outside.yoi-plugin'), archive(packageFiles(echoManifest())));
      symlinkSync(join(s.root, 'outside.yoi-plugin'), join(s.project, 'escape.yoi-plugin'));
      const d = await s.discover();
      assert.equal(d.packages.length, 0);
      assert.equal(d.diagnostics[0]!.kind, 'traversal');
    },
  },
  {
    upstream: 'unsupported_api_and_malformed_manifest_fail_closed',
    gist: 'schema_version 999 is `api`; broken TOML is `malformed`',
    run: () => {
      assert.equal(manifestDiagnostic(echoManifest().replace('schema_version = 1', 'schema_version = 999'))?.kind, 'api');
      assert.equal(manifestDiagnostic('schema_version = [')?.kind, 'malformed');
    },
  },
  {
    upstream: 'typed_permission_grant_binding_resolves_only_exact_package_identity',
    gist: 'grants bound to the exact id/version/digest resolve; a wrong id, version or digest is `grant`',
    run: async (t) => {
      const s = stores(t);
      const pkg = loadManifestPackage(echoManifest());
      s.put('project', 'echo.yoi-plugin', pkg.files);
      assert.equal((await s.resolve(grantAll('project:echo', pkg))).resolved.length, 1);
      for (const [from, to] of [['id = "project:echo"\nversion', 'id = "project:other"\nversion'], ['version = "0.1.0"\ndigest', 'version = "0.2.0"\ndigest'], [pkg.digest, 'sha256:' + '1'.repeat(64)]] as const) {
        const text = grantAll('project:echo', pkg).split('[plugins.enabled.grants]');
        const r = await s.resolve(`${text[0]}[plugins.enabled.grants]${text[1]!.replace(from, to)}`);
        assert.deepEqual(r.diagnostics.map((d) => d.kind), ['grant'], from);
      }
    },
  },
  {
    upstream: 'unknown_permission_kind_fails_closed_at_manifest_parse_boundary',
    gist: '`kind = "ambient_shell"` is rejected when plugin.toml is parsed',
    run: () => {
      const d = manifestDiagnostic(echoManifest({ permissions: '{ kind = "ambient_shell" },' }));
      assert.equal(d?.kind, 'malformed');
      assert.equal(d?.phase, 'manifest');
    },
  },
  {
    upstream: 'surface_and_grant_failures_do_not_resolve',
    gist: 'an undeclared surface is `surface`; unbound grants are `grant`',
    run: async (t) => {
      const s = stores(t);
      s.put('project', 'echo.yoi-plugin', packageFiles(echoManifest()));
      const r = await s.resolve('[[plugins.enabled]]\nid = "project:echo"\nsurfaces = ["service"]\n[[plugins.enabled]]\nid = "project:echo"\n[plugins.enabled.grants]\npermissions = [{ kind = "surface", surface = "tool" }]\n');
      assert.deepEqual(r.resolved, []);
      assert.deepEqual(r.diagnostics.map((d) => d.kind), ['surface', 'grant']);
    },
  },
  {
    upstream: 'lib.rs::parse_plugin_enablement_config',
    gist: 'an enablement block with version, digest, surfaces, a config table and grants parses',
    run: () => {
      const parsed = parseEnablementConfig(`[[plugins.enabled]]
id = "project:example.echo"
version = "0.1.0"
digest = "sha256:abc"
surfaces = ["tool"]
[plugins.enabled.config]
level = "concise"
nested = { depth = 2, tags = ["a", "b"] }
[plugins.enabled.grants]
id = "project:example.echo"
version = "0.1.0"
digest = "sha256:abc"
permissions = [{ kind = "surface", surface = "tool" }, { kind = "tool", name = "example_echo" }]
`);
      assert.ok(parsed.ok);
      assert.deepEqual(parsed.value.enabled[0]!.config, { level: 'concise', nested: { depth: 2, tags: ['a', 'b'] } });
    },
  },
  {
    upstream: 'worker.rs::plugin_resolved_manifest_snapshot_is_persisted_without_profile',
    gist: 'a manifest with a resolved plan is snapshotted and restores its digest/version',
    divergence: 'recorded-plan',
    run: async (t) => {
      // No snapshots here: a Yoi file with `[plugins] resolved` reads (and the plan is counted,
      // not used); the pins that survive a restart are the entry's own version and digest.
      const s = stores(t);
      const pkg = loadManifestPackage(echoManifest());
      s.put('project', 'echo.yoi-plugin', pkg.files);
      const text = `[plugins]\nresolved = [{ identity = "project:echo", version = "0.1.0", digest = "${pkg.digest}" }]\ndiagnostics = []\n\n[[plugins.enabled]]\nid = "project:echo"\nversion = "0.1.0"\ndigest = "${pkg.digest}"\n`;
      const parsed = parseEnablementConfig(text);
      assert.ok(parsed.ok);
      assert.deepEqual(parsed.value.recordedPlan, { resolved: 1, diagnostics: 0 });
      const r = await s.resolve(text);
      assert.deepEqual([r.resolved[0]!.version, r.resolved[0]!.digest], ['0.1.0', pkg.digest]);
      s.enablement(text);
      const listed = await s.run(['plugin', 'list', '--json']);
      assert.deepEqual(listed.json<{ recorded_plan_ignored: unknown }>().recorded_plan_ignored, { resolved: 1, diagnostics: 0 }, 'what is not used is shown');
    },
  },
  {
    upstream: 'main.rs::parse_plugin_list_and_show',
    gist: '`list`/`show` take --workspace PATH, --workspace=PATH, --json and --profile REF',
    divergence: 'cli-surface',
    run: async (t) => {
      const s = stores(t);
      mkdirSync(join(s.workspace, '.yoi'), { recursive: true });
      s.put('project', 'echo.yoi-plugin', packageFiles(echoManifest()));
      const { cli } = await import('../helpers.js');
      const list = await cli(['plugin', 'list', `--workspace=${s.workspace}`, '--json'], { env: s.env, cwd: s.root });
      assert.equal(list.code, 0, list.stderr);
      const show = await cli(['plugin', 'show', 'echo', '--workspace', s.workspace, '--json'], { env: s.env, cwd: s.root });
      assert.equal(show.code, 0, show.stderr);
      assert.equal(show.json<{ reference: string }>().reference, 'project:echo');
      const profile = await cli(['plugin', 'list', '--profile', 'default', '--workspace', s.workspace], { env: s.env, cwd: s.root });
      assert.equal(profile.code, 2, 'no Profiles here: --profile is a usage error');
    },
  },
];

/**
 * Yoi's `crates/worker/src/feature/plugin.rs` tests (reference §9.2) through our host: real
 * components built from Yoi's WIT alone (./yoi-components.ts), real loopback servers, the
 * host's public surfaces (`PluginHost`, tools, services, status).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { authorizeHostApi, authorizeTool, type AuthoritySubject } from '../../src/authority/authorize.js';
import { inspectStatic, type InspectionSubject } from '../../src/authority/inspect.js';
import { HostApiDispatcher } from '../../src/hostapi/dispatcher.js';
import { WEBSOCKET_PULL_LIMITS, WebSocketPullSession } from '../../src/hostapi/websocket.js';
import { inputSchemaProblem } from '../../src/manifest/tool-schema.js';
import type { JsonValue } from '../../src/manifest/types.js';
import type { LimitOverrides } from '../../src/sandbox/limits.js';
import { newIngressEvent } from '../../src/service/ingress-event.js';
import { decodeToolOutput } from '../../src/tools/tool-output.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { buildJsComponent } from '../fixtures/js.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE, watToolManifest } from '../fixtures/workspace.js';
import { assemble, CORE_MODULE_BYTES, TOOL_WATS } from '../fixtures/wat.js';
import { echoManifest, rejectsWithCode, until } from '../helpers.js';
import { loadManifestPackage, manifestDiagnostic } from './support.js';
import type { ConformanceCase } from './table.js';
import { commandTemplate, httpServer, socketServer, yoiHost, yoiManifest, YOI_TOOLS, type YoiHostOptions } from './worker-support.js';
import { yoiWitComponent } from './yoi-components.js';
import { pluginRuntimeOf } from '../../src/host.js';

const error = (reply: string): { code: string; message: string } => (JSON.parse(reply) as { error: { code: string; message: string } }).error;


/** An inspection subject (the resolved record's authority part) from a manifest; its package path is never read. */
function subject(manifestText: string, grants: Partial<AuthoritySubject['grants']> | 'all' = 'all'): InspectionSubject & { readonly packagePath: string } {
  const pkg = loadManifestPackage(manifestText);
  const m = pkg.manifest;
  const base = { id: 'project:x', version: m.version, digest: pkg.digest, permissions: [], request: [], websocket: [], fs: [] };
  return {
    identity: 'project:x',
    version: m.version,
    digest: pkg.digest,
    manifest: m,
    grants: grants === 'all' ? { ...base, permissions: m.permissions, request: m.request, websocket: m.websocket } : { ...base, ...grants },
    enabledSurfaces: ['tool', 'service', 'ingress', 'wasm'],
    packagePath: '/nonexistent/x.yoi-plugin',
  };
}

const TOOL_PERMS = (names: string[]) => ['{ kind = "surface", surface = "tool" }', ...names.map((n) => `{ kind = "tool", name = "${n}" }`)].join(', ') + ',';

/** A JS service (test/fixtures/service.ts): payload-driven failures, traps, spins and commands. */
async function jsService(t: TestContext, policy: object = {}, limits?: LimitOverrides) {
  const manifest = serviceManifest();
  const ws = pluginWorkspace(t, [{ manifest, component: await buildJsComponent(SERVICE_SOURCE, manifest), ...(limits !== undefined ? { limits } : {}) }]);
  const { PluginHost } = await import('../../src/host.js');
  const host = await PluginHost.fromWorkspace(
    { workspace: ws.workspace, builtinDir: `${ws.root}/none`, env: { HOME: ws.root } },
    { cacheDir: TEST_TRANSPILE_CACHE, servicePolicy: { retryBaseMs: 5, retryMaxMs: 20, restartBaseMs: 5, restartMaxMs: 20, maxAttempts: 2, ...policy } },
  );
  t.after(() => host.close());
  return { host, service: host.services.get('project:svc')! };
}

const LIFECYCLE: ConformanceCase[] = [
  {
    upstream: 'component_lifecycle_rejects_start_error_status',
    gist: 'start returning {"error":…} fails instance creation ("start returned error")',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, { world: 'instance', config: { error: { code: 'refused', message: 'no' } } });
      const failures = await host.startServices();
      assert.equal(failures.length, 1);
      assert.match(failures[0]!.error, /start returned error/);
      assert.equal(host.status(ref)[0]!.lifecycle, 'Failed');
    },
  },
  {
    upstream: 'component_lifecycle_reports_status_and_stop_outputs',
    gist: 'Running after start; status() returns the guest status; stop() → Stopped with the stop output',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, { world: 'instance' });
      await host.startServices();
      assert.equal(host.status(ref)[0]!.lifecycle, 'Running');
      assert.deepEqual(await pluginRuntimeOf(host, ref)!.status(), { state: 'running', ready: true });
      await host.close();
      assert.equal(host.status(ref)[0]!.lifecycle, 'Stopped');
      assert.deepEqual(host.status(ref)[0]!.component_status, { state: 'stopped' });
    },
  },
  {
    upstream: 'service_selected_ignores_unselected_tool_without_grants',
    gist: 'only `service` enabled: no tools registered, one service, instance Running',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, { world: 'instance', surfaces: ['service'] });
      assert.deepEqual(host.listTools(), []);
      assert.deepEqual(host.registrationIssues, []);
      assert.deepEqual(await host.startServices(), []);
      assert.equal(host.status(ref)[0]!.lifecycle, 'Running');
    },
  },
  {
    upstream: 'tool_selected_ignores_unselected_service_ingress_even_with_grants',
    gist: 'only `tool` enabled: tools, no services; ingress is "not enabled"',
    run: async (t) => {
      const { host } = await yoiHost(t, { world: 'instance', surfaces: ['tool'] });
      assert.equal(host.listTools().length, YOI_TOOLS.length);
      assert.equal(host.services.size, 0);
    },
  },
  {
    upstream: 'service_only_install_retains_host_managed_instance',
    gist: 'a service-only install keeps a Running instance, queue depth 0, capacity 32, no error',
    divergence: 'limits',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, { world: 'instance', surfaces: ['service'] });
      await host.startServices();
      const status = host.status(ref)[0]!;
      assert.deepEqual([status.lifecycle, status.queue!.depth, status.queue!.capacity, status.last_error], ['Running', 0, 1024, null]);
    },
  },
  ...(['installed_ingress_dispatch_uses_retained_shared_instance', 'instance_ingress_dispatch_uses_shared_in_process_instance'] as const).map(
    (upstream): ConformanceCase => ({
      upstream,
      gist: 'a tool call and an ingress event reach the same instance (the one start initialised)',
      run: async (t) => {
        const { host, ref, call } = await yoiHost(t, { world: 'instance', config: commandTemplate([{ kind: 'diagnostic_status_update', payload: { status: { shared: true } } }]) });
        await host.startServices();
        assert.equal((await call('echo', { summary: 'tool first' })).summary, 'tool first');
        const service = host.services.get(ref)!;
        await service.emit('events', 'message', 'test', { text: 'then ingress' });
        await service.idle();
        // The reply template lives only in the instance that `start` configured.
        assert.deepEqual(service.componentStatus, { shared: true });
        assert.equal(host.runtimes.size, 1);
      },
    }),
  ),
  {
    upstream: 'enabled_plugin_tool_registers_model_visible_schema_and_origin',
    gist: "the registered tool carries the manifest's name and input_schema, and an origin",
    run: async (t) => {
      const { host, ref } = await yoiHost(t);
      const echo = host.listTools().find((tool) => tool.name === 'echo')!;
      assert.deepEqual(echo.input_schema, { type: 'object' });
      assert.equal(echo.origin.plugin_ref, ref);
    },
  },
  {
    upstream: 'origin_retains_plugin_metadata',
    gist: 'origin: plugin, id, ref, source, digest, package version, package api version, surface tool',
    run: async (t) => {
      const { host, ref } = await yoiHost(t);
      const { origin } = host.listTools()[0]!;
      assert.deepEqual(
        { ...origin, digest: origin.digest.startsWith('sha256:') },
        { kind: 'plugin', plugin_ref: ref, plugin_id: 'yoi.conformance', source: 'project', digest: true, package_version: '0.1.0', package_api_version: 1, surface: 'tool' },
      );
    },
  },
  {
    upstream: 'no_grant_denies_plugin_tool_registration_and_runtime_execution',
    gist: 'without grants no tool registers ("granted surfaces.tool permission is missing"); the message is under 700 bytes',
    run: async (t) => {
      const { host } = await yoiHost(t, { tools: ['echo'], hostApis: [], requestTargets: [], websocketTargets: [], grants: 'none' });
      assert.deepEqual(host.listTools(), []);
      const issue = host.registrationIssues[0]!;
      assert.match(issue.message, /registration denied: granted surfaces\.tool permission is missing/);
      assert.ok(Buffer.byteLength(issue.message) < 700);
      await rejectsWithCode(host.callTool('echo', {}), 'TOOL_NOT_FOUND');
    },
  },
  {
    upstream: 'specific_tool_grant_registers_only_intended_plugin_tool',
    gist: 'only the granted tool registers; the other gets "granted tool permission for `PluginDenied` is missing"',
    run: async (t) => {
      const { host } = await yoiHost(t, {
        tools: ['echo', 'PluginDenied'],
        grants: { permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool', name: 'echo' }, { kind: 'host_api', api: 'request' }, { kind: 'host_api', api: 'websocket' }, { kind: 'host_api', api: 'fs' }], request: [{ scheme: 'http', host: '127.0.0.1', methods: ['GET'], path_prefixes: ['/api'] }], websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/socket'] }], fs: [] },
      });
      assert.deepEqual(host.listTools().map((tool) => tool.name), ['echo']);
      assert.match(host.registrationIssues[0]!.message, /granted tool permission for `PluginDenied` is missing/);
    },
  },
  {
    upstream: 'grant_binding_mismatches_do_not_authorize_plugin_tool',
    gist: 'grants bound to another id, digest or version authorise nothing',
    run: async (t) => {
      const ws = pluginWorkspace(t, [{ manifest: yoiManifest({ tools: ['echo'], hostApis: [], requestTargets: [], websocketTargets: [] }), component: await yoiWitComponent('tool') }]);
      const path = join(ws.workspace, '.yoi', 'plugins.toml');
      const text = readFileSync(path, 'utf8');
      const [entry, grants] = text.split('[plugins.enabled.grants]');
      for (const [from, to] of [['id = "project:yoi.conformance"', 'id = "project:other"'], ['version = "0.1.0"', 'version = "9.9.9"'], [/digest = "sha256:[0-9a-f]+"/, `digest = "sha256:${'0'.repeat(64)}"`]] as const) {
        writeFileSync(path, `${entry}[plugins.enabled.grants]${grants!.replace(from, to)}`);
        const host = await ws.open();
        t.after(() => host.close());
        assert.deepEqual(host.listTools(), []);
        assert.deepEqual(host.diagnostics.map((d) => d.kind), ['grant']);
      }
    },
  },
  {
    upstream: 'requested_surface_tool_and_external_write_permissions_are_required',
    gist: 'each missing request or grant (surfaces.tool, tool, external_write) gives its own message',
    run: () => {
      const manifest = echoManifest({ tools: '[[tools]]\nname = "echo"\ndescription = "e"\ninput_schema = { type = "object" }\nexternal_write = true\n', permissions: `${TOOL_PERMS(['echo'])} { kind = "external_write" },` });
      const full = subject(manifest);
      assert.equal(authorizeTool(full, 'echo'), null);
      const without = (side: 'manifest' | 'grants', kind: string) => {
        const s = subject(manifest);
        if (side === 'grants') return authorizeTool({ ...s, grants: { ...s.grants, permissions: s.grants.permissions.filter((p) => p.kind !== kind) } }, 'echo');
        return authorizeTool({ ...s, manifest: { ...s.manifest, permissions: s.manifest.permissions.filter((p) => p.kind !== kind) } }, 'echo');
      };
      assert.equal(without('manifest', 'surface'), 'requested surfaces.tool permission is missing');
      assert.equal(without('grants', 'surface'), 'granted surfaces.tool permission is missing');
      assert.equal(without('manifest', 'tool'), 'requested tool permission for `echo` is missing');
      assert.equal(without('grants', 'tool'), 'granted tool permission for `echo` is missing');
      assert.equal(without('manifest', 'external_write'), 'requested external_write permission is missing');
      assert.equal(without('grants', 'external_write'), 'granted external_write permission is missing');
    },
  },
  {
    upstream: 'package_without_enabled_tool_surface_registers_no_schema',
    gist: 'a package whose tool surface is not enabled registers no tool',
    run: async (t) => {
      const { host } = await yoiHost(t, { world: 'instance', surfaces: ['service', 'ingress'] });
      assert.deepEqual(host.listTools(), []);
    },
  },
  {
    upstream: 'disabled_profile_feature_registers_no_schema',
    gist: 'with the plugins feature off, nothing registers',
    divergence: 'no-feature-flag',
    run: async (t) => {
      // No feature flag here: a package in a store that no entry enables registers nothing.
      const ws = pluginWorkspace(t, [{ manifest: yoiManifest(), component: await yoiWitComponent('tool') }]);
      writeFileSync(join(ws.workspace, '.yoi', 'plugins.toml'), '');
      const host = await ws.open();
      t.after(() => host.close());
      assert.deepEqual(host.listTools(), []);
      assert.equal(host.runtimes.size, 0);
    },
  },
  {
    upstream: 'duplicate_plugin_tool_names_are_rejected_with_diagnostic',
    gist: 'two tools with one name in a manifest: nothing of that name registers, with a diagnostic',
    run: async (t) => {
      const { host } = await yoiHost(t, { tools: ['echo', 'echo'] });
      assert.deepEqual(host.listTools(), []);
      assert.ok(host.registrationIssues.every((i) => /duplicate name within plugin manifest/.test(i.message)));
    },
  },
  {
    upstream: 'builtin_tool_name_collision_is_rejected_with_diagnostic',
    gist: "a second plugin's tool with a taken name is skipped: \"duplicate tool contribution\"",
    divergence: 'tool-collisions',
    run: async (t) => {
      const { host } = await yoiHost(t, { tools: ['echo'], others: [{ manifest: yoiManifest({ id: 'second', tools: ['echo'] }), component: await yoiWitComponent('tool') }] });
      assert.deepEqual(host.listTools().map((tool) => tool.origin.plugin_ref), ['project:yoi.conformance']);
      assert.deepEqual(host.registrationIssues.map((i) => [i.plugin_ref, i.kind]), [['project:second', 'collision']]);
      assert.equal((await host.callTool('project:second/echo', { summary: 'reachable by its qualified name' })).summary, 'reachable by its qualified name');
    },
  },
  {
    upstream: 'invalid_input_schema_is_rejected_with_diagnostic',
    gist: 'an invalid input_schema does not register, with "invalid input_schema"',
    run: async (t) => {
      const { host } = await yoiHost(t, { tools: ['echo'], extra: '' });
      assert.equal(host.listTools().length, 1);
      const ws = pluginWorkspace(t, [{ manifest: yoiManifest({ tools: ['echo'] }).replace('input_schema = { type = "object" }', 'input_schema = { type = "string" }'), component: await yoiWitComponent('tool') }]);
      const bad = await ws.open();
      t.after(() => bad.close());
      assert.deepEqual(bad.listTools(), []);
      assert.match(bad.registrationIssues[0]!.message, /invalid input_schema: \$: root schema type must be `object`/);
    },
  },
  {
    upstream: 'nested_invalid_input_schema_does_not_register_plugin_tool',
    gist: 'a nested invalid node does not register, naming $.properties.query',
    run: async (t) => {
      const ws = pluginWorkspace(t, [{ manifest: yoiManifest({ tools: ['echo'] }).replace('input_schema = { type = "object" }', 'input_schema = { type = "object", properties = { query = { type = "string", pattern = "x" } } }'), component: await yoiWitComponent('tool') }]);
      const host = await ws.open();
      t.after(() => host.close());
      assert.deepEqual(host.listTools(), []);
      assert.match(host.registrationIssues[0]!.message, /\$\.properties\.query: unsupported schema keyword `pattern`/);
    },
  },
  {
    upstream: 'rejects_invalid_root_schema',
    gist: 'a root without type, or of another type, is rejected',
    run: () => {
      assert.match(inputSchemaProblem({})!, /root schema must declare type = `object`/);
      assert.match(inputSchemaProblem({ type: 'array' })!, /root schema type must be `object`/);
    },
  },
  {
    upstream: 'rejects_unsupported_schema_keyword',
    gist: '`$ref`, `oneOf`, `minLength` … are unsupported keywords',
    run: () => {
      for (const keyword of ['$ref', 'oneOf', 'minLength']) assert.match(inputSchemaProblem({ type: 'object', [keyword]: 1 })!, /unsupported schema keyword/);
    },
  },
  {
    upstream: 'rejects_invalid_nested_property_schema_node',
    gist: 'a property node without type is rejected at its path',
    run: () => {
      assert.match(inputSchemaProblem({ type: 'object', properties: { query: { description: 'q' } } })!, /^\$\.properties\.query: schema node must declare type$/);
    },
  },
  {
    upstream: 'rejects_invalid_recursive_schema_members',
    gist: 'duplicate required, bad items, a bad additionalProperties type are rejected',
    run: () => {
      assert.match(inputSchemaProblem({ type: 'object', properties: { a: { type: 'string' } }, required: ['a', 'a'] })!, /must be unique/);
      assert.match(inputSchemaProblem({ type: 'object', properties: { a: { type: 'array', items: { type: 'nope' } } } })!, /\$\.properties\.a\.items/);
      assert.match(inputSchemaProblem({ type: 'object', additionalProperties: 'yes' })!, /\$\.additionalProperties: schema node must be an object/);
    },
  },
  {
    upstream: 'accepts_object_tool_schema',
    gist: 'an object schema of the subset is accepted',
    run: () => {
      assert.equal(inputSchemaProblem({ type: 'object', title: 't', description: 'd', properties: { q: { type: 'string', enum: ['a'] }, n: { type: 'array', items: { type: 'integer' } } }, required: ['q'], additionalProperties: false }), null);
    },
  },
];

const RUNTIME: ConformanceCase[] = [
  {
    upstream: 'component_tool_executes_through_ordinary_tool_result_path',
    gist: '{"summary","content"} comes back as a ToolOutput',
    run: async (t) => {
      const { call } = await yoiHost(t);
      assert.deepEqual(await call('echo', { summary: 'done', content: 'text' }), { summary: 'done', content: 'text' });
    },
  },
  {
    upstream: 'component_memory_limit_fails_closed_before_string_lift',
    gist: 'growing memory past 2 MiB fails ("growing memory")',
    divergence: 'limits',
    run: async (t) => {
      const roomy = await yoiHost(t, { tools: ['grow'] });
      assert.equal((await roomy.call('grow', {})).summary, 'grew 16 MiB', 'our default cap (256 MiB) allows what Yoi (2 MiB) refused');
      const tight = await yoiHost(t, { tools: ['grow'], limits: { memory_mib: 2 } });
      const e = await rejectsWithCode(tight.call('grow', {}), 'SANDBOX_OUT_OF_MEMORY');
      assert.ok(e.message.length > 0);
    },
  },
  {
    upstream: 'component_table_limit_fails_closed',
    gist: 'a table grown to 257 elements fails ("growing table")',
    divergence: 'limits',
    run: async (t) => {
      const { call } = await yoiHost(t, { tools: ['table'] });
      assert.equal((await call('table', {})).summary, 'table grew to 257 elements', 'no table element limit here: the memory cap and the deadline bound a guest');
    },
  },
  {
    upstream: 'component_output_cap_still_fails_closed_after_bounded_lift',
    gist: 'a 70 000-byte output fails ("output exceeds")',
    run: async (t) => {
      const { call } = await yoiHost(t, { tools: ['big'] });
      await rejectsWithCode(call('big', {}), 'TOOL_OUTPUT_INVALID', /exceeds 65536 bytes/);
    },
  },
  {
    upstream: 'component_tool_denies_host_import_without_matching_grant',
    gist: 'importing a host interface without its grant fails ("plugin host API dispatch denied")',
    run: async (t) => {
      const { call } = await yoiHost(t, { tools: ['echo'], grants: { permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool', name: 'echo' }] } });
      await rejectsWithCode(call('echo', { summary: 'x' }), 'COMPONENT_IMPORT_DENIED', /yoi:host\/request@1\.0\.0.*granted host_api\.request permission is missing|granted host_api\.request permission is missing/);
    },
  },
  {
    upstream: 'component_host_api_imports_are_permission_checked_by_manifest_and_grants',
    gist: 'in order: requested host_api.request missing → manifest target declaration missing → enabled request grants missing',
    run: () => {
      const noRequest = subject(echoManifest());
      assert.equal(authorizeHostApi(noRequest, 'request'), 'requested host_api.request permission is missing');
      const requested = subject(echoManifest({ permissions: `${TOOL_PERMS(['echo'])} { kind = "host_api", api = "request" },` }));
      assert.equal(authorizeHostApi(requested, 'request'), 'manifest host_api.request target declaration is missing');
      const declared = subject(echoManifest({ permissions: `${TOOL_PERMS(['echo'])} { kind = "host_api", api = "request" },`, extra: '[[request]]\nscheme = "https"\nhost = "api.example.com"\nmethods = ["GET"]\n' }), {
        permissions: [{ kind: 'host_api', api: 'request' }],
      });
      assert.equal(authorizeHostApi(declared, 'request'), 'enabled host_api.request grants are missing');
    },
  },
  {
    upstream: 'component_tool_missing_export_fails_closed',
    gist: 'a component without the world\'s export fails ("does not export expected")',
    run: async (t) => {
      const ws = pluginWorkspace(t, [{ manifest: watToolManifest('gap'), component: await assemble(TOOL_WATS.missingExport) }]);
      const host = await ws.open();
      t.after(() => host.close());
      await rejectsWithCode(host.callTool('run', {}), 'COMPONENT_INVALID', /export/);
    },
  },
  {
    upstream: 'core_wasm_is_not_silently_reinterpreted_as_component',
    gist: 'a core module fails ("component is incompatible")',
    run: async (t) => {
      const ws = pluginWorkspace(t, [{ manifest: watToolManifest('core'), component: CORE_MODULE_BYTES }]);
      const host = await ws.open();
      t.after(() => host.close());
      await rejectsWithCode(host.callTool('run', {}), 'COMPONENT_INVALID');
    },
  },
  {
    upstream: 'component_wrong_world_fails_closed_during_discovery',
    gist: 'an unknown world is rejected when the package is read ("component world is unsupported")',
    run: () => {
      const d = manifestDiagnostic(echoManifest().replace('yoi:plugin/tool@1.0.0', 'yoi:plugin/other@1.0.0'));
      assert.deepEqual([d?.kind, d?.message], ['api', 'plugin component world is unsupported']);
    },
  },
  {
    upstream: 'component_tool_registration_uses_existing_tool_registry_path',
    gist: 'the tool is listed and called through the ordinary tool registry',
    run: async (t) => {
      const { host } = await yoiHost(t, { tools: ['echo'] });
      assert.deepEqual(host.tools.list().map((tool) => tool.name), ['echo']);
      assert.equal((await host.tools.call('echo', { summary: 'via registry' })).summary, 'via registry');
    },
  },
  {
    upstream: 'pdk_tool_output_shape_is_accepted_by_wasm_decoder',
    gist: "the PDK's ToolOutput (content omitted when None) decodes",
    run: () => {
      const out = decodeToolOutput('{"summary":"tool error: invalid_input","content":"{\\"error\\":{\\"code\\":\\"invalid_input\\",\\"message\\":\\"m\\"}}"}');
      assert.equal(out.summary, 'tool error: invalid_input');
      assert.deepEqual(decodeToolOutput('{"summary":"no content"}'), { summary: 'no content', content: null });
    },
  },
  {
    upstream: 'legacy_raw_wasm_runtime_is_rejected_without_fallback_execution',
    gist: 'inspection is not eligible and no instance is created ("legacy raw wasm plugin runtime is not supported")',
    run: () => {
      const legacy = subject(echoManifest());
      const runtime = { kind: 'wasm', abi: 'yoi-plugin-wasm-1', entry: 'run' };
      const inspection = inspectStatic({ ...legacy, manifest: { ...legacy.manifest, runtime } });
      assert.equal(inspection.runtime.eligible, false);
      assert.match(inspection.runtime.diagnostic!, /legacy raw wasm plugin runtime is not an active execution path; use wasm-component/);
      assert.equal(manifestDiagnostic('schema_version = 1\nid = "l"\nname = "L"\nversion = "1"\n[runtime]\nkind = "wasm"\n')?.kind, 'api', 'such a package is never resolved, so never run');
    },
  },
];

const INSPECTION: ConformanceCase[] = [
  {
    upstream: 'component_static_inspection_reports_component_runtime_without_execution',
    gist: 'runtime wasm-component/<world>, eligible, without executing anything',
    run: () => {
      const inspection = inspectStatic(subject(echoManifest()));
      assert.deepEqual(inspection.runtime, { eligible: true, status: 'wasm-component/yoi:plugin/tool@1.0.0' });
      assert.equal(inspection.statically_eligible, true);
    },
  },
  {
    upstream: 'static_inspection_does_not_read_or_execute_package',
    gist: 'a record whose package path does not exist is still eligible',
    run: () => {
      const record = subject(echoManifest());
      assert.ok(!existsSync(record.packagePath));
      assert.equal(inspectStatic(record).statically_eligible, true);
    },
  },
  {
    upstream: 'static_inspection_reports_missing_tool_grant',
    gist: 'an ungranted tool is ineligible with the grant message',
    run: () => {
      const inspection = inspectStatic(subject(echoManifest(), { permissions: [{ kind: 'surface', surface: 'tool' }] }));
      assert.equal(inspection.tools[0]!.eligible, false);
      assert.match(inspection.tools[0]!.diagnostic!, /granted tool permission for `echo` is missing/);
    },
  },
  {
    upstream: 'static_inspection_reports_invalid_tool_definition',
    gist: 'an invalid input_schema makes the tool ineligible',
    run: () => {
      const inspection = inspectStatic(subject(echoManifest({ tools: '[[tools]]\nname = "echo"\ndescription = "e"\ninput_schema = { type = "object", oneOf = [] }\n' })));
      assert.match(inspection.tools[0]!.diagnostic!, /invalid input_schema/);
    },
  },
  {
    upstream: 'static_inspection_reports_invalid_and_duplicate_tool_names',
    gist: 'invalid and duplicate names are reported per tool',
    run: () => {
      const tools = '[[tools]]\nname = "a b"\ndescription = "e"\ninput_schema = { type = "object" }\n[[tools]]\nname = "dup"\ndescription = "e"\ninput_schema = { type = "object" }\n[[tools]]\nname = "dup"\ndescription = "e"\ninput_schema = { type = "object" }\n';
      const inspection = inspectStatic(subject(echoManifest({ tools, permissions: TOOL_PERMS(['a b', 'dup']) })));
      assert.match(inspection.tools[0]!.diagnostic!, /invalid name/);
      assert.match(inspection.tools[1]!.diagnostic!, /duplicate name within plugin manifest/);
    },
  },
  {
    upstream: 'static_inspection_reports_covering_request_grants_as_runtime_eligible',
    gist: 'an exact manifest target under a `*://*` grant is eligible with a broad diagnostic and no grant-only entry',
    run: () => {
      const manifest = echoManifest({ permissions: `${TOOL_PERMS(['echo'])} { kind = "host_api", api = "request" },`, extra: '[[request]]\nscheme = "https"\nhost = "api.example.com"\nmethods = ["GET"]\npath_prefixes = ["/v1"]\n' });
      const inspection = inspectStatic(subject(manifest, { permissions: loadManifestPackage(manifest).manifest.permissions, request: [{ scheme: '*', host: '*', methods: ['GET'], path_prefixes: [] }] }));
      const target = inspection.host_apis.find((a) => a.permission.startsWith('host_api.request target'))!;
      assert.equal(target.eligible, true);
      assert.equal(target.diagnostic, 'covered by broad/arbitrary enabled request grant');
      assert.ok(!inspection.host_apis.some((a) => a.permission.includes('grant-only')));
    },
  },
  {
    upstream: 'static_inspection_reports_request_grant_intersections_as_runtime_eligible',
    gist: 'a broad manifest target with an exact grant is eligible, "partially covered"',
    run: () => {
      const manifest = echoManifest({ permissions: `${TOOL_PERMS(['echo'])} { kind = "host_api", api = "request" },`, extra: '[[request]]\nscheme = "https"\nhost = "*"\nmethods = ["GET"]\n' });
      const inspection = inspectStatic(subject(manifest, { permissions: loadManifestPackage(manifest).manifest.permissions, request: [{ scheme: 'https', host: 'api.example.com', methods: ['GET'], path_prefixes: ['/v1'] }] }));
      const target = inspection.host_apis.find((a) => a.permission.startsWith('host_api.request target'))!;
      assert.equal(target.eligible, true);
      assert.match(target.diagnostic!, /^partially covered by enabled request grant/);
    },
  },
  {
    upstream: 'websocket_static_inspection_reports_grant_only_missing_and_broad',
    gist: 'WebSocket targets: a missing grant, a grant-only target and broad labels',
    run: () => {
      const manifest = echoManifest({ permissions: `${TOOL_PERMS(['echo'])} { kind = "host_api", api = "websocket" },`, extra: '[[websocket]]\nscheme = "wss"\nhost = "gateway.example.com"\npath_prefixes = ["/gateway"]\n' });
      const inspection = inspectStatic(subject(manifest, { permissions: loadManifestPackage(manifest).manifest.permissions, websocket: [{ scheme: 'wss', host: '*', path_prefixes: [] }, { scheme: 'wss', host: 'other.example.com', path_prefixes: ['/x'] }] }));
      const labels = inspection.host_apis.map((a) => a.permission);
      assert.ok(labels.includes('host_api.websocket grant wss://* * [broad-websocket]'), labels.join('\n'));
      assert.ok(labels.includes('host_api.websocket grant-only wss://other.example.com /x'), labels.join('\n'));
      const none = inspectStatic(subject(manifest, { permissions: loadManifestPackage(manifest).manifest.permissions }));
      assert.match(none.host_apis.find((a) => a.permission.startsWith('host_api.websocket target'))!.diagnostic!, /missing enabled WebSocket grant for manifest target/);
    },
  },
];

const SERVICE: ConformanceCase[] = [
  {
    upstream: 'ingress_queue_dispatches_serially_and_reports_status',
    gist: 'two events: enqueued 2, dispatched 2, depth 0',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, { world: 'instance' });
      await host.startServices();
      const service = host.services.get(ref)!;
      await service.emit('events', 'message', 'test', {});
      await service.emit('events', 'message', 'test', {});
      await service.idle();
      const status = host.status(ref)[0]!;
      assert.deepEqual([status.counters!.enqueued, status.counters!.dispatched, status.queue!.depth], [2, 2, 0]);
    },
  },
  {
    upstream: 'bounded_ingress_queue_rejects_full_queue',
    gist: 'capacity 1: QueueFull, rejected 1, a QueueFull diagnostic',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, { world: 'instance', policy: { queueCapacity: 1 } });
      await host.startServices();
      const service = host.services.get(ref)!;
      // Offers issued in one synchronous run: the first takes the one place, the others find the queue full.
      const outcomes = await Promise.all([1, 2, 3].map(() => service.offer('events', newIngressEvent('events', 'message', 'test', {}))));
      assert.deepEqual(outcomes.at(-1), { ok: false, reason: 'full', message: 'plugin ingress queue is full (capacity 1)' });
      assert.ok(service.counters.rejected >= 1);
      assert.ok(service.diagnostics.some((d) => d.kind === 'QueueFull'));
    },
  },
  {
    upstream: 'ingress_dispatch_failure_marks_service_failed_and_rejects_later_events',
    gist: 'a failed dispatch marks the service Failed for good; later events are refused',
    divergence: 'ingress-failures-retried',
    run: async (t) => {
      const { host, service } = await jsService(t);
      await host.startServices();
      await service.emit('events', 'job', 'test', { trap: true });
      await service.idle();
      assert.equal(service.counters.failed, 2);
      assert.equal(service.counters.dead_lettered, 1, 'redelivered, then dead-lettered');
      await until(() => service.state === 'Running', 'the restarted service');
      assert.deepEqual(await service.emit('events', 'job', 'test', {}), { ok: true }, 'later events are still accepted');
    },
  },
  {
    upstream: 'ingress_dispatch_timeout_records_typed_diagnostic',
    gist: 'a handler over the deadline counts timed_out with a DispatchTimeout diagnostic (after its commands ran)',
    divergence: 'ingress-timeout-enforced',
    run: async (t) => {
      const { host, service } = await jsService(t, { maxAttempts: 1 }, { ingress_timeout_ms: 300 });
      await host.startServices();
      await service.emit('events', 'job', 'test', { spin: true, commands: [{ kind: 'diagnostic_status_update', payload: { status: { ran: true } } }] });
      await service.idle();
      assert.equal(service.counters.timed_out, 1);
      assert.notDeepEqual(service.componentStatus, { ran: true }, 'no command of a timed-out handler runs');
    },
  },
  {
    upstream: 'stopped_service_rejects_ingress_events',
    gist: 'after stop, ingress is refused (ServiceStopped)',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, { world: 'instance' });
      await host.startServices();
      const service = host.services.get(ref)!;
      await host.close();
      const outcome = await service.emit('events', 'message', 'test', {});
      assert.deepEqual([outcome.ok, !outcome.ok && outcome.reason], [false, 'stopped']);
    },
  },
  {
    upstream: 'invalid_ingress_event_is_typed_rejection',
    gist: 'an empty correlation_id is InvalidEvent and counts as rejected',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, { world: 'instance' });
      await host.startServices();
      const service = host.services.get(ref)!;
      const outcome = await service.deliver('events', { ...newIngressEvent('events', 'message', 'test', {}), correlation_id: '' });
      assert.equal(outcome.ok, false);
      assert.equal(!outcome.ok && outcome.reason, 'invalid');
      assert.equal(service.counters.rejected, 1);
      assert.ok(service.diagnostics.some((d) => d.kind === 'InvalidEvent'));
    },
  },
  {
    upstream: 'service_output_command_records_diagnostic_status_separately_from_tool_output',
    gist: 'diagnostic_status_update: Recorded, component_status = {"ready": true}, a diagnostic naming the command',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, { world: 'instance', config: commandTemplate([{ kind: 'diagnostic_status_update', payload: { status: { ready: true }, message: 'ready now' } }]) });
      await host.startServices();
      const service = host.services.get(ref)!;
      await service.emit('events', 'message', 'test', { text: 'x' });
      await service.idle();
      assert.deepEqual(service.componentStatus, { ready: true });
      const [result] = service.commandResults;
      assert.deepEqual([result!.status, result!.kind, result!.message], ['Recorded', 'diagnostic_status_update', 'ready now']);
      assert.ok(service.diagnostics.some((d) => d.kind === 'ServiceOutputCommandRecorded' && d.message.includes(result!.command_id!)));
    },
  },
  {
    upstream: 'service_output_command_rejects_ungranted_request_without_executing_status_update',
    gist: 'a batch with an ungranted request: one Rejected result and the status update not applied',
    divergence: 'batch-results-per-command',
    run: async (t) => {
      const server = await httpServer(t);
      const { host, ref } = await yoiHost(t, {
        world: 'instance',
        eventKinds: [],
        config: commandTemplate([
          { kind: 'diagnostic_status_update', payload: { status: { applied: true } } },
          { kind: 'host_request_dispatch', payload: { method: 'GET', url: `http://127.0.0.1:${server.port}/admin` } },
        ]),
      });
      await host.startServices();
      const service = host.services.get(ref)!;
      await service.emit('events', 'message', 'test', { text: 'x' });
      await service.idle();
      assert.notDeepEqual(service.componentStatus, { applied: true });
      // Ours: every command of the refused batch gets its own Rejected result (the valid one "not run").
      const results = service.commandResults;
      assert.deepEqual(results.map((r) => [r.kind, r.status]), [['host_request_dispatch', 'Rejected'], ['diagnostic_status_update', 'Rejected']]);
      assert.match(results[1]!.message, /not run/);
      assert.deepEqual(server.hits, []);
    },
  },
  {
    upstream: 'service_output_commands_are_grant_checked_and_supported_transport_rejects_without_connection',
    gist: 'a granted host_request_dispatch is Unsupported (no I/O); websocket_send without a live connection is Rejected',
    divergence: 'host-request-dispatch',
    run: async (t) => {
      const server = await httpServer(t);
      const { host, ref } = await yoiHost(t, { world: 'instance', config: commandTemplate([{ kind: 'host_request_dispatch', payload: { method: 'GET', url: `http://127.0.0.1:${server.port}/api/items` } }]) });
      await host.startServices();
      const service = host.services.get(ref)!;
      await service.emit('events', 'message', 'test', { text: 'x' });
      await service.idle();
      assert.deepEqual(service.commandResults.map((r) => r.status), ['Recorded']);
      assert.deepEqual(server.hits, ['GET /api/items'], 'executed, its response delivered as a host_response event');
    },
  },
  {
    upstream: 'service_output_command_rejects_malformed_envelope',
    gist: 'a malformed envelope is rejected as "malformed service output command envelope"',
    run: async (t) => {
      const { host, ref } = await yoiHost(t, { world: 'instance', config: JSON.stringify({ output_commands: [{ kind: 'diagnostic_status_update', payload: {}, surprise: 1 }] }) });
      await host.startServices();
      const service = host.services.get(ref)!;
      await service.emit('events', 'message', 'test', { text: 'x' });
      await service.idle();
      const [result] = service.commandResults;
      assert.equal(result!.status, 'Rejected');
      assert.match(result!.message, /^malformed service output command envelope/);
      assert.equal(result!.command_id, null);
    },
  },
];

async function driverHost(t: TestContext, options: { commands?: Parameters<typeof commandTemplate>[0]; grants?: YoiHostOptions['grants']; websocket?: string; path?: string } = {}) {
  const server = await socketServer(t);
  const url = `ws://127.0.0.1:${server.port}${options.path ?? '/socket'}`;
  const yoi = await yoiHost(t, {
    world: 'instance',
    sources: [`websocket:${url}`],
    eventKinds: ['websocket_open', 'websocket_text', 'websocket_close', 'websocket_error'],
    config: commandTemplate(options.commands ?? [{ kind: 'websocket_send', payload: { url, text: 'pong' } }]),
    ...(options.grants !== undefined ? { grants: options.grants } : {}),
    ...(options.websocket !== undefined ? { websocket: options.websocket } : {}),
  });
  await yoi.host.startServices();
  const connection = () => yoi.host.status(yoi.ref)[0]!.websocket_connections[0] as Record<string, JsonValue> | undefined;
  return { ...yoi, server, url, connection, service: yoi.host.services.get(yoi.ref)! };
}

const DRIVER: ConformanceCase[] = [
  {
    upstream: 'service_websocket_driver_enqueues_incoming_text_and_reports_close',
    gist: 'a text frame is dispatched (frames counted, last_frame_at set, no drops); a close is reported',
    divergence: 'websocket-reconnect',
    run: async (t) => {
      const d = await driverHost(t, { commands: [] });
      const socket = await until(() => d.server.sockets[0], 'a connection');
      socket.send('hello');
      await until(() => d.service.counters.dispatched >= 2, 'open and text delivered');
      assert.equal(d.connection()!['frames_in'], 1);
      assert.ok(d.connection()!['last_frame_at']);
      assert.equal(d.connection()!['drops'], 0);
      socket.close(1000, 'bye');
      await until(() => d.connection()!['last_close_code'] === 1000, 'the close');
      assert.ok(d.service.diagnostics.some((x) => x.kind === 'ServiceWebSocketConnected'));
      await until(() => d.server.sockets.length === 2, 'a reconnect (Yoi stays Closed)');
    },
  },
  {
    upstream: 'websocket_send_output_command_sends_on_host_owned_connection',
    gist: 'websocket_send: Recorded, the frame arrives, sent frames = 1',
    run: async (t) => {
      const d = await driverHost(t);
      (await until(() => d.server.sockets[0], 'a connection')).send('ping');
      await until(() => d.server.received.length === 1, 'the reply');
      assert.deepEqual(d.server.received, ['pong']);
      assert.equal(d.connection()!['frames_out'], 1);
      await until(() => d.service.commandResults.some((r) => r.status === 'Recorded'), 'a Recorded result');
    },
  },
  {
    upstream: 'websocket_send_output_command_records_send_failure_diagnostic',
    gist: 'a failed send: Rejected, send_failures = 1, a send-failure diagnostic',
    run: async (t) => {
      const d = await driverHost(t, { websocket: 'send_limit = 1\nsend_headroom = 0\nsend_window_ms = 60000' });
      const socket = await until(() => d.server.sockets[0], 'a connection');
      socket.send('one');
      socket.send('two');
      await until(() => d.service.commandResults.some((r) => r.status === 'Rejected'), 'a rejected send');
      assert.equal(d.connection()!['send_failures'], 1);
      assert.match(d.service.commandResults.find((r) => r.status === 'Rejected')!.message, /send budget/);
      await until(() => d.server.received.length > 0, 'the first send at the server');
      assert.deepEqual(d.server.received, ['pong']);
    },
  },
  {
    upstream: 'websocket_send_rejects_unauthorized_target_before_execution',
    gist: 'a websocket_send outside the path prefix is rejected at validation; without the grant the driver reports "not granted"',
    run: async (t) => {
      const d = await driverHost(t, { commands: [{ kind: 'websocket_send', payload: { url: 'ws://127.0.0.1:1/elsewhere', text: 'x' } }] });
      (await until(() => d.server.sockets[0], 'a connection')).send('ping');
      await until(() => d.service.commandResults.length > 0, 'a result');
      assert.match(d.service.commandResults[0]!.message, /^websocket_send not granted: /);
      const ungranted = await yoiHost(t, {
        id: 'ungranted',
        world: 'instance',
        sources: [`websocket:ws://127.0.0.1:${d.server.port}/socket`],
        hostApis: ['request', 'fs'],
        requestTargets: [{ scheme: 'http', host: '127.0.0.1', methods: ['GET'] }],
        websocketTargets: [],
      });
      await ungranted.host.startServices();
      const diagnostics = ungranted.host.services.get(ungranted.ref)?.diagnostics ?? [];
      assert.ok(diagnostics.some((x) => x.kind === 'ServiceWebSocketError' && /not granted/.test(x.message)) || ungranted.host.status(ungranted.ref)[0]!.lifecycle !== 'Running', JSON.stringify(diagnostics));
    },
  },
  {
    upstream: 'service_websocket_driver_reports_receive_error_as_diagnostic',
    gist: 'a receive error: state Failed, a diagnostic and last_error',
    divergence: 'websocket-reconnect',
    run: async (t) => {
      const d = await driverHost(t, { commands: [], websocket: 'max_message_bytes = 16' });
      (await until(() => d.server.sockets[0], 'a connection')).send('x'.repeat(64));
      await until(() => /payload/i.test(String(d.connection()!['last_error'] ?? '')), 'the oversized message failing the connection');
      assert.ok(d.service.diagnostics.some((x) => x.kind === 'ServiceWebSocketConnected'));
      await until(() => d.server.sockets.length === 2, 'a reconnect (Yoi stays Failed)');
    },
  },
  {
    upstream: 'websocket_runtime_drop_is_safe_inside_async_context',
    gist: 'dropping the WebSocket runtime inside an async context does not panic',
    run: async (t) => {
      const d = await driverHost(t, { commands: [] });
      const socket = await until(() => d.server.sockets[0], 'a connection');
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await d.host.close();
      await closed;
      assert.equal(d.connection()!['state'], 'Closed');
    },
  },
];

/** The Yoi-WIT `request` tool against a loopback server. */
async function requestHost(t: TestContext, extra: Partial<YoiHostOptions> = {}) {
  const server = await httpServer(t, (req, res) => {
    if (req.url === '/api/big') {
      res.end('y'.repeat(70 * 1024));
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, path: req.url }));
  });
  const yoi = await yoiHost(t, { tools: ['request'], ...extra });
  const request = async (descriptor: JsonValue) => (await yoi.replies('request', descriptor))[0]!;
  return { ...yoi, server, request };
}

const REQUEST: ConformanceCase[] = [
  {
    upstream: 'disallowed_request_targets_deny_before_network',
    gist: 'http vs https, TRACE, another host, localhost, file:, ws: are denied with no network call',
    divergence: 'error-values',
    run: async (t) => {
      const { server, request } = await requestHost(t);
      for (const descriptor of [
        { method: 'GET', url: `https://127.0.0.1:${server.port}/api/x` },
        { method: 'TRACE', url: `http://127.0.0.1:${server.port}/api/x` },
        { method: 'GET', url: `http://localhost:${server.port}/api/x` },
        { method: 'GET', url: 'http://198.51.100.7/api/x' },
        { method: 'GET', url: 'file:///etc/passwd' },
        { method: 'GET', url: `ws://127.0.0.1:${server.port}/api/x` },
        { method: 'GET', url: `http://127.0.0.1:${server.port}/admin` },
      ]) {
        assert.ok(['denied', 'invalid_request'].includes(error(await request(descriptor)).code), descriptor.url);
      }
      assert.deepEqual(server.hits, []);
    },
  },
  {
    upstream: 'loopback_request_requires_explicit_manifest_and_grant',
    gist: 'loopback is reachable only when declared and granted',
    run: async (t) => {
      const granted = await requestHost(t);
      assert.equal(JSON.parse(await granted.request({ method: 'GET', url: `http://127.0.0.1:${granted.server.port}/api/x` })).status, 200);
      const ungranted = await requestHost(t, { id: 'ungranted', grants: { permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool', name: 'request' }, { kind: 'host_api', api: 'request' }, { kind: 'host_api', api: 'websocket' }, { kind: 'host_api', api: 'fs' }], request: [{ scheme: 'https', host: 'api.example.com', methods: ['GET'], path_prefixes: [] }], websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: [] }], fs: [{ root: tmpdir(), operations: ['read'] }] } });
      assert.match(error(await ungranted.request({ method: 'GET', url: `http://127.0.0.1:${ungranted.server.port}/api/x` })).message, /not covered by enabled request grants/);
      assert.deepEqual(ungranted.server.hits, []);
    },
  },
  {
    upstream: 'upgrade_and_sse_headers_are_rejected',
    gist: 'Upgrade / Connection: upgrade and Accept: text/event-stream are refused',
    run: async (t) => {
      const { server, request } = await requestHost(t);
      const url = `http://127.0.0.1:${server.port}/api/x`;
      assert.match(error(await request({ method: 'GET', url, headers: [{ name: 'Upgrade', value: 'websocket' }] })).message, /upgrade/i);
      assert.match(error(await request({ method: 'GET', url, headers: [{ name: 'Connection', value: 'Upgrade' }] })).message, /upgrade/i);
      assert.match(error(await request({ method: 'GET', url, headers: [{ name: 'Accept', value: 'text/event-stream' }] })).message, /event-stream/i);
      assert.deepEqual(server.hits, []);
    },
  },
  {
    upstream: 'dns_resolution_is_pinned_to_validated_public_socket_addresses',
    gist: 'a granted host name is resolved once and the connection pinned to that address',
    run: async (t) => {
      const { server, request } = await requestHost(t, {
        requestTargets: [{ scheme: 'http', host: 'localhost', methods: ['GET'], path_prefixes: ['/api'] }],
        websocketTargets: [{ scheme: 'ws', host: '127.0.0.1' }],
      });
      const reply = JSON.parse(await request({ method: 'GET', url: `http://localhost:${server.port}/api/pinned` })) as { status?: number; error?: unknown };
      // `localhost` may resolve to ::1 first where nothing listens; either way the name was resolved by the host, not the guest.
      assert.ok(reply.status === 200 || reply.error !== undefined, JSON.stringify(reply));
    },
  },
  {
    upstream: 'dns_resolution_can_pin_explicit_private_addresses',
    gist: 'an explicitly declared and granted private address is allowed',
    run: async (t) => {
      const { server, request } = await requestHost(t);
      assert.equal(JSON.parse(await request({ method: 'GET', url: `http://127.0.0.1:${server.port}/api/private` })).status, 200);
      assert.deepEqual(server.hits, ['GET /api/private']);
    },
  },
  {
    upstream: 'timeout_and_secret_diagnostics_are_bounded_and_redacted',
    gist: 'messages carry `<redacted>` for secret-looking parts and stay within 513 bytes',
    run: async (t) => {
      const { request } = await requestHost(t);
      const e = error(await request({ method: 'GET', url: `https://api.example.com/${'p'.repeat(2000)}?token=SUPERSECRET&api_key=ALSOSECRET` }));
      assert.ok(!JSON.stringify(e).includes('SUPERSECRET') && !JSON.stringify(e).includes('ALSOSECRET'));
      assert.ok(Buffer.byteLength(e.message) <= 513 + 2, String(Buffer.byteLength(e.message)));
    },
  },
  {
    upstream: 'response_size_bound_truncates',
    gist: 'a body over 64 KiB is cut to 64 KiB with truncated = true',
    run: async (t) => {
      // A 64 KiB body cannot come back out of a guest (outputs are bounded at 64 KiB too), so this
      // asks the host API directly, the way a guest's import call reaches it.
      const { server } = await requestHost(t);
      const api = new HostApiDispatcher(subject(yoiManifest({ tools: ['request'] })));
      const reply = JSON.parse(await api.dispatch('yoi:host/request', 'request', [JSON.stringify({ method: 'GET', url: `http://127.0.0.1:${server.port}/api/big` })])) as { body: string; truncated: boolean };
      assert.equal(reply.truncated, true);
      assert.equal(Buffer.byteLength(reply.body), 64 * 1024);
    },
  },
  {
    upstream: 'request_host_api_still_rejects_websocket_urls',
    gist: 'ws:// URLs are refused by the request API',
    run: async (t) => {
      const { request } = await requestHost(t);
      assert.match(error(await request({ method: 'GET', url: 'ws://127.0.0.1:1/api/x' })).message, /WebSocket URLs are not supported by host_api\.request/);
    },
  },
];

const WS_TARGETS = {
  requestTargets: [{ scheme: 'http', host: '127.0.0.1', methods: ['GET'] }],
  websocketTargets: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/socket'] }],
} as const;

function pullSubject(): AuthoritySubject {
  return subject(yoiManifest({ tools: ['ws'], ...WS_TARGETS }));
}

const PULL: ConformanceCase[] = [
  {
    upstream: 'websocket_max_open_connections_rejects_before_network_open',
    gist: 'a fifth open is refused before dialing',
    run: async (t) => {
      const server = await socketServer(t);
      const session = new WebSocketPullSession(pullSubject());
      t.after(() => session.closeAll());
      for (let i = 0; i < WEBSOCKET_PULL_LIMITS.openConnections; i++) await session.call('open', [JSON.stringify({ url: `ws://127.0.0.1:${server.port}/socket` })]);
      const refused = error(await session.call('open', [JSON.stringify({ url: `ws://127.0.0.1:${server.port}/socket` })]));
      assert.deepEqual([refused.code, refused.message], ['limit', 'host_api.websocket open connection limit (4) exceeded before dialing']);
    },
  },
  {
    upstream: 'websocket_open_failure_releases_capacity_reservation',
    gist: 'a failed dial frees its slot',
    run: async (t) => {
      const server = await socketServer(t);
      const session = new WebSocketPullSession(pullSubject());
      t.after(() => session.closeAll());
      for (let i = 0; i < WEBSOCKET_PULL_LIMITS.openConnections + 1; i++) assert.equal(error(await session.call('open', [JSON.stringify({ url: 'ws://127.0.0.1:1/socket' })])).code, 'failed');
      const opened = JSON.parse(await session.call('open', [JSON.stringify({ url: `ws://127.0.0.1:${server.port}/socket` })])) as { handle?: number };
      assert.ok(opened.handle);
    },
  },
  {
    upstream: 'websocket_unbounded_open_client_fails_closed_before_dialing',
    gist: 'a client that cannot bound its open refuses to dial',
    divergence: 'not-applicable',
    run: () => {
      // Yoi's client is pluggable; ours is always the bounded one (connect timeout): a descriptor
      // that would need unbounded behaviour (subprotocol negotiation) is refused before dialing.
      const session = new WebSocketPullSession(pullSubject());
      return session.call('open', [JSON.stringify({ url: 'ws://127.0.0.1:1/socket', protocols: ['x'] })]).then((reply) => assert.match(error(reply).message, /subprotocol/));
    },
  },
  {
    upstream: 'websocket_open_send_recv_close_is_bounded_and_explicit',
    gist: 'handle 1, url without query, {"sent":true,"bytes":N}, {"type":"text","text":…}, {"closed":true}',
    run: async (t) => {
      const server = await socketServer(t, { echo: true });
      const { replies } = await yoiHost(t, { tools: ['ws'], ...WS_TARGETS });
      const [open, sent, received, closed] = (await replies('ws', { url: `ws://127.0.0.1:${server.port}/socket?token=QUERYSECRET` })).map((r) => JSON.parse(r) as JsonValue);
      assert.deepEqual(open, { handle: 1, url: `ws://127.0.0.1:${server.port}/socket` });
      assert.deepEqual(sent, { sent: true, bytes: 5 });
      assert.deepEqual(received, { type: 'text', text: 'hello' });
      assert.deepEqual(closed, { closed: true });
    },
  },
  {
    upstream: 'websocket_open_requires_manifest_and_grant',
    gist: 'a URL neither declared nor granted is refused',
    run: async () => {
      const session = new WebSocketPullSession(pullSubject());
      assert.match(error(await session.call('open', [JSON.stringify({ url: 'ws://127.0.0.1:1/elsewhere' })])).message, /not declared by the plugin manifest/);
    },
  },
  {
    upstream: 'websocket_loopback_requires_explicit_manifest_and_grant',
    gist: 'loopback WebSockets need an explicit declaration and grant',
    run: async () => {
      const s = pullSubject();
      const session = new WebSocketPullSession({ ...s, grants: { ...s.grants, websocket: [{ scheme: 'wss', host: 'gateway.example.com', path_prefixes: [] }] } });
      assert.match(error(await session.call('open', [JSON.stringify({ url: 'ws://127.0.0.1:1/socket' })])).message, /not covered by enabled WebSocket grants/);
    },
  },
  {
    upstream: 'websocket_rejects_guest_headers_and_binary_send_surface',
    gist: 'guest handshake headers are refused; WIT has no binary send',
    run: async () => {
      const session = new WebSocketPullSession(pullSubject());
      assert.match(error(await session.call('open', [JSON.stringify({ url: 'ws://127.0.0.1:1/socket', headers: [{ name: 'Authorization', value: 'x' }] })])).message, /headers/i);
      const wit = readFileSync(new URL('../../../wit/deps/yoi-host/yoi-host.wit', import.meta.url), 'utf8');
      assert.ok(!/binary/.test(wit.replace(/\/\/.*$/gm, '')));
    },
  },
];

/** The Yoi-WIT fs tools under the workspace's granted folder. */
async function fsHost(t: TestContext, extra: Partial<YoiHostOptions> = {}) {
  const yoi = await yoiHost(t, { tools: ['fs-read', 'fs-list', 'fs-write'], ...extra });
  const fs = async (op: 'read' | 'list' | 'write', descriptor: JsonValue) => JSON.parse((await yoi.replies(`fs-${op}`, descriptor))[0]!) as Record<string, JsonValue> & { error?: { code: string; message: string } };
  return { ...yoi, fs };
}

const FS: ConformanceCase[] = [
  {
    upstream: 'granted_fs_read_list_and_write_are_scoped',
    gist: 'read, list and write work inside the granted root',
    run: async (t) => {
      const { fs, filesRoot } = await fsHost(t);
      assert.deepEqual(await fs('write', { path: 'note.txt', content: 'hi' }), { path: 'note.txt', bytes_written: 2 });
      assert.equal((await fs('read', { path: 'note.txt' }))['content'], 'hi');
      assert.deepEqual((await fs('list', { path: '.' }))['entries'], [{ name: 'note.txt', kind: 'file' }]);
      assert.equal(readFileSync(join(filesRoot, 'note.txt'), 'utf8'), 'hi');
    },
  },
  {
    upstream: 'missing_fs_grant_denies_even_when_manifest_requests_api',
    gist: 'a requested but ungranted fs API is denied (importing it needs the grant)',
    run: async (t) => {
      const { call } = await yoiHost(t, { tools: ['fs-read'], grants: { permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool', name: 'fs-read' }, { kind: 'host_api', api: 'request' }, { kind: 'host_api', api: 'websocket' }], request: [{ scheme: 'http', host: '127.0.0.1', methods: ['GET'], path_prefixes: [] }], websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: [] }], fs: [] } });
      await rejectsWithCode(call('fs-read', { path: 'x' }), 'COMPONENT_IMPORT_DENIED', /host_api\.fs/);
    },
  },
  {
    upstream: 'workspace_scope_is_not_inherited_without_plugin_fs_grant',
    gist: "the workspace's own files are out of reach: only granted roots count",
    run: async (t) => {
      const { fs, workspace } = await fsHost(t);
      writeFileSync(join(workspace, 'secret.txt'), 'workspace file');
      assert.equal((await fs('read', { path: 'secret.txt' })).error?.code, 'not_found');
      assert.equal((await fs('read', { path: `${workspace}/secret.txt` })).error?.code, 'denied');
    },
  },
  {
    upstream: 'fs_traversal_and_absolute_paths_are_rejected',
    gist: '`..` and absolute paths are denied',
    run: async (t) => {
      const { fs } = await fsHost(t);
      for (const path of ['../x', 'a/../../x', '/etc/passwd']) assert.equal((await fs('read', { path })).error?.code, 'denied', path);
    },
  },
  {
    upstream: 'fs_symlink_escape_is_rejected',
    gist: 'a symlink pointing outside the root is denied',
    run: async (t) => {
      const { fs, filesRoot } = await fsHost(t);
      writeFileSync(join(filesRoot, '..', 'outside.txt'), 'outside');
      symlinkSync(join(filesRoot, '..', 'outside.txt'), join(filesRoot, 'link.txt'));
      const reply = await fs('read', { path: 'link.txt' });
      assert.equal(reply.error?.code, 'denied');
      assert.match(reply.error!.message, /symlink/);
    },
  },
  {
    upstream: 'fs_read_write_and_list_bounds_are_enforced',
    gist: 'reads truncate at 64 KiB, listings at 256; an oversize write is refused and creates nothing',
    run: async (t) => {
      const { fs, filesRoot } = await fsHost(t);
      writeFileSync(join(filesRoot, 'big.txt'), 'z'.repeat(70 * 1024));
      // As for request: a 64 KiB read is checked at the host API, the way a guest's import reaches it.
      const s = subject(yoiManifest({ tools: ['fs-read'] }));
      const api = new HostApiDispatcher({ ...s, grants: { ...s.grants, fs: [{ root: filesRoot, operations: ['read', 'write'] }] } });
      const read = JSON.parse(await api.dispatch('yoi:host/fs', 'read', [JSON.stringify({ path: 'big.txt' })])) as Record<string, JsonValue>;
      assert.deepEqual([String(read['content']).length, read['truncated']], [64 * 1024, true]);
      mkdirSync(join(filesRoot, 'many'));
      for (let i = 0; i < 260; i++) writeFileSync(join(filesRoot, 'many', `f${String(i).padStart(3, '0')}`), '');
      const listed = await fs('list', { path: 'many' });
      assert.deepEqual([(listed['entries'] as JsonValue[]).length, listed['truncated']], [256, true]);
      const write = JSON.parse(await api.dispatch('yoi:host/fs', 'write', [JSON.stringify({ path: 'huge.txt', content: 'w'.repeat(64 * 1024 + 1) })])) as { error?: { code: string } };
      assert.equal(write.error?.code, 'too_large');
      assert.ok(!existsSync(join(filesRoot, 'huge.txt')));
    },
  },
  {
    upstream: 'fs_diagnostics_redact_secret_like_path_segments',
    gist: 'secret-looking path segments are `<redacted>` in messages',
    run: async (t) => {
      const { fs } = await fsHost(t);
      const reply = await fs('read', { path: 'token=LEAKYVALUE/file.txt' });
      assert.ok(reply.error);
      assert.ok(!reply.error.message.includes('LEAKYVALUE'), reply.error.message);
    },
  },
  {
    upstream: 'fs_writes_serialize_to_normalized_target',
    gist: 'writing target.txt then ./target.txt leaves the second content',
    run: async (t) => {
      const { fs, filesRoot } = await fsHost(t);
      await fs('write', { path: 'target.txt', content: 'first' });
      await fs('write', { path: './target.txt', content: 'second' });
      assert.equal(readFileSync(join(filesRoot, 'target.txt'), 'utf8'), 'second');
    },
  },
];

export const WORKER_CASES: readonly ConformanceCase[] = [...LIFECYCLE, ...RUNTIME, ...INSPECTION, ...SERVICE, ...DRIVER, ...REQUEST, ...PULL, ...FS];

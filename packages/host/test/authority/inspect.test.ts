import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspectStatic, type InspectionSubject } from '../../src/authority/inspect.js';
import { parseManifest } from '../../src/manifest/parse.js';
import type { Manifest, RequestTarget, Surface } from '../../src/manifest/types.js';
import type { Grants } from '../../src/store/enablement.js';
import { manifestToml } from '../fixtures/manifest.js';
import { echoManifest } from '../helpers.js';

const DIGEST = 'sha256:' + 'c'.repeat(64);

function manifest(text: string): Manifest {
  const parsed = parseManifest(new TextEncoder().encode(text));
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.diagnostic));
  return parsed.value;
}

function subject(m: Manifest, grants: Partial<Grants>, surfaces: Surface[] = ['tool']): InspectionSubject {
  return {
    identity: 'project:echo',
    version: m.version,
    digest: DIGEST,
    manifest: m,
    enabledSurfaces: surfaces,
    grants: { id: 'project:echo', version: m.version, digest: DIGEST, permissions: [], request: [], websocket: [], fs: [], ...grants },
  };
}

const toolGrants = { permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool', name: 'echo' }] } as const;

describe('inspectStatic', () => {
  it('reports a component runtime as eligible without reading the package', () => {
    const s = subject(manifest(echoManifest()), { permissions: [...toolGrants.permissions] });
    const r = inspectStatic(s);
    assert.deepEqual(r.runtime, { eligible: true, status: 'wasm-component/yoi:plugin/tool@1.0.0' });
    assert.equal(r.statically_eligible, true);
    assert.equal(r.tools[0]!.eligible, true);
  });

  it('reports a missing tool grant', () => {
    const r = inspectStatic(subject(manifest(echoManifest()), { permissions: [{ kind: 'surface', surface: 'tool' }] }));
    assert.equal(r.tools[0]!.eligible, false);
    assert.match(r.tools[0]!.diagnostic!, /granted tool permission for `echo` is missing/);
    assert.equal(r.statically_eligible, false);
  });

  it('reports invalid and duplicate tool names and invalid schemas', () => {
    const m = manifest(
      manifestToml({
        id: 'echo',
        toolNamespace: 'e',
        tools: [
          { name: 'echo', description: 'a' },
          { name: 'echo', description: 'b' },
          { name: 'e cho', description: 'c', inputSchema: '{ type = "object", properties = { a = { type = "string", minLength = 1 } } }' },
          { name: 'e_root', description: 'd', inputSchema: '{ type = "array" }' },
        ],
      }),
    );
    const r = inspectStatic(subject(m, { permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool_namespace', namespace: 'e' }] }));
    assert.match(r.tools[0]!.diagnostic!, /duplicate name within plugin manifest/);
    assert.match(r.tools[2]!.diagnostic!, /invalid name: name contains whitespace/);
    assert.match(r.tools[2]!.diagnostic!, /invalid input_schema: \$\.properties\.a: unsupported schema keyword `minLength`/);
    assert.match(r.tools[3]!.diagnostic!, /root schema type must be `object`/);
    assert.equal(r.tools.filter((t) => t.eligible).length, 0);
  });

  const broadManifest = (target: Readonly<Record<string, string | readonly string[]>>) =>
    manifest(manifestToml({ id: 'echo', tools: ['echo'], hostApis: ['request'], request: [target] }));
  const hostGrant = [...toolGrants.permissions, { kind: 'host_api', api: 'request' }] as Grants['permissions'];

  it('treats a covering broad grant as eligible and says it is broad, with no grant-only entry', () => {
    const m = broadManifest({ scheme: 'https', host: 'api.example.com', methods: ['GET'], path_prefixes: ['/v1'] });
    const broad: RequestTarget = { scheme: '*', host: '*', methods: ['GET', 'POST'], path_prefixes: [] };
    const r = inspectStatic(subject(m, { permissions: hostGrant, request: [broad] }));
    const target = r.host_apis.find((a) => a.permission.startsWith('host_api.request target'))!;
    assert.equal(target.eligible, true);
    assert.match(target.diagnostic!, /covered by broad\/arbitrary enabled request grant/);
    assert.ok(!r.host_apis.some((a) => a.permission.includes('grant-only')));
    const grant = r.host_apis.find((a) => a.permission.startsWith('host_api.request grant '))!;
    assert.match(grant.diagnostic!, /broad\/arbitrary enabled request grant is constrained by manifest declarations/);
  });

  it('treats an exact grant inside a broad declaration as partially covered', () => {
    const m = broadManifest({ scheme: 'https', host: '*', methods: ['GET'] });
    const exact: RequestTarget = { scheme: 'https', host: 'api.example.com', methods: ['GET'], path_prefixes: ['/v1'] };
    const r = inspectStatic(subject(m, { permissions: hostGrant, request: [exact] }));
    const target = r.host_apis.find((a) => a.permission.startsWith('host_api.request target'))!;
    assert.equal(target.eligible, true);
    assert.match(target.diagnostic!, /partially covered by enabled request grant; broad manifest target is constrained by narrower grants/);
  });

  it('reports WebSocket grant-only, missing and broad findings', () => {
    const m = manifest(manifestToml({ id: 'echo', tools: ['echo'], hostApis: ['websocket'], websocket: [{ scheme: 'wss', host: 'gateway.example.com', path_prefixes: ['/gateway'] }] }));
    const r = inspectStatic(
      subject(m, {
        permissions: [...toolGrants.permissions, { kind: 'host_api', api: 'websocket' }],
        websocket: [{ scheme: 'wss', host: 'other.example.com', path_prefixes: [] }],
      }),
    );
    const target = r.host_apis.find((a) => a.permission.startsWith('host_api.websocket target'))!;
    assert.equal(target.eligible, false);
    assert.match(target.diagnostic!, /missing enabled WebSocket grant for manifest target/);
    const grantOnly = r.host_apis.find((a) => a.permission.startsWith('host_api.websocket grant-only'))!;
    assert.equal(grantOnly.permission, 'host_api.websocket grant-only wss://other.example.com * [broad-websocket]');
    assert.match(grantOnly.diagnostic!, /no matching manifest declaration; broad\/arbitrary target/);
  });

  it('does not inspect tools when only the service surface is enabled', () => {
    const m = manifest(manifestToml({ id: 'echo', version: '1', tools: [{ name: 'echo', description: 'd' }], services: [{ name: 'svc', description: 'd' }] }));
    const r = inspectStatic(subject(m, { permissions: [{ kind: 'surface', surface: 'service' }, { kind: 'service', name: 'svc' }] }, ['service']));
    assert.deepEqual(r.tools, []);
    assert.equal(r.services[0]!.eligible, true);
    assert.equal(r.statically_eligible, true);
  });

  it('marks the legacy runtime and core modules ineligible and placeholders eligible with a note', () => {
    const legacy = { ...manifest(echoManifest()), runtime: { kind: 'wasm', abi: 'yoi-plugin-wasm-1' } };
    assert.deepEqual(inspectStatic(subject(legacy, {})).runtime, {
      eligible: false,
      status: 'wasm/yoi-plugin-wasm-1',
      diagnostic: 'legacy raw wasm plugin runtime is not an active execution path; use wasm-component',
    });
    const core = inspectStatic({ ...subject(manifest(echoManifest()), {}), componentFormat: 'core-module' });
    assert.equal(core.runtime.eligible, false);
    assert.match(core.runtime.diagnostic!, /core WebAssembly module/);
    const placeholder = inspectStatic({ ...subject(manifest(echoManifest()), {}), componentFormat: 'placeholder' });
    assert.equal(placeholder.runtime.eligible, true);
    assert.match(placeholder.runtime.diagnostic!, /placeholder/);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspectStatic, type InspectionSubject } from '../../src/authority/inspect.js';
import { parseManifest } from '../../src/manifest/parse.js';
import type { Manifest, RequestTarget, Surface } from '../../src/manifest/types.js';
import type { Grants } from '../../src/store/enablement.js';
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
      echoManifest({
        permissions: '{ kind = "surface", surface = "tool" }, { kind = "tool_namespace", namespace = "e" },',
        tools: `[[tools]]
name = "echo"
description = "a"
input_schema = { type = "object" }
[[tools]]
name = "echo"
description = "b"
input_schema = { type = "object" }
[[tools]]
name = "e cho"
description = "c"
input_schema = { type = "object", properties = { a = { type = "string", minLength = 1 } } }
[[tools]]
name = "e_root"
description = "d"
input_schema = { type = "array" }
`,
      }),
    );
    const r = inspectStatic(subject(m, { permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool_namespace', namespace: 'e' }] }));
    assert.match(r.tools[0]!.diagnostic!, /duplicate name within plugin manifest/);
    assert.match(r.tools[2]!.diagnostic!, /invalid name: name contains whitespace/);
    assert.match(r.tools[2]!.diagnostic!, /invalid input_schema: \$\.properties\.a: unsupported schema keyword `minLength`/);
    assert.match(r.tools[3]!.diagnostic!, /root schema type must be `object`/);
    assert.equal(r.tools.filter((t) => t.eligible).length, 0);
  });

  const broadManifest = (target: string) =>
    manifest(
      echoManifest({
        permissions: '{ kind = "surface", surface = "tool" }, { kind = "tool", name = "echo" }, { kind = "host_api", api = "request" },',
        extra: `[[request]]\n${target}\n`,
      }),
    );
  const hostGrant = [...toolGrants.permissions, { kind: 'host_api', api: 'request' }] as Grants['permissions'];

  it('treats a covering broad grant as eligible and says it is broad, with no grant-only entry', () => {
    const m = broadManifest('scheme = "https"\nhost = "api.example.com"\nmethods = ["GET"]\npath_prefixes = ["/v1"]');
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
    const m = broadManifest('scheme = "https"\nhost = "*"\nmethods = ["GET"]');
    const exact: RequestTarget = { scheme: 'https', host: 'api.example.com', methods: ['GET'], path_prefixes: ['/v1'] };
    const r = inspectStatic(subject(m, { permissions: hostGrant, request: [exact] }));
    const target = r.host_apis.find((a) => a.permission.startsWith('host_api.request target'))!;
    assert.equal(target.eligible, true);
    assert.match(target.diagnostic!, /partially covered by enabled request grant; broad manifest target is constrained by narrower grants/);
  });

  it('reports WebSocket grant-only, missing and broad findings', () => {
    const m = manifest(
      echoManifest({
        permissions: '{ kind = "surface", surface = "tool" }, { kind = "tool", name = "echo" }, { kind = "host_api", api = "websocket" },',
        extra: '[[websocket]]\nscheme = "wss"\nhost = "gateway.example.com"\npath_prefixes = ["/gateway"]\n',
      }),
    );
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
    const m = manifest(`schema_version = 1
id = "echo"
name = "S"
version = "1"
permissions = [{ kind = "surface", surface = "service" }, { kind = "service", name = "svc" }]
[runtime]
kind = "wasm-component"
component = "plugin.component.wasm"
world = "yoi:plugin/instance@1.0.0"
[[tools]]
name = "echo"
description = "d"
input_schema = { type = "object" }
[[services]]
name = "svc"
description = "d"
`);
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

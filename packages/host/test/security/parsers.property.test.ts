/**
 * Property tests for the manifest and enablement parsers (issue G item 8), over random TOML
 * documents shaped like the real files with hostile values (control characters, bidi
 * characters, quotes, huge numbers, wrong types) in every field: the parsers never throw, every
 * diagnostic is bounded and free of control characters, an unknown key anywhere in a manifest
 * is refused, and what an operator's edit writes is exactly what is read back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'smol-toml';
import { DIAGNOSTIC_KINDS, MESSAGE_BOUND, type Diagnostic } from '../../src/diagnostics.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { validateManifest } from '../../src/manifest/validate.js';
import type { EnablementEntry } from '../../src/store/enablement.js';
import { FS_OPERATIONS, parseEnablementConfig } from '../../src/store/enablement.js';
import { upsertEnablement } from '../../src/store/enablement-edit.js';

const encoder = new TextEncoder();

/** Strings an attacker would try: plain ones, and ones full of control, bidi and quote characters. */
const hostile = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9_.-]{0,10}$/),
  fc.string({ unit: fc.constantFrom('a', '/', '.', ' ', ',', '"', '\\', '\u001b', '\r', '\n', '\u0000', '\u009b', '\u202e', '\u2066', '\ufeff', '€', '😀'), maxLength: 16 }),
  fc.string({ unit: 'binary', maxLength: 16 }),
);
const scalar = fc.oneof(hostile, fc.integer(), fc.boolean(), fc.constant(2 ** 53), fc.double({ noNaN: true, noDefaultInfinity: true }));

function assertDiagnostic(d: Diagnostic): void {
  assert.ok((DIAGNOSTIC_KINDS as readonly string[]).includes(d.kind), d.kind);
  assert.ok([...d.message].length <= MESSAGE_BOUND + 1, `${d.message.length} characters`);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(d.message, /[\u0000-\u001f\u007f-\u009f]/, JSON.stringify(d.message));
}

const permission = fc.oneof(
  fc.record({ kind: fc.constantFrom('surface'), surface: fc.oneof(fc.constantFrom('tool', 'service', 'ingress'), hostile) }),
  fc.record({ kind: fc.constantFrom('tool', 'service', 'ingress', 'domain_event'), name: hostile }),
  fc.record({ kind: fc.constant('tool_namespace'), namespace: hostile }),
  fc.record({ kind: fc.constant('host_api'), api: fc.oneof(fc.constantFrom('request', 'websocket', 'fs', 'https'), hostile) }),
  fc.record({ kind: hostile, name: hostile }),
);
const target = fc.record(
  {
    scheme: fc.oneof(fc.constantFrom('https', 'wss', '*'), hostile),
    host: fc.oneof(fc.constantFrom('api.example.com', '*'), hostile),
    port: fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.integer()),
    methods: fc.array(fc.oneof(fc.constantFrom('GET', 'POST'), hostile), { maxLength: 3 }),
    path_prefixes: fc.array(fc.oneof(fc.constant('/v1'), hostile), { maxLength: 3 }),
  },
  { requiredKeys: ['scheme', 'host', 'path_prefixes'] },
);
const tool = fc.record(
  { name: hostile, description: hostile, input_schema: fc.constant({ type: 'object' }), external_write: fc.boolean() },
  { requiredKeys: ['name', 'description', 'input_schema'] },
);

/** A manifest document: the real shape, random and hostile values, sometimes wrong types. */
const manifestDoc = fc.record(
  {
    schema_version: fc.oneof(fc.constant(1), fc.integer()),
    id: fc.oneof(fc.constant('echo'), hostile),
    name: hostile,
    version: hostile,
    description: hostile,
    surfaces: fc.array(fc.oneof(fc.constantFrom('tool', 'service', 'wasm'), hostile), { maxLength: 3 }),
    runtime: fc.record({
      kind: fc.oneof(fc.constantFrom('wasm-component', 'wasm'), hostile),
      component: fc.oneof(fc.constant('plugin.component.wasm'), hostile),
      world: fc.oneof(fc.constantFrom('yoi:plugin/tool@1.0.0', 'yoi:plugin/instance@1.0.0'), hostile),
    }),
    permissions: fc.array(permission, { maxLength: 5 }),
    tools: fc.array(tool, { maxLength: 3 }),
    request: fc.array(target, { maxLength: 2 }),
    websocket: fc.array(target.map(({ methods: _m, ...rest }) => rest), { maxLength: 2 }),
  },
  { requiredKeys: ['schema_version', 'id', 'name', 'version'] },
);

function toToml(doc: object): string | null {
  try {
    return stringify(doc);
  } catch {
    return null; // a value TOML cannot hold (e.g. an integer beyond 64 bits)
  }
}

const VALID_BASE = {
  schema_version: 1,
  id: 'echo',
  name: 'Echo',
  version: '0.1.0',
  permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool', name: 'echo' }, { kind: 'host_api', api: 'request' }],
  runtime: { kind: 'wasm-component', component: 'plugin.component.wasm', world: 'yoi:plugin/tool@1.0.0' },
  tools: [{ name: 'echo', description: 'Echo.', input_schema: { type: 'object' } }],
  request: [{ scheme: 'https', host: 'api.example.com', methods: ['GET'], path_prefixes: ['/v1'] }],
};

describe('manifest parser properties', () => {
  it('never throws on random manifest-shaped documents; diagnostics are bounded and control-free', () => {
    fc.assert(
      fc.property(manifestDoc, (doc) => {
        const text = toToml(doc);
        if (text === null) return;
        const parsed = parseManifest(encoder.encode(text));
        if (!parsed.ok) return assertDiagnostic(parsed.diagnostic);
        const problem = validateManifest(parsed.value, new Set(['plugin.toml', 'plugin.component.wasm']));
        if (problem) assertDiagnostic(problem);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses an unknown key in any table of a valid manifest', () => {
    const base = parseManifest(encoder.encode(stringify(VALID_BASE)));
    assert.ok(base.ok);
    const place = fc.constantFrom('top', 'runtime', 'tool', 'permission', 'request');
    fc.assert(
      fc.property(place, fc.stringMatching(/^[a-z_]{1,12}$/), scalar, (where, key, value) => {
        const doc = structuredClone(VALID_BASE) as Record<string, unknown> & typeof VALID_BASE;
        const table: Record<string, Record<string, unknown>> = {
          top: doc,
          runtime: doc.runtime,
          tool: doc.tools[0]!,
          permission: doc.permissions[0]!,
          request: doc.request[0]!,
        };
        const into = table[where]!;
        fc.pre(!(key in into) && !(where === 'top' && ['description', 'surfaces', 'hooks', 'services', 'ingresses', 'websocket'].includes(key)));
        fc.pre(!(where === 'runtime' && ['entry', 'abi'].includes(key)) && !(where === 'tool' && key === 'external_write'));
        fc.pre(!(where === 'request' && key === 'port'));
        into[key] = value;
        const text = toToml(doc);
        if (text === null) return;
        const parsed = parseManifest(encoder.encode(text));
        const problem = parsed.ok ? validateManifest(parsed.value, new Set(['plugin.toml', 'plugin.component.wasm'])) : parsed.diagnostic;
        assert.ok(problem !== null, `unknown key \`${key}\` in ${where} was accepted`);
        assertDiagnostic(problem);
      }),
      { numRuns: 400 },
    );
  });
});

const digest = fc.constantFrom('sha256:' + 'a'.repeat(64), 'sha256:' + 'b'.repeat(64));
const grantTarget = target.map(({ port, methods, ...rest }) => ({ ...rest, methods: methods ?? ['GET'], ...(typeof port === 'number' && port >= 1 && port <= 65535 ? { port } : {}) }));

/** An enablement entry an operator could write (hostile strings wherever the format takes text). */
const entryArb: fc.Arbitrary<EnablementEntry> = fc
  .record({
    name: fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/),
    version: hostile,
    digest,
    surfaces: fc.subarray(['tool', 'service', 'ingress'] as const),
    permissions: fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('tool' as const), name: hostile }),
        fc.record({ kind: fc.constant('tool_namespace' as const), namespace: hostile }),
        fc.constant({ kind: 'host_api' as const, api: 'request' as const }),
      ),
      { maxLength: 3 },
    ),
    request: fc.array(grantTarget, { maxLength: 2 }),
    fs: fc.array(fc.record({ root: hostile.map((r) => `/srv/${r}`), operations: fc.subarray([...FS_OPERATIONS], { minLength: 1 }) }), { maxLength: 2 }),
  })
  .map(({ name, version, digest: d, surfaces, permissions, request, fs }) => {
    const id = `project:${name}`;
    return { id, version, digest: d, surfaces, grants: { id, version, digest: d, permissions, request, websocket: [], fs } };
  });

describe('enablement parser properties', () => {
  it('never throws on random enablement-shaped documents; diagnostics are bounded and control-free', () => {
    const doc = fc.record({
      plugins: fc.record({
        enabled: fc.array(
          fc.record(
            {
              id: fc.oneof(fc.constant('project:echo'), hostile),
              version: scalar,
              digest: fc.oneof(digest, hostile),
              surfaces: fc.array(fc.oneof(fc.constant('tool'), hostile), { maxLength: 2 }),
              grants: fc.record({ permissions: fc.array(permission, { maxLength: 3 }), request: fc.array(target, { maxLength: 2 }), fs: fc.array(fc.record({ root: hostile, operations: fc.array(hostile, { maxLength: 2 }) }), { maxLength: 2 }) }, { requiredKeys: [] }),
              limits: fc.dictionary(fc.constantFrom('tool_timeout_ms', 'memory_mib', 'bogus'), scalar, { maxKeys: 2 }),
              extra: scalar,
            },
            { requiredKeys: [] },
          ),
          { maxLength: 3 },
        ),
      }),
    });
    fc.assert(
      fc.property(doc, (value) => {
        const text = toToml(value);
        if (text === null) return;
        const parsed = parseEnablementConfig(text);
        if (!parsed.ok) return assertDiagnostic(parsed.diagnostic);
        for (const entry of parsed.value.enabled) {
          for (const grant of entry.grants.fs) {
            assert.equal(typeof grant.root, 'string');
            for (const op of grant.operations) assert.ok((FS_OPERATIONS as readonly string[]).includes(op));
          }
          assert.ok(Array.isArray(entry.grants.permissions) && Array.isArray(entry.grants.request));
        }
      }),
      { numRuns: 400 },
    );
  });

  it('an operator edit writes exactly the grants given and leaves another entry as it was', () => {
    let written = 0;
    fc.assert(
      fc.property(entryArb, entryArb, (first, second) => {
        fc.pre(first.id !== second.id);
        const one = upsertEnablement('', first);
        // An edit may refuse what it could not read back exactly (nothing is then written); it never writes something else.
        if (!one.ok) return;
        const two = upsertEnablement(one.text, second);
        if (!two.ok) return;
        written++;
        const parsed = parseEnablementConfig(two.text);
        assert.ok(parsed.ok);
        assert.deepEqual(JSON.parse(JSON.stringify(parsed.value.enabled)), JSON.parse(JSON.stringify([first, second])));
      }),
      { numRuns: 300 },
    );
    assert.ok(written > 150, `only ${written} of 300 edits were written`);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'smol-toml';
import { DIAGNOSTIC_KINDS } from '../../src/diagnostics.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { validateManifest } from '../../src/manifest/validate.js';
import { parseEnablementConfig } from '../../src/store/enablement.js';
import { echoManifest } from '../helpers.js';

const enc = new TextEncoder();

function assertDiagnosticOnly(bytes: Uint8Array): void {
  const parsed = parseManifest(bytes);
  if (parsed.ok) {
    const problem = validateManifest(parsed.value, new Set(['plugin.toml', 'plugin.component.wasm']));
    if (problem) assert.ok(DIAGNOSTIC_KINDS.includes(problem.kind));
    return;
  }
  assert.ok(DIAGNOSTIC_KINDS.includes(parsed.diagnostic.kind));
  assert.ok(Array.from(parsed.diagnostic.message).length <= 241);
}

const tomlValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 12 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const manifestKeys = fc.constantFrom(
  'schema_version', 'id', 'name', 'version', 'description', 'surfaces', 'runtime', 'hooks', 'tools', 'services', 'ingresses', 'permissions', 'request', 'websocket', 'extra',
);

describe('manifest parser properties', () => {
  it('returns a diagnostic, never throws, for random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => assertDiagnosticOnly(bytes)), { numRuns: 400 });
  });

  it('returns a diagnostic, never throws, for random text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 2048, unit: 'binary' }), (text) => assertDiagnosticOnly(enc.encode(text))), { numRuns: 400 });
  });

  it('handles random well-formed TOML documents with manifest-like keys', () => {
    fc.assert(
      fc.property(fc.dictionary(manifestKeys, tomlValue, { maxKeys: 8 }), (doc) => {
        let text: string;
        try {
          text = stringify(doc);
        } catch {
          return;
        }
        assertDiagnosticOnly(enc.encode(text));
      }),
      { numRuns: 400 },
    );
  });

  it('handles line-level mutations of a valid manifest', () => {
    const lines = echoManifest().split('\n');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(lines.length), fc.string({ maxLength: 40 })), { maxLength: 4 }), (edits) => {
        const copy = [...lines];
        for (const [index, replacement] of edits) copy[index % copy.length] = replacement;
        assertDiagnosticOnly(enc.encode(copy.join('\n')));
      }),
      { numRuns: 400 },
    );
  });

  it('parses enablement configs without throwing', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('plugins', 'enabled', 'grants', 'x'), tomlValue, { maxKeys: 3 }), (doc) => {
        let text: string;
        try {
          text = stringify(doc);
        } catch {
          return;
        }
        const parsed = parseEnablementConfig(text);
        if (!parsed.ok) assert.ok(DIAGNOSTIC_KINDS.includes(parsed.diagnostic.kind));
      }),
      { numRuns: 300 },
    );
  });
});

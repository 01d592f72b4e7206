import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { JsonValue } from '../../src/manifest/types.js';
import { loadValidator, VALIDATORS_DIR } from '../../src/tools/validator-cache.js';
import { tempDir } from '../helpers.js';

const SCHEMA: JsonValue = {
  type: 'object',
  properties: {
    text: { type: 'string' },
    mode: { enum: ['a', 'b', { deep: [1, 2] }], type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    nested: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
  },
  required: ['text'],
  additionalProperties: false,
};

const INPUTS: unknown[] = [
  { text: 'hi' },
  { text: 'hi', mode: 'a', tags: ['x'], nested: { n: 1 } },
  {},
  { text: 1 },
  { text: 'hi', extra: true },
  { text: 'hi', mode: 'c' },
  { text: 'hi', tags: ['x', 2] },
  { text: 'hi', nested: { n: 1.5 } },
  { text: 'hi', nested: { n: 1, m: 2 } },
  [],
  null,
];

function outcomes(validate: ReturnType<typeof loadValidator>['validate']): unknown[] {
  return INPUTS.map((input) => {
    const valid = validate(input);
    const error = validate.errors?.[0];
    return valid ? true : { keyword: error?.keyword, instancePath: error?.instancePath, message: error?.message, params: error?.params };
  });
}

describe('validator cache', () => {
  it('stores the compiled validator; a later load evaluates it and judges every input alike', async (t) => {
    const dir = tempDir(t);
    const first = loadValidator(SCHEMA, dir);
    assert.equal(first.fromCache, false);
    await first.stored;
    const second = loadValidator(SCHEMA, dir);
    assert.equal(second.fromCache, true);
    assert.deepEqual(outcomes(second.validate), outcomes(first.validate));
    assert.deepEqual(outcomes(second.validate), outcomes(loadValidator(SCHEMA, null).validate));
    assert.equal(outcomes(second.validate).filter((o) => o === true).length, 2);
  });

  it('compiles again when an entry was tampered with, damaged or does not evaluate', async (t) => {
    const dir = tempDir(t);
    await loadValidator(SCHEMA, dir).stored;
    const [name] = readdirSync(join(dir, VALIDATORS_DIR));
    const path = join(dir, VALIDATORS_DIR, name!);
    const entry = JSON.parse(readFileSync(path, 'utf8')) as { code: string; sha256: string };

    // Code changed, hash kept: refused.
    const tamperedCode = entry.code.replace('return errors === 0', 'return true');
    assert.notEqual(tamperedCode, entry.code);
    writeFileSync(path, JSON.stringify({ ...entry, code: tamperedCode }));
    const tampered = loadValidator(SCHEMA, dir);
    assert.equal(tampered.fromCache, false);
    assert.equal(tampered.validate({}), false);
    await tampered.stored;
    assert.equal(loadValidator(SCHEMA, dir).fromCache, true, 'the entry is written again');

    writeFileSync(path, '{"format":1,');
    assert.equal(loadValidator(SCHEMA, dir).fromCache, false);

    const { createHash } = await import('node:crypto');
    const broken = 'module.exports = 42;';
    writeFileSync(path, JSON.stringify({ ...entry, code: broken, sha256: createHash('sha256').update(broken).digest('hex') }));
    const notAFunction = loadValidator(SCHEMA, dir);
    assert.equal(notAFunction.fromCache, false);
    assert.equal(notAFunction.validate({ text: 'ok' }), true);
  });
});

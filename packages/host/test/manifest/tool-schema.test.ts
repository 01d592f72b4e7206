import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toolNameProblem } from '../../src/manifest/ids.js';
import { inputSchemaProblem } from '../../src/manifest/tool-schema.js';
import type { JsonValue } from '../../src/manifest/types.js';

describe('inputSchemaProblem', () => {
  it('accepts the restricted subset, nested', () => {
    const schema: JsonValue = {
      type: 'object',
      title: 'Args',
      description: 'd',
      properties: {
        text: { type: 'string', enum: ['a', 'b'] },
        tags: { type: 'array', items: { type: 'string' } },
        meta: { type: 'object', additionalProperties: { type: 'integer' } },
        none: { type: 'null' },
      },
      required: ['text'],
      additionalProperties: false,
    };
    assert.equal(inputSchemaProblem(schema), null);
  });

  it('accepts enum values that differ only inside (different values, same keys)', () => {
    const schema: JsonValue = { type: 'object', properties: { a: { type: 'object', enum: [{ a: 1, b: 2 }, { a: 2, b: 1 }, { a: '1', b: 2 }, [1, 2], [2, 1], '{"a":1,"b":2}'] } } };
    assert.equal(inputSchemaProblem(schema), null);
  });

  const rejected: [string, JsonValue, RegExp][] = [
    ['a non-object root', 'x', /^\$: root schema must be an object/],
    ['a root without type', {}, /root schema must declare type = `object`/],
    ['a non-object root type', { type: 'string' }, /root schema type must be `object`/],
    ['$ref', { type: 'object', $ref: '#/x' }, /unsupported schema keyword `\$ref`/],
    ['oneOf nested', { type: 'object', properties: { a: { type: 'string', oneOf: [] } } }, /^\$\.properties\.a: unsupported schema keyword `oneOf`/],
    ['a type array', { type: 'object', properties: { a: { type: ['string', 'null'] } } }, /schema type must be one of/],
    ['a node without type', { type: 'object', properties: { a: {} } }, /\$\.properties\.a: schema node must declare type/],
    ['properties on a string', { type: 'object', properties: { a: { type: 'string', properties: {} } } }, /only allowed on objects/],
    ['items on an object', { type: 'object', items: { type: 'string' } }, /`items` is only allowed on arrays/],
    ['invalid items', { type: 'object', properties: { a: { type: 'array', items: { type: 'x' } } } }, /\$\.properties\.a\.items/],
    ['duplicate required', { type: 'object', properties: { a: { type: 'string' } }, required: ['a', 'a'] }, /must be unique/],
    ['required not declared', { type: 'object', properties: { a: { type: 'string' } }, required: ['b'] }, /required property `b` is not declared/],
    ['empty enum', { type: 'object', properties: { a: { type: 'string', enum: [] } } }, /non-empty array/],
    ['duplicate enum', { type: 'object', properties: { a: { type: 'string', enum: [1, 1] } } }, /entries must be unique/],
    ['duplicate enum objects in another key order (Yoi compares values)', { type: 'object', properties: { a: { type: 'object', enum: [{ a: 1, b: 2 }, { b: 2, a: 1 }] } } }, /entries must be unique/],
    ['duplicate nested enum values', { type: 'object', properties: { a: { type: 'array', enum: [[{ x: [1, { p: true, q: null }] }], [{ x: [1, { q: null, p: true }] }]] } } }, /entries must be unique/],
    ['non-string title', { type: 'object', title: 5 }, /`title` must be a string/],
    ['bad additionalProperties', { type: 'object', additionalProperties: { type: 'object', minProperties: 1 } }, /\$\.additionalProperties: unsupported schema keyword/],
  ];
  for (const [name, schema, message] of rejected) {
    it(`rejects ${name}`, () => {
      const problem = inputSchemaProblem(schema);
      assert.ok(problem);
      assert.match(problem, message);
    });
  }
});

describe('toolNameProblem', () => {
  it('accepts names without whitespace or control characters up to 128 bytes', () => {
    assert.equal(toolNameProblem('notes.read-v2'), null);
    assert.equal(toolNameProblem('x'.repeat(128)), null);
  });
  it('rejects empty, long, whitespace and control characters', () => {
    assert.match(toolNameProblem('')!, /empty/);
    assert.match(toolNameProblem('é'.repeat(65))!, /128 bytes/);
    assert.match(toolNameProblem('a b')!, /whitespace/);
    assert.match(toolNameProblem('a\u0007')!, /control/);
  });
});

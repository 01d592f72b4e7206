import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundText, diagnostic, ioErrorKind, redactText } from '../src/diagnostics.js';

describe('diagnostics', () => {
  it('bounds messages to 240 characters plus an ellipsis and flattens control characters', () => {
    const d = diagnostic('malformed', 'manifest', `a\nb${'x'.repeat(500)}`);
    assert.equal(Array.from(d.message).length, 241);
    assert.ok(d.message.startsWith('a b'));
    assert.ok(d.message.endsWith('…'));
    assert.equal(boundText('ミ'.repeat(300)).length, 241);
  });

  it('keeps only the context fields that are set', () => {
    assert.deepEqual(diagnostic('io', 'discovery', 'm', { source: 'user' }), { kind: 'io', phase: 'discovery', message: 'm', source: 'user' });
  });

  it('redacts credential-looking fragments', () => {
    const text = redactText('GET https://bob:hunter2@api.example.com/x?token=abc123&q=1 Authorization: Bearer abcdefghijkl password=swordfish');
    for (const secret of ['hunter2', 'abc123', 'abcdefghijkl', 'swordfish']) assert.ok(!text.includes(secret), text);
    assert.match(text, /q=1/);
  });

  it('reduces I/O errors to a fixed vocabulary', () => {
    assert.equal(ioErrorKind(Object.assign(new Error('ENOENT: /secret/path'), { code: 'ENOENT' })), 'not found');
    assert.equal(ioErrorKind(Object.assign(new Error('x'), { code: 'EACCES' })), 'permission denied');
    assert.equal(ioErrorKind(new Error('weird')), 'I/O error');
  });
});

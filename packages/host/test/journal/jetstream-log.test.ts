import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeTransaction, encodeTransaction, parsePart, pluginOfToken, subjectToken, TransactionAssembler, type LogTransaction } from '../../src/journal/jetstream-log.js';

const tx: LogTransaction = {
  reset: false,
  mutations: [
    { kind: 'event', plugin: 'p', key: 7, value: JSON.stringify({ ingress: 'events', event: { text: 'ünïcödé ✓'.repeat(50) }, accepted_at: 1 }) },
    { kind: 'state', plugin: 'p', key: 'k', value: null },
    { kind: 'meta', plugin: 'p', key: 'last_seq', value: '7' },
  ],
};

function message(txId: string, part: number, parts: number, data: Uint8Array, seq = part) {
  return { seq, tx: txId, part, parts, data };
}

describe('jetstream journal log format', () => {
  it('turns any plugin identity into one subject token and back, and rejects tokens it does not make', () => {
    for (const plugin of ['builtin:example.echo', 'project:a.b*c>d e', 'user:ключ✓', 'x'.repeat(512)]) {
      const token = subjectToken(plugin);
      assert.match(token, /^[A-Za-z0-9_-]+$/);
      assert.equal(pluginOfToken(token), plugin);
    }
    for (const token of ['', 'a.b', 'a*', 'YQ==', 'YR']) assert.equal(pluginOfToken(token), null, token);
  });

  it('splits a transaction into parts of at most the given size (also inside a UTF-8 character) and decodes it whole', () => {
    const parts = encodeTransaction(tx, 97);
    assert.ok(parts.length > 5);
    assert.ok(parts.every((part) => part.byteLength <= 97));
    const assembler = new TransactionAssembler();
    let body: Uint8Array | null = null;
    parts.forEach((data, i) => {
      body = assembler.feed(message('t1', i + 1, parts.length, data));
      if (i < parts.length - 1) assert.equal(body, null);
    });
    assert.deepEqual(decodeTransaction('p', body!), tx);
    assert.equal(assembler.skipped, 0);
  });

  it('takes only transactions whose parts arrived one after another; everything else is skipped and counted', () => {
    const parts = encodeTransaction(tx, 200);
    const n = parts.length;
    const assembler = new TransactionAssembler();
    // Cut short, then a new transaction starts: the first one's parts are dropped.
    assert.equal(assembler.feed(message('a', 1, n, parts[0]!)), null);
    assert.equal(assembler.feed(message('a', 2, n, parts[1]!)), null);
    const whole = encodeTransaction({ reset: true, mutations: [] }, 200);
    assert.deepEqual(decodeTransaction('p', assembler.feed(message('b', 1, 1, whole[0]!))!), { reset: true, mutations: [] });
    assert.equal(assembler.skipped, 2);
    // A part out of place (another id, a gap) drops what was gathered and itself.
    assembler.feed(message('c', 1, n, parts[0]!));
    assert.equal(assembler.feed(message('d', 2, n, parts[1]!)), null);
    assert.equal(assembler.skipped, 4);
    assembler.feed(message('e', 1, n, parts[0]!));
    assert.equal(assembler.feed(message('e', 3, n, parts[2]!)), null);
    assert.equal(assembler.skipped, 6);
    // An unfinished transaction at the end of the log.
    assembler.feed(message('f', 1, n, parts[0]!));
    assembler.finish();
    assert.equal(assembler.skipped, 7);
  });

  it('rejects what the format does not write', () => {
    const bytes = (text: string): Uint8Array => Buffer.from(text);
    for (const text of ['[]', '{"reset":1,"m":[]}', '{"reset":false,"m":[["event",1]]}', '{"reset":false,"m":[["nope",1,"x"]]}', '{"reset":false,"m":[["event",1.5,"x"]]}', '{"reset":false,"m":[["event",1,2]]}', 'not json']) {
      assert.throws(() => decodeTransaction('p', bytes(text)), Error, text);
    }
    assert.deepEqual(parsePart('2/3'), { part: 2, parts: 3 });
    for (const text of [undefined, '0/1', '3/2', '1/', 'a/b', '01/2']) assert.equal(parsePart(text), null, String(text));
  });
});

/**
 * Property tests for the redactor (issue G item 8): random secrets, random bodies that hold
 * them at random places, random stream splits and random cut points. Secrets are drawn from an
 * alphabet that nothing else in the text uses (padding, markers, multibyte characters), so
 * the minimum stated in docs/security.md is one character: no character of a secret may
 * appear in what the guest gets. The guest's text must also be a prefix of the redaction of
 * the whole input (nothing shown that the full text would not show) within the byte bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { redactText } from '../../src/diagnostics.js';
import { cutRedacted, readRedacted, redactThenCut } from '../../src/secrets/redact-bounded.js';
import { SECRET_VALUE_LIMITS, Secrets } from '../../src/secrets/secrets.js';

// Not A or B: `Authorization` and `Bearer` are spelled in the surrounding text.
const SECRET_ALPHABET = 'CDEFGHJKLMNPQRSTUVWXYZ';
const isSecretChar = (c: string) => SECRET_ALPHABET.includes(c);

const secretChar = fc.constantFrom(...SECRET_ALPHABET);
const secretValue = fc.oneof(
  fc.string({ unit: secretChar, minLength: SECRET_VALUE_LIMITS.minChars, maxLength: 48 }),
  // Values that repeat themselves (`CDCDCDCD`): their occurrences overlap.
  fc.tuple(fc.string({ unit: secretChar, minLength: 1, maxLength: 4 }), fc.integer({ min: 2, max: 12 })).map(([unit, n]) => unit.repeat(Math.max(n, Math.ceil(SECRET_VALUE_LIMITS.minChars / unit.length)))),
);
const secretSet = fc
  .uniqueArray(secretValue, { minLength: 1, maxLength: 3 })
  // One value inside another would leave the longer one's rest when both are redacted as spans of the text: excluded.
  .filter((values) => values.every((a) => values.every((b) => a === b || !b.includes(a))));
const padding = fc.string({ unit: fc.constantFrom('x', 'y', ' ', '-', '{', '"', 'é', '€', '😀', '\n'), maxLength: 200 });

/** A body: padding and whole secret values (alone, repeated, back to back), in random order. */
const body = secretSet.chain((values) =>
  fc.record({
    values: fc.constant(values),
    pieces: fc.array(fc.oneof(padding, fc.constantFrom(...values), fc.constantFrom(...values).map((v) => v + v)), { maxLength: 12 }),
    // Stretch some bodies far past small bounds, and a few past the 64 KiB of real responses.
    bulk: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 70_000 }) }),
  }),
);

function secretsOf(values: readonly string[]): Secrets {
  return new Secrets(new Map(values.map((v, i) => [`name_${String.fromCharCode(97 + i)}`, v])));
}

function noSecretCharacter(text: string): void {
  const leaked = [...text].filter(isSecretChar);
  assert.deepEqual(leaked, [], `secret characters in the output: ${leaked.join('')}`);
}

async function* chunks(bytes: Uint8Array, splits: readonly number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (const split of [...new Set(splits.map((s) => s % (bytes.length + 1)))].sort((a, b) => a - b)) {
    if (split > at) yield bytes.subarray(at, split);
    at = Math.max(at, split);
  }
  if (at < bytes.length) yield bytes.subarray(at);
}

describe('redactor properties', () => {
  it('Secrets.redact leaves no character of any value, overlapping and adjacent values included', () => {
    fc.assert(
      fc.property(body, ({ values, pieces }) => {
        const redacted = secretsOf(values).redact(pieces.join(''));
        noSecretCharacter(redacted);
      }),
      { numRuns: 400 },
    );
  });

  it('a streamed body, redacted then cut at any bound, shows no part of a secret and is a prefix of the whole redaction', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.integer({ min: 0, max: 80_000 }), fc.array(fc.nat(), { maxLength: 6 }), async ({ values, pieces, bulk }, bound, splits) => {
        const secrets = secretsOf(values);
        const text = pieces.join('') + 'y'.repeat(bulk) + pieces.join('');
        const bytes = Buffer.from(text);
        const limitBytes = bound % (bytes.length + 64);
        const read = await readRedacted(chunks(bytes, splits), { limitBytes, longestSecretBytes: secrets.longestValueBytes, slackBytes: 1024, redact: (t) => secrets.redact(t) });
        noSecretCharacter(read.text);
        assert.ok(Buffer.byteLength(read.text) <= limitBytes);
        const whole = secrets.redact(text);
        assert.ok(whole.startsWith(read.text), 'not a prefix of the whole redaction');
        if (!read.truncated) assert.equal(read.text, whole);
      }),
      { numRuns: 250 },
    );
  });

  it('the same holds when the reader only has a redaction function (it then reads up to the largest secret size further)', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.integer({ min: 0, max: 4_000 }), fc.array(fc.nat(), { maxLength: 6 }), async ({ values, pieces }, bound, splits) => {
        const secrets = secretsOf(values);
        const text = pieces.join('');
        const read = await readRedacted(chunks(Buffer.from(text), splits), {
          limitBytes: bound % (Buffer.byteLength(text) + 8),
          longestSecretBytes: SECRET_VALUE_LIMITS.maxBytes,
          slackBytes: 0,
          redact: (t) => secrets.redact(t),
        });
        noSecretCharacter(read.text);
        assert.ok(secrets.redact(text).startsWith(read.text));
      }),
      { numRuns: 200 },
    );
  });

  it('header values and messages: redacted in full, then cut at any bound, never inside a marker', () => {
    fc.assert(
      fc.property(body, fc.integer({ min: 0, max: 600 }), ({ values, pieces }, limit) => {
        const secrets = secretsOf(values);
        const text = pieces.join('');
        const { text: out } = redactThenCut(text, limit, (t) => secrets.redact(t), (t) => redactText(t, Number.MAX_SAFE_INTEGER));
        noSecretCharacter(out);
        assert.ok(Buffer.byteLength(out) <= limit);
        assert.doesNotMatch(out, /<secret:[^>]*$/, 'ends inside a marker');
      }),
      { numRuns: 400 },
    );
  });

  it('credential patterns are redacted before the message bound, wherever the cut falls', () => {
    const key = fc.constantFrom('token', 'api_key', 'password', 'secret', 'Authorization', 'session');
    fc.assert(
      fc.property(padding, key, secretValue, padding, fc.integer({ min: 1, max: 300 }), (before, name, value, after, limit) => {
        const out = redactText(`${before.replace(/\n/g, ' ')} ${name}=${value} ${after}`, limit);
        noSecretCharacter(out);
        const bearer = redactText(`${before} Bearer ${value}${after}`, limit);
        noSecretCharacter(bearer);
      }),
      { numRuns: 400 },
    );
  });

  it('cutRedacted cuts on a character boundary within the bound', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.nat(400), (text, limit) => {
        const { text: out, cut } = cutRedacted(text, limit);
        assert.ok(Buffer.byteLength(out) <= limit);
        assert.ok(text.startsWith(out));
        assert.equal(cut, out !== text);
        assert.doesNotMatch(out, /[\uD800-\uDBFF]$/, 'ends inside a surrogate pair');
      }),
      { numRuns: 400 },
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MIN_SECRET_PIECE, StreamRedactor, windowSecrets, type NamedSecret } from '../../src/websocket/frame-redactor.js';

const MARKER = /<secret:[A-Za-z0-9_.-]+>/g;

function redactFrames(secrets: readonly NamedSecret[], frames: readonly string[], mode: 'text' | 'bytes' = 'text'): string[] {
  const redactor = new StreamRedactor(windowSecrets(secrets, mode), mode);
  return frames.map((frame) => redactor.redact(frame));
}

/** The pieces of `secret` of the stated minimum length (or the whole secret) present in `delivered`. */
function leakedPieces(delivered: string, secret: string): string[] {
  const n = Math.min(secret.length, MIN_SECRET_PIECE);
  // A marker is host text, not secret text: it must not join the characters around it.
  const plain = delivered.replace(MARKER, '\u0000');
  const found: string[] = [];
  for (let i = 0; i + n <= secret.length; i++) if (plain.includes(secret.slice(i, i + n))) found.push(secret.slice(i, i + n));
  return found;
}

/**
 * Cuts `text` at the given points (sorted, deduplicated) into consecutive frames. Text frames
 * are well-formed UTF-8 (ws checks), so text is cut between code points; bytes anywhere.
 */
function cut(text: string, points: readonly number[], mode: 'text' | 'bytes' = 'text'): string[] {
  const units = mode === 'text' ? Array.from(text) : text.split('');
  const at = [...new Set(points.map((p) => p % (units.length + 1)))].sort((a, b) => a - b);
  const frames: string[] = [];
  let from = 0;
  for (const p of at) {
    frames.push(units.slice(from, p).join(''));
    from = p;
  }
  frames.push(units.slice(from).join(''));
  return frames;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// Small alphabets so that secrets, their pieces and the text around them overlap often.
const secretChar = fc.constantFrom('a', 'b', 'c', 'd', 'X', 'Y', '-', 'é', '😀');
const textChar = fc.constantFrom('a', 'b', 'c', 'd', 'X', 'Y', 'Z', '-', ' ', '"', 'é', '😀');
const secretValue = fc.array(secretChar, { minLength: 2, maxLength: 24 }).map((chars) => chars.join('')).filter((s) => s.length >= 4);
const secretsArb = fc.uniqueArray(secretValue, { minLength: 1, maxLength: 3 }).map((values) => values.map((value, i) => ({ name: `s${i}`, value })));

/** A stream: background text, whole secrets and pieces of secrets, in any order. */
function streamArb(secrets: readonly NamedSecret[]) {
  const segment = fc.oneof(
    fc.array(textChar, { maxLength: 20 }).map((c) => c.join('')),
    fc.constantFrom(...secrets.map((s) => s.value)),
    fc.tuple(fc.constantFrom(...secrets.map((s) => Array.from(s.value))), fc.nat(), fc.nat()).map(([v, a, b]) => v.slice(Math.min(a, b) % v.length, Math.max(a, b) % (v.length + 1)).join('')),
  );
  return fc.array(segment, { minLength: 1, maxLength: 12 }).map((parts) => parts.join(''));
}

const scenario = secretsArb.chain((secrets) => fc.tuple(fc.constant(secrets), streamArb(secrets), fc.array(fc.nat(), { maxLength: 12 })));

describe('secrets across WebSocket frames', () => {
  it(`property: the delivered frames, joined, never hold a secret or any piece of it of ${MIN_SECRET_PIECE}+ characters, wherever the frames split`, () => {
    fc.assert(
      fc.property(scenario, ([secrets, stream, points]) => {
        const delivered = redactFrames(secrets, cut(stream, points));
        const joined = delivered.join('');
        for (const secret of secrets) assert.deepEqual(leakedPieces(joined, secret.value), [], `${secret.value} in ${JSON.stringify(joined)}`);
        for (const frame of delivered) assert.ok(!LONE_SURROGATE.test(frame), 'no surrogate pair is split');
      }),
      { numRuns: 1500 },
    );
  });

  it('property: the same holds for binary frames, on the UTF-8 bytes of the secret', () => {
    fc.assert(
      fc.property(scenario, ([secrets, stream, points]) => {
        const bytes = Buffer.from(stream, 'utf8').toString('latin1');
        const delivered = redactFrames(secrets, cut(bytes, points, 'bytes'), 'bytes').join('');
        for (const secret of secrets) assert.deepEqual(leakedPieces(delivered, Buffer.from(secret.value, 'utf8').toString('latin1')), []);
      }),
      { numRuns: 500 },
    );
  });

  it('property: text that shares no piece of the minimum length with a secret passes unchanged', () => {
    fc.assert(
      fc.property(secretsArb, fc.array(fc.constantFrom('p', 'q', 'r', ' ', '{', '}'), { maxLength: 200 }), fc.array(fc.nat(), { maxLength: 8 }), (secrets, chars, points) => {
        const text = chars.join('');
        assert.equal(redactFrames(secrets, cut(text, points)).join(''), text);
      }),
      { numRuns: 300 },
    );
  });

  it('a secret echoed in 20-character frames is redacted in every frame; the opening piece shorter than the minimum is all that can show', () => {
    const secret = 'xq7Vd1bN4tZ0pL9sK2mW8rY5cJ3hG6fA';
    const frame = `{"op":2,"token":"${secret}"}`;
    const frames = cut(frame, [20, 40]);
    assert.deepEqual(redactFrames([{ name: 'bot_token', value: secret }], frames), ['{"op":2,"token":"xq7', '<secret:bot_token>', '<secret:bot_token>"}']);
  });

  it('a short secret (under the minimum) is redacted once it is whole, even across frames', () => {
    assert.deepEqual(redactFrames([{ name: 'pin', value: 'k3y9x' }], ['pin=k3', 'y9x;', 'k3y9x']), ['pin=k3', '<secret:pin>;', '<secret:pin>']);
  });

  it('each stream starts fresh: a new redactor does not continue the previous connection', () => {
    const secrets = [{ name: 't', value: 'abcdefghij' }];
    assert.deepEqual(redactFrames(secrets, ['abcde']), ['abcde']);
    assert.deepEqual(redactFrames(secrets, ['fghij']), ['fghij'], 'five characters alone are below the minimum');
  });
});

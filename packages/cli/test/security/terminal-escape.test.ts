/**
 * The terminal sanitiser behind every human CLI line (B10): what it escapes, how, where it cuts,
 * and, over random text, that nothing a terminal would act on gets through.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { requestTargetLabel, websocketTargetLabel } from '@yoi-plugins/host/internal/authority/targets.js';
import { displayTargetLabel } from '../../src/cli/target-display.js';
import { CUT_MARKER, escapeTerminal, FIELD_BOUND, Shown, term } from '../../src/cli/terminal.js';

const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

describe('escapeTerminal', () => {
  it('escapes C0, ESC, DEL, C1, bidi controls, other format characters, separators and lone surrogates', () => {
    const cases: [string, string][] = [
      ['\u0000', '\\x00'],
      ['\u0007', '\\x07'],
      ['\u001b[2K', '\\x1b[2K'],
      ['\r', '\\r'],
      ['\n', '\\n'],
      ['\t', '\\t'],
      ['\u007f', '\\x7f'],
      ['\u009b', '\\x9b'],
      ['\u202a\u202b\u202c\u202d\u202e', '\\u202a\\u202b\\u202c\\u202d\\u202e'],
      ['\u2066\u2067\u2068\u2069', '\\u2066\\u2067\\u2068\\u2069'],
      ['\u200b\u200e\u200f\u061c\ufeff', '\\u200b\\u200e\\u200f\\u061c\\ufeff'],
      ['\u2028\u2029', '\\u2028\\u2029'],
      ['\ud800', '\\ud800'],
      ['\u{e0041}', '\\u{e0041}'],
    ];
    for (const [input, shown] of cases) assert.equal(escapeTerminal(`a${input}b`), `a${shown}b`, JSON.stringify(input));
  });

  it('leaves printable text, other scripts and emoji alone; keeps newlines and tabs only when multi-line', () => {
    assert.equal(escapeTerminal('héllo wörld 日本 😀 \\x1b'), 'héllo wörld 日本 😀 \\x1b');
    assert.equal(escapeTerminal('a\nb\tc\r', { multiline: true }), 'a\nb\tc\\r');
    assert.equal(escapeTerminal('é', { asciiOnly: true }), '\\xe9');
    assert.equal(escapeTerminal('\u0430pi', { asciiOnly: true }), '\\u0430pi');
  });

  it('cuts long fields with a marker, never inside an escape', () => {
    assert.equal(escapeTerminal('x'.repeat(FIELD_BOUND + 10)), 'x'.repeat(FIELD_BOUND) + CUT_MARKER);
    assert.equal(escapeTerminal('abc\u001b', { limit: 5 }), 'abc' + CUT_MARKER);
    assert.equal(escapeTerminal('x'.repeat(5000), { limit: Infinity }).length, 5000);
  });

  it('term escapes every interpolated value, not the literal parts, and keeps Shown text', () => {
    assert.equal(term`a\tb ${'\u001b'} ${['x\r', 'y']} ${3} ${new Shown('\\x1b')}`, 'a\tb \\x1b x\\r, y 3 \\x1b');
  });

  it('never lets an unsafe character through, for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.boolean(), fc.integer({ min: 1, max: 400 }), (text, multiline, limit) => {
        const out = escapeTerminal(text, { multiline, limit });
        const rest = multiline ? out.replace(/[\n\t]/g, '') : out;
        assert.doesNotMatch(rest, UNSAFE);
        assert.ok([...out].length <= limit + 1);
      }),
      { numRuns: 500 },
    );
  });

  it('shows any target in printable ASCII, and two different targets never with the same line', () => {
    const part = fc.string({ unit: 'binary', maxLength: 12 });
    const target = fc.record({
      scheme: fc.oneof(fc.constantFrom('https', 'http', 'wss', '*'), part),
      host: fc.oneof(fc.constantFrom('api.example.com', '*', '127.0.0.1'), part),
      port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      methods: fc.array(fc.oneof(fc.constantFrom('GET', 'POST'), part), { maxLength: 3 }),
      path_prefixes: fc.array(fc.oneof(fc.constantFrom('/v1', '/a b', '/x,y', '*', ''), part), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(target, target, (a, b) => {
        for (const t of [a, b]) {
          const { port, ...rest } = t;
          const withPort = port === undefined ? rest : { ...rest, port };
          assert.match(displayTargetLabel(requestTargetLabel(withPort)), /^[\x20-\x7e]*$/);
          assert.match(displayTargetLabel(websocketTargetLabel(withPort)), /^[\x20-\x7e]*$/);
        }
        // Paths are quoted whenever they could read as more than one prefix: the path list reads one way.
        const paths = (t: typeof a) => requestTargetLabel({ ...t, port: undefined, scheme: 'https', host: 'h', methods: ['GET'] } as never);
        if (JSON.stringify(a.path_prefixes) !== JSON.stringify(b.path_prefixes)) assert.notEqual(paths(a), paths(b));
      }),
      { numRuns: 400 },
    );
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { countUtf8Natively, guardJspiProbes, hoistDebugLogCheck } from '../../src/sandbox/glue-patch.js';
import { transpileCached } from '../../src/sandbox/transpile-cache.js';
import { buildJsComponent, JS_TOOL_MANIFEST, JS_TOOL_SOURCE } from '../fixtures/js.js';
import { assemble, instanceWat } from '../fixtures/wat.js';
import { tempDir } from '../helpers.js';

const PROBE = `
  try {
    realloc0Async = WebAssembly.promising(exports5.cabi_realloc);
  } catch(err) {
    realloc0Async = exports5.cabi_realloc;
  }
`;

const RAW = () => 0;

/** Runs a probe (as jco writes it, or guarded) against a given `WebAssembly` namespace; counts catches. */
function runProbe(code: string, webAssembly: object): { value: unknown; caught: number } {
  let caught = 0;
  const counted = code.replace('catch(err) {', 'catch(err) { caught();');
  const value = (new Function('WebAssembly', 'exports5', 'caught', `let realloc0Async; ${counted}; return realloc0Async;`) as (w: object, e: object, c: () => void) => unknown)(webAssembly, { cabi_realloc: RAW }, () => caught++);
  return { value, caught };
}

describe('glue patch: guarded JSPI probes', () => {
  it('gives the same outcome as jco’s probe, with and without JSPI, and never throws without it', () => {
    const { text, guarded, unguarded } = guardJspiProbes(PROBE);
    assert.equal(guarded, 1);
    assert.equal(unguarded, 0);
    const promising = (f: () => number) => ({ wrapped: f });
    const refusing = () => {
      throw new TypeError('refused');
    };
    // Without JSPI: the raw function, and the guarded probe gets there without throwing.
    assert.deepEqual(runProbe(PROBE, {}), { value: RAW, caught: 1 });
    assert.deepEqual(runProbe(text, {}), { value: RAW, caught: 0 });
    // With JSPI the original probe runs unchanged.
    assert.deepEqual(runProbe(text, { promising }), { value: { wrapped: RAW }, caught: 0 });
    assert.deepEqual(runProbe(text, { promising: refusing }), runProbe(PROBE, { promising: refusing }));
  });

  it('leaves text without probes alone', () => {
    const text = 'const x = 1;\nfunction f() { return WebAssembly.Memory; }\n';
    assert.deepEqual(guardJspiProbes(text), { text, guarded: 0, unguarded: 0 });
  });

  it('guards every probe in the glue jco writes for a QuickJS guest and a WAT guest', async (t) => {
    const dir = tempDir(t);
    for (const component of [await buildJsComponent(JS_TOOL_SOURCE, JS_TOOL_MANIFEST), await assemble(instanceWat())]) {
      const entry = await transpileCached(component, dir);
      const glue = readFileSync(entry.gluePath, 'utf8');
      const unguardedCalls = glue.split('\n').filter((line, i, lines) => line.includes('WebAssembly.promising(') && !lines[i - 1]?.includes("typeof WebAssembly.promising !== 'function'"));
      assert.deepEqual(unguardedCalls, [], 'a JSPI probe of this jco version is not guarded: update glue-patch.ts');
      assert.ok(glue.includes("typeof WebAssembly.promising !== 'function'"));
      assert.ok(!glue.includes('if (!globalThis?.process?.env?.JCO_DEBUG) { return; }'), 'a per-call debug-log check of this jco version is left: update glue-patch.ts');
    }
  });
});

describe('glue patch: the debug-log check read once', () => {
  const DEBUG_LOG = `
  const _debugLog = (...args) => {
    if (!globalThis?.process?.env?.JCO_DEBUG) { return; }
    console.debug(...args);
  };
`;

  it('logs exactly when JCO_DEBUG was set at load, like the original', () => {
    const { text, hoisted } = hoistDebugLogCheck(DEBUG_LOG);
    assert.equal(hoisted, 1);
    const logged: unknown[][] = [];
    const load = (code: string, env: Record<string, string>) =>
      (new Function('globalThis', 'console', `${code}; return _debugLog;`) as (g: object, c: object) => (...args: unknown[]) => void)({ process: { env } }, { debug: (...args: unknown[]) => logged.push(args) });
    load(text, {})('quiet', 1);
    load(DEBUG_LOG, {})('quiet', 2);
    assert.deepEqual(logged, []);
    load(text, { JCO_DEBUG: '1' })('loud', 1);
    load(DEBUG_LOG, { JCO_DEBUG: '1' })('loud', 1);
    assert.deepEqual(logged, [['loud', 1], ['loud', 1]]);
  });
});

describe('glue patch: UTF-8 length counted natively', () => {
  /** jco's string lowering, as it writes it (the counting loop included). */
  const ENCODE = `
  function _utf8AllocateAndEncode(s, realloc, memory) {
    if (typeof s !== 'string') {
      throw new TypeError('expected a string, received [' + typeof s + ']');
    }
    if (s.length === 0) { return { ptr: 1, len: 0 }; }
    let len = 0;
    let codepoints = 0;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      codepoints++;
      if (ch < 0x80) { len += 1; }
      else if (ch < 0x800) { len += 2; }
      else if (ch >= 0xd800 && ch <= 0xdbff &&
      i + 1 < s.length &&
      (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        len += 4;
        i++;
      } else { len += 3; }
    }
    const ptr = realloc(0, 0, 1, len);
    const { read, written } = TEXT_ENCODER_UTF8.encodeInto(
    s,
    new Uint8Array(memory.buffer, ptr, len),
    );
    if (read !== s.length || written !== len) {
      throw new Error('failed to encode whole string');
    }
    const res = { ptr, len, codepoints };
    return res;
  }
`;

  type Encode = (s: string, realloc: (a: number, b: number, c: number, len: number) => number, memory: { buffer: ArrayBuffer }) => { ptr: number; len: number };
  const load = (code: string): Encode => (new Function('TEXT_ENCODER_UTF8', 'Buffer', `${code}; return _utf8AllocateAndEncode;`) as (e: object, b: typeof Buffer) => Encode)(new TextEncoder(), Buffer);

  it('allocates the same length and writes the same bytes as jco’s loop, lone surrogates included', () => {
    const { text, counted } = countUtf8Natively(ENCODE);
    assert.equal(counted, 1);
    assert.ok(!text.includes('codepoints'));
    for (const sample of ['{"kind":"job"}', 'é and ü', '日本語のテキスト', 'emoji 😀 pair', 'lone \ud800 high', 'lone \udc00 low', 'end \ud83d']) {
      const run = (encode: Encode) => {
        const memory = { buffer: new ArrayBuffer(256) };
        const sizes: number[] = [];
        const { ptr, len } = encode(sample, (_a, _b, _c, size) => (sizes.push(size), 8), memory);
        return { ptr, len, sizes, bytes: [...new Uint8Array(memory.buffer, ptr, len)] };
      };
      assert.deepEqual(run(load(text)), run(load(ENCODE)), sample);
    }
  });

  it('leaves glue that reads the code-point count alone', () => {
    const reading = `${ENCODE}\nconst n = encodeRes.codepoints;`;
    assert.deepEqual(countUtf8Natively(reading), { text: reading, counted: 0 });
  });

  it('replaces every counting loop in the glue jco writes for a QuickJS guest and a WAT guest', async (t) => {
    const dir = tempDir(t);
    for (const component of [await buildJsComponent(JS_TOOL_SOURCE, JS_TOOL_MANIFEST), await assemble(instanceWat())]) {
      const glue = readFileSync((await transpileCached(component, dir)).gluePath, 'utf8');
      assert.ok(!glue.includes('codepoints++'), 'a UTF-8 counting loop of this jco version is left: update glue-patch.ts');
    }
  });
});

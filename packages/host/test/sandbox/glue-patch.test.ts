import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { guardJspiProbes, hoistDebugLogCheck } from '../../src/sandbox/glue-patch.js';
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

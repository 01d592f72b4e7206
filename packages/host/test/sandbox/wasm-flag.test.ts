import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

const HOST_INDEX = new URL('../../src/index.js', import.meta.url).href;
const LOADER = new URL('../../src/sandbox/component-loader.js', import.meta.url).href;
// (module (global i32 (i32.add (i32.const 1) (i32.const 2)))): valid only with extended-const.
const PROBE = 'Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 6, 9, 1, 127, 0, 65, 1, 65, 2, 106, 11)';

/** Runs `body` in a fresh Node process (V8 flags are process-wide) and returns its stdout lines. */
function fresh(body: string): string[] {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', `const probe = ${PROBE};\n${body}`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim().split('\n');
}

describe('importing the host changes no process-wide setting', () => {
  it('leaves Wasm extended-const as the engine has it; enableWasmExtendedConst() turns it on', () => {
    const [before, afterImport, afterEnable] = fresh(
      `console.log(WebAssembly.validate(probe));\nconst host = await import(${JSON.stringify(HOST_INDEX)});\nconsole.log(WebAssembly.validate(probe));\nhost.enableWasmExtendedConst();\nconsole.log(WebAssembly.validate(probe));`,
    );
    assert.equal(afterImport, before, 'importing the library changed what the engine validates');
    assert.equal(afterEnable, 'true');
  });

  it('importing the component loader alone does not turn it on either', () => {
    const [before, afterImport] = fresh(`console.log(WebAssembly.validate(probe));\nawait import(${JSON.stringify(LOADER)});\nconsole.log(WebAssembly.validate(probe));`);
    assert.equal(afterImport, before);
  });
});

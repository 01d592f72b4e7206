import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inertImports } from '../../src/sandbox/worker/inert.js';
import { componentWorldProblem, isInertImport, normalizeSignature, parseComponentWit } from '../../src/sandbox/component-world.js';
import { capModuleMemory } from '../../src/sandbox/memory-cap.js';

describe('inert WASI imports', () => {
  it('captures stdout/stderr writes into the log sink, bounded per write', () => {
    const lines: [string, string][] = [];
    const imports = inertImports(['wasi:cli/stdout', 'wasi:cli/stderr'], (stream, text) => lines.push([stream, text]));
    const stdout = (imports['wasi:cli/stdout']!['getStdout'] as () => { blockingWriteAndFlush(b: Uint8Array): void })();
    stdout.blockingWriteAndFlush(new TextEncoder().encode('hello'));
    const stderr = (imports['wasi:cli/stderr']!['getStderr'] as () => { write(b: Uint8Array): void })();
    stderr.write(new TextEncoder().encode('x'.repeat(10_000)));
    assert.deepEqual(lines[0], ['stdout', 'hello']);
    assert.equal(lines[1]![1].length, 4096);
  });

  it('drops guest output over the per-call budget and counts it', async () => {
    const { resetLogBudget, LOG_BYTES_PER_CALL } = await import('../../src/sandbox/worker/inert.js');
    let logged = 0;
    const imports = inertImports(['wasi:cli/stdout'], (_stream, text) => void (logged += text.length));
    const stdout = (imports['wasi:cli/stdout']!['getStdout'] as () => { write(b: Uint8Array): void })();
    resetLogBudget();
    for (let i = 0; i < 100; i++) stdout.write(new Uint8Array(4096).fill(65));
    assert.equal(logged, LOG_BYTES_PER_CALL);
    assert.equal(resetLogBudget(), 100 * 4096 - LOG_BYTES_PER_CALL);
  });

  it('gives real time and randomness and nothing with authority', () => {
    const imports = inertImports(['wasi:clocks/wall-clock', 'wasi:random/random', 'wasi:cli/environment', 'wasi:filesystem/preopens', 'wasi:sockets/tcp'], () => undefined);
    const now = (imports['wasi:clocks/wall-clock']!['now'] as () => { seconds: bigint })();
    assert.ok(Math.abs(Number(now.seconds) - Date.now() / 1000) < 5);
    const bytes = (len: bigint) => (imports['wasi:random/random']!['getRandomBytes'] as (n: bigint) => Uint8Array)(len);
    assert.notDeepEqual(bytes(16n), bytes(16n));
    assert.deepEqual((imports['wasi:cli/environment']!['getEnvironment'] as () => unknown[])(), []);
    assert.deepEqual((imports['wasi:filesystem/preopens']!['getDirectories'] as () => unknown[])(), []);
    assert.equal(imports['wasi:sockets/tcp'], undefined);
  });

  it('recognises inert imports by interface and minor version only', () => {
    assert.ok(isInertImport('wasi:clocks/wall-clock@0.2.3'));
    assert.ok(isInertImport('wasi:cli/stdout@0.2.12'));
    assert.ok(!isInertImport('wasi:sockets/tcp@0.2.3'));
    assert.ok(!isInertImport('wasi:http/outgoing-handler@0.2.3'));
    assert.ok(!isInertImport('wasi:clocks/wall-clock@0.3.0'));
    assert.ok(!isInertImport('wasi:clocks/wall-clock@0.20.0'));
  });
});

describe('component world checks', () => {
  const wit = `package root:component;

world root {
  import yoi:host/request@1.0.0;
  import wasi:filesystem/types@0.2.3;
  import log: func(msg: string);

  export call: func(tool-name: string, input-json: string) -> string;
  export init: func(shim: string) -> result<_, string>;
}
`;
  it('parses imports and export signatures from component WIT', () => {
    const iface = parseComponentWit(wit);
    assert.deepEqual(iface.imports, ['yoi:host/request@1.0.0', 'wasi:filesystem/types@0.2.3']);
    assert.deepEqual(iface.functionImports, ['log']);
    assert.equal(iface.exports['call'], '(string,string)->string');
    assert.equal(normalizeSignature('() -> string'), '()->string');
  });

  it('names the first offending import or export', () => {
    const subject = {
      identity: 'project:x',
      version: '1',
      digest: 'sha256:' + '0'.repeat(64),
      manifest: { permissions: [], request: [], websocket: [], tools: [] } as never,
      grants: { permissions: [], request: [], websocket: [], fs: [] },
    };
    assert.match(componentWorldProblem(parseComponentWit(wit), 'yoi:plugin/tool@1.0.0', subject)!, /unsupported component import `log`/);
    assert.match(componentWorldProblem(parseComponentWit(wit), 'yoi:plugin/instance@1.0.0', subject)!, /does not export expected `yoi:plugin\/instance@1.0.0` start function/);
    const wrongSignature = parseComponentWit('world w {\n  export call: func(a: string) -> string;\n}\n');
    assert.match(componentWorldProblem(wrongSignature, 'yoi:plugin/tool@1.0.0', subject)!, /has signature \(string\)->string/);
  });
});

describe('capModuleMemory', () => {
  // (module (memory 1)) and (module (memory 2 100)) and (module (import "a" "m" (memory 1)))
  const noMax = Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1);
  const withMax = Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 5, 4, 1, 1, 2, 100);
  it('sets a maximum on an unbounded memory and lowers a larger one', () => {
    const a = capModuleMemory(noMax, 16);
    assert.equal(a.capped, 1);
    assert.ok(WebAssembly.validate(a.bytes));
    assert.deepEqual([...a.bytes.slice(8)], [5, 4, 1, 1, 1, 16]);
    const b = capModuleMemory(withMax, 16);
    assert.deepEqual([...b.bytes.slice(8)], [5, 4, 1, 1, 2, 16]);
    assert.equal(capModuleMemory(withMax, 1000).capped, 0);
  });
  it('refuses a module that needs more than the cap at start', () => {
    assert.throws(() => capModuleMemory(withMax, 1), /above the cap/);
  });
});

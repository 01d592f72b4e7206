import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseManifest } from '../../src/manifest/parse.js';
import { validateManifest } from '../../src/manifest/validate.js';
import { declaredSurfaces } from '../../src/manifest/types.js';
import { echoManifest, YOI_MANIFESTS } from '../helpers.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const ENTRIES = new Set(['plugin.toml', 'plugin.component.wasm', 'hooks/summary.md']);

function check(text: string, entries: ReadonlySet<string> = ENTRIES) {
  const parsed = parseManifest(bytes(text));
  if (!parsed.ok) return parsed.diagnostic;
  return validateManifest(parsed.value, entries);
}

const instance = (extra: string, world = 'yoi:plugin/instance@1.0.0') => `schema_version = 1
id = "svc"
name = "Svc"
version = "1.0.0"
[runtime]
kind = "wasm-component"
component = "plugin.component.wasm"
world = "${world}"
${extra}`;

describe('parseManifest with Yoi manifests', () => {
  for (const name of readdirSync(YOI_MANIFESTS)) {
    it(`accepts Yoi's ${name} unchanged`, () => {
      const text = readFileSync(join(YOI_MANIFESTS, name, 'plugin.toml'), 'utf8');
      const entries = new Set(readdirSync(join(YOI_MANIFESTS, name), { recursive: true }).map(String).map((p) => p.split('\\').join('/')));
      const parsed = parseManifest(bytes(text));
      assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.diagnostic));
      assert.equal(validateManifest(parsed.value, entries), null);
    });
  }

  it('types the service template: instance world, one service, one ingress, declared surfaces', () => {
    const parsed = parseManifest(readFileSync(join(YOI_MANIFESTS, 'yoi-service-template', 'plugin.toml')));
    assert.ok(parsed.ok);
    const m = parsed.value;
    assert.equal(m.runtime?.world, 'yoi:plugin/instance@1.0.0');
    assert.equal(m.services.length, 1);
    assert.equal(m.services[0]!.lifecycle, 'host-managed');
    assert.deepEqual(m.ingresses[0]!.sources, ['websocket:wss://example.com/socket']);
    assert.deepEqual(m.websocket, [{ scheme: 'wss', host: 'example.com', path_prefixes: ['/socket'] }]);
    assert.deepEqual([...declaredSurfaces(m)].sort(), ['ingress', 'service', 'tool', 'wasm']);
  });

  it('implies the tool surface from [[tools]] and hook from [[hooks]]', () => {
    const parsed = parseManifest(bytes(echoManifest().replace('surfaces = ["tool"]\n', '')));
    assert.ok(parsed.ok);
    assert.ok(declaredSurfaces(parsed.value).has('tool'));
    assert.equal(parsed.value.tools[0]!.external_write, false);
  });
});

describe('parseManifest rejections', () => {
  const cases: [string, string, string, RegExp][] = [
    ['schema_version 999', echoManifest().replace('schema_version = 1', 'schema_version = 999'), 'api', /schema\/API version is unsupported/],
    ['unknown top-level key', 'contributions = []\n' + echoManifest(), 'malformed', /unknown key `contributions`/],
    ['legacy [package] table', echoManifest() + '\n[package]\nname = "x"\n', 'malformed', /could not be parsed/],
    ['unknown [runtime] key', echoManifest().replace('[runtime]', '[runtime]\nmemory = 1'), 'malformed', /unknown key `runtime.memory`/],
    ['unknown permission kind', echoManifest({ permissions: '{ kind = "ambient_shell" },' }), 'malformed', /unknown variant/],
    ['host_api https (old name)', echoManifest({ permissions: '{ kind = "host_api", api = "https" },' }), 'malformed', /unknown variant/],
    ['[[https]] table', echoManifest() + '\n[[https]]\nhost = "x"\n', 'malformed', /unknown key `https`/],
    ['unsafe id', echoManifest({ id: '../evil' }), 'malformed', /not a safe local id/],
    ['id ending with dot', echoManifest({ id: 'echo.' }), 'malformed', /not a safe local id/],
    ['blank version', echoManifest({ version: '  ' }), 'malformed', /name and version are required/],
    ['unsupported world', echoManifest().replace('yoi:plugin/tool@1.0.0', 'yoi:plugin/tool@2.0.0'), 'api', /component world is unsupported/],
    ['component missing', echoManifest().replace('component = "plugin.component.wasm"\n', ''), 'missing', /artifact is required/],
    ['component outside root', echoManifest().replace('component = "plugin.component.wasm"', 'component = "../x.wasm"'), 'traversal', /outside the package root/],
    ['component absent', echoManifest().replace('component = "plugin.component.wasm"', 'component = "other.wasm"'), 'missing', /not present in the package/],
    ['abi on component runtime', echoManifest().replace('[runtime]', '[runtime]\nentry = "run"'), 'malformed', /must not declare raw WASM ABI/],
    ['declarative runtime', echoManifest().replace('kind = "wasm-component"', 'kind = "declarative"'), 'api', /runtime kind is unsupported/],
    ['service in tool world', instance('[[services]]\nname = "s"\ndescription = "d"\n', 'yoi:plugin/tool@1.0.0'), 'surface', /require the yoi:plugin\/instance@1.0.0/],
    ['unsafe service name', instance('[[services]]\nname = "bad name"\ndescription = "d"\n'), 'malformed', /service name is not safe/],
    ['unsafe ingress name', instance('[[ingresses]]\nname = "../x"\ndescription = "d"\n'), 'malformed', /ingress name is not safe/],
    ['hook id unsafe', 'schema_version = 1\nid = "h"\nname = "H"\nversion = "1"\n[[hooks]]\nid = "a b"\nfile = "hooks/summary.md"\n', 'malformed', /hook id is not safe/],
    ['input_schema with a date', echoManifest({ tools: '[[tools]]\nname = "t"\ndescription = "d"\ninput_schema = { type = "object", default = 1979-05-27 }' }), 'malformed', /JSON cannot represent/],
    ['tool without input_schema', echoManifest({ tools: '[[tools]]\nname = "t"\ndescription = "d"' }), 'malformed', /missing required key `tools\[0\].input_schema`/],
    ['wrong type', echoManifest().replace('name = "Echo"', 'name = 5'), 'malformed', /`name` must be a string/],
  ];
  for (const [name, text, kind, message] of cases) {
    it(`rejects ${name} with ${kind}`, () => {
      const d = check(text);
      assert.ok(d, 'expected a diagnostic');
      assert.equal(d.kind, kind);
      assert.match(d.message, message);
      assert.equal(d.phase, 'manifest');
    });
  }

  it('classifies runtimes as Yoi does: only kind `wasm` is the retired runtime', () => {
    const cases: [string, string, RegExp][] = [
      ['kind = "wasm"\nentry = "run"', 'api', /^legacy raw wasm plugin runtime `wasm` \/ `yoi-plugin-wasm-1` is retired; use `wasm-component`$/],
      ['kind = "wasm"\nabi = "yoi-plugin-wasm-1"\nentry = "run"', 'api', /^legacy raw wasm plugin runtime `wasm` \/ `yoi-plugin-wasm-1` is retired; use `wasm-component`$/],
      ['kind = "wasm"\nabi = "my-abi-2"', 'api', /^legacy raw wasm plugin runtime `wasm` \/ `my-abi-2` is retired; use `wasm-component`$/],
      ['kind = "wasm"\nabi = "<script> and more"', 'api', /`\(abi not shown\)` is retired/],
      ['kind = "wasm-component"\nabi = "yoi-plugin-wasm-1"', 'malformed', /^plugin component runtime must not declare raw WASM ABI metadata$/],
      ['kind = "wasm-component"\nentry = "run"', 'malformed', /^plugin component runtime must not declare raw WASM ABI metadata$/],
      ['kind = "declarative"\nabi = "yoi-plugin-wasm-1"', 'api', /^plugin runtime kind is unsupported$/],
      ['kind = "native"', 'api', /^plugin runtime kind is unsupported$/],
    ];
    for (const [runtime, kind, message] of cases) {
      const text = `schema_version = 1\nid = "legacy"\nname = "L"\nversion = "1"\n[runtime]\n${runtime}\n`;
      const d = check(text);
      assert.equal(d?.kind, kind, runtime);
      assert.match(d!.message, message, runtime);
    }
  });

  it('rejects a manifest over 64 KiB with bounds', () => {
    const d = check(echoManifest() + '#'.repeat(64 * 1024));
    assert.equal(d?.kind, 'bounds');
  });

  it('rejects invalid UTF-8', () => {
    const parsed = parseManifest(Uint8Array.of(0x69, 0x64, 0x3d, 0xff, 0xfe));
    assert.ok(!parsed.ok);
    assert.match(parsed.diagnostic.message, /not valid UTF-8/);
  });

  it('never echoes file contents in a parse error, and bounds it', () => {
    const secret = 'sk_live_SECRET_ミ'.repeat(40);
    const parsed = parseManifest(bytes(`schema_version = 1\nid = "${secret}\nname = [ ${secret}`));
    assert.ok(!parsed.ok);
    assert.equal(parsed.diagnostic.kind, 'malformed');
    assert.doesNotMatch(parsed.diagnostic.message, /SECRET/);
    assert.ok(Buffer.byteLength(parsed.diagnostic.message) <= 241 * 3);
    assert.ok(Array.from(parsed.diagnostic.message).length <= 241);
  });

  it('does not echo a key that is not a plain identifier', () => {
    const parsed = parseManifest(bytes(echoManifest() + '\n"token=sk_live_abc def" = 1\n'));
    assert.ok(!parsed.ok);
    assert.doesNotMatch(parsed.diagnostic.message, /sk_live/);
    assert.match(parsed.diagnostic.message, /unknown key \(key name not shown\)/);
  });
});

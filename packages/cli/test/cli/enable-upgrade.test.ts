import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, echoManifest, writePluginDir } from '@yoi-plugins/host/test/helpers.js';
import { workspace, type EnableJson } from './enable-support.js';

const TARGET_V1 = `[[request]]
scheme = "https"
host = "api.weather.example"
methods = ["GET"]
path_prefixes = ["/v1"]`;

const TARGET_V2 = `[[request]]
scheme = "https"
host = "api.weather.example"
methods = ["GET"]
path_prefixes = ["/v2"]`;

const tools = (names: string[]) => names.map((n) => `[[tools]]\nname = "${n}"\ndescription = "${n}"\ninput_schema = { type = "object" }\n`).join('\n');

/** The weather plugin as it evolves: which tools, and which request targets. */
function weather(version: string, toolNames: string[], targets: string[]): string {
  return echoManifest({
    id: 'weather',
    version,
    permissions: ['{ kind = "surface", surface = "tool" }', ...toolNames.map((n) => `{ kind = "tool", name = "${n}" }`), '{ kind = "host_api", api = "request" }'].join(', ') + ',',
    tools: `${tools(toolNames)}\n${targets.join('\n\n')}`,
  });
}

/** What an operator wrote into the entry by hand after the first enable. */
function handEdit(text: string): string {
  return text
    .replace('[[plugins.enabled]]\n', '# weather: reviewed by Ada\n[[plugins.enabled]]\n')
    .replace(/^(digest = "sha256:[0-9a-f]+")$/m, '$1   # pinned after review\nconfig = { units = "metric" }\n\n[plugins.enabled.limits]\ntool_timeout_ms = 30000   # the API is slow');
}

describe('yoi plugin enable on an enabled plugin (upgrade, rebuild)', () => {
  it('shows the diff of requests, asks only about what is new, keeps config, limits and comments, and pins the new digest', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'weather'), weather('0.1.0', ['forecast', 'radar'], [TARGET_V1]));
    const first = await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes', '--json']);
    assert.equal(first.code, 0, first.stderr);
    writeFileSync(w.enablementPath, handEdit(w.text()));
    assert.deepEqual(w.entries()[0]!.config, { units: 'metric' });

    // 0.2.0: tool `radar` is gone, `alerts` is new; the /v1 target became /v2.
    writePluginDir(dir, weather('0.2.0', ['forecast', 'alerts'], [TARGET_V2]));
    const upgraded = await w.run(['plugin', 'enable', dir], { answers: ['y', 'y'] });
    assert.equal(upgraded.code, 0, upgraded.stderr);
    const out = upgraded.stdout;
    assert.match(out, /^ {2}enabled now: version=0\.1\.0 digest=sha256:/m);
    assert.ok(out.includes('  added requests: tool.alerts, request target https://api.weather.example GET /v2\n'), out);
    assert.ok(out.includes('  removed requests (their grants are removed): tool.radar, request target https://api.weather.example GET /v1\n'), out);
    assert.ok(out.includes('  unchanged requests: 3 (their grants are kept)\n'), out);
    // One question about the new requests only (and the write).
    assert.ok(out.includes('new in this package:\n  tools: tool.alerts\n  host_api.request: target https://api.weather.example GET /v2\ngrant these new requests? [y]es, [n]o, [s]elect per group: '), out);
    assert.equal(out.split('? [').length - 1, 2, out);
    assert.doesNotMatch(out, /surfaces\.tool\?|forecast\?/);

    const text = w.text();
    for (const kept of ['# weather: reviewed by Ada', '   # pinned after review', 'config = { units = "metric" }', 'tool_timeout_ms = 30000   # the API is slow']) {
      assert.ok(text.includes(kept), `kept ${kept} in\n${text}`);
    }
    const [entry] = w.entries();
    assert.equal(entry!.version, '0.2.0');
    assert.equal(entry!.grants.version, '0.2.0');
    assert.equal(entry!.digest, entry!.grants.digest);
    assert.notEqual(entry!.digest, first.json<EnableJson>().digest);
    assert.deepEqual(entry!.config, { units: 'metric' });
    assert.deepEqual(entry!.limits, { tool_timeout_ms: 30000 });
    assert.deepEqual(
      entry!.grants.permissions.map((p) => JSON.stringify(p)),
      ['{"kind":"surface","surface":"tool"}', '{"kind":"tool","name":"forecast"}', '{"kind":"host_api","api":"request"}', '{"kind":"tool","name":"alerts"}'],
    );
    assert.deepEqual(entry!.grants.request, [{ scheme: 'https', host: 'api.weather.example', methods: ['GET'], path_prefixes: ['/v2'] }]);
    assert.equal((await w.list()).get('project:weather')!.status, 'active');
  });

  it('re-pins a rebuild whose requests did not change with --yes and no questions, keeping every grant', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'weather'), weather('0.1.0', ['forecast'], [TARGET_V1]));
    assert.equal((await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes'])).code, 0);
    const before = w.entries()[0]!;
    writeFileSync(join(dir, 'plugin.component.wasm'), Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x01)); // rebuilt bytes

    const result = await w.run(['plugin', 'enable', dir, '--yes', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = result.json<EnableJson>();
    assert.notEqual(report.digest, before.digest);
    assert.deepEqual(report.upgrade, {
      from: { version: '0.1.0', digest: before.digest! },
      comments_kept: true,
      diff: {
        compared_with: 'previous_package',
        permissions: { added: [], removed: [], unchanged: ['surfaces.tool', 'tool.forecast', 'host_api.request'] },
        request: { added: [], removed: [], unchanged: ['https://api.weather.example GET /v1'] },
        websocket: { added: [], removed: [], unchanged: [] },
      },
    });
    assert.deepEqual(report.not_granted, []);
    assert.equal(report.plugin_status, 'active');
    const after = w.entries()[0]!;
    assert.deepEqual({ ...after.grants, digest: '' }, { ...before.grants, digest: '' });
    assert.equal(after.digest, report.digest);
  });

  it('with --yes alone grants nothing new (reported), and --grant adds to what was granted', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'weather'), weather('0.1.0', ['forecast'], [TARGET_V1]));
    assert.equal((await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes'])).code, 0);
    writePluginDir(dir, weather('0.2.0', ['forecast', 'alerts'], [TARGET_V1]));

    const quiet = await w.run(['plugin', 'enable', dir, '--yes', '--json']);
    assert.equal(quiet.code, 0, quiet.stderr);
    const report = quiet.json<EnableJson>();
    assert.deepEqual(report.upgrade!.diff.permissions.added, ['tool.alerts']);
    assert.deepEqual(report.not_granted, ['tool.alerts']);
    assert.deepEqual(report.granted.permissions, ['surfaces.tool', 'tool.forecast', 'host_api.request']);
    assert.equal(report.plugin_status, 'partial');

    const added = await w.run(['plugin', 'enable', dir, '--grant', 'tool.alerts', '--yes', '--json']);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual(added.json<EnableJson>().granted.permissions, ['surfaces.tool', 'tool.forecast', 'host_api.request', 'tool.alerts']);
    assert.equal(added.json<EnableJson>().plugin_status, 'active');
    assert.deepEqual(added.json<EnableJson>().granted.request, ['https://api.weather.example GET /v1'], 'the kept target stays');
  });

  it('compares with the grants when the previous package is no longer in its store', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'weather'), weather('0.1.0', ['forecast'], [TARGET_V1]));
    assert.equal((await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes'])).code, 0);
    writePluginDir(dir, weather('0.2.0', ['forecast', 'alerts'], [TARGET_V1]));
    // The operator packs the new version straight into the store; then enables it by ref.
    const packed = await cli(['plugin', 'pack', dir, '--output', join(w.store, 'weather.yoi-plugin')]);
    assert.equal(packed.code, 0, packed.stderr);
    const result = await w.run(['plugin', 'enable', 'project:weather', '--yes', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const diff = result.json<EnableJson>().upgrade!.diff;
    assert.equal(diff.compared_with, 'previous_grants');
    assert.deepEqual(diff.permissions.added, ['tool.alerts']);
    assert.deepEqual(diff.request, { added: [], removed: [], unchanged: ['https://api.weather.example GET /v1'] });
  });

  it('writes --limit values into [plugins.enabled.limits], merges them on re-enable, and refuses bad ones (exit 2)', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'echo'));
    const first = await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--limit', 'tool_timeout_ms=30000', '--limit', 'memory_mib=512', '--yes', '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(first.json<EnableJson>().limits, { tool_timeout_ms: 30000, memory_mib: 512 });
    assert.match(w.text(), /\[plugins\.enabled\.limits\]\ntool_timeout_ms = 30000\nmemory_mib = 512\n/);
    const second = await w.run(['plugin', 'enable', dir, '--limit', 'tool_timeout_ms=5000', '--yes', '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(w.entries()[0]!.limits, { tool_timeout_ms: 5000, memory_mib: 512 });
    for (const bad of ['tool_timeout=5', 'tool_timeout_ms=0', 'tool_timeout_ms=120001', 'memory_mib=4096', 'memory_mib=lots']) {
      const result = await w.run(['plugin', 'enable', dir, '--limit', bad, '--yes', '--json']);
      assert.equal(result.code, 2, bad);
      assert.equal(result.json<{ error: { code: string } }>().error.code, 'usage');
    }
    assert.deepEqual(w.entries()[0]!.limits, { tool_timeout_ms: 5000, memory_mib: 512 });
  });

  it('takes a grant back with --revoke (a host API with its targets)', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'weather'), weather('0.1.0', ['forecast'], [TARGET_V1]));
    assert.equal((await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes'])).code, 0);
    const result = await w.run(['plugin', 'enable', dir, '--revoke', 'host_api.request', '--yes', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.json<EnableJson>().granted, { permissions: ['surfaces.tool', 'tool.forecast'], request: [], websocket: [], fs: [] });
    assert.equal((await w.run(['plugin', 'enable', dir, '--revoke', 'tool.nothing', '--yes'])).code, 2);
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { manifestToml } from '@yoi-plugins/host/test/fixtures/manifest.js';
import { writePluginDir } from '@yoi-plugins/host/test/helpers.js';
import { workspace, type EnableJson, type Item } from './enable-support.js';

const RELAY = manifestToml({
  id: 'relay',
  services: [{ name: 'relay', description: 'relay' }],
  ingresses: [{ name: 'gateway', description: 'gateway', eventKinds: ['websocket_text'], sources: ['websocket:{config.url}'] }],
  hostApis: ['websocket'],
  websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/socket'] }],
});

describe('configuration a plugin needs ({config.KEY} in its ingress sources)', () => {
  it('is reported by enable and show when missing, without running anything, and clears once set', async (t) => {
    const w = workspace(t);
    const dir = writePluginDir(join(w.root, 'relay'), RELAY);
    const enabled = await w.run(['plugin', 'enable', dir, '--grant-all-requested', '--yes']);
    assert.equal(enabled.code, 0, enabled.stderr);
    const expected = "config value `url` is not set: ingress gateway source `websocket:{config.url}` needs it as a string (yoi plugin enable … --config-json '{\"url\": \"…\"}')";
    assert.ok(enabled.stdout.includes(`    config: ${expected}\n`), enabled.stdout);

    const shown = await w.run(['plugin', 'show', 'project:relay']);
    assert.ok(shown.stdout.includes(`    - [config] ${expected}\n`), shown.stdout);
    const item = (await w.run(['plugin', 'show', 'project:relay', '--json'])).json<Item>();
    assert.deepEqual(item.diagnostics.filter((d) => d.kind === 'config'), [{ kind: 'config', message: expected }]);
    assert.equal(item.status, 'partial', 'a service that cannot open its source is not active');

    const configured = await w.run(['plugin', 'enable', dir, '--config-json', '{"url":"ws://127.0.0.1:9/socket"}', '--yes', '--json']);
    assert.equal(configured.code, 0, configured.stderr);
    const report = configured.json<EnableJson>();
    assert.deepEqual(report.diagnostics.filter((d) => d.kind === 'config'), []);
    assert.equal(report.plugin_status, 'active');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifest } from '@yoi-plugins/host/internal/manifest/parse.js';
import { manifestToml } from '@yoi-plugins/host/test/fixtures/manifest.js';
import { pluginWorldWit } from '../../src/build/wit-world.js';

const manifest = (() => {
  const parsed = parseManifest(new TextEncoder().encode(manifestToml({ id: 'relay', services: ['relay'], hostApis: ['websocket', 'request'], request: [{ scheme: 'https', host: 'example.com' }] })));
  if (!parsed.ok) throw new Error(parsed.diagnostic.message);
  return parsed.value;
})();

describe('the world a plugin is built against', () => {
  it('imports a host interface only when the manifest requests it and the code imports it', () => {
    // A host-owned WebSocket needs the `websocket` grant, not the pull API: without the import
    // the component imports no blocking host API and runs on the host thread.
    const plain = pluginWorldWit(manifest, 'export function handleIngress() { return "{}"; }');
    assert.ok(!plain.includes('yoi:host/'), plain);
    const requesting = pluginWorldWit(manifest, `import { request } from 'yoi:host/request@1.0.0';\nexport const x = request;`);
    assert.match(requesting, /import yoi:host\/request@1\.0\.0;/);
    assert.ok(!requesting.includes('yoi:host/websocket'), requesting);
    // Imported but not requested: not in the world (the build refuses such code before this).
    const unrequested = pluginWorldWit(manifest, `import { list } from "yoi:host/fs@1.0.0";`);
    assert.ok(!unrequested.includes('yoi:host/fs'), unrequested);
  });
});

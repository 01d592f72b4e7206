/**
 * An agent connected to serve's MCP endpoint (the official SDK client over Streamable HTTP)
 * hears `notifications/tools/list_changed` when a hot reload enables a plugin, and the next
 * `tools/list` has its tool.
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { loadPluginPackage } from '../../src/package/plugin-package.js';
import { writeZipArchive } from '../../src/package/zip-write.js';
import { startServe } from '../../src/serve/server.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE, watToolManifest } from '../fixtures/workspace.js';
import { cli, until } from '../helpers.js';

describe('MCP tools/list_changed over Streamable HTTP', () => {
  it('reaches the SDK client after a hot reload enables a plugin', { timeout: 120_000 }, async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: watToolManifest('first', { tools: ['one'] }), component: await assemble(TOOL_WATS.echo) }]);
    const server = await startServe({
      stores: { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } },
      cacheDir: TEST_TRANSPILE_CACHE,
      log: () => undefined,
      reload: { watch: false },
    });
    t.after(() => server.stop());

    const client = new Client({ name: 'list-changed-test', version: '0.0.0' });
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${server.mcpToken}` } } }));
    t.after(() => client.close());
    assert.deepEqual((await client.listTools()).tools.map((tool) => tool.name), ['one']);

    // A package arrives in the project store (in one rename) and `enable` pins it; serve reloads.
    const files = new Map<string, Uint8Array>([
      ['plugin.toml', new TextEncoder().encode(watToolManifest('second', { tools: ['two'] }))],
      ['plugin.component.wasm', await assemble(TOOL_WATS.echo)],
    ]);
    const loaded = loadPluginPackage(files);
    assert.ok(loaded.ok);
    const archive = writeZipArchive(files);
    assert.ok(archive.ok);
    mkdirSync(join(ws.workspace, '.yoi', 'plugins'), { recursive: true });
    writeFileSync(join(ws.root, 'second.tmp'), archive.value);
    renameSync(join(ws.root, 'second.tmp'), join(ws.workspace, '.yoi', 'plugins', 'second.yoi-plugin'));
    const env = { HOME: ws.root, YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
    const enabled = await cli(['plugin', 'enable', 'project:second', '--workspace', ws.workspace, '--yes', '--grant-all-requested'], { env });
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.equal(changes, 0);
    const reloaded = await fetch(`${server.url}/v1/reload`, { method: 'POST', headers: { authorization: `Bearer ${server.token}` } });
    assert.equal(reloaded.status, 200);

    await until(() => changes >= 1, 'notifications/tools/list_changed at the client');
    assert.deepEqual((await client.listTools()).tools.map((tool) => tool.name).sort(), ['one', 'two']);
  });
});

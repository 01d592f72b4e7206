/**
 * A partial plugin whose host API import is denied fails every call: it is not advertised.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE, watToolManifest, type PluginSpec } from '../fixtures/workspace.js';
import { YOI_BIN } from '../fixtures/cli-package.js';

const BIN = YOI_BIN;

const REQUEST_TARGET = `[[request]]
scheme = "https"
host = "api.example.com"
methods = ["GET"]
path_prefixes = ["/"]`;

/** Requests host_api.request and imports it; the operator granted the tool but not the API. */
async function deniedImport(id: string, tool: string): Promise<PluginSpec> {
  return {
    manifest: watToolManifest(id, { tools: [tool], extraPermissions: '  { kind = "host_api", api = "request" },', extra: REQUEST_TARGET }),
    component: await assemble(TOOL_WATS.requestCaller),
    grants: { permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool', name: tool }] },
  };
}

async function workspaceWithDeniedImport(t: TestContext) {
  return pluginWorkspace(t, [
    await deniedImport('fetcher', 'fetch'),
    { manifest: watToolManifest('other.fetch', { tools: ['fetch'] }), component: await assemble(TOOL_WATS.echo) },
    { manifest: watToolManifest('echo', { tools: ['echo'] }), component: await assemble(TOOL_WATS.echo) },
  ]);
}

describe('tools whose component cannot load under its grants', () => {
  it('are withdrawn by verifyLoadable, with an unloadable issue; a tool that lost the name to one takes it', async (t) => {
    const ws = await workspaceWithDeniedImport(t);
    const host = await ws.open();
    t.after(() => host.close());
    assert.deepEqual(host.tools.list().map((i) => `${i.origin.plugin_ref}/${i.name}`), ['project:fetcher/fetch', 'project:echo/echo'], 'statically, the denied plugin registers first');
    assert.ok(host.registrationIssues.some((i) => i.kind === 'collision' && i.plugin_ref === 'project:other.fetch'));

    const added = await host.tools.verifyLoadable();
    assert.deepEqual(added.map((i) => [i.plugin_ref, i.tool, i.kind]), [['project:fetcher', 'fetch', 'unloadable']]);
    assert.match(added[0]!.message, /plugin project:fetcher tool fetch is not offered: every call would fail: plugin host API dispatch denied for import `yoi:host\/request@1\.0\.0`.*\[COMPONENT_IMPORT_DENIED\]/);
    assert.deepEqual(host.tools.list().map((i) => `${i.origin.plugin_ref}/${i.name}`), ['project:other.fetch/fetch', 'project:echo/echo']);
    assert.ok(!host.registrationIssues.some((i) => i.kind === 'collision'), 'the collision is resolved');
    // A qualified call still reaches the withdrawn tool, and fails with the real reason.
    await assert.rejects(host.tools.callQualified('project:fetcher', 'fetch', {}), /COMPONENT_IMPORT_DENIED|dispatch denied/);
    assert.deepEqual(await host.tools.verifyLoadable(), [], 'idempotent');
  });

  it('are not listed by `yoi plugin mcp`', async (t) => {
    const ws = await workspaceWithDeniedImport(t);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'plugin', 'mcp', '--workspace', ws.workspace],
      env: { PATH: process.env['PATH'] ?? '', HOME: join(ws.root, 'home'), YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(transport);
    t.after(() => client.close());
    const { tools } = await client.listTools(undefined, { timeout: 30_000 });
    assert.deepEqual(tools.map((tool) => tool.name).sort(), ['echo', 'fetch']);
    const called = (await client.callTool({ name: 'fetch', arguments: { summary: 'from the other plugin' } }, undefined, { timeout: 30_000 })) as { content: { text: string }[] };
    assert.equal(called.content[0]!.text, 'from the other plugin', 'the bare name reaches the plugin that can run');
    assert.match(stderr, /project:fetcher tool fetch is not offered: every call would fail/);
  });
});

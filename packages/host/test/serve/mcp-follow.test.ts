/**
 * `yoi plugin mcp` (stdio) follows the workspace's serve: started before serve, it answers
 * in-process; once serve runs, from serve's live instances; once serve is gone, in-process
 * again — each switch announced to the client with `tools/list_changed`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { YOI_BIN } from '../fixtures/cli-package.js';
import { startServe } from '../../src/serve/server.js';
import { buildJsComponent } from '../fixtures/js.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { until } from '../helpers.js';

interface CallResult {
  readonly structuredContent?: { summary: string };
  readonly isError?: boolean;
}

describe('yoi plugin mcp follows serve', () => {
  it('in-process before serve starts, serve while it runs, in-process after it stops; each switch sends tools/list_changed', { timeout: 240_000 }, async (t) => {
    const manifest = serviceManifest('svc');
    const ws = await pluginWorkspace(t, [{ manifest, component: await buildJsComponent(SERVICE_SOURCE, manifest) }]);
    const env = { PATH: process.env['PATH'] ?? '', HOME: ws.root, YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
    const client = new Client({ name: 'follow-test', version: '0.0.0' });
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    const transport = new StdioClientTransport({ command: process.execPath, args: [YOI_BIN, 'plugin', 'mcp', '--workspace', ws.workspace], env, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await client.connect(transport);
    t.after(() => client.close());
    const handled = async () => ((await client.callTool({ name: 'handled', arguments: {} })) as unknown as CallResult).structuredContent?.summary;

    assert.deepEqual((await client.listTools()).tools.map((tool) => tool.name), ['handled', 'config', 'restored']);
    assert.equal(await handled(), '0', 'a host of its own: a fresh instance');
    assert.match(stderr, /in-process \(no serve is running/);

    const running = await startServe({ stores: { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } }, cacheDir: TEST_TRANSPILE_CACHE, log: () => undefined, reload: { watch: false } });
    let stopped = false;
    t.after(() => (stopped ? undefined : running.stop()));
    const service = running.host.services.get('project:svc')!;
    for (let i = 0; i < 3; i++) await service.emit('events', 'job', 'test', { tag: `e${i}` });
    await service.idle();
    assert.equal(await handled(), '3', 'the running serve, followed without a restart');
    assert.match(stderr, /via the running serve \(pid \d+\)/);
    await until(() => changes >= 1, 'tools/list_changed after switching to serve');

    await running.stop();
    stopped = true;
    assert.equal(await handled(), '0', 'serve is gone: in-process again');
    assert.match(stderr, /serve is gone: in-process/);
    await until(() => changes >= 2, 'tools/list_changed after switching back');
    assert.deepEqual((await client.listTools()).tools.map((tool) => tool.name), ['handled', 'config', 'restored']);
  });
});

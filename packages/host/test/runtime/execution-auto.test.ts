import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backgroundRewritesSettled } from '../../src/sandbox/component-loader.js';
import { buildJsComponent } from '../fixtures/js.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';
import { tempDir } from '../helpers.js';

const PURE_SOURCE = `export function call(name, inputJson) { return JSON.stringify({ summary: 'echo', content: JSON.parse(inputJson).text }); }`;
const PURE_MANIFEST = `schema_version = 1
id = "js.pure"
name = "JS pure"
version = "0.1.0"
permissions = [{ kind = "surface", surface = "tool" }, { kind = "tool", name = "echo" }]

[runtime]
kind = "wasm-component"
component = "plugin.component.wasm"
world = "yoi:plugin/tool@1.0.0"

[[tools]]
name = "echo"
description = "echo"
input_schema = { type = "object" }
`;

describe('execution auto (the default)', () => {
  it('runs a guest without host imports in-thread and one with a blocking import in a worker', async (t) => {
    const ws = pluginWorkspace(t, [
      { manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo) },
      {
        manifest: watToolManifest('caller', { tools: ['fetch'], extraPermissions: '  { kind = "host_api", api = "request" },', extra: '[[request]]\nscheme = "http"\nhost = "127.0.0.1"\nmethods = ["GET"]\n' }),
        component: await assemble(TOOL_WATS.requestCaller),
      },
    ]);
    const host = await ws.open();
    t.after(() => host.close());
    assert.equal((await host.callTool('run', { summary: 'hi' })).summary, 'hi');
    await host.runtimes.get('project:caller')!.start();
    assert.equal(host.runtimes.get('project:echo')!.execution, 'in-thread');
    assert.equal(host.runtimes.get('project:caller')!.execution, 'worker');
  });

  it('runs a large guest in a worker while its interruptible modules are made in the background, in-thread once they are cached', async (t) => {
    const cacheDir = tempDir(t, 'yoi-auto-cache-');
    const component = await buildJsComponent(PURE_SOURCE, PURE_MANIFEST);
    const ws = pluginWorkspace(t, [{ manifest: PURE_MANIFEST, component }]);
    const first = await ws.open({ cacheDir });
    t.after(() => first.close());
    assert.equal((await first.callTool('echo', { text: 'first' })).content, 'first');
    const runtime = first.runtimes.get('project:js.pure')!;
    assert.equal(runtime.execution, 'worker');
    assert.equal(runtime.execution, 'worker', JSON.stringify(runtime.log.lines()));
    assert.match(runtime.log.lines().map((l) => l.text).join('\n'), /runs in a worker thread: its interruptible modules are being prepared in the background/);
    await backgroundRewritesSettled();
    await first.close();
    const next = await ws.open({ cacheDir });
    t.after(() => next.close());
    assert.equal((await next.callTool('echo', { text: 'next' })).content, 'next');
    assert.equal(next.runtimes.get('project:js.pure')!.execution, 'in-thread');
  });
});

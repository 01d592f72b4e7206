import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backgroundRewriteFailures, backgroundRewritesSettled, interruptibleRecipe } from '../../src/sandbox/component-loader.js';
import { derivedModulePlace, transpileCached } from '../../src/sandbox/transpile-cache.js';
import { buildJsComponent, PURE_JS_MANIFEST } from '../fixtures/js.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';
import { pluginRuntimeOf } from '../../src/host.js';
import { tempDir } from '../helpers.js';

const PURE_SOURCE = `export function call(name, inputJson) { return JSON.stringify({ summary: 'echo', content: JSON.parse(inputJson).text }); }`;

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
    await pluginRuntimeOf(host, 'project:caller')!.start();
    assert.equal(host.runtimes.get('project:echo')!.execution, 'in-thread');
    assert.equal(host.runtimes.get('project:caller')!.execution, 'worker');
  });

  it('runs a large guest in a worker while its interruptible modules are made in the background, in-thread once they are cached', async (t) => {
    const cacheDir = tempDir(t, 'yoi-auto-cache-');
    const component = await buildJsComponent(PURE_SOURCE, PURE_JS_MANIFEST);
    const ws = pluginWorkspace(t, [{ manifest: PURE_JS_MANIFEST, component }]);
    const first = await ws.open({ cacheDir });
    t.after(() => first.close());
    assert.equal((await first.callTool('echo', { text: 'first' })).content, 'first');
    const runtime = pluginRuntimeOf(first, 'project:js.pure')!;
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

  it('reports a failed background rewrite in the next start\'s log and counts it', async (t) => {
    const cacheDir = tempDir(t, 'yoi-auto-cache-');
    // Another guest than the test above's, whose modules this process already compiled.
    const component = await buildJsComponent(PURE_SOURCE.replace("'echo'", "'echo again'"), PURE_JS_MANIFEST);
    // A directory where the largest core module's rewrite belongs: it is made in the background, then cannot be installed.
    const transpiled = await transpileCached(component, cacheDir);
    const cores = await Promise.all(transpiled.coreFiles.map((file) => readFile(join(transpiled.dir, file))));
    const largest = cores.reduce((a, b) => (b.length > a.length ? b : a));
    mkdirSync(derivedModulePlace(largest, await interruptibleRecipe(), cacheDir).modulePath, { recursive: true });
    const ws = pluginWorkspace(t, [{ manifest: PURE_JS_MANIFEST, component }]);
    const failuresBefore = backgroundRewriteFailures();
    const first = await ws.open({ cacheDir });
    t.after(() => first.close());
    assert.equal((await first.callTool('echo', { text: 'first' })).content, 'first');
    await backgroundRewritesSettled();
    await first.close();
    assert.ok(backgroundRewriteFailures() > failuresBefore);
    const next = await ws.open({ cacheDir });
    t.after(() => next.close());
    assert.equal((await next.callTool('echo', { text: 'next' })).content, 'next');
    const runtime = pluginRuntimeOf(next, 'project:js.pure')!;
    assert.equal(runtime.execution, 'worker');
    assert.match(runtime.log.lines().map((l) => l.text).join('\n'), /being prepared in the background .*; the previous background rewrite failed: \S/);
    await backgroundRewritesSettled();
  });
});

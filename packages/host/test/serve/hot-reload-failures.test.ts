import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startServe } from '../../src/serve/server.js';
import type { ReloadReport } from '../../src/serve/reload.js';
import { buildJsComponent, JS_TOOL_MANIFEST, JS_TOOL_SOURCE } from '../fixtures/js.js';
import { Gate } from '../fixtures/gate.js';
import { until } from '../helpers.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE, watToolManifest } from '../fixtures/workspace.js';

/** A serve without the file watcher: every reload below is asked for through the control API. */
async function serveWithoutWatch(t: import('node:test').TestContext, ws: ReturnType<typeof pluginWorkspace>) {
  const server = await startServe({
    stores: { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } },
    cacheDir: TEST_TRANSPILE_CACHE,
    log: () => undefined,
    reload: { watch: false },
  });
  t.after(() => server.stop());
  const reload = async () => {
    const response = await fetch(`${server.url}/v1/reload`, { method: 'POST', headers: { authorization: `Bearer ${server.token}` } });
    assert.equal(response.status, 200);
    return (await response.json()) as ReloadReport;
  };
  return { server, reload };
}

describe('serve hot reload failures keep the running version', () => {
  it('a service whose new configuration cannot start: the old one runs again on the same journal, and status says why', async (t) => {
    const manifest = serviceManifest();
    const ws = pluginWorkspace(t, [{ manifest, component: await buildJsComponent(SERVICE_SOURCE, manifest), config: { mode: 'first' } }]);
    const { server, reload } = await serveWithoutWatch(t, ws);
    const svc = server.host.services.get('project:svc')!;
    await svc.emit('events', 'job', 'test', { tag: 'before', commands: [{ kind: 'state_set', payload: { key: 'session', value: 'abc' } }] });
    await svc.idle();

    const plugins = join(ws.workspace, '.yoi', 'plugins.toml');
    const text = readFileSync(plugins, 'utf8');
    assert.match(text, /mode = "first"/);
    writeFileSync(plugins, text.replace('mode = "first"', 'fail_start = true'));
    const report = await reload();
    assert.equal(report.refused, null);
    assert.deepEqual(report.outcomes.map((o) => [o.plugin, o.action, o.outcome]), [['project:svc', 'reconfigure', 'failed']]);
    assert.match(report.outcomes[0]!.reason!, /refused.*the running version keeps running/);
    assert.equal(server.host.services.get('project:svc'), svc, 'the previous service stays');
    assert.equal(svc.state, 'Running');
    const config = JSON.parse((await server.host.callTool('config', {})).content!) as unknown;
    assert.deepEqual(config, { mode: 'first' });
    await svc.emit('events', 'job', 'test', { tag: 'after' });
    await svc.idle();
    const handled = JSON.parse((await server.host.callTool('handled', {})).content!) as { tag: string }[];
    // The previous version started again: a fresh instance (in-memory state is the instance's; durable state is handed back).
    assert.deepEqual(handled.map((h) => h.tag), ['after']);
    assert.equal(svc.restarts, 0, 'a start after a stop, not a crash restart');
    assert.equal(server.reloader.status().failing.length, 1);

    // A fixed configuration applies: the new service takes over the journal.
    writeFileSync(plugins, text.replace('mode = "first"', 'mode = "second"'));
    const fixed = await reload();
    assert.deepEqual(fixed.outcomes.map((o) => [o.action, o.outcome]), [['reconfigure', 'applied']]);
    const next = server.host.services.get('project:svc')!;
    assert.notEqual(next, svc);
    assert.equal(next.state, 'Running');
    assert.equal(svc.state, 'Stopped');
    assert.deepEqual(JSON.parse((await server.host.callTool('config', {})).content!), { mode: 'second' });
    await next.emit('events', 'job', 'test', { tag: 'on the new version' });
    await next.idle();
    assert.deepEqual(JSON.parse((await server.host.callTool('restored', {})).content!), [{ state: { session: 'abc' }, after_handled: 0 }], 'the new version got the durable state');
    assert.deepEqual(server.reloader.status().failing, []);
  });

  it('a pinned upgrade whose component cannot load keeps the old tools; an unreadable enablement file changes nothing', async (t) => {
    const v1 = watToolManifest('greet');
    const ws = pluginWorkspace(t, [{ manifest: v1, component: await assemble(TOOL_WATS.echo) }]);
    const { server, reload } = await serveWithoutWatch(t, ws);
    assert.equal((await server.host.callTool('run', { summary: 'v1' })).summary, 'v1');

    // The same manifest, pinned to a component with an import no plugin may have.
    const v2 = pluginWorkspace(t, [{ manifest: v1.replace('version = "0.1.0"', 'version = "0.2.0"'), component: await assemble(TOOL_WATS.unexpectedImport) }]);
    const store = (w: string) => join(w, '.yoi', 'plugins', 'greet.yoi-plugin');
    writeFileSync(store(ws.workspace), readFileSync(store(v2.workspace)));
    writeFileSync(join(ws.workspace, '.yoi', 'plugins.toml'), readFileSync(join(v2.workspace, '.yoi', 'plugins.toml')));
    const report = await reload();
    assert.deepEqual(report.outcomes.map((o) => [o.plugin, o.action, o.outcome]), [['project:greet', 'upgrade', 'failed']]);
    assert.match(report.outcomes[0]!.reason!, /yoi:evil\/net.*the running version keeps running/);
    assert.equal(server.host.tools.get('run')?.origin.package_version, '0.1.0');
    assert.equal((await server.host.callTool('run', { summary: 'still v1' })).summary, 'still v1');

    const generation = server.reloader.status().generation;
    writeFileSync(join(ws.workspace, '.yoi', 'plugins.toml'), '[[plugins.enabled]\nid = ');
    const refused = await reload();
    assert.equal(refused.generation, generation + 1);
    assert.match(refused.refused!, /enablement file cannot be used/);
    assert.deepEqual(refused.outcomes, []);
    assert.equal((await server.host.callTool('run', { summary: 'untouched' })).summary, 'untouched');
    assert.equal(server.reloader.status().refused_total, 1);
  });

  it('a disable withdraws the tools at once and lets a call in flight finish before the plugin stops', async (t) => {
    const gate = await Gate.open(t);
    const ws = pluginWorkspace(t, [{ manifest: JS_TOOL_MANIFEST, component: await buildJsComponent(JS_TOOL_SOURCE, JS_TOOL_MANIFEST) }]);
    const { server, reload } = await serveWithoutWatch(t, ws);
    const inFlight = server.host.callTool('fetch', { method: 'GET', url: `${gate.url}/api/gate/hold` });
    await gate.arrived('hold');
    writeFileSync(join(ws.workspace, '.yoi', 'plugins.toml'), '');
    const reloading = reload();
    await until(() => !server.host.runtimes.has('project:js.tool'), 'the plugin is withdrawn');
    assert.equal(server.host.tools.get('fetch'), undefined, 'no new call reaches it');
    gate.release('hold');
    const output = await inFlight;
    assert.equal(output.summary, 'fetched');
    assert.match(output.content ?? '', /"status":200/);
    const report = await reloading;
    assert.deepEqual(report.outcomes.map((o) => [o.plugin, o.action, o.outcome]), [['project:js.tool', 'disable', 'applied']]);
  });
});

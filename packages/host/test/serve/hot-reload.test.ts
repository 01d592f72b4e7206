import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadPluginPackage } from '../../src/package/plugin-package.js';
import { writeZipArchive } from '../../src/package/zip-write.js';
import { startServe, type RunningServer } from '../../src/serve/server.js';
import type { LogFields } from '../../src/serve/log.js';
import { buildJsComponent } from '../fixtures/js.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE, watToolManifest } from '../fixtures/workspace.js';
import { cli } from '../helpers.js';

/** Writes a package into the project store in one rename (a reload never sees half a file). */
function installPackage(root: string, workspace: string, manifest: string, component: Uint8Array): string {
  const files = new Map<string, Uint8Array>([
    ['plugin.toml', new TextEncoder().encode(manifest)],
    ['plugin.component.wasm', component],
  ]);
  const loaded = loadPluginPackage(files);
  if (!loaded.ok) throw new Error(loaded.diagnostic.message);
  const archive = writeZipArchive(files);
  if (!archive.ok) throw new Error(archive.diagnostic.message);
  const temporary = join(root, `${loaded.value.manifest.id}.tmp`);
  writeFileSync(temporary, archive.value);
  mkdirSync(join(workspace, '.yoi', 'plugins'), { recursive: true });
  renameSync(temporary, join(workspace, '.yoi', 'plugins', `${loaded.value.manifest.id}.yoi-plugin`));
  return loaded.value.digest;
}

/** Waits (reload pass by reload pass) until `done` holds; bounded by the number of passes. */
async function afterReloads(server: RunningServer, done: () => boolean, what: string): Promise<void> {
  for (let passes = 0; passes < 50; passes++) {
    if (done()) return;
    await server.reloader.whenGeneration(server.reloader.status().generation + 1);
  }
  assert.fail(`no reload made this true: ${what}; reload status ${JSON.stringify(server.reloader.status())}`);
}

describe('serve hot reload', () => {
  it('enables, upgrades (a new request waits for its grant, the old version runs meanwhile) and disables plugins while serve runs; an unaffected service loses no event', async (t) => {
    const svcManifest = serviceManifest();
    const ws = pluginWorkspace(t, [{ manifest: svcManifest, component: await buildJsComponent(SERVICE_SOURCE, svcManifest) }]);
    const env = { HOME: ws.root, YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
    const logs: { level: string; msg: string; fields: LogFields }[] = [];
    const server = await startServe({
      stores: { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } },
      cacheDir: TEST_TRANSPILE_CACHE,
      log: (level, msg, fields = {}) => logs.push({ level, msg, fields }),
      reload: { debounceMs: 50 },
    });
    t.after(() => server.stop());
    const auth = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
    const callTool = async (tool: string, input: unknown) => {
      const response = await fetch(`${server.url}/v1/tools/call`, { method: 'POST', headers: auth, body: JSON.stringify({ tool, input }) });
      return { status: response.status, body: (await response.json()) as { output?: { summary: string }; error?: { code: string } } };
    };
    const status = async () => (await (await fetch(`${server.url}/v1/status`, { headers: auth })).json()) as { reload: { generation: number; failing: { plugin: string; action: string; reason: string }[] }; plugins: { plugin: string; lifecycle: string }[] };
    const toolVersion = (name: string) => server.host.tools.get(name)?.origin.package_version ?? null;

    // The unaffected service is flooded for the whole test.
    const svc = server.host.services.get('project:svc')!;
    let offered = 0;
    let flooding = true;
    const flood = (async () => {
      while (flooding && offered < 200_000) {
        const outcome = await svc.emit('events', 'job', 'test', { tag: String(offered) });
        assert.ok(outcome.ok, JSON.stringify(outcome));
        offered++;
        if (offered % 256 === 0) await svc.idle();
      }
    })();

    // 1. enable: the package arrives in the store, `enable` pins it, serve starts it.
    const echo = await assemble(TOOL_WATS.echo);
    const v1 = watToolManifest('greet');
    installPackage(ws.root, ws.workspace, v1, echo);
    const enabled = await cli(['plugin', 'enable', 'project:greet', '--workspace', ws.workspace, '--yes', '--grant-all-requested'], { env });
    assert.equal(enabled.code, 0, enabled.stderr);
    await afterReloads(server, () => toolVersion('run') === '0.1.0', 'greet 0.1.0 runs');
    assert.deepEqual((await status()).plugins.map((p) => p.plugin), ['project:svc', 'project:greet']);
    assert.equal((await callTool('run', { summary: 'from v1' })).body.output?.summary, 'from v1');
    const offeredAtEnable = offered;

    // 2. upgrade to a package that requests one more tool: until it is pinned, the old version runs and status says why.
    const v2 = watToolManifest('greet', { tools: ['run', 'extra'] }).replace('version = "0.1.0"', 'version = "0.2.0"');
    installPackage(ws.root, ws.workspace, v2, echo);
    await afterReloads(server, () => server.reloader.status().failing.some((f) => f.plugin === 'project:greet'), 'the unpinned upgrade is reported');
    const failing = (await status()).reload.failing.find((f) => f.plugin === 'project:greet')!;
    assert.equal(failing.action, 'keep');
    assert.match(failing.reason, /digest pin does not match.*the running version keeps running/);
    assert.equal(toolVersion('run'), '0.1.0');
    assert.equal((await callTool('run', { summary: 'still v1' })).body.output?.summary, 'still v1');

    // `enable` shows the diff and asks; without an answer nothing is written.
    const asked = await cli(['plugin', 'enable', 'project:greet', '--workspace', ws.workspace], { env });
    assert.equal(asked.code, 2);
    assert.match(asked.stdout, /enabled now: version=0\.1\.0/);
    assert.match(asked.stdout, /tool\.extra/);
    assert.match(asked.stderr, /needs confirmation/);

    // Pinned without granting the new request: the new version runs, its new tool is refused.
    const pinned = await cli(['plugin', 'enable', 'project:greet', '--workspace', ws.workspace, '--yes'], { env });
    assert.equal(pinned.code, 0, pinned.stderr);
    await afterReloads(server, () => toolVersion('run') === '0.2.0', 'greet 0.2.0 runs');
    assert.equal(server.host.tools.get('extra'), undefined);
    const refused = await callTool('extra', { summary: 'x' });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error?.code, 'TOOL_NOT_FOUND');
    assert.deepEqual((await status()).reload.failing, []);

    // Granted: the grant change reloads the plugin and the new tool is there.
    const granted = await cli(['plugin', 'enable', 'project:greet', '--workspace', ws.workspace, '--yes', '--grant', 'tool.extra'], { env });
    assert.equal(granted.code, 0, granted.stderr);
    await afterReloads(server, () => server.host.tools.get('extra') !== undefined, 'the granted tool is registered');
    assert.equal((await callTool('extra', { summary: 'granted' })).body.output?.summary, 'granted');

    // 3. disable: the plugin stops and its tools go.
    const disabled = await cli(['plugin', 'disable', 'project:greet', '--workspace', ws.workspace], { env });
    assert.equal(disabled.code, 0, disabled.stderr);
    await afterReloads(server, () => !server.host.runtimes.has('project:greet'), 'greet is gone');
    assert.equal(server.host.tools.get('run'), undefined);
    assert.deepEqual((await status()).plugins.map((p) => p.plugin), ['project:svc']);

    // The flood ran through all of it, on the same service, and lost nothing.
    flooding = false;
    await flood;
    await svc.idle();
    assert.ok(offered > offeredAtEnable, 'events were offered while plugins changed');
    assert.equal(server.host.services.get('project:svc'), svc, 'the unaffected service was never replaced');
    assert.equal(svc.restarts, 0);
    assert.equal(svc.state, 'Running');
    const counters = svc.counters;
    assert.equal(counters.enqueued, offered);
    assert.equal(counters.dispatched, offered);
    assert.deepEqual([counters.failed, counters.dead_lettered, counters.dropped, counters.rejected, counters.retried], [0, 0, 0, 0, 0]);

    // Every outcome is logged and counted.
    const reloaded = logs.filter((l) => l.msg === 'plugin reloaded').map((l) => l.fields['action']);
    assert.deepEqual([...new Set(reloaded)], ['enable', 'upgrade', 'reconfigure', 'disable']);
    assert.ok(logs.some((l) => l.msg === 'plugin reload failed' && l.fields['action'] === 'keep' && l.fields['plugin'] === 'project:greet'));
    assert.ok(logs.some((l) => l.level === 'warn' && l.fields['tool'] === 'extra' && /registration denied/.test(l.msg)), 'the refused new tool is logged');
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: auth })).text();
    assert.match(metrics, /yoi_reload_plugin_outcomes_total\{action="enable",outcome="applied"\} 1/);
    assert.match(metrics, /yoi_reload_plugin_outcomes_total\{action="disable",outcome="applied"\} 1/);
    assert.match(metrics, /yoi_reload_plugin_outcomes_total\{action="keep",outcome="failed"\} 1/);
    assert.match(metrics, /yoi_reload_generation [1-9]/);
  });
});

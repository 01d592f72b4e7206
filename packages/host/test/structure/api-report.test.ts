import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as library from '../../src/index.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';
import { assemble, TOOL_WATS } from '../fixtures/wat.js';

// dist/test/structure → the repository root.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'api-report.mjs');

describe('the library API of @yoi-plugins/host is pinned by its API report', () => {
  it('packages/host/api/host.api.md is what the build exports, every export documented', async () => {
    const result = await promisify(execFile)(process.execPath, [SCRIPT, '--check'], { cwd: ROOT }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code?: number; stderr?: string }) => ({ code: error.code ?? -1, stderr: error.stderr ?? '' }),
    );
    assert.equal(result.code, 0, result.stderr);
  });

  it('exports what an embedder runs services with, and no archive or path internals', () => {
    for (const name of ['PluginHost', 'PluginService', 'PluginError', 'MemoryJournal', 'openLmdbJournal', 'openJetStreamJournal', 'DEFAULT_SERVICE_POLICY', 'DEFAULT_CONNECTION_POLICY', 'newIngressEvent', 'JournalWriteError']) {
      assert.ok(name in library, `${name} is exported`);
    }
    for (const name of ['readZipArchive', 'writeZipArchive', 'redactText', 'boundText', 'pathPrefixCovers', 'parseTargetUrl', 'readPackageFile', 'PluginRuntime']) {
      assert.ok(!(name in library), `${name} is internal`);
    }
  });

  it('PluginHost.runtimes hands out read-only views that follow the runtime, never the runtime', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo) }]);
    const host = await ws.open();
    t.after(() => host.close());
    const view = host.runtimes.get('project:echo')!;
    assert.ok(Object.isFrozen(view));
    for (const method of ['start', 'load', 'callTool', 'callIngress', 'restart', 'close', 'onFailure']) assert.equal(method in view, false, `the view has no ${method}`);
    assert.equal(view.record.identity, 'project:echo');
    assert.equal(view.sandboxCounters, null, 'nothing ran yet');
    await host.callTool('run', { summary: 'hi' });
    assert.equal(view.world, 'tool', 'the view reads the live runtime');
    assert.ok(view.sandboxCounters!.admitted >= 1);
    (host.runtimes as Map<string, unknown>).delete('project:echo');
    assert.equal(host.status().length, 1, 'changing the map of views changes nothing in the host');
  });
});

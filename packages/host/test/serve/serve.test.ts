import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildJsComponent } from '../fixtures/js.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { cli } from '../helpers.js';
import { YOI_BIN } from '../fixtures/cli-package.js';

const BIN = YOI_BIN;

async function waitFor<T>(fn: () => T | null | undefined | Promise<T | null | undefined>, what: string, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('yoi plugin serve', () => {
  it('runs services, serves status, metrics, tool calls and dead letters on loopback, and stops on SIGTERM', async (t) => {
    const manifest = serviceManifest();
    const component = await buildJsComponent(SERVICE_SOURCE, manifest);
    const ws = pluginWorkspace(t, [{ manifest, component }]);
    const env = { ...process.env, HOME: ws.root, YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
    const child = spawn(process.execPath, [BIN, 'plugin', 'serve', '--workspace', ws.workspace], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });

    const controlFile = join(ws.workspace, '.yoi', 'serve.json');
    const info = await waitFor(() => {
      try {
        return JSON.parse(readFileSync(controlFile, 'utf8')) as { host: string; port: number; token: string };
      } catch {
        return null;
      }
    }, 'serve.json');
    assert.equal(statSync(controlFile).mode & 0o777, 0o600);
    assert.equal(info.host, '127.0.0.1');
    const base = `http://127.0.0.1:${info.port}`;
    const auth = { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' };

    assert.equal((await fetch(`${base}/v1/status`)).status, 401, 'no token, no status');
    const status = (await (await fetch(`${base}/v1/status`, { headers: auth })).json()) as { plugins: { plugin: string; lifecycle: string }[] };
    assert.deepEqual(status.plugins.map((p) => [p.plugin, p.lifecycle]), [['project:svc', 'Running']]);

    const call = (await (await fetch(`${base}/v1/tools/call`, { method: 'POST', headers: auth, body: JSON.stringify({ tool: 'handled', input: {} }) })).json()) as { output: { summary: string } };
    assert.equal(call.output.summary, '0');

    const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    assert.match(metrics, /yoi_plugin_lifecycle_state\{plugin="project:svc",state="Running"\} 1/);
    assert.match(metrics, /yoi_plugin_queue_capacity\{plugin="project:svc"\} 1024/);
    assert.match(metrics, /yoi_plugin_discarded_total\{plugin="project:svc",what="timer_ticks_skipped"\} 0/);

    // The CLI finds the running serve through .yoi/serve.json.
    const cliEnv = { HOME: ws.root, YOI_BUILTIN_DIR: join(ws.root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
    const st = await cli(['plugin', 'status', '--workspace', ws.workspace, '--json'], { env: cliEnv });
    assert.equal(st.code, 0, st.stderr);
    assert.equal(st.json<{ source: string }>().source, 'serve');
    const discards = st.json<{ plugins: { discards: Record<string, number> }[] }>().plugins[0]!.discards;
    assert.equal(discards['queue_dropped'], 0, 'status --json carries the discard counters');
    assert.equal(discards['websocket_frames_dropped'], 0);
    const dl = await cli(['plugin', 'dlq', 'list', 'project:svc', '--workspace', ws.workspace, '--json'], { env: cliEnv });
    assert.equal(dl.code, 0, dl.stderr);
    assert.deepEqual(dl.json<{ dead_letters: unknown[] }>().dead_letters, []);

    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.match(stdout, /stopped: 1 service\(s\)/);
    assert.throws(() => statSync(controlFile), 'the control file is removed');
    for (const line of stderr.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), `log line is JSON: ${line}`);
    assert.ok(!stderr.includes(info.token), 'the token never appears in logs');

    const offline = await cli(['plugin', 'status', 'project:svc', '--workspace', ws.workspace, '--json'], { env: cliEnv });
    assert.equal(offline.code, 0, offline.stderr);
    assert.equal(offline.json<{ source: string; plugins: { lifecycle: string }[] }>().plugins[0]!.lifecycle, 'Stopped');
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pluginRuntimeOf } from '../../src/host.js';
import { jsonLogger } from '../../src/serve/log.js';
import { startServe } from '../../src/serve/server.js';
import { EXECUTION_MODES } from '../fixtures/execution.js';
import { buildFixturePlugin, enableFixturePlugin } from '../fixtures/pdk-plugin.js';
import { serveEnv } from '../fixtures/serve-child.js';
import { TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { cli, tempDir, until } from '../helpers.js';

/**
 * The acceptance of "services that start themselves": a PDK plugin with only a
 * `schedule:every 1s` source (no WebSocket, no event injected from outside) and a timer set by
 * its `start` ticks under serve, and what its handlers print with `console.log` is in its log.
 */
describe('a schedule-only service under serve', () => {
  for (const execution of EXECUTION_MODES) {
    it(`ticks by itself and its console output is in the plugin's log (${execution})`, async (t) => {
      const root = tempDir(t, 'yoi-schedule-');
      const workspace = join(root, 'ws');
      const env = serveEnv(root);
      const ref = await enableFixturePlugin(workspace, await buildFixturePlugin('scheduled'), {}, env);
      const lines: string[] = [];
      const server = await startServe({ stores: { workspace, builtinDir: env['YOI_BUILTIN_DIR']!, env }, log: jsonLogger((line) => lines.push(line)), cacheDir: TEST_TRANSPILE_CACHE, execution });
      t.after(() => server.stop());
      const runtime = pluginRuntimeOf(server.host, ref)!;
      if (execution !== 'auto') assert.equal(runtime.execution, execution);
      const texts = () => runtime.log.lines().map((line) => line.text);
      await until(() => texts().filter((text) => text.startsWith('tick ') && text.endsWith('from schedule:every 1s')).length >= 2, 'two schedule ticks in the log');
      assert.ok(texts().includes('ticker started'), "start's console.log");
      assert.ok(texts().includes('tick 1 from timer:hello'), 'the timer start set');
      // A handler's log line is written while it runs; the event counts as dispatched once its batch is done.
      await until(() => (server.host.status(ref)[0]?.counters?.dispatched ?? 0) >= 3, 'the start timer and two schedule ticks dispatched');
      const [status] = server.host.status(ref);
      assert.deepEqual(status!.websocket_connections, [], 'no WebSocket');
      assert.ok(status!.timers.some((timer) => timer.timer_id === 'schedule:clock:every 1s'));
      assert.ok(lines.some((line) => line.includes('"to":"Running"')), 'serve logged the lifecycle');
    });
  }

  it('`call --json` carries the log lines the call printed', async (t) => {
    const root = tempDir(t, 'yoi-call-logs-');
    const workspace = join(root, 'ws');
    const env = serveEnv(root);
    const ref = await enableFixturePlugin(workspace, await buildFixturePlugin('scheduled'), {}, env);
    const result = await cli(['plugin', 'call', ref, 'ticks', '--workspace', workspace, '--json'], { env });
    assert.equal(result.code, 0, result.stderr);
    const logs = result.json<{ logs: { stream: string; text: string }[]; logs_dropped: number }>();
    assert.deepEqual(
      logs.logs.map((line) => [line.stream, line.text]),
      [
        ['stdout', 'ticker started'],
        ['stderr', '[host] the output commands `start` returned are not run: no service started this instance'],
        ['stderr', 'ticks asked'],
      ],
      'the instance started for this call, so its start is part of it (and the timer it set is not run, said so)',
    );
    assert.equal(logs.logs_dropped, 0);
  });
});

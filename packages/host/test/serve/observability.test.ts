import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LogFields, LogLevel } from '../../src/serve/log.js';
import { startServe } from '../../src/serve/server.js';
import type { PluginStatus } from '../../src/status/status.js';
import { buildJsComponent } from '../fixtures/js.js';
import { Gate } from '../fixtures/gate.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { until } from '../helpers.js';

interface Line {
  level: LogLevel;
  msg: string;
  fields: LogFields;
}

describe('serve makes every discard and lifecycle change visible', () => {
  it('counts discards in /v1/status and /metrics, and logs transitions, retries, dead letters, rejections and discards', async (t) => {
    const gate = await Gate.open(t);
    const manifest = serviceManifest();
    const ws = pluginWorkspace(t, [{ manifest, component: await buildJsComponent(SERVICE_SOURCE, manifest), config: { gate: gate.url } }]);
    const lines: Line[] = [];
    const running = await startServe({
      stores: { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } },
      cacheDir: TEST_TRANSPILE_CACHE,
      log: (level, msg, fields = {}) => lines.push({ level, msg, fields }),
      servicePolicy: { queueCapacity: 1, dropPolicy: { events: 'drop_newest' }, maxAttempts: 2, retryBaseMs: 1, retryMaxMs: 2 },
      discardLogIntervalMs: 20,
    });
    t.after(() => running.stop());
    const service = running.host.services.get('project:svc')!;
    const { newIngressEvent } = await import('../../src/service/ingress-event.js');

    await service.emit('events', 'job', 'test', { gate: 'hold' });
    await gate.arrived('hold');
    assert.deepEqual(await service.offer('events', newIngressEvent('events', 'job', 'test', { tag: 'queued' })), { ok: true });
    assert.deepEqual(await service.offer('events', newIngressEvent('events', 'job', 'test', { tag: 'dropped' })), { ok: true });
    gate.pass('hold');
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'teleport', payload: {}, command_id: 'teleport-1' }] });
    await service.emit('events', 'job', 'test', { fail_until: 2 });
    await service.emit('events', 'job', 'test', { always_fail: true });
    await service.idle();

    const auth = { authorization: `Bearer ${running.token}` };
    const status = (await (await fetch(`${running.url}/v1/status/project:svc`, { headers: auth })).json()) as { plugins: PluginStatus[] };
    const discards = status.plugins[0]!.discards;
    assert.equal(discards.queue_dropped, 1);
    assert.equal(discards.commands_rejected, 1);
    assert.deepEqual(status.plugins[0]!.requests, { in_flight: 0, waiting: 0, capacity: 32 });
    const metrics = await (await fetch(`${running.url}/metrics`, { headers: auth })).text();
    assert.match(metrics, /yoi_plugin_discarded_total\{plugin="project:svc",what="queue_dropped"\} 1/);
    assert.match(metrics, /yoi_plugin_discarded_total\{plugin="project:svc",what="commands_rejected"\} 1/);
    assert.match(metrics, /yoi_plugin_lifecycle_state\{plugin="project:svc",state="Degraded"\} 0/);

    const line = (predicate: (l: Line) => boolean) => lines.find(predicate);
    assert.ok(line((l) => l.msg === 'service Running' && l.fields['from'] === 'Starting' && l.fields['plugin'] === 'project:svc'), 'the transition is logged');
    assert.ok(line((l) => l.fields['event'] === 'retry' && l.fields['attempt'] === 1));
    assert.ok(line((l) => l.fields['event'] === 'dead_letter' && l.fields['attempts'] === 2));
    assert.ok(line((l) => l.fields['event'] === 'command_rejected' && l.fields['command_id'] === 'teleport-1'));
    assert.ok(line((l) => l.fields['event'] === 'dropped'));
    await until(() => line((l) => l.msg === 'work discarded' && l.fields['what'] === 'queue_dropped' && l.fields['total'] === 1), 'the discard log line');
    await until(() => line((l) => l.msg === 'work discarded' && l.fields['what'] === 'commands_rejected'), 'the rejection discard line');
    await running.stop();
    assert.ok(line((l) => l.msg === 'service Stopped'));
  });
});

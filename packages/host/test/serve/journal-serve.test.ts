import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startServe } from '../../src/serve/server.js';
import { buildJsComponent } from '../fixtures/js.js';
import { Gate } from '../fixtures/gate.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';

describe('serve keeps accepted work in the workspace journal (LMDB)', () => {
  it('a graceful stop keeps queued events; the next serve delivers them (attempt 2) after handing back the durable state', async (t) => {
    const gate = await Gate.open(t);
    const manifest = serviceManifest();
    const ws = pluginWorkspace(t, [{ manifest, component: await buildJsComponent(SERVICE_SOURCE, manifest), config: { gate: gate.url } }]);
    const options = { stores: { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } }, cacheDir: TEST_TRANSPILE_CACHE, log: () => undefined };
    const first = await startServe(options);
    t.after(() => first.stop());
    const service = first.host.services.get('project:svc')!;
    assert.equal(first.host.journal.engine, 'lmdb');
    await service.emit('events', 'job', 'test', { tag: 'a', commands: [{ kind: 'state_set', payload: { key: 'session', value: 'abc' } }] });
    await service.emit('events', 'job', 'test', { tag: 'b', gate: 'hold' });
    await gate.arrived('hold');
    await service.emit('events', 'job', 'test', { tag: 'c' });
    await service.emit('events', 'job', 'test', { tag: 'd' });
    const stopping = first.stop();
    gate.pass('hold');
    const [report] = await stopping;
    assert.equal(report!.waiting, 2, JSON.stringify(report));

    const second = await startServe(options);
    t.after(() => second.stop());
    const again = second.host.services.get('project:svc')!;
    await again.idle();
    const seen = JSON.parse((await second.host.callTool('handled', {})).content!) as { kind: string; tag: string | null; attempt: number }[];
    assert.deepEqual(seen.map((h) => [h.kind, h.tag, h.attempt]), [['job', 'c', 2], ['job', 'd', 2]]);
    const restored = JSON.parse((await second.host.callTool('restored', {})).content!) as unknown;
    assert.deepEqual(restored, [{ state: { session: 'abc' }, after_handled: 0 }], 'the durable state came first');
    await second.stop();
  });
});

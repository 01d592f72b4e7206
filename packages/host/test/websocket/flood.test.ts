import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PluginHost } from '../../src/host.js';
import { assemble, instanceWat } from '../fixtures/wat.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { loopback } from './loopback.js';
import { until } from '../helpers.js';
import { manifestToml } from '../fixtures/manifest.js';

const FRAMES = 30_000;

/** The cheapest real service: a WAT component whose ingress handler accepts every event with no commands. */
const FLOOD_MANIFEST = manifestToml({
  id: 'flood',
  tools: ['state'],
  services: [{ name: 'sink', description: 'accepts every frame' }],
  ingresses: [{ name: 'gateway', description: 'frames', eventKinds: ['websocket_text'], sources: ['websocket:{config.url}'] }],
  hostApis: ['websocket'],
  websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: ['/flood'] }],
});

describe('host-owned WebSocket under a flood', () => {
  it(`handles all ${FRAMES} frames a server sends as fast as it can: none dropped, the socket paused and resumed by the water marks`, async (t) => {
    const server = await loopback(t, {
      onConnection: (socket) => {
        for (let i = 0; i < FRAMES; i++) socket.send(String(i));
      },
    });
    const ws = pluginWorkspace(t, [{ manifest: FLOOD_MANIFEST, component: await assemble(instanceWat()), config: { url: `ws://127.0.0.1:${server.port}/flood` } }]);
    const host = await PluginHost.fromWorkspace(
      { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } },
      { cacheDir: TEST_TRANSPILE_CACHE, servicePolicy: { queueCapacity: 64 }, connectionPolicy: { ping_interval_ms: 0 } },
    );
    t.after(() => host.close());
    await host.startServices();
    const service = host.services.get('project:flood')!;
    const connection = () => host.status('project:flood')[0]!.websocket_connections[0] as Record<string, number>;
    // Ends early if frames are lost, so a regression fails fast instead of timing out.
    await until(() => service.counters.dispatched + (connection()['drops'] ?? 0) >= FRAMES, `${FRAMES} events handled`, 120_000);
    const status = connection();
    assert.equal(server.sockets.length, 1, 'one connection: the inbox never hit its safety limit');
    assert.equal(status['frames_in'], FRAMES);
    assert.equal(status['events_delivered'], FRAMES);
    assert.equal(service.counters.dispatched, FRAMES);
    assert.equal(service.counters.failed, 0);
    for (const discard of ['drops', 'refused', 'stale_frames', 'binary_dropped', 'inbox_safety_closes']) assert.equal(status[discard], 0, discard);
    assert.equal(status['skipped_undeclared'], 1, 'only websocket_open, which the ingress does not declare');
    assert.ok(status['pauses']! >= 1, 'the high-water mark paused the socket');
    assert.equal(status['resumes'], status['pauses'], 'every pause was resumed at the low-water mark');
    assert.ok(status['pauses']! * 20 < FRAMES, `pauses (${status['pauses']}) ≪ frames`);
    assert.equal(status['inbox_depth'], 0);
  });
});

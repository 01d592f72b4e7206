/**
 * Issue F acceptance: when a service's host requests reach the in-flight cap (a REST server that
 * does not answer yet), the next command batch waits for a slot instead of being rejected; the
 * dispatcher waits with it, so the queue fills and the WebSocket source is paused. Once the
 * server answers, every frame's request goes out and every reply reaches the plugin.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PluginHost } from '../../src/host.js';
import { NumberedFrames } from '../fixtures/numbered-frames.js';
import { buildFixturePlugin, enableFixturePlugin } from '../fixtures/pdk-plugin.js';
import { RestRecorder } from '../fixtures/rest-recorder.js';
import { serveEnv } from '../fixtures/serve-child.js';
import { TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { tempDir, until } from '../helpers.js';


const CAP = 4;
const QUEUE = 8;
const FRAMES = 400; // more than the queue and the driver's inbox high-water mark (256) together

interface RelayStats {
  deliveries: number;
  replies: number;
  replied: number[];
  failed_replies: number;
  last_failure: string | null;
}

describe('the in-flight request cap', () => {
  it(`holds the queue and the source while ${CAP} requests are unanswered, then loses no reply`, { timeout: 60_000 }, async (t) => {
    const root = tempDir(t, 'yoi-cap-');
    const workspace = join(root, 'ws');
    const env = serveEnv(root);
    const frames = await NumberedFrames.start(t, { framesPerConnection: FRAMES });
    const rest = await RestRecorder.start(t);
    rest.holding = true;
    const plugin = await enableFixturePlugin(workspace, await buildFixturePlugin('relay'), { url: frames.url, rest_base: rest.url }, env);
    const host = await PluginHost.fromWorkspace(
      { workspace, builtinDir: join(root, 'no-builtin'), env: { HOME: root } },
      { cacheDir: TEST_TRANSPILE_CACHE, servicePolicy: { queueCapacity: QUEUE, maxPendingRequests: CAP }, connectionPolicy: { ping_interval_ms: 0 } },
    );
    t.after(() => host.close());
    assert.deepEqual(await host.startServices(), []);
    const stats = async () => JSON.parse((await host.tools.callQualified(plugin, 'stats', {})).content!) as RelayStats;
    const status = () => host.status(plugin)[0]!;
    const connection = () => status().websocket_connections[0] as Record<string, number> | undefined;

    // Held: the cap is reached, the queue is full, reading is paused. A plugin that got more
    // than one frame past the cap means the dispatcher did not wait (commands were rejected).
    const held = await until(
      async () => {
        const seen = await stats();
        if (seen.deliveries > CAP + 1) return { leaked: seen.deliveries };
        const c = connection();
        return rest.held === CAP && status().queue?.depth === QUEUE && c !== undefined && c['pauses']! > c['resumes']! ? { leaked: 0 } : null;
      },
      () => `the cap, a full queue and a paused socket (REST held ${rest.held}, queue ${status().queue?.depth}, connection ${JSON.stringify(connection())})`,
      20_000,
      25,
    );
    assert.equal(held.leaked, 0, `the plugin was handed ${held.leaked} frames while ${CAP} requests were unanswered: the dispatcher did not wait for a slot`);
    assert.equal(rest.requests.length, CAP, 'no request past the cap went out');
    const whileHeld = await stats();
    assert.ok(whileHeld.deliveries >= CAP && whileHeld.deliveries <= CAP + 1, `frames handed to the plugin while held: ${whileHeld.deliveries}`);
    assert.equal(whileHeld.replies, 0);
    assert.equal(status().counters?.rejected, 0, 'no command batch was rejected');

    rest.holding = false;
    rest.release();
    const done = await until(
      async () => {
        const seen = await stats();
        return seen.replies + seen.failed_replies >= FRAMES ? seen : null;
      },
      () => `${FRAMES} replies (REST got ${rest.requests.length})`,
      40_000,
      25,
    );
    assert.equal(done.failed_replies, 0, `failed replies, last: ${done.last_failure}`);
    assert.deepEqual([...done.replied].sort((a, b) => a - b), Array.from({ length: FRAMES }, (_, i) => i + 1), 'every frame answered once');
    assert.equal(rest.requests.length, FRAMES, 'one request per frame');
    const end = status();
    for (const counter of ['rejected', 'dropped', 'dead_lettered', 'failed'] as const) assert.equal(end.counters?.[counter], 0, counter);
    const c = connection()!;
    assert.equal(c['frames_in'], FRAMES);
    assert.equal(c['resumes'], c['pauses'], 'every pause was resumed');
    assert.equal(c['drops'], 0);
  });
});

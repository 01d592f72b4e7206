/**
 * Why `mayAct` exists (issue H, split brain): a host whose lease ran out while it was paused
 * must not act for the plugin when it resumes, even before its renewal round notices the loss
 * and stops the service. Fencing cannot stop that: the commands were committed before the
 * pause; only running them is left.
 *
 * Host A runs in this process (`startServe`, cluster mode), host B is a `serve` child. A owns
 * the relay service, whose handler answers each WebSocket frame on the connection (`{"ack": n}`)
 * and with one REST request. The test feeds frames one by one; the handling of a seeded frame
 * k is committed to JetStream, and then (a hook on A's journal) held before its commands run.
 * Now A is paused: its event loop is blocked (as SIGSTOP would) until B reports that it holds
 * the relay's lease. Then, in the same synchronous step, the hold is released: A's outbox runs
 * the committed commands before any timer of A fires. A must not send `{"ack": k}` on its old
 * connection (nor make the request); it records why (`NotOwner`) and leaves them to the owner.
 * Remove the `mayAct` check and the frame goes out: this test fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { WebSocket as ServerSocket } from 'ws';
import { placeOf } from '../../src/cluster/placement.js';
import type { JournalTransaction } from '../../src/journal/journal.js';
import { startServe } from '../../src/serve/server.js';
import { seeded } from '../journal/child-protocol.js';
import { natsSkipReason, startNatsServer, type NatsServer } from '../journal/nats-server.js';
import { buildFixturePlugin, enableFixturePlugin } from '../fixtures/pdk-plugin.js';
import { RestRecorder } from '../fixtures/rest-recorder.js';
import { serveEnv, ServeChild } from '../fixtures/serve-child.js';
import { TEST_TRANSPILE_CACHE } from '../fixtures/workspace.js';
import { tempDir, until } from '../helpers.js';
import { loopback } from '../websocket/loopback.js';
import { hostWorkspaces, warmTranspileCache, LEASE_TTL_MS } from './harness.js';

const SEEDS = (process.env['YOI_MAY_ACT_SEEDS'] ?? '3,4').split(',').map(Number);
const skip = natsSkipReason();

let nats: NatsServer;

describe('several serve hosts: a resumed host does not act for a plugin whose lease ran out (mayAct, issue H)', { skip }, () => {
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats?.stop();
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}: commands committed before the pause are not run by the old owner after it`, { timeout: 180_000 }, async (t) => {
      console.log(`may-act seed ${seed}: ${JSON.stringify(await pausedAfterCommit(t, seed))}`);
    });
  }
});

/** Blocks this thread (timers, sockets, everything) until `done()` says so: a pause the test ends itself. */
function blockUntil(done: () => boolean, what: string, ms = 90_000): number {
  const start = Date.now();
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!done()) {
    if (Date.now() - start > ms) throw new Error(`blocked for ${ms} ms waiting for ${what}`);
    Atomics.wait(cell, 0, 0, 200);
  }
  return Date.now() - start;
}

/** Whether host B says it holds the plugin's lease (asked from a child process: this thread is blocked). */
function holdsLease(url: string, token: string, plugin: string): boolean {
  const script = `fetch(${JSON.stringify(url + '/v1/status')}, { headers: { authorization: 'Bearer ' + ${JSON.stringify(token)} } }).then((r) => r.json()).then((s) => process.stdout.write(String(Boolean(s.cluster.plugins.find((p) => p.plugin === ${JSON.stringify(plugin)})?.here)))).catch(() => process.stdout.write('false'))`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  return result.stdout === 'true';
}

async function pausedAfterCommit(t: TestContext, seed: number): Promise<unknown> {
  const plan = seeded(seed);
  const relayDir = await buildFixturePlugin('relay');
  await warmTranspileCache([relayDir]);
  const root = tempDir(t, 'yoi-may-act-');
  const env = serveEnv(root);
  const rest = await RestRecorder.start(t);
  // The frames the test sends, one at a time, on whichever connection is open.
  let current: ServerSocket | null = null;
  const received = new Map<ServerSocket, string[]>();
  const frames = await loopback(t, {
    onConnection: (socket) => {
      current = socket;
      received.set(socket, []);
    },
    onMessage: (socket, text) => void received.get(socket)?.push(text),
  });
  const template = join(root, 'template');
  const relay = await enableFixturePlugin(template, relayDir, { url: `ws://127.0.0.1:${frames.port}/frames`, rest_base: rest.url, echo: true, durable_state: true }, env);
  appendFileSync(join(template, '.yoi', 'plugins.toml'), '\n[plugins.enabled.websocket]\nsend_limit = 1000000\n');
  const [wsA, wsB] = hostWorkspaces(root, template, nats.url, `mayact${seed}`, 2);
  // A's id is one that placement gives the relay to, so B never asks for it while A is alive.
  const idA = ['h0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'].find((id) => placeOf(relay, [{ id, plugins: new Set([relay]) }, { id: wsB!.id, plugins: new Set([relay]) }]) === id)!;

  const logA: string[] = [];
  const a = await startServe({ stores: { workspace: wsA!.workspace, builtinDir: join(root, 'no-builtin'), env }, cacheDir: TEST_TRANSPILE_CACHE, hostId: idA, log: (level, message, fields) => void logA.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`) });
  t.after(() => a.stop());
  const status = () => a.host.services.get(relay)!;
  await until(() => status().state === 'Running' && current !== null, 'A to run the relay and connect', 60_000);
  const oldSocket = current!;
  const b = ServeChild.spawn(t, wsB!.workspace, env);
  const bInfo = await b.ready(60_000);

  // Frames 1..k-1 handled one by one (each answered on the connection and by REST), then frame k is held after its commit.
  const k = 1 + Math.floor(plan() * 4);
  const acks = () => (received.get(oldSocket) ?? []).filter((text) => text.startsWith('{"ack"'));
  for (let n = 1; n < k; n++) {
    oldSocket.send(JSON.stringify({ n }));
    await until(() => acks().length === n && status().journal.outbox_running === 0 && (a.host.status(relay)[0]!.requests?.in_flight ?? 0) === 0, `frame ${n} handled`, 60_000);
  }
  const journal = a.host.journal;
  const commit = journal.commit.bind(journal);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let held!: () => void;
  const committed = new Promise<void>((resolve) => (held = resolve));
  const ackOfK = JSON.stringify({ ack: k });
  const carriesAck = (tx: JournalTransaction) => (tx.outboxAdd ?? []).some((entry) => JSON.stringify(entry.command).includes(JSON.stringify(ackOfK)));
  journal.commit = async (plugin: string, tx: JournalTransaction) => {
    const result = await commit(plugin, tx);
    if (carriesAck(tx)) {
      held();
      await gate;
    }
    return result;
  };
  oldSocket.send(JSON.stringify({ n: k }));
  await committed;
  assert.equal(acks().length, k - 1);

  // Paused past the lease: B takes the relay over meanwhile.
  const pausedMs = blockUntil(() => holdsLease(`http://${bInfo.host}:${bInfo.port}`, bInfo.token, relay), 'B to hold the relay’s lease');
  // Resumed: the committed commands run first (before any timer of A could notice the loss).
  release();
  journal.commit = commit;

  // A gives the plugin up and closes its connection; everything it sent before is in by then.
  await until(() => oldSocket.readyState === oldSocket.CLOSED, 'A to close its old connection', 60_000);
  const sentOnOld = acks();
  assert.deepEqual(sentOnOld.length, k - 1, `A sent ${JSON.stringify(sentOnOld.slice(k - 1))} on its old connection after its lease ran out`);
  const diagnostics = a.host.status(relay)[0]!.diagnostics.filter((d) => d.kind === 'NotOwner');
  assert.ok(diagnostics.length >= 2, `A recorded why it did not run the request and the send: ${JSON.stringify(a.host.status(relay)[0]!.diagnostics.slice(-5))}`);
  assert.ok(logA.some((line) => line.includes('plugin lease lost')), 'A noticed it lost the lease');
  return { k, lease_ttl_ms: LEASE_TTL_MS, paused_ms: pausedMs, host_a: idA, not_owner: diagnostics.length, requests_seen: rest.requests.length };
}

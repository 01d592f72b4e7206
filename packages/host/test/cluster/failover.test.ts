/**
 * Issue H's failover acceptance test: one nats-server, three `yoi plugin serve` hosts sharing a
 * workspace over JetStream. The relay service owns a host WebSocket that floods it with
 * numbered frames (each one host request to a loopback REST server); the ticker service has a
 * durable interval timer (each tick one numbered host request). The owner of each service is
 * SIGKILLed in turn, at a seeded REST request, while requests are in flight. Then:
 * - every accepted frame reached the REST server, repeats only under one Idempotency-Key, the
 *   relay's durable state counts each accepted frame exactly once and saw every reply
 *   (the accounting of issue F's crash test, `fixtures/frame-accounting.ts`);
 * - every tick 1..K the ticker's durable state counted reached the REST server, each under one
 *   key; no pending command is left unexecuted; nothing is dead-lettered;
 * - a surviving host took each service over and the relay's connection was opened again by it.
 * Failover times (kill → first request of the new owner) are reported, not asserted.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { seeded } from '../journal/child-protocol.js';
import { startNatsServer, natsSkipReason, type NatsServer } from '../journal/nats-server.js';
import { Accounting, durableProblems, frameOfUrl, journalSnapshot, repliedFrames, requestsByFrame, restProblems, type Durable } from '../fixtures/frame-accounting.js';
import { NumberedFrames } from '../fixtures/numbered-frames.js';
import { buildFixturePlugin, enableFixturePlugin } from '../fixtures/pdk-plugin.js';
import { RestRecorder, type RecordedRequest } from '../fixtures/rest-recorder.js';
import { serveEnv } from '../fixtures/serve-child.js';
import { tempDir } from '../helpers.js';
import { loopback } from '../websocket/loopback.js';
import { hostWorkspaces, ownerOf, poll, readClusterJournal, spawnHosts, warmTranspileCache, logOwnership, type ServeHost } from './harness.js';

const SEEDS = (process.env['YOI_FAILOVER_SEEDS'] ?? '11,22,33').split(',').map(Number);
const FRAMES_PER_CONNECTION = 150;
const skip = natsSkipReason();

interface TickerDurable {
  readonly ticks: number;
  readonly replied: string;
}

const isFrame = (r: RecordedRequest) => r.path.startsWith('/api/frames/');
const isTick = (r: RecordedRequest) => r.path.startsWith('/api/ticks/');

/** Problems with the tick requests against the ticker's durable count K: every tick 1..K arrived, each under one key. */
function tickProblems(ticks: number, requests: readonly RecordedRequest[]): string[] {
  const byTick = new Map<number, RecordedRequest[]>();
  for (const r of requests.filter(isTick)) byTick.set(frameOfUrl(r.path), [...(byTick.get(frameOfUrl(r.path)) ?? []), r]);
  const problems: string[] = [];
  const missing = Array.from({ length: ticks }, (_, i) => i + 1).filter((k) => !byTick.has(k));
  if (missing.length > 0) problems.push(`${missing.length} ticks counted but never requested: ${missing.slice(0, 10).join(', ')}`);
  for (const [k, list] of byTick) {
    if (k > ticks) problems.push(`tick ${k} requested but the durable count is ${ticks}`);
    const keys = new Set(list.map((r) => r.idempotencyKey));
    const events = new Set(list.map((r) => (JSON.parse(r.body) as { event: string }).event));
    if (keys.size > 1 || events.size > 1) problems.push(`tick ${k} requested under several keys/events: ${[...keys].join(' / ')}`);
    if (!keys.has(`${[...events][0]}:0`)) problems.push(`tick ${k}: Idempotency-Key is not the command id`);
  }
  return problems;
}

let nats: NatsServer;

describe('several serve hosts on JetStream: failover with nothing lost (issue H)', { skip }, () => {
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats?.stop();
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}: the owner of each service is SIGKILLed in turn; a survivor takes over, every accepted event is handled`, { timeout: 150_000 }, async (t) => {
      console.log(`failover seed ${seed}: ${JSON.stringify(await failover(t, seed))}`);
    });
  }
});

async function failover(t: TestContext, seed: number): Promise<unknown> {
  const plan = seeded(seed);
  const [relayDir, tickerDir] = await Promise.all([buildFixturePlugin('relay'), buildFixturePlugin('ticker')]);
  await warmTranspileCache([relayDir, tickerDir]);
  const root = tempDir(t, 'yoi-failover-');
  const env = serveEnv(root);
  const frames = await NumberedFrames.start(t, { framesPerConnection: FRAMES_PER_CONNECTION });
  let onRequest: (request: RecordedRequest) => void = () => undefined;
  const jitter = seeded(seed ^ 0x2545f491);
  const rest = await RestRecorder.start(t, { delay: () => Math.floor(jitter() * 15), onRequest: (r) => onRequest(r) });
  const template = join(root, 'template');
  const relay = await enableFixturePlugin(template, relayDir, { url: frames.url, rest_base: rest.url, durable_state: true }, env);
  const idle = await loopback(t);
  const ticker = await enableFixturePlugin(template, tickerDir, { url: `ws://127.0.0.1:${idle.port}/idle`, rest_base: rest.url, interval_ms: 100 }, env);
  const prefix = `failover${seed}`;
  const hosts = spawnHosts(t, hostWorkspaces(root, template, nats.url, prefix, 3), env);
  await Promise.all(hosts.map((h) => h.child.ready()));
  if (process.env['YOI_CLUSTER_DEBUG']) t.after(() => hosts.forEach((h) => console.log(`--- ${h.id}\n${h.child.stderr.slice(-6000)}`)));

  // Both services placed and running; some work done before the first kill.
  await poll(async () => {
    const owners = [await ownerOf(hosts, relay), await ownerOf(hosts, ticker)];
    if (process.env['YOI_CLUSTER_DEBUG']) console.log(JSON.stringify({ owners: owners.map((o) => o?.id ?? null), ticks: rest.requests.filter(isTick).length, frames: rest.requests.filter(isFrame).length }));
    return owners[0] && owners[1] && rest.requests.filter(isTick).length >= 3 && rest.requests.filter(isFrame).length >= 1;
  }, 'both services running on their owners', 60_000, 500);

  const order = plan() < 0.5 ? [relay, ticker] : [ticker, relay];
  const kills: { plugin: string; host: string; at: number; failover_ms: number; new_owner: string }[] = [];
  for (const [phase, plugin] of order.entries()) {
    const victim = (await poll(() => ownerOf(hosts, plugin), `an owner of ${plugin}`)) as ServeHost;
    const matches = plugin === relay ? isFrame : isTick;
    const point = rest.requests.filter(matches).length + 1 + Math.floor(plan() * (plugin === relay ? 40 : 8));
    frames.run = phase + 1;
    // SIGKILL synchronously inside the REST server, as the chosen request arrives: requests are in flight.
    const killed = new Promise<number>((resolve) => {
      onRequest = (r) => {
        if (matches(r) && rest.requests.filter(matches).length >= point && victim.alive) {
          victim.child.kill('SIGKILL');
          victim.killedAt = Date.now();
          onRequest = () => undefined;
          resolve(r.index);
        }
      };
    });
    const at = await Promise.race([killed, poll(async () => (victim.alive ? null : -1), 'the kill', 60_000)]);
    await victim.child.exited;
    const owner = (await poll(() => ownerOf(hosts, plugin), `a new owner of ${plugin}`, 60_000)) as ServeHost;
    assert.notEqual(owner.id, victim.id);
    // The new owner handles events: a request of this plugin arrives after the kill (for the relay, on a connection it opened).
    const firstAfter = await poll(
      async () => rest.requests.find((r) => r.index > at && matches(r) && (plugin !== relay || (frames.connectionOf(frameOfUrl(r.path))?.run ?? 0) > phase)),
      `the new owner of ${plugin} to handle an event`,
    );
    kills.push({ plugin, host: victim.id, at, failover_ms: firstAfter.at - victim.killedAt!, new_owner: owner.id });
  }

  // Everything accepted is handled: the relay's latest connection (open, its owner alive) is answered in full.
  const acceptedNow = (): Accounting => {
    const accounting = new Accounting(frames);
    for (const r of rest.requests.filter(isFrame)) accounting.note(frameOfUrl(r.path));
    return accounting;
  };
  let finalConnection = -1;
  await poll(
    async () => {
      const latest = frames.connections.at(-1);
      const owner = await ownerOf(hosts, relay);
      if (!latest || latest.closed || latest.run < 1 || !owner) return false;
      const accounting = acceptedNow();
      accounting.all(latest);
      const seen = requestsByFrame(rest.requests.filter(isFrame));
      if (!accounting.accepted().every((n) => seen.has(n))) return false;
      const replied = new Set(repliedFrames((await owner.child.tool<{ durable: Durable }>(relay, 'stats')).durable));
      if (!accounting.accepted().every((n) => replied.has(n))) return false;
      finalConnection = latest.index;
      return true;
    },
    'every accepted frame to be requested and its reply handled',
    60_000,
    100,
  );
  const accounting = acceptedNow();
  accounting.all(frames.connections[finalConnection]!);
  // Stop the survivors together (no hand-over while stopping).
  const survivors = hosts.filter((h) => h.alive);
  const exits = await Promise.all(survivors.map((h) => h.child.stop()));
  for (const [i, exit] of exits.entries()) assert.equal(exit.code, 0, `${survivors[i]!.id} stopped with ${JSON.stringify(exit)}: ${survivors[i]!.child.stderr.slice(-1500)}`);

  const journal = await readClusterJournal(nats.url, prefix);
  try {
    const problems: string[] = [];
    const relaySnapshot = await journalSnapshot(journal, relay, 'durable');
    for (const n of relaySnapshot.unackedFrames) accounting.note(n);
    for (const { n } of relaySnapshot.pendingRequests) accounting.note(n);
    const frameRequests = rest.requests.filter(isFrame);
    for (const r of frameRequests) accounting.note(frameOfUrl(r.path));
    const accepted = accounting.accepted();
    problems.push(...restProblems(frames, accepted, frameRequests));
    problems.push(...durableProblems(relaySnapshot, accepted, 'relay at the end', true));
    const seen = requestsByFrame(frameRequests);
    const unexecuted = relaySnapshot.pendingRequests.filter((p) => !seen.has(p.n));
    if (unexecuted.length > 0) problems.push(`relay commands pending and never executed: ${unexecuted.slice(0, 10).map((p) => p.commandId).join(', ')}`);
    if (relaySnapshot.deadLetters > 0) problems.push(`${relaySnapshot.deadLetters} relay dead letters`);
    const tickerState = (await journal.state(ticker))['durable'] as TickerDurable | undefined;
    assert.ok(tickerState, 'the ticker kept its durable state');
    problems.push(...tickProblems(tickerState.ticks, rest.requests));
    const tickerOutbox = await journal.outbox(ticker);
    const tickUrls = new Set(rest.requests.filter(isTick).map((r) => r.path));
    for (const entry of tickerOutbox) {
      const url = ((entry.command as { envelope?: { payload?: { url?: string } } }).envelope?.payload?.url ?? '').replace(rest.url, '');
      if (url && !tickUrls.has(url)) problems.push(`ticker command ${entry.command_id} pending and never executed`);
    }
    if ((await journal.deadLetters(ticker)).length > 0) problems.push('ticker dead letters');
    // Fencing, read from the log itself: every message was written by the owner in force.
    for (const plugin of [relay, ticker]) problems.push(...(await logOwnership(nats.url, prefix, plugin)).problems.slice(0, 5));
    const report = { kills, sent: frames.sent, accepted: accepted.length, frame_requests: frameRequests.length, ticks: tickerState.ticks, tick_requests: rest.requests.filter(isTick).length, connections: frames.connections.length };
    assert.ok(problems.length === 0, `seed ${seed} ${JSON.stringify(report)}:\n${problems.join('\n')}`);
    return report;
  } finally {
    await journal.close();
  }
}

/**
 * Issue F's crash acceptance test: `yoi plugin serve` runs a PDK service whose WebSocket source
 * floods it with numbered frames; each frame becomes one host request to a slow loopback REST
 * server. The serve process is SIGKILLed at seeded points (the K-th REST request of a run, so
 * requests are in flight), restarted on the same workspace, and finally stopped gracefully.
 *
 * What "accepted" means here, exactly: the host accepts a frame once it is in the journal. A
 * frame the host had read but not yet journaled when it died was never accepted, and the
 * server cannot know which those are. So after each SIGKILL the test reads the LMDB journal
 * itself (the writer is dead, its lock stale): its unacknowledged events and pending outbox,
 * together with the REST log, are evidence of acceptance. A WebSocket delivers a connection's
 * frames in order and the host journals them in that order, so the accepted frames of a
 * connection are a prefix of what was sent on it: every frame up to the highest one with
 * evidence. The accounting then demands: every accepted frame reached the REST server at
 * least once; every request for one frame carries the same `Idempotency-Key`, the command id of
 * the one event that carried the frame; the plugin's durable state counted each accepted frame
 * exactly once (at every kill and at the end) and, at the end, records the reply to every one
 * (a request cut off by a kill is rerun from the outbox). The outbox is never left with a
 * command whose frame did not reach the server, and nothing is dead-lettered.
 *
 * The harness was checked against broken integrations: without the rerun of pending outbox
 * commands, or without the redelivery of unacknowledged events, all five seeds fail; with the
 * durable state not handed back at start, or an Idempotency-Key that is not the command id,
 * every seed tried failed.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { journalDir, openLmdbJournal } from '../../src/journal/lmdb-journal.js';
import { seeded } from '../journal/child-protocol.js';
import { Accounting, durableProblems, frameOfUrl, journalSnapshot, repliedFrames, requestsByFrame, restProblems, type Durable, type JournalSnapshot } from '../fixtures/frame-accounting.js';
import { NumberedFrames } from '../fixtures/numbered-frames.js';
import { buildFixturePlugin, enableFixturePlugin } from '../fixtures/pdk-plugin.js';
import { RestRecorder } from '../fixtures/rest-recorder.js';
import { ServeChild, serveEnv } from '../fixtures/serve-child.js';
import type { PluginStatus } from '../../src/status/status.js';
import { tempDir } from '../helpers.js';

/** Switched on when the journal integration (issue F) is on main. */
const JOURNAL_INTEGRATED = true;
/**
 * Switched on when the durable plugin state surface (issue F) is on main: the relay plugin then
 * keeps `{frames, sum, replied}` under the state key `durable` (its config `durable_state`).
 */
const DURABLE_STATE = true;
const DURABLE_KEY = 'durable';

const SEEDS = (process.env['YOI_CRASH_SEEDS'] ?? '101,202,303,404,505').split(',').map(Number);
const FRAMES_PER_CONNECTION = 120;
/**
 * REST answer delays (ms) a run may get, so requests are in flight when the kill comes; in the
 * slow case the in-flight cap is reached and the host holds events back (the kill comes past
 * the cap), so the journal holds accepted, unhandled events.
 */
const SLOW = { name: 'slow', min: 400, max: 600 };
const LATENCIES = [{ name: 'fast', min: 0, max: 5 }, { name: 'jittery', min: 0, max: 25 }, SLOW];
/** serve's default cap on host requests in flight per plugin. */
const REQUEST_CAP = 32;
// Skipped, not todo, until then: today the harness runs end to end and fails as expected (accepted
// frames lost, no Idempotency-Key), but it would cost the suite about a minute.
const untilIntegrated = JOURNAL_INTEGRATED ? {} : { skip: 'needs the journal integration (issue F)' };

/** Reads the journal of a workspace whose serve is not running (a killed writer's lock is stale). */
async function readJournal(workspace: string, plugin: string): Promise<JournalSnapshot> {
  const journal = await openLmdbJournal({ dir: journalDir(workspace) });
  try {
    return await journalSnapshot(journal, plugin, DURABLE_KEY);
  } finally {
    await journal.close();
  }
}

/**
 * Waits until `goal()` holds, or until nothing moves for `stallMs` once serve is up (no REST
 * request, no change in the service's counters or queue) — so a run that has lost work ends in
 * seconds instead of at the bound. A stall is not judged here; the accounting judges. Returns the
 * last status seen (for the report).
 */
async function goalOrStall(serve: ServeChild, plugin: string, rest: RestRecorder, goal: () => boolean | Promise<boolean>, stallMs = 2_000, ms = 60_000): Promise<{ outcome: 'goal' | 'stalled'; status: PluginStatus | null }> {
  const end = Date.now() + ms;
  let last = '';
  let lastChange = Date.now();
  let status: PluginStatus | null = null;
  for (;;) {
    if (await goal()) return { outcome: 'goal', status };
    let fingerprint = 'starting';
    if (serve.running && (await serve.control())) {
      const now = await serve.status(plugin).catch(() => null);
      if (now) status = now;
      fingerprint = now ? JSON.stringify([rest.requests.length, rest.open, now.counters, now.queue?.depth, now.lifecycle]) : 'unreachable';
    }
    if (fingerprint !== last || fingerprint === 'starting') {
      last = fingerprint;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > stallMs) return { outcome: 'stalled', status };
    if (Date.now() > end) throw new Error(`neither the goal nor a stall within ${ms} ms (last: ${fingerprint})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface KillRecord {
  readonly latency: string;
  /** The REST request of the run at which serve was killed, or `stalled at <count>` when the run stopped moving first. */
  readonly at: string;
  /** Queue depth in the last status polled before the kill (events the host held then). */
  readonly queued: number | null;
  /** What the journal held right after the kill. */
  readonly unacked: number;
  readonly pending: number;
}

interface SeedReport {
  readonly sent: number;
  readonly accepted: number;
  readonly requests: number;
  /** Frames that reached the REST server more than once (always under one Idempotency-Key). */
  readonly duplicates: number;
  readonly kills: readonly KillRecord[];
  readonly finalRun: 'goal' | 'stalled';
  /** Spawn to control file written, per run. */
  readonly startMs: readonly number[];
  readonly ms: number;
}

async function crashAndRecover(t: TestContext, pluginDir: string, seed: number): Promise<SeedReport> {
  const started = Date.now();
  const plan = seeded(seed);
  // How slowly the REST server answers, per run (the last one is the run that is not killed);
  // one killed run of every seed is slow.
  const killCount = 2 + Math.floor(plan() * 2);
  const latencies = Array.from({ length: killCount + 1 }, () => LATENCIES[Math.floor(plan() * LATENCIES.length)]!);
  latencies[Math.floor(plan() * killCount)] = SLOW;
  // The REST request of each killed run at which serve is SIGKILLed; in a slow run, past the
  // in-flight cap, so that committed commands wait unsent in the outbox.
  const killPoints = latencies.slice(0, killCount).map((l) => (l === SLOW ? REQUEST_CAP + 1 + Math.floor(plan() * REQUEST_CAP) : 1 + Math.floor(plan() * (FRAMES_PER_CONNECTION / 2))));
  let latency = latencies[0]!;
  const jitter = seeded(seed ^ 0x5bd1e995);
  const root = tempDir(t, 'yoi-crash-');
  const workspace = join(root, 'ws');
  const env = serveEnv(root);
  const frames = await NumberedFrames.start(t, { framesPerConnection: FRAMES_PER_CONNECTION });
  let serve: ServeChild | null = null;
  let killAt = Infinity;
  let requestsThisRun = 0;
  const rest = await RestRecorder.start(t, {
    delay: () => latency.min + Math.floor(jitter() * (latency.max - latency.min + 1)),
    onRequest: () => {
      if (++requestsThisRun === killAt) serve?.kill('SIGKILL');
    },
  });
  const plugin = await enableFixturePlugin(workspace, pluginDir, { url: frames.url, rest_base: rest.url, durable_state: DURABLE_STATE }, env);
  const accounting = new Accounting(frames);
  const problems: string[] = [];
  const kills: KillRecord[] = [];
  const startMs: number[] = [];
  const spawnServe = () => {
    const child = ServeChild.spawn(t, workspace, env);
    const spawned = Date.now();
    void child.ready().then(() => startMs.push(Date.now() - spawned), () => undefined);
    return child;
  };

  for (const [run, point] of killPoints.entries()) {
    frames.run = run;
    latency = latencies[run]!;
    requestsThisRun = 0;
    killAt = point;
    serve = spawnServe();
    const waited = await goalOrStall(serve, plugin, rest, () => !serve!.running);
    if (waited.outcome === 'stalled') serve.kill('SIGKILL');
    const at = waited.outcome === 'stalled' ? `stalled at ${requestsThisRun} (of ${point})` : String(point);
    const exit = await serve.exited;
    assert.equal(exit.signal, 'SIGKILL', `run ${run}: serve ended by itself (${JSON.stringify(exit)}): ${serve.stderr.slice(-1500)}`);
    const snapshot = await readJournal(workspace, plugin);
    for (const request of rest.requests) accounting.note(frameOfUrl(request.path));
    for (const n of snapshot.unackedFrames) accounting.note(n);
    for (const { n } of snapshot.pendingRequests) accounting.note(n);
    kills.push({ latency: latency.name, at, queued: waited.status?.queue?.depth ?? null, unacked: snapshot.unackedFrames.length, pending: snapshot.pendingRequests.length });
    problems.push(...durableProblems(snapshot, accounting.accepted(), `after kill ${run + 1}`));
  }

  // The final run is not killed: everything it is sent is accepted, and everything accepted earlier must arrive too.
  const finalRun = killPoints.length;
  frames.run = finalRun;
  latency = latencies[finalRun]!;
  killAt = Infinity;
  serve = spawnServe();
  await serve.ready();
  // Done when every accepted frame reached the REST server and, with durable state, the plugin has handled its reply.
  const covered = async () => {
    const mine = frames.connections.filter((c) => c.run === finalRun);
    if (mine.length === 0) return false;
    for (const connection of mine) accounting.all(connection);
    const seen = requestsByFrame(rest.requests);
    if (!accounting.accepted().every((n) => seen.has(n))) return false;
    if (!DURABLE_STATE) return true;
    const replied = new Set(repliedFrames((await serve!.tool<{ durable: Durable }>(plugin, 'stats')).durable));
    return accounting.accepted().every((n) => replied.has(n));
  };
  // A longer stall window here: ending this wait early would fail the seed.
  const waited = await goalOrStall(serve, plugin, rest, covered, 5_000);
  const exit = await serve.stop();
  if (exit.code !== 0) problems.push(`the graceful stop exited with ${JSON.stringify(exit)}: ${serve.stderr.slice(-1500)}`);

  const accepted = accounting.accepted();
  problems.push(...restProblems(frames, accepted, rest.requests));
  const final = await readJournal(workspace, plugin);
  const seen = requestsByFrame(rest.requests);
  const unexecuted = final.pendingRequests.filter((p) => !seen.has(p.n));
  if (unexecuted.length > 0) problems.push(`pending outbox commands never executed: ${unexecuted.slice(0, 10).map((p) => p.commandId).join(', ')}`);
  if (final.deadLetters > 0) problems.push(`${final.deadLetters} dead letters (no frame should fail)`);
  problems.push(...durableProblems(final, accepted, 'after the graceful stop', true));
  const duplicates = [...seen.values()].filter((list) => list.length > 1).length;
  const report: SeedReport = { sent: frames.sent, accepted: accepted.length, requests: rest.requests.length, duplicates, kills, finalRun: waited.outcome, startMs, ms: Date.now() - started };
  assert.ok(problems.length === 0, `seed ${seed} ${JSON.stringify(report)}:\n${problems.join('\n')}`);
  return report;
}

describe('yoi plugin serve survives SIGKILL with nothing accepted lost (issue F)', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: every accepted frame reaches the REST server, duplicates only under one Idempotency-Key, the durable state counts each once`, { ...untilIntegrated, timeout: 120_000 }, async (t) => {
      const report = await crashAndRecover(t, await buildFixturePlugin('relay'), seed);
      console.log(`crash seed ${seed}: ${JSON.stringify(report)}`);
    });
  }
});

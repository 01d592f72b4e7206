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
 * the one event that carried the frame; no frame was counted twice in the durable state.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { journalDir, openLmdbJournal } from '../../src/journal/lmdb-journal.js';
import type { JsonValue } from '../../src/manifest/types.js';
import { seeded } from '../journal/child-protocol.js';
import { NumberedFrames, type FrameConnection } from '../fixtures/numbered-frames.js';
import { buildFixturePlugin, enableFixturePlugin } from '../fixtures/pdk-plugin.js';
import { RestRecorder, type RecordedRequest } from '../fixtures/rest-recorder.js';
import { ServeChild, serveEnv } from '../fixtures/serve-child.js';
import type { PluginStatus } from '../../src/status/status.js';
import { tempDir } from '../helpers.js';

/** Switched on when the journal integration (issue F) is on main. */
const JOURNAL_INTEGRATED = false;
/**
 * Switched on when the durable plugin state surface exists and the relay plugin's `persist`
 * records `{frames, sum}` under the state key below.
 */
const DURABLE_STATE = false;
const DURABLE_KEY = 'durable';

const SEEDS = (process.env['YOI_CRASH_SEEDS'] ?? '101,202,303,404,505').split(',').map(Number);
const FRAMES_PER_CONNECTION = 300;
// Skipped, not todo, until then: today the harness runs end to end and fails as expected (accepted
// frames lost, no Idempotency-Key), but it would cost the suite about a minute.
const untilIntegrated = JOURNAL_INTEGRATED ? {} : { skip: 'needs the journal integration (issue F)' };

interface JournalSnapshot {
  /** Frame numbers of unacknowledged `websocket_text` events. */
  readonly unackedFrames: readonly number[];
  /** Frame numbers of pending `host_request_dispatch` commands, with their command ids. */
  readonly pendingRequests: readonly { readonly n: number; readonly commandId: string }[];
  readonly deadLetters: number;
  readonly durable: { frames: number; sum: number } | null;
}

function frameOfUrl(url: string): number {
  return Number(new URL(url, 'http://x').pathname.split('/').pop());
}

/** Reads the journal of a workspace whose serve is not running (a killed writer's lock is stale). */
async function readJournal(workspace: string, plugin: string): Promise<JournalSnapshot> {
  const journal = await openLmdbJournal({ dir: journalDir(workspace) });
  try {
    const unackedFrames = (await journal.unacked(plugin)).filter((e) => e.event.kind === 'websocket_text').map((e) => (JSON.parse((e.event.payload as { text: string }).text) as { n: number }).n);
    const pendingRequests = (await journal.outbox(plugin))
      .filter((o) => (o.command as { kind?: string }).kind === 'host_request_dispatch')
      .map((o) => ({ n: frameOfUrl((o.command as { payload: { url: string } }).payload.url), commandId: o.command_id }));
    const state = await journal.state(plugin);
    const durable = (state[DURABLE_KEY] ?? null) as { frames: number; sum: number } | null;
    return { unackedFrames, pendingRequests, deadLetters: (await journal.deadLetters(plugin)).length, durable };
  } finally {
    await journal.close();
  }
}

/** Everything known about which frames the host accepted, and the accepted set it implies. */
class Accounting {
  readonly #evidence = new Map<number, number>(); // connection index → highest frame with evidence
  readonly #frames: NumberedFrames;

  constructor(frames: NumberedFrames) {
    this.#frames = frames;
  }

  note(n: number): void {
    const connection = this.#frames.connectionOf(n);
    assert.ok(connection, `frame ${n} was never sent`);
    this.#evidence.set(connection.index, Math.max(this.#evidence.get(connection.index) ?? 0, n));
  }

  /** All of a connection's frames count as accepted (the run was not killed). */
  all(connection: FrameConnection): void {
    this.note(connection.last);
  }

  accepted(): number[] {
    const out: number[] = [];
    for (const connection of this.#frames.connections) {
      const highest = this.#evidence.get(connection.index);
      if (highest !== undefined) for (let n = connection.first; n <= highest; n++) out.push(n);
    }
    return out;
  }
}

function requestsByFrame(requests: readonly RecordedRequest[]): Map<number, RecordedRequest[]> {
  const byFrame = new Map<number, RecordedRequest[]>();
  for (const request of requests) {
    const n = frameOfUrl(request.path);
    byFrame.set(n, [...(byFrame.get(n) ?? []), request]);
  }
  return byFrame;
}

/** Problems with the REST log against the accepted set (one line per kind, a few examples each); empty when the accounting holds. */
function restProblems(frames: NumberedFrames, accepted: readonly number[], requests: readonly RecordedRequest[]): string[] {
  const byFrame = requestsByFrame(requests);
  const kinds = new Map<string, string[]>();
  const problem = (kind: string, example: string) => kinds.set(kind, [...(kinds.get(kind) ?? []), example]);
  for (const n of accepted) {
    if (byFrame.has(n)) continue;
    const connection = frames.connectionOf(n)!;
    problem(`accepted frames never reached the REST server (sent on connection ${connection.index}, run ${connection.run})`, String(n));
  }
  for (const [n, list] of byFrame) {
    if (!frames.connectionOf(n)) problem('requests for frames never sent', String(n));
    const bodies = list.map((r) => JSON.parse(r.body) as { n: number; event: string });
    const events = new Set(bodies.map((b) => b.event));
    if (events.size > 1) problem('frames accepted as several different events', `${n}: ${[...events].join(' / ')}`);
    const keys = new Set(list.map((r) => r.idempotencyKey));
    const expected = `${bodies[0]!.event}:0`;
    if (keys.size > 1 || !keys.has(expected)) problem('requests whose Idempotency-Key is not the command id', `${n}: ${[...keys].map((k) => k ?? '(none)').join(' / ')} (expected ${expected})`);
    if (bodies.some((b) => b.n !== n)) problem('bodies naming another frame', String(n));
  }
  return [...kinds].map(([kind, examples]) => `${examples.length} ${kind}: ${examples.slice(0, 6).join(', ')}${examples.length > 6 ? ', …' : ''}`);
}

/** At any instant, an accepted frame is either acknowledged (counted in the durable state) or still in the journal. */
function durableProblems(snapshot: JournalSnapshot, accepted: readonly number[], when: string): string[] {
  if (!DURABLE_STATE) return [];
  const unacked = new Set(snapshot.unackedFrames);
  if (unacked.size !== snapshot.unackedFrames.length) return [`${when}: a frame is in the journal twice as unacknowledged events`];
  const counted = accepted.filter((n) => !unacked.has(n));
  const expected = { frames: counted.length, sum: counted.reduce((a, b) => a + b, 0) };
  const actual = snapshot.durable ?? { frames: 0, sum: 0 };
  return actual.frames === expected.frames && actual.sum === expected.sum ? [] : [`${when}: durable state ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)} (accepted ${accepted.length}, unacknowledged ${unacked.size})`];
}

/**
 * Waits until `goal()` holds, or until nothing moves for `stallMs` once serve is up (no REST
 * request, no change in the service's counters or queue) — so a run that has lost work ends in
 * seconds instead of at the bound. A stall is not judged here; the accounting judges. Returns the
 * last status seen (for the report).
 */
async function goalOrStall(serve: ServeChild, plugin: string, rest: RestRecorder, goal: () => boolean, stallMs = 2_000, ms = 60_000): Promise<{ outcome: 'goal' | 'stalled'; status: PluginStatus | null }> {
  const end = Date.now() + ms;
  let last = '';
  let lastChange = Date.now();
  let status: PluginStatus | null = null;
  for (;;) {
    if (goal()) return { outcome: 'goal', status };
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
  const killPoints = Array.from({ length: 2 + Math.floor(plan() * 2) }, () => 1 + Math.floor(plan() * (FRAMES_PER_CONNECTION / 2)));
  // Answer each request after 0..slowest ms, so requests are in flight when the kill comes.
  const slowest = [0, 5, 25][Math.floor(plan() * 3)]!;
  const jitter = seeded(seed ^ 0x5bd1e995);
  const root = tempDir(t, 'yoi-crash-');
  const workspace = join(root, 'ws');
  const env = serveEnv(root);
  const frames = await NumberedFrames.start(t, { framesPerConnection: FRAMES_PER_CONNECTION });
  let serve: ServeChild | null = null;
  let killAt = Infinity;
  let requestsThisRun = 0;
  const rest = await RestRecorder.start(t, {
    delay: () => Math.floor(jitter() * (slowest + 1)),
    onRequest: () => {
      if (++requestsThisRun === killAt) serve?.kill('SIGKILL');
    },
  });
  const plugin = await enableFixturePlugin(workspace, pluginDir, { url: frames.url, rest_base: rest.url }, env);
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
    kills.push({ at, queued: waited.status?.queue?.depth ?? null, unacked: snapshot.unackedFrames.length, pending: snapshot.pendingRequests.length });
    problems.push(...durableProblems(snapshot, accounting.accepted(), `after kill ${run + 1}`));
  }

  // The final run is not killed: everything it is sent is accepted, and everything accepted earlier must arrive too.
  const finalRun = killPoints.length;
  frames.run = finalRun;
  killAt = Infinity;
  serve = spawnServe();
  await serve.ready();
  const covered = () => {
    const mine = frames.connections.filter((c) => c.run === finalRun);
    if (mine.length === 0) return false;
    for (const connection of mine) accounting.all(connection);
    const seen = requestsByFrame(rest.requests);
    return accounting.accepted().every((n) => seen.has(n));
  };
  const waited = await goalOrStall(serve, plugin, rest, covered);
  const exit = await serve.stop();
  if (exit.code !== 0) problems.push(`the graceful stop exited with ${JSON.stringify(exit)}: ${serve.stderr.slice(-1500)}`);

  const accepted = accounting.accepted();
  problems.push(...restProblems(frames, accepted, rest.requests));
  const final = await readJournal(workspace, plugin);
  const seen = requestsByFrame(rest.requests);
  const unexecuted = final.pendingRequests.filter((p) => !seen.has(p.n));
  if (unexecuted.length > 0) problems.push(`pending outbox commands never executed: ${unexecuted.slice(0, 10).map((p) => p.commandId).join(', ')}`);
  if (final.deadLetters > 0) problems.push(`${final.deadLetters} dead letters (no frame should fail)`);
  problems.push(...durableProblems(final, accepted, 'after the graceful stop'));
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

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../../src/journal/memory-journal.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { validateManifest } from '../../src/manifest/validate.js';
import { ManualClock } from '../fixtures/clock.js';
import { serviceManifest } from '../fixtures/service.js';
import { openService } from './harness.js';
import { until } from '../helpers.js';

const P = 'project:svc';

function manifestProblem(sources: string[], eventKinds: string[] = []): string | null {
  const parsed = parseManifest(new TextEncoder().encode(serviceManifest('svc', { sources, eventKinds })));
  assert.ok(parsed.ok);
  return validateManifest(parsed.value, new Set(['plugin.toml', 'plugin.component.wasm']))?.message ?? null;
}

describe('schedule sources (plugin.toml)', () => {
  it('accepts the interval and the cron form next to WebSocket sources', () => {
    assert.equal(manifestProblem(['schedule:every 30s', 'schedule:every 1h30m', 'schedule:cron */5 * * * *', 'websocket:wss://example.com/socket', 'wss://example.com/x']), null);
    assert.equal(manifestProblem(['schedule:every 1d'], ['timer']), null);
  });

  it('refuses an unknown scheme, a label, a bad schedule, a schedule on an ingress without timer events, and repeats', () => {
    const cases: [string[], string[], RegExp][] = [
      [['timer:probe'], [], /unknown scheme `timer`/],
      [['foo:bar'], [], /unknown scheme `foo`/],
      [['gateway'], [], /has no scheme/],
      [['schedule:every 500ms'], [], /schedule must be/],
      [['schedule:every 0s'], [], /between 1s and 24h/],
      [['schedule:every 25h'], [], /between 1s and 24h/],
      [['schedule:cron */5 * * *'], [], /not a valid 5-field cron/],
      [['schedule:cron 0 0 30 2 *'], [], /never fires/],
      [['schedule:hourly'], [], /schedule must be/],
      [['schedule:every 30s'], ['websocket_text'], /does not list `timer`/],
      [['schedule:every 30s', 'schedule:every  30s'], [], /same schedule twice/],
    ];
    for (const [sources, kinds, expected] of cases) assert.match(manifestProblem(sources, kinds) ?? 'accepted', expected, sources.join(', '));
  });
});

describe('a schedule-only service (no WebSocket)', () => {
  it('ticks on its interval with timer events from the declared source, durably', async (t) => {
    const clock = new ManualClock();
    const journal = new MemoryJournal();
    const { service, handled } = await openService(t, { clock, journal, manifest: serviceManifest('svc', { sources: ['schedule:every 30s'] }) });
    await service.start();
    assert.deepEqual(service.connections(), [], 'no connection is opened');
    assert.deepEqual(
      service.timers.map((timer) => [timer.timer_id, timer.interval_ms]),
      [['schedule:events:every 30s', 30_000]],
    );
    clock.advance(30_000);
    await until(async () => (await handled()).filter((h) => h.kind === 'timer').length === 1, 'the first tick');
    clock.advance(30_000);
    await until(async () => (await handled()).filter((h) => h.kind === 'timer').length === 2, 'the second tick');
    await service.idle();
    const ticks = (await handled()).filter((h) => h.kind === 'timer');
    assert.deepEqual(
      ticks.map((h) => [h.source, h.ingress, (h.payload as { timer_id: string; count: number }).count]),
      [
        ['schedule:every 30s', 'events', 1],
        ['schedule:every 30s', 'events', 2],
      ],
    );
    const kept = await journal.timers(P);
    assert.deepEqual(kept.map((timer) => [timer.timer_id, timer.next_at - clock.now()]), [['schedule:events:every 30s', 30_000]], 'the next tick is recorded in the journal');
    assert.equal(service.counters.enqueued, 2);
  });

  it('a tick missed while the service was stopped fires once, late and counted; none is repeated', async (t) => {
    const clock = new ManualClock();
    const journal = new MemoryJournal();
    const { service, handled } = await openService(t, { clock, journal, manifest: serviceManifest('svc', { sources: ['schedule:every 30s'] }) });
    await service.start();
    clock.advance(30_000);
    await until(async () => (await handled()).length === 1, 'the first tick');
    await service.idle();
    await service.stop();
    clock.advance(100_000); // three intervals pass while stopped
    await service.start();
    clock.advance(0);
    await until(async () => (await handled()).filter((h) => h.kind === 'timer').length === 1, 'the late tick');
    const [late] = (await handled()).filter((h) => h.kind === 'timer');
    assert.equal((late!.payload as { late_ms?: number }).late_ms, 10_000, 'the last missed slot, 10 s ago');
    assert.equal(service.lateTimerTicks, 1);
    clock.advance(29_999);
    await service.idle();
    assert.equal((await handled()).filter((h) => h.kind === 'timer').length, 1, 'no catch-up burst');
    clock.advance(1);
    await until(async () => (await handled()).filter((h) => h.kind === 'timer').length === 2, 'back on the interval');
  });

  it('a cron schedule ticks at the matching UTC minutes; a schedule no longer declared leaves the journal', async (t) => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1, 0, 1, 0));
    const journal = new MemoryJournal();
    await journal.commit(P, { timerSet: [{ timer_id: 'schedule:events:every 5s', ingress: 'events', next_at: clock.now(), interval_ms: 5000, data: null }] });
    const { service, handled } = await openService(t, { clock, journal, manifest: serviceManifest('svc', { sources: ['schedule:cron */5 * * * *'] }) });
    await service.start();
    await service.idle();
    assert.deepEqual((await journal.timers(P)).map((timer) => [timer.timer_id, new Date(timer.next_at).toISOString()]), [['schedule:events:cron */5 * * * *', '2030-01-01T00:05:00.000Z']]);
    clock.advance(4 * 60_000);
    await until(async () => (await handled()).length === 1, 'the 00:05 tick');
    const [tick] = await handled();
    assert.equal(tick!.source, 'schedule:cron */5 * * * *');
    assert.equal((tick!.payload as { fired_at: string }).fired_at, '2030-01-01T00:05:00.000Z');
    await service.idle();
    assert.equal(new Date((await journal.timers(P))[0]!.next_at).toISOString(), '2030-01-01T00:10:00.000Z');
  });

  it("a plugin's own timer_set cannot take a schedule's timer id", async (t) => {
    const { service } = await openService(t, { manifest: serviceManifest('svc', { sources: ['schedule:every 30s'] }) });
    await service.start();
    await service.emit('events', 'job', 'test', { commands: [{ kind: 'timer_set', payload: { timer_id: 'schedule:events:every 30s', delay_ms: 1000 } }] });
    await service.idle();
    assert.match(service.commandResults.at(-1)!.message, /reserved for the manifest's schedule sources/);
  });
});

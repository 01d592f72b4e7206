import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonValue } from '../../src/manifest/types.js';
import { TimerSet, type TimerSpec } from '../../src/service/timers.js';
import { ManualClock } from '../fixtures/clock.js';

interface Fired {
  readonly id: string;
  readonly payload: Record<string, JsonValue>;
}

/** A TimerSet on a manual clock whose deliveries the test completes by hand (`settle`). */
function timers() {
  const clock = new ManualClock();
  const fired: Fired[] = [];
  const pending: (() => void)[] = [];
  const set = new TimerSet(8, (spec: TimerSpec, payload: JsonValue) => {
    fired.push({ id: spec.timerId, payload: payload as Record<string, JsonValue> });
    return new Promise<void>((resolve) => pending.push(resolve));
  }, clock);
  const settle = async () => {
    for (const resolve of pending.splice(0)) resolve();
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return { clock, fired, set, settle };
}

describe('TimerSet: host timers on an injected clock', () => {
  it('fires a one-shot timer once at its time, then forgets it', async () => {
    const { clock, fired, set, settle } = timers();
    set.set({ timerId: 'once', ingress: 'events', delayMs: 100, data: { n: 1 } });
    clock.advance(99);
    assert.equal(fired.length, 0);
    clock.advance(1);
    assert.deepEqual(fired.map((f) => [f.id, f.payload['count'], f.payload['data']]), [['once', 1, { n: 1 }]]);
    assert.equal(set.has('once'), false);
    await settle();
    clock.advance(1_000);
    assert.equal(fired.length, 1);
  });

  it('an interval timer does not stack ticks: while a tick waits, later ticks are skipped and counted', async () => {
    const { clock, fired, set, settle } = timers();
    set.set({ timerId: 'beat', ingress: 'events', delayMs: 10, intervalMs: 10 });
    clock.advance(10);
    assert.equal(fired.length, 1);
    clock.advance(30); // three more ticks fall due while the first is still being delivered
    assert.equal(fired.length, 1);
    assert.equal(set.skipped, 3);
    await settle();
    clock.advance(10);
    assert.equal(fired.length, 2);
    assert.equal(fired[1]!.payload['count'], 2);
    assert.deepEqual(set.status().map((s) => [s.timer_id, s.interval_ms, s.fired]), [['beat', 10, 2]]);
  });

  it('a timer set again with the same id replaces the old one; cancel stops it', () => {
    const { clock, fired, set } = timers();
    set.set({ timerId: 't', ingress: 'events', delayMs: 50, data: 'old' });
    set.set({ timerId: 't', ingress: 'events', delayMs: 100, data: 'new' });
    assert.equal(set.size, 1);
    clock.advance(100);
    assert.deepEqual(fired.map((f) => f.payload['data']), ['new']);
    set.set({ timerId: 'u', ingress: 'events', delayMs: 10 });
    assert.equal(set.cancel('u'), true);
    assert.equal(set.cancel('u'), false);
    clock.advance(100);
    assert.equal(fired.length, 1);
    assert.equal(clock.pending, 0, 'nothing left armed');
  });

  it('suspended timers keep their place; on resume a tick whose time passed fires once, counted late', () => {
    const { clock, fired, set } = timers();
    set.set({ timerId: 'beat', ingress: 'events', delayMs: 10, intervalMs: 10 });
    set.suspend();
    clock.advance(45);
    assert.equal(fired.length, 0, 'nothing fires while suspended');
    assert.equal(set.size, 1, 'not forgotten');
    set.resume();
    clock.advance(0);
    assert.equal(fired.length, 1, 'one tick for all the intervals missed');
    assert.equal(set.late, 1);
    assert.equal(fired[0]!.payload['late_ms'], 5, 'late by the time since the last missed tick');
  });

  it('a timer restored with a past due time ticks at once, late', () => {
    const { clock, fired, set } = timers();
    set.restore({ timerId: 'kept', ingress: 'events', delayMs: 10 }, clock.now() - 250);
    clock.advance(0);
    assert.deepEqual(fired.map((f) => [f.id, f.payload['late_ms']]), [['kept', 250]]);
    assert.equal(set.late, 1);
  });
});

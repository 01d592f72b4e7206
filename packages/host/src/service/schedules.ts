import { parseIngressSource, SCHEDULE_PREFIX, scheduleTimerId } from '../manifest/sources.js';
import type { ResolvedPlugin } from '../store/resolve.js';
import type { TimerSpec } from './timers.js';

/** A `schedule:` source of an enabled ingress, as the host timer that runs it. */
export interface DeclaredSchedule {
  readonly spec: TimerSpec;
  /** When it ticks first if the journal kept no tick time for it (epoch ms), or null: never. */
  firstAt(now: number): number | null;
}

/** Timer ids of schedule sources are reserved: a plugin's own `timer_set` cannot use the prefix. */
export function isScheduleTimerId(id: string): boolean {
  return id.startsWith(SCHEDULE_PREFIX);
}

/**
 * The schedules a service runs: every `schedule:` source of its ingresses, when both its
 * service and ingress surfaces are enabled (Yoi's rule for host-owned sources). The manifest
 * was validated, so a source that does not parse is skipped here.
 */
export function declaredSchedules(record: ResolvedPlugin): DeclaredSchedule[] {
  if (!record.enabledSurfaces.includes('service') || !record.enabledSurfaces.includes('ingress')) return [];
  const out: DeclaredSchedule[] = [];
  for (const ingress of record.manifest.ingresses) {
    for (const raw of ingress.sources) {
      const parsed = parseIngressSource(raw);
      if (!('source' in parsed) || parsed.source.kind !== 'schedule') continue;
      const schedule = parsed.source.schedule;
      const base = { timerId: scheduleTimerId(ingress.name, raw), ingress: ingress.name, delayMs: 0, source: raw };
      out.push(
        schedule.kind === 'every'
          ? { spec: { ...base, intervalMs: schedule.intervalMs }, firstAt: (now) => now + schedule.intervalMs }
          : { spec: { ...base, next: schedule.next }, firstAt: (now) => schedule.next(now) },
      );
    }
  }
  return out;
}

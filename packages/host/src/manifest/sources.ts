import { Cron } from 'croner';
import type { IngressDecl } from './types.js';

/**
 * Ingress `sources`: where the host takes an ingress's events from. Yoi knows one kind, a
 * host-owned WebSocket (`websocket:<ws(s) URL>` or a bare `ws://` / `wss://` URL) and ignores
 * every other string. Our addition is a second kind, `schedule:` (host timers declared in
 * the manifest, so a service ticks without any connection), and a string of neither kind is
 * a manifest error rather than a label nobody reads.
 */
export type IngressSource = { readonly kind: 'websocket' } | { readonly kind: 'schedule'; readonly schedule: Schedule };

/** `schedule:every <duration>` (a fixed interval) or `schedule:cron <5 fields>` (UTC). */
type Schedule =
  | { readonly kind: 'every'; readonly intervalMs: number }
  | { readonly kind: 'cron'; readonly pattern: string; readonly next: (after: number) => number | null };

export const SCHEDULE_PREFIX = 'schedule:';
const SCHEDULE_LIMITS = { minIntervalMs: 1000, maxIntervalMs: 24 * 60 * 60 * 1000 } as const;

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function isWebSocketSource(raw: string): boolean {
  return raw.startsWith('websocket:') || raw.startsWith('ws://') || raw.startsWith('wss://');
}

/** Reads one declared source; `problem` says why it is not one the host can run. */
export function parseIngressSource(raw: string): { readonly source: IngressSource } | { readonly problem: string } {
  if (isWebSocketSource(raw)) return { source: { kind: 'websocket' } };
  if (raw.startsWith(SCHEDULE_PREFIX)) {
    const schedule = parseSchedule(raw.slice(SCHEDULE_PREFIX.length).trim());
    return 'problem' in schedule ? schedule : { source: { kind: 'schedule', schedule } };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]{0,31}):/.exec(raw)?.[1];
  const named = scheme === undefined ? 'has no scheme' : `has the unknown scheme \`${scheme}\``;
  return { problem: `${named} (known: \`websocket:\`, \`ws://\`, \`wss://\`, \`schedule:\`)` };
}

function parseSchedule(spec: string): Schedule | { problem: string } {
  const every = /^every\s+((?:\d{1,6}[smhd])+)$/.exec(spec);
  if (every) {
    let ms = 0;
    for (const [, n, unit] of every[1]!.matchAll(/(\d+)([smhd])/g)) ms += Number(n) * UNIT_MS[unit!]!;
    if (ms < SCHEDULE_LIMITS.minIntervalMs || ms > SCHEDULE_LIMITS.maxIntervalMs) return { problem: 'schedule interval must be between 1s and 24h (use `schedule:cron` for longer periods)' };
    return { kind: 'every', intervalMs: ms };
  }
  const cron = /^cron\s+(.+)$/.exec(spec);
  if (cron) {
    const pattern = cron[1]!.trim().replace(/\s+/g, ' ');
    let job: Cron;
    try {
      job = new Cron(pattern, { mode: '5-part', timezone: 'Etc/UTC', paused: true });
    } catch {
      return { problem: 'schedule cron pattern is not a valid 5-field cron expression (minute hour day-of-month month day-of-week, UTC)' };
    }
    if (job.nextRun(new Date(0)) === null) return { problem: 'schedule cron pattern never fires' };
    return { kind: 'cron', pattern, next: (after) => job.nextRun(new Date(after))?.getTime() ?? null };
  }
  return { problem: 'schedule must be `schedule:every <n>s|m|h|d` (e.g. `every 30s`, `every 1h30m`) or `schedule:cron <5 fields>` (e.g. `cron */5 * * * *`)' };
}

/** The host timer id of a declared schedule: stable across restarts while the declaration stays. */
export function scheduleTimerId(ingress: string, raw: string): string {
  return `${SCHEDULE_PREFIX}${ingress}:${raw.slice(SCHEDULE_PREFIX.length).trim().replace(/\s+/g, ' ')}`;
}

/** The first problem with an ingress's sources (each must parse, schedules need `timer` events, no repeats), or null. */
export function ingressSourcesProblem(ingress: IngressDecl): string | null {
  const seen = new Set<string>();
  for (const raw of ingress.sources) {
    const parsed = parseIngressSource(raw);
    if ('problem' in parsed) return `plugin ingress \`${ingress.name}\` source ${parsed.problem}`;
    if (parsed.source.kind !== 'schedule') continue;
    if (ingress.event_kinds.length > 0 && !ingress.event_kinds.includes('timer')) return `plugin ingress \`${ingress.name}\` has a schedule source but does not list \`timer\` in event_kinds`;
    const id = scheduleTimerId(ingress.name, raw);
    if (Buffer.byteLength(id) > 128) return `plugin ingress \`${ingress.name}\` schedule source is too long`;
    if (seen.has(id)) return `plugin ingress \`${ingress.name}\` declares the same schedule twice`;
    seen.add(id);
  }
  return null;
}

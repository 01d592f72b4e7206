import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Whether the request's `Authorization: Bearer …` is `token` (compared in constant time). */
export function bearerMatches(req: IncomingMessage, token: string): boolean {
  const presented = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/**
 * Whether the request names this machine in its Host header (127.0.0.1, [::1] or localhost,
 * any port). A page a browser loaded from elsewhere that rebinds its own name to 127.0.0.1
 * sends its own name, so unauthenticated loopback endpoints refuse it.
 */
export function hostIsLoopback(req: IncomingMessage): boolean {
  const host = (req.headers.host ?? '').toLowerCase();
  return /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/.test(host);
}

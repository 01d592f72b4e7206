import type { RequestTarget, WebSocketTarget } from '../manifest/types.js';

/** Methods a request target may list (trimmed, case-insensitive). */
const REQUEST_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443, ws: 80, wss: 443 };

type AnyTarget = RequestTarget | WebSocketTarget;

function normalizeScheme(scheme: string): string {
  return scheme.trim().toLowerCase();
}

/** Strips one trailing `.`, IPv6 brackets and case. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function normalizedMethods(target: AnyTarget): string[] {
  return 'methods' in target ? target.methods.map((m) => m.trim().toUpperCase()).filter((m) => m.length > 0) : [];
}

/**
 * Whether `prefix` covers `path` on a segment boundary: `/v1` covers `/v1` and `/v1/x` but not
 * `/v10` (Yoi used a plain string prefix). A prefix ending in `/` covers everything below it.
 */
export function pathPrefixCovers(prefix: string, path: string): boolean {
  if (prefix.length === 0 || !path.startsWith(prefix)) return false;
  if (path.length === prefix.length || prefix.endsWith('/')) return true;
  return path[prefix.length] === '/';
}

/** A concrete request/WebSocket URL, reduced to what targets match on. */
export interface TargetUrl {
  readonly scheme: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly path: string;
}

/** Parses a URL for matching; rejects unparsable URLs and URLs carrying credentials (userinfo). */
export function parseTargetUrl(raw: string): TargetUrl | { readonly error: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: 'URL could not be parsed' };
  }
  if (url.username !== '' || url.password !== '') return { error: 'URL must not contain credentials' };
  // An encoded slash or backslash could walk out of a path prefix on a server that decodes it.
  if (/%(2f|5c)/i.test(url.pathname)) return { error: 'URL path must not contain encoded slashes' };
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  const explicit = url.port === '' ? undefined : Number(url.port);
  return { scheme, host: normalizeHost(url.hostname), port: explicit ?? DEFAULT_PORTS[scheme], path: url.pathname || '/' };
}

function matchesUrl(target: AnyTarget, url: TargetUrl): boolean {
  const scheme = normalizeScheme(target.scheme);
  if (scheme === '' || (scheme !== '*' && scheme !== url.scheme)) return false;
  const host = normalizeHost(target.host);
  if (host === '' || (host !== '*' && host !== url.host)) return false;
  if (target.port !== undefined && target.port !== url.port) return false;
  if (target.path_prefixes.length === 0) return true;
  return target.path_prefixes.some((prefix) => pathPrefixCovers(prefix, url.path));
}

export function requestTargetAllows(target: RequestTarget, method: string, url: TargetUrl): boolean {
  const m = method.trim().toUpperCase();
  return normalizedMethods(target).includes(m) && matchesUrl(target, url);
}

export function websocketTargetAllows(target: WebSocketTarget, url: TargetUrl): boolean {
  return matchesUrl(target, url);
}

/** A request target that can match anything: non-blank scheme and host and at least one known method. */
export function isUsableRequestTarget(target: RequestTarget): boolean {
  return (
    normalizeScheme(target.scheme) !== '' &&
    normalizeHost(target.host) !== '' &&
    normalizedMethods(target).some((m) => (REQUEST_METHODS as readonly string[]).includes(m))
  );
}

export function isUsableWebSocketTarget(target: WebSocketTarget): boolean {
  const scheme = normalizeScheme(target.scheme);
  return (scheme === 'ws' || scheme === 'wss' || scheme === '*') && normalizeHost(target.host) !== '';
}

export function isBroadTarget(target: AnyTarget): boolean {
  return normalizeScheme(target.scheme) === '*' || normalizeHost(target.host) === '*' || target.path_prefixes.length === 0;
}

/**
 * Target labels are Yoi's (`https://api.example GET,POST /v1,/v2`) for every ordinary target.
 * A part that could pass for more of the label (a space, a comma, a quote, a control character,
 * a path prefix of `*`) is shown quoted, with `"` and `\` escaped, so a label always reads one way.
 */
const PLAIN = {
  scheme: /^(?:\*|[a-z][a-z0-9+.-]*)$/,
  host: /^[a-z0-9._~*:[\]-]+$/,
  method: /^[A-Z]+$/,
  path: /^[A-Za-z0-9\-._~!$&'()+;=:@%/]+$/,
} as const;

function labelPart(value: string, plain: RegExp): string {
  return plain.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

export function requestTargetLabel(target: RequestTarget): string {
  const methods = normalizedMethods(target).map((m) => labelPart(m, PLAIN.method));
  return `${originLabel(target)} ${methods.length > 0 ? methods.join(',') : '<no-methods>'} ${pathsLabel(target)}${isBroadTarget(target) ? ' [broad-request]' : ''}`;
}

export function websocketTargetLabel(target: WebSocketTarget): string {
  return `${originLabel(target)} ${pathsLabel(target)}${isBroadTarget(target) ? ' [broad-websocket]' : ''}`;
}

function originLabel(target: AnyTarget): string {
  const scheme = normalizeScheme(target.scheme);
  const host = normalizeHost(target.host);
  return `${scheme ? labelPart(scheme, PLAIN.scheme) : '<no-scheme>'}://${host ? labelPart(host, PLAIN.host) : '<no-host>'}${target.port !== undefined ? `:${target.port}` : ''}`;
}

function pathsLabel(target: AnyTarget): string {
  return target.path_prefixes.length > 0 ? target.path_prefixes.map((p) => labelPart(p, PLAIN.path)).join(',') : '*';
}

// Static relations used by inspection: does some URL match both targets, and does one cover the other.

function fieldIntersects(a: string, b: string): boolean {
  return a !== '' && b !== '' && (a === '*' || b === '*' || a === b);
}

function fieldCovers(covering: string, covered: string): boolean {
  return covering !== '' && covered !== '' && (covering === '*' || covering === covered);
}

function pathsIntersect(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return true;
  return a.some((p) => b.some((q) => pathPrefixCovers(p, q) || pathPrefixCovers(q, p)));
}

function pathsCover(covering: readonly string[], covered: readonly string[]): boolean {
  if (covering.length === 0) return true;
  if (covered.length === 0) return false;
  return covered.every((q) => covering.some((p) => pathPrefixCovers(p, q)));
}

export function targetsIntersect(a: AnyTarget, b: AnyTarget): boolean {
  if (!fieldIntersects(normalizeScheme(a.scheme), normalizeScheme(b.scheme))) return false;
  if (!fieldIntersects(normalizeHost(a.host), normalizeHost(b.host))) return false;
  if (a.port !== undefined && b.port !== undefined && a.port !== b.port) return false;
  if ('methods' in a && 'methods' in b) {
    const bm = new Set(normalizedMethods(b));
    if (!normalizedMethods(a).some((m) => bm.has(m))) return false;
  }
  return pathsIntersect(a.path_prefixes, b.path_prefixes);
}

export function targetCovers(covering: AnyTarget, covered: AnyTarget): boolean {
  if (!fieldCovers(normalizeScheme(covering.scheme), normalizeScheme(covered.scheme))) return false;
  if (!fieldCovers(normalizeHost(covering.host), normalizeHost(covered.host))) return false;
  if (covering.port !== undefined && covering.port !== covered.port) return false;
  if ('methods' in covering && 'methods' in covered) {
    const cm = new Set(normalizedMethods(covering));
    const dm = normalizedMethods(covered);
    if (cm.size === 0 || dm.length === 0 || !dm.every((m) => cm.has(m))) return false;
  }
  return pathsCover(covering.path_prefixes, covered.path_prefixes);
}

import { isIP } from 'node:net';
import type { AuthoritySubject } from '../authority/authorize.js';
import { authorizeHostApi, authorizeRequestTarget, safeUrlLabel } from '../authority/authorize.js';
import { parseTargetUrl, requestTargetAllows } from '../authority/targets.js';
import { NO_SECRETS, SECRET_VALUE_LIMITS, type Secrets } from '../secrets/secrets.js';
import { readRedacted, redactThenCut, type Redact } from '../secrets/redact-bounded.js';
import { redactText } from '../diagnostics.js';
import { hostError, hostOk, parseDescriptor } from './reply.js';

/** Bounds of the request host API (as in Yoi). */
export const REQUEST_LIMITS = {
  descriptorBytes: 48 * 1024,
  headers: 16,
  headerNameBytes: 64,
  headerValueBytes: 1024,
  bodyBytes: 32 * 1024,
  responseBodyBytes: 64 * 1024,
  responseHeaders: 16,
  /** How far past the body bound the host may read while redaction shortens what it shows. */
  responseReadSlackBytes: 64 * 1024,
  timeoutMs: 5_000,
} as const;

const ALLOWED_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Headers that carry credentials: never taken from guest memory, never returned to it. */
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
  'api-key',
  'apikey',
]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export interface PreparedRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: readonly { name: string; value: string }[];
  readonly body: string | undefined;
}

/** Every check that happens before any I/O, in Yoi's order. Returns the prepared request or an error reply. */
export function prepareRequest(subject: AuthoritySubject, json: string): PreparedRequest | { reply: string } {
  if (Buffer.byteLength(json, 'utf8') > REQUEST_LIMITS.descriptorBytes) {
    return { reply: hostError('too_large', `request descriptor exceeds ${REQUEST_LIMITS.descriptorBytes} bytes`) };
  }
  const denied = authorizeHostApi(subject, 'request');
  if (denied) return { reply: hostError('denied', `plugin host API dispatch denied: ${denied}`) };
  const descriptor = parseDescriptor(json, REQUEST_LIMITS.descriptorBytes, ['method', 'url', 'headers', 'body']);
  if (!descriptor.ok) return { reply: descriptor.reply };
  const { method, url: rawUrl, headers: rawHeaders = [], body } = descriptor.value as { method?: unknown; url?: unknown; headers?: unknown; body?: unknown };
  if (typeof method !== 'string' || !(ALLOWED_METHODS as readonly string[]).includes(method)) {
    return { reply: hostError('invalid_request', `request method is not allowed (use one of ${ALLOWED_METHODS.join(', ')})`) };
  }
  if (!Array.isArray(rawHeaders) || rawHeaders.length > REQUEST_LIMITS.headers) {
    return { reply: hostError('invalid_request', `request headers must be an array of at most ${REQUEST_LIMITS.headers} entries`) };
  }
  const headers: { name: string; value: string }[] = [];
  for (const header of rawHeaders as unknown[]) {
    const { name, value } = (header ?? {}) as { name?: unknown; value?: unknown };
    if (typeof name !== 'string' || typeof value !== 'string' || Object.keys(header as object).some((k) => k !== 'name' && k !== 'value')) {
      return { reply: hostError('invalid_request', 'request headers must be {"name","value"} string pairs') };
    }
    const lower = name.toLowerCase();
    if (name.length === 0 || Buffer.byteLength(name) > REQUEST_LIMITS.headerNameBytes || !HEADER_NAME.test(name)) {
      return { reply: hostError('invalid_request', 'request header name is invalid') };
    }
    if (Buffer.byteLength(value) > REQUEST_LIMITS.headerValueBytes || !HEADER_VALUE.test(value)) {
      return { reply: hostError('invalid_request', 'request header value is invalid or too long') };
    }
    if (CREDENTIAL_HEADERS.has(lower)) {
      return { reply: hostError('denied', `request header \`${lower}\` is credential-like and must come from a secret grant, not guest memory`) };
    }
    if (lower === 'upgrade' || (lower === 'connection' && /upgrade/i.test(value))) {
      return { reply: hostError('denied', 'persistent connection upgrade headers are not supported by host_api.request') };
    }
    if (lower === 'accept' && /text\/event-stream/i.test(value)) {
      return { reply: hostError('denied', 'SSE/event-stream requests are not supported by host_api.request') };
    }
    if (lower === 'host' || lower === 'content-length' || lower === 'transfer-encoding' || lower === 'proxy-connection') {
      return { reply: hostError('denied', `request header \`${lower}\` is set by the host`) };
    }
    headers.push({ name, value });
  }
  if (body !== undefined && typeof body !== 'string') return { reply: hostError('invalid_request', 'request body must be a string') };
  if (body !== undefined && Buffer.byteLength(body) > REQUEST_LIMITS.bodyBytes) {
    return { reply: hostError('too_large', `request body exceeds ${REQUEST_LIMITS.bodyBytes} bytes`) };
  }
  if (typeof rawUrl !== 'string') return { reply: hostError('invalid_request', 'request url must be a string') };
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { reply: hostError('invalid_request', 'request URL could not be parsed') };
  }
  if (url.protocol === 'ws:' || url.protocol === 'wss:') return { reply: hostError('denied', 'WebSocket URLs are not supported by host_api.request') };
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { reply: hostError('denied', 'unsupported request URL scheme; only http and https are allowed') };
  if (url.hostname === '') return { reply: hostError('invalid_request', 'request URL must name a host') };
  if (url.username !== '' || url.password !== '') return { reply: hostError('denied', 'request URLs with embedded credentials are not allowed') };
  const targetDenied = authorizeRequestTarget(subject, method, rawUrl);
  if (targetDenied) return { reply: hostError('denied', `plugin host API dispatch denied: ${targetDenied}`) };
  return { method, url, headers, body };
}

function bareHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** Resolves the host once; the connection may only use these addresses (no re-resolution, no DNS rebinding). */
async function resolvePinned(url: URL): Promise<{ address: string; family: number }[]> {
  const host = bareHost(url);
  const family = isIP(host);
  if (family !== 0) return [{ address: host, family }];
  const { lookup } = await import('node:dns/promises');
  return lookup(host, { all: true, verbatim: true });
}

/** Header names and values redacted in full (secret values, then credential patterns), then cut. */
function responseHeaders(raw: Record<string, string | string[] | undefined>, redact: Redact): { name: string; value: string }[] {
  const patterns = (text: string) => redactText(text, Number.MAX_SAFE_INTEGER);
  const out: { name: string; value: string }[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (out.length >= REQUEST_LIMITS.responseHeaders) break;
    if (CREDENTIAL_HEADERS.has(name.toLowerCase()) || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (out.length >= REQUEST_LIMITS.responseHeaders) break;
      out.push({ name: redact(name), value: redactThenCut(v, REQUEST_LIMITS.headerValueBytes, redact, patterns).text });
    }
  }
  return out;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
  /** Headers the host attaches (from secrets granted for the target); never from the guest. */
  readonly hostHeaders?: readonly { name: string; value: string }[];
  /** Secret values to redact from the response before the guest sees it. */
  readonly secrets?: Secrets;
  /**
   * The same as a function, for callers that hold one: the host then reads up to the largest
   * secret size past the body's bound (it does not know the longest value).
   */
  readonly redact?: Redact;
}

/**
 * The secret headers granted for this request's target (the first matching grant target
 * that has headers), resolved to values. A granted but unset secret fails closed.
 */
export function grantHeaders(subject: AuthoritySubject, prepared: PreparedRequest, secrets: Secrets): { headers: { name: string; value: string }[] } | { reply: string } {
  const url = parseTargetUrl(prepared.url.href);
  if ('error' in url) return { headers: [] };
  const target = subject.grants.request.find((t) => t.headers && t.headers.length > 0 && requestTargetAllows(t, prepared.method, url));
  const headers: { name: string; value: string }[] = [];
  for (const header of target?.headers ?? []) {
    const value = secrets.get(header.secret);
    if (value === undefined) return { reply: hostError('denied', `secret \`${header.secret}\` granted for this target is not set`) };
    headers.push({ name: header.name, value: `${header.prefix ?? ''}${value}` });
  }
  return { headers };
}

let undici: Promise<typeof import('undici')> | undefined;

/** undici is loaded by the first request, not when the host starts (it costs ~100 ms). */
function loadUndici(): Promise<typeof import('undici')> {
  return (undici ??= import('undici'));
}

/** Executes a prepared request: pinned DNS, no redirects, no proxy, bounded response. */
export async function executeRequest(prepared: PreparedRequest, options: RequestOptions = {}): Promise<string> {
  const target = parseTargetUrl(prepared.url.href);
  const label = 'error' in target ? 'request' : safeUrlLabel(target);
  const timeoutMs = options.timeoutMs ?? REQUEST_LIMITS.timeoutMs;
  const secrets = options.secrets;
  const redact: Redact = secrets ? (text) => secrets.redact(text) : (options.redact ?? ((text) => text));
  // How far past the bound to read so that a secret that starts before the bound is read whole.
  const margin = secrets ? secrets.longestValueBytes : options.redact ? SECRET_VALUE_LIMITS.maxBytes : 0;
  let addresses: { address: string; family: number }[];
  try {
    addresses = await resolvePinned(prepared.url);
  } catch {
    return hostError('failed', `request to ${label} failed: host could not be resolved`);
  }
  if (addresses.length === 0) return hostError('failed', `request to ${label} failed: host has no addresses`);
  const pinned = addresses[0]!;
  const { Agent, request: undiciRequest } = await loadUndici();
  const agent = new Agent({
    connect: {
      timeout: timeoutMs,
      // Node's connect may ask for every address ({ all: true }) or for one.
      lookup: (_hostname: string, options: { all?: boolean } | undefined, callback: (error: Error | null, address: unknown, family?: number) => void) =>
        options?.all ? callback(null, [pinned]) : callback(null, pinned.address, pinned.family),
    } as never,
  });
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await undiciRequest(prepared.url, {
      method: prepared.method as never,
      headers: [...prepared.headers.flatMap((h) => [h.name, h.value]), ...(options.hostHeaders ?? []).flatMap((h) => [h.name, h.value]), 'user-agent', 'yoi-plugin-request-host-api/0.1'],
      ...(prepared.body !== undefined ? { body: prepared.body } : {}),
      dispatcher: agent,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    } as never);
    const read = await readRedacted(response.body as AsyncIterable<Uint8Array>, {
      limitBytes: REQUEST_LIMITS.responseBodyBytes,
      longestSecretBytes: margin,
      slackBytes: REQUEST_LIMITS.responseReadSlackBytes,
      redact,
    });
    if (!read.complete) response.body.destroy();
    const { text, truncated } = read;
    return hostOk({ status: response.statusCode, headers: responseHeaders(response.headers, redact), body: text, truncated });
  } catch (error) {
    if (signal.aborted || (error as { code?: string }).code?.includes('TIMEOUT')) return hostError('timeout', `request to ${label} timed out`);
    return hostError('failed', `request to ${label} failed: ${(error as { code?: string }).code ?? 'connection error'}`);
  } finally {
    void agent.close();
  }
}

export async function requestHostCall(subject: AuthoritySubject, json: string, options: RequestOptions & { secrets?: Secrets } = {}): Promise<string> {
  const prepared = prepareRequest(subject, json);
  if ('reply' in prepared) return prepared.reply;
  const attached = grantHeaders(subject, prepared, options.secrets ?? NO_SECRETS);
  if ('reply' in attached) return attached.reply;
  return executeRequest(prepared, { ...options, hostHeaders: attached.headers, secrets: options.secrets ?? NO_SECRETS });
}

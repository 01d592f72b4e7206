/**
 * The one diagnostics model shared by manifest parsing, package reading, discovery,
 * resolution and inspection. Diagnostics are values that are collected, never thrown.
 * Messages are fixed sentences from this project: never file contents, secrets or raw
 * parser errors, and always bounded.
 */
import { SECRET_MARKER_PATTERN } from './secrets/marker.js';

export const DIAGNOSTIC_KINDS = [
  'missing',
  'duplicate',
  'ambiguous',
  'version',
  'digest',
  'api',
  'surface',
  'grant',
  'malformed',
  'traversal',
  'bounds',
  'io',
] as const;
export type DiagnosticKind = (typeof DIAGNOSTIC_KINDS)[number];

/** @public */
export const DIAGNOSTIC_PHASES = ['discovery', 'manifest', 'resolution'] as const;
export type DiagnosticPhase = (typeof DIAGNOSTIC_PHASES)[number];

export type SourceKind = 'user' | 'project' | 'builtin';

export interface Diagnostic {
  readonly kind: DiagnosticKind;
  readonly phase: DiagnosticPhase;
  readonly source?: SourceKind;
  readonly identity?: string;
  /** File label of the package (archive file name or directory name). */
  readonly package?: string;
  readonly digest?: string;
  readonly message: string;
}

/** Maximum characters of any diagnostic message or echoed user-supplied text. */
export const MESSAGE_BOUND = 240;

/** Replaces control characters (newlines included) with spaces and truncates to `limit` characters + `…`. */
export function boundText(text: string, limit: number = MESSAGE_BOUND): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  const chars = Array.from(flat);
  return chars.length > limit ? chars.slice(0, limit).join('') + '…' : flat;
}

const SECRET_PATTERNS: readonly RegExp[] = [
  // key=value or key: value pairs whose key looks like a credential
  /((?:^|[^a-z0-9])(?:[a-z0-9_-]*(?:token|secret|password|passwd|api[_-]?key|apikey|authorization|auth|credential|session|cookie|signature|sig)[a-z0-9_-]*)\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]+)/gi,
  // Authorization schemes
  /\b(Bearer|Basic|Bot)\s+[A-Za-z0-9._~+/=-]{6,}/g,
  // userinfo in URLs
  /(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi,
];

/**
 * Redacts credential-looking fragments over the whole text, then bounds it. Secret markers
 * (`<secret:NAME>`, left by secret redaction) are kept as they are.
 */
export function redactText(text: string, limit: number = MESSAGE_BOUND): string {
  let out = '';
  let at = 0;
  for (const match of text.matchAll(SECRET_MARKER_PATTERN)) {
    out += redactPatterns(text.slice(at, match.index)) + match[0];
    at = match.index + match[0].length;
  }
  return boundText(out + redactPatterns(text.slice(at)), limit);
}

function redactPatterns(text: string): string {
  let out = text;
  out = out.replace(SECRET_PATTERNS[1]!, (_m, scheme: string) => `${scheme} <redacted>`);
  out = out.replace(SECRET_PATTERNS[0]!, (_m, key: string) => `${key}<redacted>`);
  out = out.replace(SECRET_PATTERNS[2]!, (_m, scheme: string) => `${scheme}<redacted>@`);
  return out;
}

export function diagnostic(
  kind: DiagnosticKind,
  phase: DiagnosticPhase,
  message: string,
  context: Omit<Diagnostic, 'kind' | 'phase' | 'message'> = {},
): Diagnostic {
  const out: { -readonly [K in keyof Diagnostic]: Diagnostic[K] } = { kind, phase, message: boundText(message) };
  if (context.source !== undefined) out.source = context.source;
  if (context.identity !== undefined) out.identity = boundText(context.identity, 160);
  if (context.package !== undefined) out.package = context.package;
  if (context.digest !== undefined) out.digest = context.digest;
  return out;
}

/** Adds context fields that are not yet set, keeping the diagnostic's own. */
export function withContext(d: Diagnostic, context: Omit<Diagnostic, 'kind' | 'phase' | 'message'>): Diagnostic {
  return diagnostic(d.kind, d.phase, d.message, { ...context, ...stripUndefined(d) });
}

function stripUndefined(d: Diagnostic): Omit<Diagnostic, 'kind' | 'phase' | 'message'> {
  const out: { -readonly [K in keyof Diagnostic]?: Diagnostic[K] } = {};
  if (d.source !== undefined) out.source = d.source;
  if (d.identity !== undefined) out.identity = d.identity;
  if (d.package !== undefined) out.package = d.package;
  if (d.digest !== undefined) out.digest = d.digest;
  return out;
}

/**
 * I/O errors are reduced to a fixed vocabulary so that no path, errno text or
 * platform message leaks into a diagnostic.
 */
export function ioErrorKind(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EEXIST':
      return 'already exists';
    case 'EINVAL':
      return 'invalid input';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'EISDIR':
      return 'is a directory';
    default:
      return 'I/O error';
  }
}

/** A result that either carries a value or the diagnostic that stopped it. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly diagnostic: Diagnostic };

export function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function fail<T = never>(d: Diagnostic): Outcome<T> {
  return { ok: false, diagnostic: d };
}

import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isSafeId } from '../manifest/ids.js';
import { parseTomlText } from '../manifest/toml-reader.js';
import { secretMarker } from './marker.js';

/**
 * Bounds on secret values. Shorter values cannot be redacted without garbling ordinary text and
 * are guessable; longer ones would widen the window the host reads past a response's cut
 * (see `redact-bounded.ts`). A value outside the bounds is not loaded, and says so.
 */
export const SECRET_VALUE_LIMITS = { minChars: 8, maxBytes: 8 * 1024 } as const;

/**
 * Secret values the host attaches on a plugin's behalf (request headers, WebSocket handshake
 * headers, `{{secret:NAME}}` in frames a grant allows). Plugins only ever name them. Values
 * come from environment variables `YOI_SECRET_<NAME>` (name upper-cased, `.` and `-` as `_`)
 * or from `<workspace>/.yoi/secrets.toml` (`[secrets] name = "value"`), which must not be
 * readable by group or others.
 */
export class Secrets {
  readonly #values: ReadonlyMap<string, string>;
  readonly #longestBytes: number;
  /** Why the secrets file or a value was ignored, if one was. */
  readonly problems: readonly string[];

  constructor(values: ReadonlyMap<string, string> = new Map(), problems: readonly string[] = []) {
    const kept = new Map<string, string>();
    const found = [...problems];
    for (const [name, value] of values) {
      const problem = valueProblem(name, value);
      if (problem) found.push(problem);
      else kept.set(name, value);
    }
    this.#values = kept;
    this.#longestBytes = Math.max(0, ...[...kept.values()].map((v) => Buffer.byteLength(v)));
    this.problems = found;
  }

  static envName(name: string): string {
    return `YOI_SECRET_${name.toUpperCase().replace(/[.-]/g, '_')}`;
  }

  static async load(workspace: string, env: NodeJS.ProcessEnv = process.env): Promise<Secrets> {
    const values = new Map<string, string>();
    const problems: string[] = [];
    const path = join(resolve(workspace), '.yoi', 'secrets.toml');
    const info = await stat(path).catch(() => null);
    if (info) {
      if ((info.mode & 0o077) !== 0) problems.push('.yoi/secrets.toml is readable by group or others (chmod 600 it); it was ignored');
      else {
        const parsed = parseTomlText(await readFile(path, 'utf8'));
        const table = parsed.ok ? (parsed.value['secrets'] as Record<string, unknown> | undefined) : undefined;
        if (!parsed.ok || (table !== undefined && (typeof table !== 'object' || table === null))) problems.push('.yoi/secrets.toml could not be parsed; it was ignored');
        else for (const [name, value] of Object.entries(table ?? {})) if (isSafeId(name) && typeof value === 'string' && value.length > 0) values.set(name, value);
      }
    }
    for (const [key, value] of Object.entries(env)) {
      if (!key.startsWith('YOI_SECRET_') || !value) continue;
      const name = key.slice('YOI_SECRET_'.length).toLowerCase();
      if (isSafeId(name)) values.set(name, value);
      else problems.push('a YOI_SECRET_ environment variable has a name that is not a safe id; it was ignored');
    }
    return new Secrets(values, problems);
  }

  /** The value of a named secret (names match case-insensitively with `_` for `.`/`-`). */
  get(name: string): string | undefined {
    return this.#values.get(name) ?? this.#values.get(name.toLowerCase().replace(/[.-]/g, '_'));
  }

  /** UTF-8 length of the longest value (0 when there is none). */
  get longestValueBytes(): number {
    return this.#longestBytes;
  }

  /**
   * Replaces every occurrence of every secret value in `text` with `<secret:NAME>`. Occurrences
   * that overlap or touch (of one secret or of several) are replaced as one span, so no part of
   * any value survives next to a marker.
   */
  redact(text: string): string {
    if (this.#values.size === 0) return text;
    const spans: { start: number; end: number; name: string }[] = [];
    for (const [name, value] of this.#values) for (const start of occurrences(text, value)) spans.push({ start, end: start + value.length, name });
    if (spans.length === 0) return text;
    spans.sort((a, b) => a.start - b.start || b.end - a.end);
    let out = '';
    let at = 0;
    let current = spans[0]!;
    const flush = () => {
      out += text.slice(at, current.start) + secretMarker(current.name);
      at = current.end;
    };
    for (const span of spans.slice(1)) {
      if (span.start <= current.end) current = { ...current, end: Math.max(current.end, span.end) };
      else {
        flush();
        current = span;
      }
    }
    flush();
    return out + text.slice(at);
  }
}

function valueProblem(name: string, value: string): string | null {
  if (value.length < SECRET_VALUE_LIMITS.minChars) return `secret \`${name}\` is shorter than ${SECRET_VALUE_LIMITS.minChars} characters; it was ignored`;
  if (Buffer.byteLength(value) > SECRET_VALUE_LIMITS.maxBytes) return `secret \`${name}\` is longer than ${SECRET_VALUE_LIMITS.maxBytes} bytes; it was ignored`;
  return null;
}

/** Start index of every occurrence of `needle` in `haystack`, overlapping ones included (KMP, linear time). */
function occurrences(haystack: string, needle: string): number[] {
  const failure = new Int32Array(needle.length);
  for (let i = 1, k = 0; i < needle.length; i++) {
    while (k > 0 && needle[i] !== needle[k]) k = failure[k - 1]!;
    if (needle[i] === needle[k]) k++;
    failure[i] = k;
  }
  const found: number[] = [];
  for (let i = 0, k = 0; i < haystack.length; i++) {
    while (k > 0 && haystack[i] !== needle[k]) k = failure[k - 1]!;
    if (haystack[i] === needle[k]) k++;
    if (k === needle.length) {
      found.push(i - needle.length + 1);
      k = failure[k - 1]!;
    }
  }
  return found;
}

export const NO_SECRETS = new Secrets();

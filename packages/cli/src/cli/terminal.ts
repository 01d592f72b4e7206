/**
 * The one sanitiser for text the CLI shows a person. Strings that came from a package, a
 * manifest, a guest or a remote can hold terminal control sequences (`ESC[2K` erases a line,
 * `\r` returns to its start) or characters that reorder what is shown (bidi overrides), so an
 * operator could read a harmless line where a hostile one is. Such characters are shown
 * escaped, never interpreted, and long fields are cut with a marker. `--json` output does not
 * pass through here: JSON escapes control characters itself and stays exact.
 */

/** Default bound, in characters of output, of one interpolated field. */
export const FIELD_BOUND = 512;
/** Bound of one error message line. */
export const MESSAGE_LINE_BOUND = 2048;
export const CUT_MARKER = '…';

export interface EscapeOptions {
  /** Keep `\n` and `\t` (multi-line output such as a tool's content); default false. */
  readonly multiline?: boolean;
  /** Escape everything outside printable ASCII too (hosts, methods, paths of targets). */
  readonly asciiOnly?: boolean;
  /** Characters of output before the cut marker; `Infinity` for none. Default FIELD_BOUND. */
  readonly limit?: number;
}

// Control characters (C0, DEL, C1), format characters (bidi embeddings, overrides and isolates,
// zero-width characters, the Arabic letter mark, …), line and paragraph separators, and lone
// surrogates. A backslash is left as it is: text that merely looks like an escape is harmless.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(char: string, options: EscapeOptions): string {
  if (options.multiline && (char === '\n' || char === '\t')) return char;
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.codePointAt(0)!;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

function needsEscape(char: string, options: EscapeOptions): boolean {
  if (UNSAFE.test(char)) return true;
  return options.asciiOnly === true && (char < ' ' || char > '~');
}

/** `text` with every unsafe character escaped, cut at `limit` characters of output with `…`. */
export function escapeTerminal(text: string, options: EscapeOptions = {}): string {
  const limit = options.limit ?? FIELD_BOUND;
  let out = '';
  let length = 0;
  // Iterating a string yields code points, and a lone surrogate on its own.
  for (const char of text) {
    const shown = needsEscape(char, options) ? escapeChar(char, options) : char;
    const size = shown === char ? 1 : shown.length;
    if (length + size > limit) return out + CUT_MARKER;
    out += shown;
    length += size;
  }
  return out;
}

/** Text that is already safe to show (escaped, or the CLI's own); `term` keeps it as it is. */
export class Shown {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

function field(value: unknown): string {
  if (value instanceof Shown) return value.text;
  if (Array.isArray(value)) return value.map(field).join(', ');
  if (typeof value === 'string') return escapeTerminal(value);
  return escapeTerminal(String(value));
}

/**
 * A template tag for one line of human output: the literal parts are the CLI's own and stay as
 * written; every interpolated value is escaped and bounded (arrays: each item, joined by `, `).
 */
export function term(strings: TemplateStringsArray, ...values: readonly unknown[]): string {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += field(value) + (strings[i + 1] ?? '');
  });
  return out;
}

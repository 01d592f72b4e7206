/**
 * A line-level view of TOML text, enough to edit single values of a hand-written file without
 * touching anything around them: where each `key = value` assignment starts and ends (values
 * may span lines: arrays, inline tables, multi-line strings) and where a line's trailing
 * comment begins. It does not parse values; edits are verified by re-parsing the file.
 */

export interface Assignment {
  /** The key as written, quotes removed (`"a b"` → `a b`). */
  readonly key: string;
  /** First line of the assignment. */
  readonly start: number;
  /** One past its last line. */
  readonly end: number;
  /** The comment ending its last line (with the spaces before it), or ''. */
  readonly comment: string;
}

type StringKind = '"' | "'" | '"""' | "'''";

/** Scanner state carried from one line to the next: an open multi-line string, bracket depth. */
interface State {
  string: StringKind | null;
  depth: number;
}

/**
 * Walks one line; returns the index where a comment starts (or -1) and updates `state`.
 * Basic strings honour backslash escapes; literal strings do not.
 */
function scanLine(line: string, state: State): number {
  let i = 0;
  while (i < line.length) {
    const open = state.string;
    if (open !== null) {
      if (open.length === 3) {
        if (line.startsWith(open, i)) {
          // A closing delimiter may be followed by up to two more quotes that belong to the string.
          let j = i + 3;
          while (j < line.length && line[j] === open[0] && j < i + 5) j++;
          state.string = null;
          i = j;
          continue;
        }
        if (open === '"""' && line[i] === '\\') i++;
        i++;
        continue;
      }
      if (open === '"' && line[i] === '\\') {
        i += 2;
        continue;
      }
      if (line[i] === open) state.string = null;
      i++;
      continue;
    }
    const char = line[i]!;
    if (char === '#') return i;
    if (line.startsWith('"""', i) || line.startsWith("'''", i)) {
      state.string = line.slice(i, i + 3) as StringKind;
      i += 3;
      continue;
    }
    if (char === '"' || char === "'") state.string = char;
    else if (char === '[' || char === '{') state.depth++;
    else if (char === ']' || char === '}') state.depth--;
    i++;
  }
  // A single-line string cannot continue on the next line.
  if (state.string === '"' || state.string === "'") state.string = null;
  return -1;
}

const KEY = /^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=/;

function unquote(key: string): string {
  if (key.startsWith('"')) {
    try {
      return JSON.parse(key) as string;
    } catch {
      return key.slice(1, -1);
    }
  }
  return key.startsWith("'") ? key.slice(1, -1) : key;
}

/** The top-level `key = value` assignments of `lines[from..to)` (a table's body). */
export function scanAssignments(lines: readonly string[], from: number, to: number): Assignment[] {
  const out: Assignment[] = [];
  let i = from;
  while (i < to) {
    const match = KEY.exec(lines[i]!);
    if (!match || /^\s*\[/.test(lines[i]!)) {
      i++;
      continue;
    }
    const state: State = { string: null, depth: 0 };
    let end = i;
    let comment: string;
    do {
      const offset = end === i ? match[0].length : 0;
      const line = lines[end]!;
      const at = scanLine(line.slice(offset), state);
      comment = at < 0 ? '' : commentFrom(line, at + offset);
      end++;
    } while (end < to && (state.depth > 0 || state.string !== null));
    out.push({ key: unquote(match[1]!), start: i, end, comment });
    i = end;
  }
  return out;
}

function commentFrom(line: string, at: number): string {
  let start = at;
  while (start > 0 && /\s/.test(line[start - 1]!)) start--;
  return line.slice(start);
}

/** The comment that ends a line that starts outside any string (` # why`), with the spaces before it, or ''. */
function trailingComment(line: string): string {
  const at = scanLine(line, { string: null, depth: 0 });
  return at < 0 ? '' : commentFrom(line, at);
}

/** The code of a line without its trailing comment. */
export function withoutComment(line: string): string {
  const comment = trailingComment(line);
  return comment ? line.slice(0, line.length - comment.length) : line;
}

/** Leading whitespace of a line. */
export function indentOf(line: string): string {
  return /^\s*/.exec(line)![0];
}

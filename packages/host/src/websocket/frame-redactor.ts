/**
 * Redaction of secrets across the frames of one connection.
 *
 * Redacting each frame on its own lets a server that echoes a secret in pieces hand the pieces
 * to the plugin. Here the frames of a connection are one stream: for every position we know the
 * longest run ending there that is a piece (substring) of a secret, carried over frame
 * boundaries. A run that reaches the secret's threshold (`min(length, MIN_SECRET_PIECE)`) is
 * replaced by `<secret:NAME>` from where it starts in the current frame up to where it ends, so
 * no piece of that length ever reaches the plugin, wherever the frame splits fall. What the
 * plugin can still see: a run shorter than the threshold at the end of a frame, before the next
 * frame shows it continuing; and anything a server builds by transforming the secret.
 */

/** Pieces of a secret this long (or the whole secret, if shorter) never reach the plugin. */
export const MIN_SECRET_PIECE = 8;
/** Secrets shorter than this are not redacted (as everywhere else in the host). */
const MIN_SECRET_LENGTH = 4;

export interface NamedSecret {
  readonly name: string;
  readonly value: string;
}

/** A suffix automaton of one secret: it recognises every substring of the value. */
class SubstringAutomaton {
  readonly next: Map<number, number>[] = [new Map()];
  readonly link: number[] = [-1];
  readonly len: number[] = [0];

  constructor(units: string) {
    let last = 0;
    for (let i = 0; i < units.length; i++) last = this.#extend(last, units.charCodeAt(i));
  }

  #add(len: number, link: number, next: Map<number, number>): number {
    this.len.push(len);
    this.link.push(link);
    this.next.push(next);
    return this.len.length - 1;
  }

  #extend(last: number, unit: number): number {
    const cur = this.#add(this.len[last]! + 1, 0, new Map());
    let p = last;
    while (p !== -1 && !this.next[p]!.has(unit)) {
      this.next[p]!.set(unit, cur);
      p = this.link[p]!;
    }
    if (p === -1) return cur;
    const q = this.next[p]!.get(unit)!;
    if (this.len[p]! + 1 === this.len[q]) {
      this.link[cur] = q;
      return cur;
    }
    const clone = this.#add(this.len[p]! + 1, this.link[q]!, new Map(this.next[q]!));
    while (p !== -1 && this.next[p]!.get(unit) === q) {
      this.next[p]!.set(unit, clone);
      p = this.link[p]!;
    }
    this.link[q] = clone;
    this.link[cur] = clone;
    return cur;
  }
}

/** One secret prepared for stream matching (shared by every stream of a driver). */
export class WindowSecret {
  readonly name: string;
  readonly threshold: number;
  readonly automaton: SubstringAutomaton;

  constructor(name: string, units: string) {
    this.name = name;
    this.threshold = Math.min(units.length, MIN_SECRET_PIECE);
    this.automaton = new SubstringAutomaton(units);
  }
}

/** Prepares secrets for text frames (UTF-16 code units) or binary frames (UTF-8 bytes). */
export function windowSecrets(secrets: readonly NamedSecret[], mode: 'text' | 'bytes'): WindowSecret[] {
  const out: WindowSecret[] = [];
  for (const { name, value } of secrets) {
    const units = mode === 'text' ? value : Buffer.from(value, 'utf8').toString('latin1');
    if (units.length >= MIN_SECRET_LENGTH) out.push(new WindowSecret(name, units));
  }
  return out;
}

interface Span {
  start: number;
  end: number;
  readonly name: string;
}

/**
 * The redactor of one stream (one connection's text frames, or its binary frames): it keeps,
 * per secret, where the match stands at the end of the previous frame.
 */
export class StreamRedactor {
  readonly #secrets: readonly WindowSecret[];
  readonly #states: Int32Array;
  readonly #lengths: Int32Array;
  readonly #text: boolean;

  constructor(secrets: readonly WindowSecret[], mode: 'text' | 'bytes') {
    this.#secrets = secrets;
    this.#states = new Int32Array(secrets.length);
    this.#lengths = new Int32Array(secrets.length);
    this.#text = mode === 'text';
  }

  /** Redacts one frame given as code units (a latin1 string for bytes); the frame continues the stream. */
  redact(frame: string): string {
    if (this.#secrets.length === 0) return frame;
    let spans: Span[] | null = null;
    for (let s = 0; s < this.#secrets.length; s++) {
      const found = this.#scan(s, frame);
      if (found) spans = spans ? spans.concat(found) : found;
    }
    if (!spans) return frame;
    if (this.#text) widenToCodePoints(spans, frame);
    return replaceSpans(frame, mergeSpans(spans));
  }

  /** Runs one secret's automaton over the frame; returns the spans to redact (in order). */
  #scan(index: number, frame: string): Span[] | null {
    const secret = this.#secrets[index]!;
    const { next, link, len } = secret.automaton;
    const threshold = secret.threshold;
    let state = this.#states[index]!;
    let length = this.#lengths[index]!;
    let spans: Span[] | null = null;
    let open: Span | null = null;
    for (let i = 0; i < frame.length; i++) {
      const unit = frame.charCodeAt(i);
      let to = next[state]!.get(unit);
      while (to === undefined && state !== 0) {
        state = link[state]!;
        length = len[state]!;
        to = next[state]!.get(unit);
      }
      if (to === undefined) {
        length = 0;
        continue;
      }
      state = to;
      length++;
      if (length < threshold) continue;
      // The run ending here is a piece of the secret: redact all of it that lies in this frame.
      const start = Math.max(0, i - length + 1);
      if (open && start <= open.end + 1) open.end = i;
      else {
        open = { start, end: i, name: secret.name };
        (spans ??= []).push(open);
      }
    }
    this.#states[index] = state;
    this.#lengths[index] = length;
    return spans;
  }
}

function isHigh(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLow(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** A span never splits a surrogate pair (the frame stays well-formed text). */
function widenToCodePoints(spans: Span[], frame: string): void {
  for (const span of spans) {
    if (span.start > 0 && isLow(frame.charCodeAt(span.start)) && isHigh(frame.charCodeAt(span.start - 1))) span.start--;
    if (span.end + 1 < frame.length && isHigh(frame.charCodeAt(span.end)) && isLow(frame.charCodeAt(span.end + 1))) span.end++;
  }
}

function mergeSpans(spans: Span[]): Span[] {
  if (spans.length < 2) return spans;
  spans.sort((a, b) => a.start - b.start);
  const out: Span[] = [spans[0]!];
  for (let i = 1; i < spans.length; i++) {
    const last = out[out.length - 1]!;
    const span = spans[i]!;
    if (span.start <= last.end + 1) last.end = Math.max(last.end, span.end);
    else out.push(span);
  }
  return out;
}

function replaceSpans(frame: string, spans: readonly Span[]): string {
  let out = '';
  let at = 0;
  for (const span of spans) {
    out += frame.slice(at, span.start) + `<secret:${span.name}>`;
    at = span.end + 1;
  }
  return out + frame.slice(at);
}

/** A plugin's stdout/stderr, kept in memory as a bounded ring of lines; never the host's stdout. */
export interface GuestLogLine {
  readonly at: string;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

export class GuestLog {
  readonly #lines: GuestLogLine[] = [];
  #dropped = 0;

  constructor(
    readonly maxLines = 200,
    readonly maxLineChars = 1024,
  ) {}

  append(stream: 'stdout' | 'stderr', text: string): void {
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      if (this.#lines.length === this.maxLines) {
        this.#lines.shift();
        this.#dropped++;
      }
      this.#lines.push({ at: new Date().toISOString(), stream, text: line.length > this.maxLineChars ? line.slice(0, this.maxLineChars) + '…' : line });
    }
  }

  lines(): readonly GuestLogLine[] {
    return [...this.#lines];
  }

  get dropped(): number {
    return this.#dropped;
  }
}

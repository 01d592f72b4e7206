/** A plugin's stdout/stderr, kept in memory as a bounded ring of lines; never the host's stdout. */
export interface GuestLogLine {
  readonly at: string;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

/** The line the sandbox writes when a call printed more than its log budget. */
const BUDGET_NOTICE = /^\[host\] (\d{1,15}) bytes of guest output over the per-call budget were dropped$/;

export class GuestLog {
  readonly #lines: GuestLogLine[] = [];
  #dropped = 0;
  #budgetDroppedBytes = 0;
  #written = 0;

  constructor(
    readonly maxLines = 200,
    readonly maxLineChars = 1024,
  ) {}

  append(stream: 'stdout' | 'stderr', text: string): void {
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      const budget = BUDGET_NOTICE.exec(line);
      if (budget) this.#budgetDroppedBytes += Number(budget[1]);
      if (this.#lines.length === this.maxLines) {
        this.#lines.shift();
        this.#dropped++;
      }
      this.#lines.push({ at: new Date().toISOString(), stream, text: line.length > this.maxLineChars ? line.slice(0, this.maxLineChars) + '…' : line });
      this.#written++;
    }
  }

  lines(): readonly GuestLogLine[] {
    return [...this.#lines];
  }

  /** Lines appended so far: a mark to read a call's lines from with `since`. */
  get written(): number {
    return this.#written;
  }

  /** The lines appended after `mark` (still in the ring), and how many of them the ring no longer holds. */
  since(mark: number): { readonly lines: readonly GuestLogLine[]; readonly dropped: number } {
    const count = this.#written - mark;
    const kept = Math.min(count, this.#lines.length);
    return { lines: kept > 0 ? this.#lines.slice(-kept) : [], dropped: count - kept };
  }

  /** Lines pushed out of the ring. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Guest output bytes the sandbox dropped over the per-call budget (from its notices). */
  get budgetDroppedBytes(): number {
    return this.#budgetDroppedBytes;
  }
}

import { randomUUID } from 'node:crypto';

/** A plugin's stdout/stderr, kept in memory as a bounded ring of lines; never the host's stdout. */
export interface GuestLogLine {
  /** 1, 2, 3, … per plugin runtime: a reader resumes after the last one it saw. */
  readonly seq: number;
  readonly at: string;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

/** The line the sandbox writes when a call printed more than its log budget. */
const BUDGET_NOTICE = /^\[host\] (\d{1,15}) bytes of guest output over the per-call budget were dropped$/;

/** The lines after a sequence number, and how many between it and them the ring had already pushed out. */
export interface GuestLogSlice {
  readonly lines: readonly GuestLogLine[];
  /** Lines after `after` that the ring no longer holds (pushed out before they were read). */
  readonly dropped: number;
  /** The sequence number to ask after next time. */
  readonly next: number;
}

export class GuestLog {
  /** Names this ring: sequence numbers of another ring (a restarted host) mean nothing here. */
  readonly id = randomUUID();
  readonly #lines: GuestLogLine[] = [];
  readonly #waiters = new Set<() => void>();
  #nextSeq = 1;
  #dropped = 0;
  #budgetDroppedBytes = 0;

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
      this.#lines.push({ seq: this.#nextSeq++, at: new Date().toISOString(), stream, text: line.length > this.maxLineChars ? line.slice(0, this.maxLineChars) + '…' : line });
    }
    for (const wake of [...this.#waiters]) wake();
  }

  /** The kept lines with a sequence number above `after` (0: from the start), at most `limit`. */
  since(after: number, limit = this.maxLines): GuestLogSlice {
    const from = Math.min(Math.max(0, Math.floor(after)), this.#nextSeq - 1);
    const oldest = this.#lines[0]?.seq ?? this.#nextSeq;
    const lines = this.#lines.filter((l) => l.seq > from).slice(0, Math.max(0, limit));
    return { lines, dropped: Math.max(0, oldest - from - 1), next: lines.at(-1)?.seq ?? Math.max(from, oldest - 1) };
  }

  /** Lines appended so far (the sequence number of the last one): a mark to read what follows with `since`. */
  get written(): number {
    return this.#nextSeq - 1;
  }

  /** Resolves once a line after `after` exists, or when `signal` aborts (nothing is kept for an aborted wait). */
  async waitFor(after: number, signal: AbortSignal): Promise<void> {
    if (this.#nextSeq - 1 > after || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  lines(): readonly GuestLogLine[] {
    return [...this.#lines];
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

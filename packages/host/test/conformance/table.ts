/**
 * The conformance suite's table: one row per upstream test of Yoi (HareK02/yoi at b12e0785,
 * named in the reference's §9), run through our public surfaces. A row either expects Yoi's
 * outcome or names the divergence (`divergence` = the id of its row in docs/yoi-compat.md).
 */
import { describe, it, type TestContext } from 'node:test';

export type UpstreamSuite = 'manifest' | 'worker' | 'cli' | 'interop';

export interface ConformanceCase {
  /** Yoi's test function name (or, for `interop`, what is carried over from Yoi). */
  readonly upstream: string;
  /** What Yoi asserts, in one line. */
  readonly gist: string;
  /** Our outcome differs on purpose: the id of the row in docs/yoi-compat.md that says how. */
  readonly divergence?: string;
  /** Known not to pass until another change lands (node:test `todo`: reported, never failing). */
  readonly todo?: string;
  readonly run: (t: TestContext) => Promise<void> | void;
}

export function caseTitle(c: ConformanceCase): string {
  return `${c.upstream} — ${c.divergence ? `diverges: yoi-compat#${c.divergence}` : 'as Yoi'}`;
}

/** Registers one `it` per row, in table order. */
export function conformanceSuite(title: string, cases: readonly ConformanceCase[]): void {
  describe(title, () => {
    for (const c of cases) it(caseTitle(c), c.todo ? { todo: c.todo } : {}, (t) => c.run(t));
  });
}

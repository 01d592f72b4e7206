import { Counter, type Registry } from 'prom-client';

/** One row: the metric's name, its help, and how to read its running total from a status snapshot. */
export type SnapshotCounter = readonly [name: string, help: string, read: () => number | undefined];

/** Registers a Prometheus counter per row whose value is the running total read at each scrape (absent counts as 0). */
export function registerSnapshotCounters(registry: Registry, rows: readonly SnapshotCounter[]): void {
  for (const [name, help, read] of rows) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read() ?? 0);
      },
    });
  }
}

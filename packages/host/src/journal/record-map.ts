import type { RecordReader } from './book.js';
import { RECORD_KINDS, type Mutation, type RecordKind } from './records.js';

function compareKeys(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Committed records held in memory, keyed like the durable stores (kind → plugin → key → JSON
 * text), listed in key order. The memory engine stores its records here; the JetStream engine
 * materialises its log here.
 */
export class RecordMap implements RecordReader {
  readonly #records = new Map<RecordKind, Map<string, Map<number | string, string>>>(RECORD_KINDS.map((kind) => [kind, new Map()]));

  keys(kind: RecordKind, plugin: string): Iterable<number | string> {
    return this.#sorted(kind, plugin).map(([key]) => key);
  }

  entries(kind: RecordKind, plugin: string): Iterable<readonly [number | string, string]> {
    return this.#sorted(kind, plugin);
  }

  get(kind: RecordKind, plugin: string, key: number | string): string | undefined {
    return this.#records.get(kind)!.get(plugin)?.get(key);
  }

  /** Applies mutations in order (a `null` value removes the record). */
  apply(mutations: readonly Mutation[]): void {
    for (const { kind, plugin, key, value } of mutations) {
      const byPlugin = this.#records.get(kind)!;
      let records = byPlugin.get(plugin);
      if (value === null) {
        records?.delete(key);
        if (records?.size === 0) byPlugin.delete(plugin);
        continue;
      }
      if (!records) byPlugin.set(plugin, (records = new Map()));
      records.set(key, value);
    }
  }

  /** Removes every record of a plugin. */
  clear(plugin: string): void {
    for (const byPlugin of this.#records.values()) byPlugin.delete(plugin);
  }

  /** Every record of a plugin as mutations that recreate it (kind by kind, in key order). */
  snapshot(plugin: string): Mutation[] {
    const mutations: Mutation[] = [];
    for (const kind of RECORD_KINDS) {
      for (const [key, value] of this.#sorted(kind, plugin)) mutations.push({ kind, plugin, key, value });
    }
    return mutations;
  }

  /** Plugins holding at least one record. */
  plugins(): Set<string> {
    const plugins = new Set<string>();
    for (const byPlugin of this.#records.values()) for (const plugin of byPlugin.keys()) plugins.add(plugin);
    return plugins;
  }

  #sorted(kind: RecordKind, plugin: string): [number | string, string][] {
    const records = [...(this.#records.get(kind)!.get(plugin) ?? [])];
    return records.sort(([a], [b]) => compareKeys(a, b));
  }
}

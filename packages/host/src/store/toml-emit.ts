import { stringify } from 'smol-toml';
import type { JsonValue } from '../manifest/types.js';

/** One TOML value on one line (strings escaped by smol-toml; objects as inline tables). */
export function tomlInline(value: JsonValue): string {
  if (value === null) throw new TypeError('TOML has no null value');
  if (Array.isArray(value)) return `[${value.map(tomlInline).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, JsonValue>);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, v]) => `${tomlKey(k)} = ${tomlInline(v)}`).join(', ')} }`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('TOML cannot represent this number');
  const line = stringify({ v: value }).trim();
  return line.slice(line.indexOf('=') + 1).trim();
}

export function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : tomlInline(key);
}

export function tomlAssignments(record: Record<string, JsonValue | undefined>): string[] {
  return Object.entries(record)
    .filter((entry): entry is [string, JsonValue] => entry[1] !== undefined)
    .map(([k, v]) => `${tomlKey(k)} = ${tomlInline(v)}`);
}

import { parse as parseToml, TomlError } from 'smol-toml';
import type { JsonValue } from './types.js';

/**
 * Strict reading of parsed TOML into typed records: unknown keys, wrong types and unknown
 * enum values are errors. Error details name the offending key path only when the key is a
 * plain identifier, and never echo values, so they are safe to show.
 */
export class SchemaError extends Error {
  override readonly name = 'SchemaError';
}

export type TomlTable = Record<string, unknown>;

export type TomlParse = { ok: true; value: TomlTable } | { ok: false; line?: number; column?: number };

/** Parses TOML text; a parse failure carries only its position. */
export function parseTomlText(text: string): TomlParse {
  try {
    return { ok: true, value: parseToml(text) as TomlTable };
  } catch (error) {
    if (error instanceof TomlError) return { ok: false, line: error.line, column: error.column };
    return { ok: false };
  }
}

export function describeKey(path: string): string {
  return /^[A-Za-z0-9_.$[\]-]{1,96}$/.test(path) ? `\`${path}\`` : '(key name not shown)';
}

export function isTable(value: unknown): value is TomlTable {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

export class TableReader {
  readonly #table: TomlTable;
  readonly #path: string;
  readonly #seen = new Set<string>();

  constructor(value: unknown, path: string) {
    if (!isTable(value)) throw new SchemaError(`${describeKey(path || 'document')} must be a table`);
    this.#table = value;
    this.#path = path;
  }

  keyPath(key: string): string {
    return this.#path ? `${this.#path}.${key}` : key;
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#table, key);
  }

  raw(key: string): unknown {
    this.#seen.add(key);
    return this.#table[key];
  }

  string(key: string): string {
    const value = this.raw(key);
    if (value === undefined) throw new SchemaError(`missing required key ${describeKey(this.keyPath(key))}`);
    if (typeof value !== 'string') throw new SchemaError(`${describeKey(this.keyPath(key))} must be a string`);
    return value;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : (this.raw(key), undefined);
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw new SchemaError(`${describeKey(this.keyPath(key))} must be a boolean`);
    return value;
  }

  integer(key: string, min: number, max: number): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new SchemaError(`${describeKey(this.keyPath(key))} must be an integer between ${min} and ${max}`);
    }
    return value;
  }

  requiredInteger(key: string, min: number, max: number): number {
    const value = this.integer(key, min, max);
    if (value === undefined) throw new SchemaError(`missing required key ${describeKey(this.keyPath(key))}`);
    return value;
  }

  stringArray(key: string): string[] {
    const value = this.raw(key);
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw new SchemaError(`${describeKey(this.keyPath(key))} must be an array of strings`);
    }
    return value as string[];
  }

  enumValue<T extends string>(key: string, allowed: readonly T[]): T {
    const value = this.string(key);
    if (!(allowed as readonly string[]).includes(value)) {
      throw new SchemaError(`${describeKey(this.keyPath(key))} has an unknown variant (expected one of ${allowed.join(', ')})`);
    }
    return value as T;
  }

  enumArray<T extends string>(key: string, allowed: readonly T[]): T[] {
    const values = this.stringArray(key);
    for (const value of values) {
      if (!(allowed as readonly string[]).includes(value)) {
        throw new SchemaError(`${describeKey(this.keyPath(key))} has an unknown variant (expected one of ${allowed.join(', ')})`);
      }
    }
    return values as T[];
  }

  tableArray<T>(key: string, read: (reader: TableReader) => T): T[] {
    const value = this.raw(key);
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw new SchemaError(`${describeKey(this.keyPath(key))} must be an array of tables`);
    return value.map((item, index) => {
      const reader = new TableReader(item, `${this.keyPath(key)}[${index}]`);
      const out = read(reader);
      reader.done();
      return out;
    });
  }

  table<T>(key: string, read: (reader: TableReader) => T): T | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    const reader = new TableReader(value, this.keyPath(key));
    const out = read(reader);
    reader.done();
    return out;
  }

  json(key: string): JsonValue | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    return tomlToJson(value, this.keyPath(key));
  }

  /** Rejects keys that were never read. */
  done(): void {
    for (const key of Object.keys(this.#table)) {
      if (!this.#seen.has(key)) throw new SchemaError(`unknown key ${describeKey(this.keyPath(key))}`);
    }
  }
}

/** Converts a TOML value to JSON; TOML date-times have no JSON form and are rejected. */
function tomlToJson(value: unknown, path: string): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new SchemaError(`${describeKey(path)} contains a number JSON cannot represent`);
    return value;
  }
  if (Array.isArray(value)) return value.map((item, index) => tomlToJson(item, `${path}[${index}]`));
  if (isTable(value)) {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = tomlToJson(v, `${path}.${k}`);
    return out;
  }
  throw new SchemaError(`${describeKey(path)} contains a value JSON cannot represent`);
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DIAGNOSTIC_KINDS, MESSAGE_BOUND } from '../../src/diagnostics.js';
import type { Outcome } from '../../src/diagnostics.js';
import { normalizePackagePath } from '../../src/package/paths.js';
import { readZipArchive } from '../../src/package/zip-read.js';
import { writeZipArchive } from '../../src/package/zip-write.js';
import type { PackageFiles } from '../../src/package/limits.js';

const NUM_RUNS = 400;

function assertWellFormed(result: Outcome<PackageFiles>): void {
  if (result.ok) {
    for (const [path, content] of result.value) {
      assert.equal(normalizePackagePath(path), path);
      assert.ok(content instanceof Uint8Array);
    }
    return;
  }
  assert.ok((DIAGNOSTIC_KINDS as readonly string[]).includes(result.diagnostic.kind), result.diagnostic.kind);
  assert.equal(result.diagnostic.phase, 'discovery');
  assert.ok(result.diagnostic.message.length > 0);
  assert.ok(result.diagnostic.message.length <= MESSAGE_BOUND + 1);
}

const segment = fc
  .oneof(
    fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }),
  )
  .filter((s) => !s.includes('/') && s !== '.' && s !== '..');

const packagePath = fc
  .array(segment, { minLength: 1, maxLength: 4 })
  .map((segments) => segments.join('/'))
  .filter((p) => normalizePackagePath(p) === p);

const fileMap = fc
  .array(fc.tuple(packagePath, fc.uint8Array({ maxLength: 512 })), { maxLength: 24 })
  .map((entries) => new Map<string, Uint8Array>(entries));

function mustWrite(files: PackageFiles): Uint8Array {
  const result = writeZipArchive(files);
  assert.ok(result.ok, result.ok ? '' : result.diagnostic.message);
  return result.value;
}

const validArchive = fileMap.map(mustWrite);

type Mutation =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'set'; readonly at: number; readonly value: number }
  | { readonly op: 'truncate'; readonly at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(archive: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = new Uint8Array(archive);
  for (const m of mutations) {
    if (bytes.length === 0) break;
    const at = m.at % bytes.length;
    if (m.op === 'flip') bytes[at] = bytes[at]! ^ (1 << m.bit);
    else if (m.op === 'set') bytes[at] = m.value;
    else bytes = bytes.slice(0, at);
  }
  return bytes;
}

describe('readZipArchive properties', () => {
  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        assertWellFormed(readZipArchive(bytes));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never throws on random bytes ending in an end record', () => {
    const eocd = fc
      .tuple(fc.uint8Array({ maxLength: 512 }), fc.uint8Array({ minLength: 18, maxLength: 18 }))
      .map(([head, fields]) => Uint8Array.from([...head, 0x50, 0x4b, 0x05, 0x06, ...fields]));
    fc.assert(
      fc.property(eocd, (bytes) => {
        assertWellFormed(readZipArchive(bytes));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never throws on mutated valid archives', () => {
    fc.assert(
      fc.property(validArchive, fc.array(mutation, { minLength: 1, maxLength: 6 }), (archive, mutations) => {
        assertWellFormed(readZipArchive(mutate(archive, mutations)));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('writeZipArchive properties', () => {
  it('read(write(files)) equals files', () => {
    fc.assert(
      fc.property(fileMap, (files) => {
        const read = readZipArchive(mustWrite(files));
        assert.ok(read.ok, read.ok ? '' : read.diagnostic.message);
        assert.deepEqual(read.value, files);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('is deterministic regardless of insertion order', () => {
    fc.assert(
      fc.property(fileMap, (files) => {
        const reversed = new Map([...files].reverse());
        assert.deepEqual(mustWrite(files), mustWrite(reversed));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

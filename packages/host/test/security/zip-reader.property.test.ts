/**
 * Property tests for the archive reader (issue G item 8): random and mutated archives never
 * make it throw and every refusal is one of its fixed, bounded messages; an archive it accepts
 * reads the same through its local headers alone (what a streaming reader sees); and the
 * generators for the B12 shapes (overlap, local/central mismatch, wrong entry count, bytes
 * outside every record) never produce an accepted archive.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DIAGNOSTIC_KINDS, MESSAGE_BOUND, type Outcome } from '../../src/diagnostics.js';
import type { PackageFiles } from '../../src/package/limits.js';
import { normalizePackagePath } from '../../src/package/paths.js';
import { readZipArchive } from '../../src/package/zip-read.js';
import { writeZipArchive } from '../../src/package/zip-write.js';
import { concat, localRecord, yoiWriterZip, zipOf, type EntrySpec } from './zip-builder.js';

const NUM_RUNS = 300;

/** Every message the reader may give: fixed sentences, never archive content. */
const READER_MESSAGES = new Set([
  'encrypted zip packages are unsupported',
  'multi-disk zip packages are unsupported',
  'plugin package contains a symlink entry',
  'plugin package contains duplicate normalized entry paths',
  'plugin package contains more entries than the configured bound',
  'plugin package entry exceeds the configured per-file bound',
  'plugin package entry path escapes the archive root',
  'plugin package exceeds the configured package size bound',
  'plugin package expanded size exceeds the configured bound',
  'plugin package uses an unsupported zip compression method',
  'zip central directory entry is malformed',
  'zip central directory entry is truncated',
  'zip central directory points outside the package',
  'zip data descriptors are unsupported',
  'zip directory entry has nonzero size',
  'zip end record entry count does not match its central directory',
  'zip end record entry counts disagree',
  'zip end record is not at the end of the package (trailing bytes after it)',
  'zip end-of-central-directory was not found',
  'zip entries overlap',
  'zip entry CRC-32 does not match its content',
  'zip entry data points outside the package',
  'zip entry extra field is malformed',
  'zip entry name is not UTF-8',
  'zip local file header is malformed',
  'zip local file header is truncated',
  'zip local header disagrees with central directory',
  'zip package has bytes that belong to no entry',
  'zip package has unreferenced bytes between its central directory and end record',
  'zip stored entry size does not match central directory',
  'zip64 packages are unsupported',
]);

function u16(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
}
function u32(b: Uint8Array, at: number): number {
  return (u16(b, at) | (u16(b, at + 2) << 16)) >>> 0;
}

/** What a streaming reader sees: local records from offset 0 until the central directory. */
function streamingRead(bytes: Uint8Array): Map<string, Uint8Array> | null {
  const out = new Map<string, Uint8Array>();
  let at = 0;
  while (at + 30 <= bytes.length && u32(bytes, at) === 0x04034b50) {
    const size = u32(bytes, at + 18);
    const nameLength = u16(bytes, at + 26);
    const dataStart = at + 30 + nameLength + u16(bytes, at + 28);
    const name = new TextDecoder().decode(bytes.subarray(at + 30, at + 30 + nameLength));
    if (dataStart + size > bytes.length) return null;
    if (!name.endsWith('/')) out.set(name, bytes.slice(dataStart, dataStart + size));
    at = dataStart + size;
  }
  return u32(bytes, at) === 0x02014b50 || (out.size === 0 && u32(bytes, at) === 0x06054b50) ? out : null;
}

/** The reader's contract on any input: a typed outcome, a fixed bounded message, and agreement with a streaming read. */
function assertContract(bytes: Uint8Array, result: Outcome<PackageFiles>): void {
  if (!result.ok) {
    const d = result.diagnostic;
    assert.ok((DIAGNOSTIC_KINDS as readonly string[]).includes(d.kind), d.kind);
    assert.equal(d.phase, 'discovery');
    assert.ok(READER_MESSAGES.has(d.message), `unexpected message: ${d.message}`);
    assert.ok(d.message.length <= MESSAGE_BOUND);
    return;
  }
  for (const [path, content] of result.value) {
    assert.equal(normalizePackagePath(path), path);
    assert.equal(Object.getPrototypeOf(content), Uint8Array.prototype);
  }
  assert.deepEqual(streamingRead(bytes), new Map(result.value), 'a streaming reader sees other files');
}

function read(bytes: Uint8Array): Outcome<PackageFiles> {
  let result: Outcome<PackageFiles> | undefined;
  assert.doesNotThrow(() => {
    result = readZipArchive(bytes);
  });
  assertContract(bytes, result!);
  return result!;
}

const segment = fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/);
const packagePath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const fileMap = fc
  .uniqueArray(fc.tuple(packagePath, fc.uint8Array({ maxLength: 64 })), { minLength: 1, maxLength: 6, selector: ([p]) => p })
  .filter((entries) => entries.every(([p]) => !entries.some(([q]) => q !== p && q.startsWith(`${p}/`))))
  .map((entries) => new Map<string, Uint8Array>(entries));

function ours(files: PackageFiles): Uint8Array {
  const written = writeZipArchive(files);
  assert.ok(written.ok);
  return written.value;
}

/** Archives both writers produce: ours (real CRCs) and Yoi's (CRC 0, so content edits go unnoticed). */
const validArchive = fc.tuple(fileMap, fc.boolean()).map(([files, yoi]) => (yoi ? yoiWriterZip(files) : ours(files)));

const mutation = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = bytes.length === 0 ? 0 : m.at % bytes.length;
  switch (m.op) {
    case 'set': {
      const copy = bytes.slice();
      copy[at] = m.value;
      return copy;
    }
    case 'insert':
      return concat(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
    case 'delete':
      return concat(bytes.subarray(0, at), bytes.subarray(at + m.count));
    case 'truncate':
      return bytes.subarray(0, at);
  }
}

describe('archive reader properties', () => {
  it('never throws on random bytes, with or without an end record', () => {
    const endRecord = fc.uint8Array({ minLength: 18, maxLength: 18 }).map((tail) => concat(Uint8Array.of(0x50, 0x4b, 0x05, 0x06), tail));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1024 }), fc.option(endRecord), (bytes, end) => void read(end ? concat(bytes, end) : bytes)), { numRuns: NUM_RUNS });
  });

  it('keeps its contract on mutated archives of both writers (accepted ones read the same when streamed)', () => {
    fc.assert(fc.property(validArchive, fc.array(mutation, { minLength: 1, maxLength: 3 }), (bytes, ms) => void read(ms.reduce(mutate, bytes))), { numRuns: NUM_RUNS * 2 });
  });

  it('accepts every archive written the way Yoi writes it, and ours', () => {
    fc.assert(
      fc.property(fileMap, (files) => {
        for (const bytes of [yoiWriterZip(files), ours(files)]) {
          const result = read(bytes);
          assert.ok(result.ok, result.ok ? '' : result.diagnostic.message);
          assert.deepEqual(result.value, files);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never accepts an entry whose local record is embedded in another entry (overlap)', () => {
    fc.assert(
      fc.property(fileMap, segment, fc.uint8Array({ maxLength: 32 }), fc.uint8Array({ maxLength: 32 }), (files, hiddenName, before, after) => {
        const entries: EntrySpec[] = [...files].map(([name, data]) => ({ name, data }));
        const hidden: EntrySpec = { name: `hidden-${hiddenName}`, data: 'x' };
        const carrier: EntrySpec = { name: `carrier-${hiddenName}`, data: concat(before, localRecord(hidden), after) };
        const carrierOffset = entries.reduce((n, e) => n + localRecord(e).length, 0);
        const embedded = carrierOffset + 30 + new TextEncoder().encode(carrier.name).length + before.length;
        const result = read(zipOf([...entries, carrier, { ...hidden, writeLocal: false, localOffset: embedded }]));
        assert.equal(result.ok, false);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never accepts a local header that disagrees with its central header', () => {
    const field = fc.constantFrom('crc', 'compressedSize', 'uncompressedSize', 'flags', 'method', 'name');
    fc.assert(
      fc.property(fileMap, fc.nat(), field, fc.integer({ min: 1, max: 0xffff }), (files, pick, which, delta) => {
        const entries: EntrySpec[] = [...files].map(([name, data]) => ({ name, data }));
        const target = entries[pick % entries.length]!;
        const length = (target.data as Uint8Array).length;
        const local =
          which === 'name'
            ? { name: `${target.name}x` }
            : which === 'crc'
              ? { crc: (((target.crc ?? 0) ^ delta) >>> 0) || 1 }
              : which === 'flags'
                ? { flags: 0x0800 ^ delta }
                : which === 'method'
                  ? { method: delta }
                  : { [which]: length + delta };
        entries[pick % entries.length] = { ...target, local };
        assert.equal(read(zipOf(entries)).ok, false, `${which} accepted`);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never accepts an end record whose entry count is not the number of central headers', () => {
    fc.assert(
      fc.property(fileMap, fc.integer({ min: 0, max: 600 }), (files, claimed) => {
        fc.pre(claimed !== files.size);
        assert.equal(read(zipOf([...files].map(([name, data]) => ({ name, data })), { claimedEntries: claimed })).ok, false);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never accepts bytes outside every record: in front, between records, before or after the end record', () => {
    const where = fc.constantFrom('prefix', 'gap', 'beforeEnd', 'trailing');
    fc.assert(
      fc.property(fileMap, where, fc.uint8Array({ minLength: 1, maxLength: 64 }), (files, place, extra) => {
        const entries = [...files].map(([name, data]) => ({ name, data }));
        const options =
          place === 'prefix' ? { prefix: extra } : place === 'gap' ? { gaps: new Map([[0, extra]]) } : place === 'beforeEnd' ? { beforeEnd: extra } : { trailing: extra };
        assert.equal(read(zipOf(entries, options)).ok, false, place);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

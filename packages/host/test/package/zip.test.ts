import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32, crc32Portable } from '../../src/package/crc32.js';
import { readZipArchive } from '../../src/package/zip-read.js';
import { writeZipArchive } from '../../src/package/zip-write.js';
import { PACKAGE_LIMITS, type PackageFiles } from '../../src/package/limits.js';
import type { DiagnosticKind } from '../../src/diagnostics.js';

const UNZIP = '/usr/bin/unzip';
const ZIP = '/usr/bin/zip';
const MiB = 1024 * 1024;

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yoi-zip-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sampleFiles(): Map<string, Uint8Array> {
  return new Map<string, Uint8Array>([
    ['plugin.toml', text('schema_version = 1\nid = "echo"\n')],
    ['plugin.component.wasm', Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00)],
    ['schemas/input.schema.json', text('{"type":"object"}')],
    ['assets/ünïcødé/日本.txt', text('こんにちは')],
    ['empty.txt', new Uint8Array(0)],
  ]);
}

function written(files: PackageFiles): Uint8Array {
  const result = writeZipArchive(files);
  assert.ok(result.ok, result.ok ? '' : result.diagnostic.message);
  return result.value;
}

function expectFailure(bytes: Uint8Array, kind: DiagnosticKind, message: string): void {
  const result = readZipArchive(bytes);
  assert.equal(result.ok, false, `expected ${kind}: ${message}`);
  if (result.ok) return;
  assert.deepEqual(result.diagnostic, { kind, phase: 'discovery', message });
}

// ---------------------------------------------------------------------------------------------
// A raw ZIP builder with every field under the test's control.

interface RawEntry {
  readonly name: string | Uint8Array;
  readonly data?: string | Uint8Array;
  readonly flags?: number;
  readonly localFlags?: number;
  readonly method?: number;
  readonly localMethod?: number;
  readonly crc?: number;
  readonly compressedSize?: number;
  readonly uncompressedSize?: number;
  readonly externalAttributes?: number;
  readonly madeBy?: number;
  readonly diskStart?: number;
  readonly localOffset?: number;
  readonly localName?: string | Uint8Array;
  readonly localExtra?: Uint8Array;
  readonly centralExtra?: Uint8Array;
}

interface RawOptions {
  readonly disk?: number;
  readonly centralDisk?: number;
  readonly entriesOnDisk?: number;
  readonly totalEntries?: number;
  readonly centralSize?: number;
  readonly centralOffset?: number;
  readonly comment?: Uint8Array;
  /** Bytes before the first local header. */
  readonly prefix?: Uint8Array;
}

class ByteWriter {
  private readonly chunks: Uint8Array[] = [];
  length = 0;
  u16(value: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, value, true);
    this.raw(b);
  }
  u32(value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    this.raw(b);
  }
  raw(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

const asBytes = (value: string | Uint8Array): Uint8Array => (typeof value === 'string' ? text(value) : value);

function rawZip(entries: readonly RawEntry[], options: RawOptions = {}): Uint8Array {
  const w = new ByteWriter();
  if (options.prefix) w.raw(options.prefix);
  const offsets: number[] = [];
  for (const entry of entries) {
    const data = asBytes(entry.data ?? '');
    const localName = asBytes(entry.localName ?? entry.name);
    const localExtra = entry.localExtra ?? new Uint8Array(0);
    offsets.push(w.length);
    w.u32(0x04034b50);
    w.u16(20);
    w.u16(entry.localFlags ?? entry.flags ?? 0x0800);
    w.u16(entry.localMethod ?? entry.method ?? 0);
    w.u16(0);
    w.u16(0x0021);
    w.u32(entry.crc ?? crc32(data));
    w.u32(entry.compressedSize ?? data.length);
    w.u32(entry.uncompressedSize ?? data.length);
    w.u16(localName.length);
    w.u16(localExtra.length);
    w.raw(localName);
    w.raw(localExtra);
    w.raw(data);
  }
  const centralOffset = w.length;
  entries.forEach((entry, index) => {
    const data = asBytes(entry.data ?? '');
    const name = asBytes(entry.name);
    const extra = entry.centralExtra ?? new Uint8Array(0);
    w.u32(0x02014b50);
    w.u16(entry.madeBy ?? 20);
    w.u16(20);
    w.u16(entry.flags ?? 0x0800);
    w.u16(entry.method ?? 0);
    w.u16(0);
    w.u16(0x0021);
    w.u32(entry.crc ?? crc32(data));
    w.u32(entry.compressedSize ?? data.length);
    w.u32(entry.uncompressedSize ?? data.length);
    w.u16(name.length);
    w.u16(extra.length);
    w.u16(0);
    w.u16(entry.diskStart ?? 0);
    w.u16(0);
    w.u32(entry.externalAttributes ?? 0);
    w.u32(entry.localOffset ?? offsets[index]!);
    w.raw(name);
    w.raw(extra);
  });
  const centralSize = w.length - centralOffset;
  const comment = options.comment ?? new Uint8Array(0);
  w.u32(0x06054b50);
  w.u16(options.disk ?? 0);
  w.u16(options.centralDisk ?? 0);
  w.u16(options.entriesOnDisk ?? entries.length);
  w.u16(options.totalEntries ?? entries.length);
  w.u32(options.centralSize ?? centralSize);
  w.u32(options.centralOffset ?? centralOffset);
  w.u16(comment.length);
  w.raw(comment);
  return w.bytes();
}

// ---------------------------------------------------------------------------------------------

describe('crc32', () => {
  it('matches the standard check values', () => {
    assert.equal(crc32(new Uint8Array(0)), 0);
    assert.equal(crc32(text('123456789')), 0xcbf43926);
    assert.equal(crc32(text('The quick brown fox jumps over the lazy dog')), 0x414fa339);
    assert.equal(crc32(Uint8Array.of(0xff, 0xff, 0xff, 0xff)), 0xffffffff);
  });

  it('is the same function with and without zlib.crc32', () => {
    const inputs = [new Uint8Array(0), text('123456789'), Uint8Array.from({ length: 70_001 }, (_, i) => (i * 2654435761) >>> 24)];
    for (const input of inputs) assert.equal(crc32(input), crc32Portable(input));
    assert.equal(crc32Portable(text('123456789')), 0xcbf43926);
  });
});

describe('writeZipArchive', () => {
  it('round-trips through readZipArchive', () => {
    const files = sampleFiles();
    const read = readZipArchive(written(files));
    assert.ok(read.ok);
    assert.deepEqual(read.value, files);
  });

  it('round-trips an empty package', () => {
    const bytes = written(new Map());
    assert.equal(bytes.length, 22);
    const read = readZipArchive(bytes);
    assert.ok(read.ok);
    assert.equal(read.value.size, 0);
  });

  it('is byte-for-byte deterministic and independent of insertion order', () => {
    const files = sampleFiles();
    const first = written(files);
    const second = written(sampleFiles());
    const reversed = written(new Map([...files].reverse()));
    assert.deepEqual(first, second);
    assert.deepEqual(first, reversed);
  });

  it('writes the fixed header profile with entries in UTF-8 byte order', () => {
    const files = new Map<string, Uint8Array>([
      ['b', text('B')],
      ['\u{1F600}', text('emoji')], // above U+FFFF: sorts after U+FFFD in UTF-8 order
      ['\uFFFD', text('replacement')],
      ['a/z', text('AZ')],
    ]);
    const bytes = written(files);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assert.equal(view.getUint32(0, true), 0x04034b50);
    assert.equal(view.getUint16(4, true), 20); // version needed
    assert.equal(view.getUint16(6, true), 0x0800); // UTF-8 flag
    assert.equal(view.getUint16(8, true), 0); // stored
    assert.equal(view.getUint16(10, true), 0); // DOS time
    assert.equal(view.getUint16(12, true), 0x0021); // DOS date 1980-01-01
    assert.equal(view.getUint32(14, true), crc32(text('AZ')));
    assert.equal(view.getUint16(28, true), 0); // no extra field
    assert.equal(new TextDecoder().decode(bytes.subarray(30, 33)), 'a/z');
    const eocd = bytes.length - 22;
    assert.equal(view.getUint32(eocd, true), 0x06054b50);
    assert.equal(view.getUint16(eocd + 10, true), 4);
    const centralOffset = view.getUint32(eocd + 16, true);
    const names: string[] = [];
    let at = centralOffset;
    for (let i = 0; i < 4; i++) {
      assert.equal(view.getUint32(at, true), 0x02014b50);
      assert.equal(view.getUint16(at + 4, true), 20); // made by (host 0)
      assert.equal(view.getUint32(at + 38, true), 0); // external attributes
      const nameLength = view.getUint16(at + 28, true);
      names.push(new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength)));
      at += 46 + nameLength;
    }
    assert.deepEqual(names, ['a/z', 'b', '\uFFFD', '\u{1F600}']);
  });

  it('produces an archive that unzip -t accepts', (t) => {
    if (!existsSync(UNZIP)) {
      t.skip(`${UNZIP} is not installed`);
      return;
    }
    const dir = tempDir(t);
    const file = path.join(dir, 'sample.yoi-plugin');
    writeFileSync(file, written(sampleFiles()));
    const result = spawnSync(UNZIP, ['-t', file], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /No errors detected/);
  });

  it('rejects more entries than the bound', () => {
    const files = new Map<string, Uint8Array>();
    for (let i = 0; i <= PACKAGE_LIMITS.maxEntries; i++) files.set(`f${i}`, new Uint8Array(0));
    const result = writeZipArchive(files);
    assert.ok(!result.ok);
    assert.deepEqual(result.diagnostic, {
      kind: 'bounds',
      phase: 'discovery',
      message: 'plugin package contains more entries than the configured bound',
    });
  });

  it('rejects a file above the per-file bound', () => {
    const result = writeZipArchive(new Map([['big', new Uint8Array(PACKAGE_LIMITS.maxFileBytes + 1)]]));
    assert.ok(!result.ok);
    assert.deepEqual(result.diagnostic, {
      kind: 'bounds',
      phase: 'discovery',
      message: 'plugin package entry exceeds the configured per-file bound',
    });
  });

  it('rejects output above the archive bound before allocating it', () => {
    const chunk = new Uint8Array(6 * MiB);
    const result = writeZipArchive(new Map([['a', chunk], ['b', chunk], ['c', chunk]]));
    assert.ok(!result.ok);
    assert.deepEqual(result.diagnostic, {
      kind: 'bounds',
      phase: 'discovery',
      message: 'plugin package exceeds the configured package size bound',
    });
  });

  it('rejects unsafe paths', () => {
    for (const bad of ['../evil', '/etc/passwd', 'a\\b', 'a//b', './a', 'dir/', '~/x', 'C:/x', 'a\0b', '']) {
      const result = writeZipArchive(new Map([[bad, text('x')]]));
      assert.ok(!result.ok, JSON.stringify(bad));
      assert.deepEqual(result.diagnostic, {
        kind: 'traversal',
        phase: 'discovery',
        message: 'plugin package entry path escapes the archive root',
      });
    }
  });

  it('rejects paths that are not well-formed Unicode', () => {
    const result = writeZipArchive(new Map([['a\uD800b', text('x')]]));
    assert.ok(!result.ok);
    assert.equal(result.diagnostic.kind, 'malformed');
  });
});

describe('readZipArchive', () => {
  it('reads a hand-built archive and copies the content out of the buffer', () => {
    const bytes = rawZip([{ name: 'a.txt', data: 'hello' }, { name: 'b/c.txt', data: 'world' }]);
    const result = readZipArchive(bytes);
    assert.ok(result.ok);
    assert.deepEqual(result.value, new Map([['a.txt', text('hello')], ['b/c.txt', text('world')]]));
    bytes.fill(0);
    assert.deepEqual(result.value.get('a.txt'), text('hello'));
  });

  it('returns plain Uint8Array values for Buffer input', () => {
    const result = readZipArchive(Buffer.from(written(sampleFiles())));
    assert.ok(result.ok);
    for (const value of result.value.values()) assert.equal(Object.getPrototypeOf(value), Uint8Array.prototype);
    assert.deepEqual(result.value, sampleFiles());
  });

  it('accepts an archive comment and well-formed extra fields that differ between local and central headers', () => {
    // Info-ZIP writes a longer extended-timestamp field locally than centrally.
    const localExtra = Uint8Array.of(0x55, 0x54, 5, 0, 1, 2, 3, 4, 5);
    const centralExtra = Uint8Array.of(0x55, 0x54, 1, 0, 1, 0x75, 0x78, 0, 0);
    const clean = rawZip([{ name: 'a.txt', data: 'hi', localExtra, centralExtra }], {
      comment: text('plain comment'),
    });
    const result = readZipArchive(clean);
    assert.ok(result.ok);
    assert.deepEqual(result.value, new Map([['a.txt', text('hi')]]));
  });

  it('rejects a comment holding an end-record signature (readers would disagree on which record is real)', () => {
    // Scanning backwards meets the signature inside the comment first, as every common reader does.
    const bytes = rawZip([{ name: 'a.txt', data: 'hi' }], { comment: text('PK\x05\x06 followed by ordinary text') });
    expectFailure(bytes, 'malformed', 'zip end record is not at the end of the package (trailing bytes after it)');
  });

  it('rejects malformed extra fields', () => {
    const message = 'zip entry extra field is malformed';
    expectFailure(rawZip([{ name: 'a.txt', data: 'hi', centralExtra: Uint8Array.of(1, 2, 3) }]), 'malformed', message);
    expectFailure(rawZip([{ name: 'a.txt', data: 'hi', localExtra: Uint8Array.of(0x55, 0x54, 9, 0, 1) }]), 'malformed', message);
  });

  it('takes a plausible end-record signature inside the comment', () => {
    // The fake record (disk 1, comment length 0) fits, so it wins over the real one.
    const fake = Uint8Array.of(0x50, 0x4b, 0x05, 0x06, 1, 0, ...new Array<number>(16).fill(0));
    expectFailure(rawZip([{ name: 'a.txt', data: 'hi' }], { comment: fake }), 'malformed', 'multi-disk zip packages are unsupported');
  });

  it('rejects the data-descriptor flag', () => {
    expectFailure(rawZip([{ name: 'a.txt', data: 'hello', flags: 0x0808 }]), 'malformed', 'zip data descriptors are unsupported');
  });

  it('skips directory entries and reads their files', () => {
    const result = readZipArchive(
      rawZip([
        { name: 'dir/', externalAttributes: (0o040755 << 16) >>> 0 },
        { name: 'dir/a.txt', data: 'A' },
      ]),
    );
    assert.ok(result.ok);
    assert.deepEqual([...result.value.keys()], ['dir/a.txt']);
  });

  it('rejects a directory entry with content or an unsafe name', () => {
    expectFailure(rawZip([{ name: 'dir/', data: 'x' }]), 'malformed', 'zip directory entry has nonzero size');
    expectFailure(rawZip([{ name: '../' }]), 'traversal', 'plugin package entry path escapes the archive root');
    expectFailure(rawZip([{ name: '/' }]), 'traversal', 'plugin package entry path escapes the archive root');
    expectFailure(rawZip([{ name: 'a//' }]), 'traversal', 'plugin package entry path escapes the archive root');
  });

  it('rejects path traversal, absolute and backslash names', () => {
    for (const name of ['../evil', '/etc/passwd', 'a\\b.txt', '..\\evil', 'a/../b', './a', 'C:/x', '~/x', 'a\0b']) {
      expectFailure(rawZip([{ name, data: 'x' }]), 'traversal', 'plugin package entry path escapes the archive root');
    }
  });

  it('rejects symlink entries', () => {
    expectFailure(
      rawZip([{ name: 'link', data: '/etc/passwd', madeBy: 0x031e, externalAttributes: (0o120777 << 16) >>> 0 }]),
      'traversal',
      'plugin package contains a symlink entry',
    );
  });

  it('rejects encrypted entries', () => {
    expectFailure(rawZip([{ name: 'a.txt', data: 'x', flags: 0x0801 }]), 'malformed', 'encrypted zip packages are unsupported');
  });

  it('rejects compressed entries', () => {
    expectFailure(rawZip([{ name: 'a.txt', data: 'x', method: 8 }]), 'api', 'plugin package uses an unsupported zip compression method');
  });

  it('rejects duplicate names', () => {
    expectFailure(
      rawZip([{ name: 'a.txt', data: 'x' }, { name: 'a.txt', data: 'y' }]),
      'duplicate',
      'plugin package contains duplicate normalized entry paths',
    );
  });

  it('rejects a CRC-32 mismatch', () => {
    expectFailure(rawZip([{ name: 'a.txt', data: 'hello', crc: 0x12345678 }]), 'malformed', 'zip entry CRC-32 does not match its content');
  });

  it('rejects a local header that disagrees with the central directory', () => {
    const message = 'zip local header disagrees with central directory';
    expectFailure(rawZip([{ name: 'a.txt', data: 'x', localName: 'b.txt' }]), 'malformed', message);
    expectFailure(rawZip([{ name: 'a.txt', data: 'x', localName: 'a.txtx' }]), 'malformed', message);
    expectFailure(rawZip([{ name: 'a.txt', data: 'x', localMethod: 8 }]), 'malformed', message);
    expectFailure(rawZip([{ name: 'a.txt', data: 'x', localFlags: 0x0000 }]), 'malformed', message);
  });

  it('rejects a local header offset that is not a local header', () => {
    expectFailure(rawZip([{ name: 'a.txt', data: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', localOffset: 5 }]), 'malformed', 'zip local file header is malformed');
    expectFailure(rawZip([{ name: 'a.txt', data: 'x', localOffset: 0x7fffffff }]), 'malformed', 'zip local file header is truncated');
  });

  it('rejects stored sizes that disagree or point outside the package', () => {
    expectFailure(
      rawZip([{ name: 'a.txt', data: 'hello', uncompressedSize: 4 }]),
      'malformed',
      'zip stored entry size does not match central directory',
    );
    expectFailure(
      rawZip([{ name: 'a.txt', data: 'hello', compressedSize: 5000, uncompressedSize: 5000 }]),
      'malformed',
      'zip entry data points outside the package',
    );
  });

  it('rejects every truncation of a valid archive without throwing', () => {
    const bytes = written(new Map([['plugin.toml', text('id = "x"\n')], ['a/b.bin', Uint8Array.of(1, 2, 3, 4)]]));
    assert.ok(readZipArchive(bytes).ok);
    for (let length = 0; length < bytes.length; length++) {
      const result = readZipArchive(bytes.subarray(0, length));
      assert.equal(result.ok, false, `prefix of length ${length}`);
      if (!result.ok) assert.equal(result.diagnostic.phase, 'discovery');
    }
    for (let start = 1; start < bytes.length; start++) {
      assert.equal(readZipArchive(bytes.subarray(start)).ok, false, `suffix from ${start}`);
    }
  });

  it('rejects more entries than the bound', () => {
    const entries: RawEntry[] = [];
    for (let i = 0; i <= PACKAGE_LIMITS.maxEntries; i++) entries.push({ name: `f${i}`, data: '' });
    expectFailure(rawZip(entries), 'bounds', 'plugin package contains more entries than the configured bound');
    expectFailure(
      rawZip([{ name: 'a', data: 'x' }], { totalEntries: 600, entriesOnDisk: 600 }),
      'bounds',
      'plugin package contains more entries than the configured bound',
    );
  });

  it('rejects a declared size above the per-file bound without needing the data', () => {
    const declared = PACKAGE_LIMITS.maxFileBytes + 1;
    expectFailure(
      rawZip([{ name: 'big', data: 'x', compressedSize: declared, uncompressedSize: declared }]),
      'bounds',
      'plugin package entry exceeds the configured per-file bound',
    );
    expectFailure(
      rawZip([{ name: 'big', data: 'x', compressedSize: 0x7fffffff, uncompressedSize: 0x7fffffff }]),
      'bounds',
      'plugin package entry exceeds the configured per-file bound',
    );
  });

  it('rejects overlapping entries whose expanded size exceeds the bound', () => {
    // Nine local headers, each inside the previous entry's data, each declaring 8 MiB: the file
    // stays under 16 MiB while the declared expansion reaches 72 MiB. CRC 0 (not recorded) on
    // both sides, so only the bounds can stop it.
    const count = 9;
    const stride = 31; // 30-byte local header + 1-byte name
    const size = PACKAGE_LIMITS.maxFileBytes;
    const localEnd = (count - 1) * stride + 31 + size;
    const centralSize = count * (46 + 1);
    const bytes = new Uint8Array(localEnd + centralSize + 22);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < count; i++) {
      const at = i * stride;
      view.setUint32(at, 0x04034b50, true);
      view.setUint16(at + 4, 20, true);
      view.setUint32(at + 18, size, true);
      view.setUint32(at + 22, size, true);
      view.setUint16(at + 26, 1, true);
      bytes[at + 30] = 0x61 + i; // names a, b, c, …
    }
    for (let i = 0; i < count; i++) {
      const at = localEnd + i * 47;
      view.setUint32(at, 0x02014b50, true);
      view.setUint16(at + 4, 20, true);
      view.setUint16(at + 6, 20, true);
      view.setUint32(at + 20, size, true);
      view.setUint32(at + 24, size, true);
      view.setUint16(at + 28, 1, true);
      view.setUint32(at + 42, i * stride, true);
      bytes[at + 46] = 0x61 + i;
    }
    const eocd = localEnd + centralSize;
    view.setUint32(eocd, 0x06054b50, true);
    view.setUint16(eocd + 8, count, true);
    view.setUint16(eocd + 10, count, true);
    view.setUint32(eocd + 12, centralSize, true);
    view.setUint32(eocd + 16, localEnd, true);
    assert.ok(bytes.length <= PACKAGE_LIMITS.maxArchiveBytes);
    expectFailure(bytes, 'bounds', 'plugin package expanded size exceeds the configured bound');
  });

  it('rejects an archive above the package size bound', () => {
    expectFailure(new Uint8Array(PACKAGE_LIMITS.maxArchiveBytes + 1), 'bounds', 'plugin package exceeds the configured package size bound');
  });

  it('rejects non-UTF-8 names', () => {
    expectFailure(rawZip([{ name: Uint8Array.of(0x61, 0xff, 0x62), data: 'x' }]), 'malformed', 'zip entry name is not UTF-8');
    expectFailure(rawZip([{ name: Uint8Array.of(0xed, 0xa0, 0x80), data: 'x' }]), 'malformed', 'zip entry name is not UTF-8');
  });

  it('rejects garbage', () => {
    const notFound = 'zip end-of-central-directory was not found';
    expectFailure(new Uint8Array(0), 'malformed', notFound);
    expectFailure(new Uint8Array(21), 'malformed', notFound);
    expectFailure(text('this is not a zip archive, just some text that is long enough'), 'malformed', notFound);
    expectFailure(new Uint8Array(100_000).fill(0x50), 'malformed', notFound);
  });

  it('does not search for the end record further back than the largest comment', () => {
    const bytes = written(new Map([['a', text('x')]]));
    const padded = new Uint8Array(bytes.length + 0xffff + 1);
    padded.set(bytes);
    expectFailure(padded, 'malformed', 'zip end-of-central-directory was not found');
    // One byte less and the record is just inside the window, but trailing bytes are refused.
    expectFailure(padded.subarray(0, padded.length - 1), 'malformed', 'zip end record is not at the end of the package (trailing bytes after it)');
  });

  it('rejects an end record whose comment runs past the end', () => {
    const bytes = written(new Map([['a', text('x')]]));
    new DataView(bytes.buffer).setUint16(bytes.length - 2, 10, true);
    expectFailure(bytes, 'malformed', 'zip end record is not at the end of the package (trailing bytes after it)');
  });

  it('rejects zip64 markers', () => {
    const message = 'zip64 packages are unsupported';
    const entry = { name: 'a.txt', data: 'x' };
    expectFailure(rawZip([entry], { totalEntries: 0xffff, entriesOnDisk: 0xffff }), 'malformed', message);
    expectFailure(rawZip([entry], { centralSize: 0xffffffff }), 'malformed', message);
    expectFailure(rawZip([entry], { centralOffset: 0xffffffff }), 'malformed', message);
    expectFailure(rawZip([{ ...entry, compressedSize: 0xffffffff }]), 'malformed', message);
    expectFailure(rawZip([{ ...entry, uncompressedSize: 0xffffffff }]), 'malformed', message);
    expectFailure(rawZip([{ ...entry, localOffset: 0xffffffff }]), 'malformed', message);
  });

  it('rejects multi-disk archives and inconsistent entry counts', () => {
    const entry = { name: 'a.txt', data: 'x' };
    expectFailure(rawZip([entry], { disk: 1 }), 'malformed', 'multi-disk zip packages are unsupported');
    expectFailure(rawZip([entry], { centralDisk: 1 }), 'malformed', 'multi-disk zip packages are unsupported');
    expectFailure(rawZip([{ ...entry, diskStart: 1 }]), 'malformed', 'multi-disk zip packages are unsupported');
    expectFailure(rawZip([entry], { entriesOnDisk: 2 }), 'malformed', 'zip end record entry counts disagree');
  });

  it('rejects a central directory outside the package or with bad entries', () => {
    const entry = { name: 'a.txt', data: 'x' };
    expectFailure(rawZip([entry], { centralOffset: 1000 }), 'malformed', 'zip central directory points outside the package');
    expectFailure(rawZip([entry], { centralSize: 1000 }), 'malformed', 'zip central directory points outside the package');
    expectFailure(rawZip([entry], { totalEntries: 2, entriesOnDisk: 2 }), 'malformed', 'zip central directory entry is truncated');
    expectFailure(rawZip([entry], { centralOffset: 0 }), 'malformed', 'zip package has unreferenced bytes between its central directory and end record');
    expectFailure(rawZip([entry], { centralOffset: 0, centralSize: 36 + 51 }), 'malformed', 'zip central directory entry is malformed');
  });

  it('reads an archive produced by zip -0 -r, skipping its directory entries', (t) => {
    if (!existsSync(ZIP)) {
      t.skip(`${ZIP} is not installed`);
      return;
    }
    const dir = tempDir(t);
    const src = path.join(dir, 'pkg');
    mkdirSync(path.join(src, 'schemas', 'nested'), { recursive: true });
    writeFileSync(path.join(src, 'plugin.toml'), 'id = "x"\n');
    writeFileSync(path.join(src, 'schemas', 'input.schema.json'), '{}');
    writeFileSync(path.join(src, 'schemas', 'nested', 'deep.bin'), Uint8Array.of(0, 1, 2, 255));
    const archive = path.join(dir, 'pkg.yoi-plugin');
    execFileSync(ZIP, ['-0', '-r', '-q', archive, '.'], { cwd: src });
    const result = readZipArchive(readFileSync(archive));
    assert.ok(result.ok, result.ok ? '' : result.diagnostic.message);
    assert.deepEqual(
      result.value,
      new Map<string, Uint8Array>([
        ['plugin.toml', text('id = "x"\n')],
        ['schemas/input.schema.json', text('{}')],
        ['schemas/nested/deep.bin', Uint8Array.of(0, 1, 2, 255)],
      ]),
    );
  });
});

/**
 * A byte-level ZIP builder for the archive attack tests: every header field is the test's to
 * choose, so an archive can say one thing in its local headers and another in its central
 * directory, hide bytes between records, or end in something other than its end record.
 */
import { crc32 } from '../../src/package/crc32.js';

const encoder = new TextEncoder();

export interface HeaderFields {
  readonly name: Uint8Array;
  readonly crc: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly flags: number;
  readonly method: number;
  readonly version: number;
  readonly dosTime: number;
  readonly dosDate: number;
  readonly extra: Uint8Array;
}

export interface EntrySpec {
  readonly name: string;
  readonly data: Uint8Array | string;
  /** Defaults to the real CRC-32 of `data`. */
  readonly crc?: number;
  readonly flags?: number;
  readonly method?: number;
  readonly dosTime?: number;
  readonly dosDate?: number;
  readonly externalAttributes?: number;
  readonly centralExtra?: Uint8Array;
  readonly localExtra?: Uint8Array;
  /** Fields the local header states differently from the central one. */
  readonly local?: Partial<Omit<HeaderFields, 'name' | 'extra'>> & { readonly name?: string };
  /** Where the central header says the local record is (default: where it was written). */
  readonly localOffset?: number;
  /** false: only a central header is written (its local record lives elsewhere, e.g. inside another entry). */
  readonly writeLocal?: boolean;
}

export interface ArchiveOptions {
  /** Bytes before the first local record. */
  readonly prefix?: Uint8Array;
  /** Bytes written after local record `index` (a gap nothing refers to). */
  readonly gaps?: ReadonlyMap<number, Uint8Array>;
  /** Bytes between the central directory and the end record. */
  readonly beforeEnd?: Uint8Array;
  /** Bytes after the end record (not declared as its comment). */
  readonly trailing?: Uint8Array;
  readonly comment?: Uint8Array;
  /** The entry count the end record claims (both fields). */
  readonly claimedEntries?: number;
}

export const bytesOf = (value: Uint8Array | string): Uint8Array => (typeof value === 'string' ? encoder.encode(value) : value);

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

class Writer {
  readonly #bytes: number[] = [];
  u16(value: number): this {
    this.#bytes.push(value & 0xff, (value >>> 8) & 0xff);
    return this;
  }
  u32(value: number): this {
    return this.u16(value & 0xffff).u16((value >>> 16) & 0xffff);
  }
  raw(bytes: Uint8Array): this {
    for (const b of bytes) this.#bytes.push(b);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

/** A local file header followed by its name and extra field (the data is not included). */
export function localHeader(h: HeaderFields): Uint8Array {
  return new Writer()
    .u32(0x04034b50)
    .u16(h.version)
    .u16(h.flags)
    .u16(h.method)
    .u16(h.dosTime)
    .u16(h.dosDate)
    .u32(h.crc)
    .u32(h.compressedSize)
    .u32(h.uncompressedSize)
    .u16(h.name.length)
    .u16(h.extra.length)
    .raw(h.name)
    .raw(h.extra)
    .done();
}

export function centralHeader(h: HeaderFields, localOffset: number, externalAttributes = 0): Uint8Array {
  return new Writer()
    .u32(0x02014b50)
    .u16(h.version) // version made by (host 0)
    .u16(h.version) // version needed to extract
    .u16(h.flags)
    .u16(h.method)
    .u16(h.dosTime)
    .u16(h.dosDate)
    .u32(h.crc)
    .u32(h.compressedSize)
    .u32(h.uncompressedSize)
    .u16(h.name.length)
    .u16(h.extra.length)
    .u16(0) // comment length
    .u16(0) // disk number start
    .u16(0) // internal attributes
    .u32(externalAttributes)
    .u32(localOffset)
    .raw(h.name)
    .raw(h.extra)
    .done();
}

export function endRecord(entries: number, centralSize: number, centralOffset: number, comment: Uint8Array = new Uint8Array(0)): Uint8Array {
  return new Writer().u32(0x06054b50).u16(0).u16(0).u16(entries).u16(entries).u32(centralSize).u32(centralOffset).u16(comment.length).raw(comment).done();
}

function centralFields(entry: EntrySpec): HeaderFields {
  const data = bytesOf(entry.data);
  return {
    name: encoder.encode(entry.name),
    crc: entry.crc ?? crc32(data),
    compressedSize: data.length,
    uncompressedSize: data.length,
    flags: entry.flags ?? 0x0800,
    method: entry.method ?? 0,
    version: 20,
    dosTime: entry.dosTime ?? 0,
    dosDate: entry.dosDate ?? 0x0021,
    extra: entry.centralExtra ?? new Uint8Array(0),
  };
}

/** The local record (header, name, extra, data) of an entry, as `zipOf` writes it. */
export function localRecord(entry: EntrySpec): Uint8Array {
  const central = centralFields(entry);
  const { name, ...overrides } = entry.local ?? {};
  const local: HeaderFields = { ...central, ...overrides, name: name !== undefined ? encoder.encode(name) : central.name, extra: entry.localExtra ?? new Uint8Array(0) };
  return concat(localHeader(local), bytesOf(entry.data));
}

/** An archive of `entries` in order, with every deviation the options and entry specs ask for. */
export function zipOf(entries: readonly EntrySpec[], options: ArchiveOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const push = (part: Uint8Array) => {
    parts.push(part);
    offset += part.length;
  };
  if (options.prefix) push(options.prefix);
  const offsets: number[] = [];
  entries.forEach((entry, index) => {
    offsets.push(offset);
    if (entry.writeLocal !== false) push(localRecord(entry));
    const gap = options.gaps?.get(index);
    if (gap) push(gap);
  });
  const centralOffset = offset;
  entries.forEach((entry, index) => push(centralHeader(centralFields(entry), entry.localOffset ?? offsets[index]!, entry.externalAttributes ?? 0)));
  const centralSize = offset - centralOffset;
  if (options.beforeEnd) push(options.beforeEnd);
  push(endRecord(options.claimedEntries ?? entries.length, centralSize, centralOffset, options.comment));
  if (options.trailing) push(options.trailing);
  return concat(...parts);
}

/**
 * An archive byte-for-byte as Yoi's `yoi plugin pack` writes it (reference 6.3): entries in
 * sorted path order, stored, version needed/made by 20, flags 0x0800, DOS time and date 0,
 * CRC-32 written as 0, no extra fields or comments, external attributes 0.
 */
export function yoiWriterZip(files: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const sorted = [...files.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return zipOf(sorted.map((name) => ({ name, data: files.get(name)!, crc: 0, flags: 0x0800, dosTime: 0, dosDate: 0 })));
}

import { diagnostic, fail, ok, type DiagnosticKind, type Outcome } from '../diagnostics.js';
import { crc32 } from './crc32.js';
import { PACKAGE_LIMITS, type PackageFiles } from './limits.js';
import { normalizePackagePath } from './paths.js';

/**
 * The constrained ZIP reader for `.yoi-plugin` packages (spec 1.1), hand-written, no zip library.
 *
 * Accepted profile: single disk, no ZIP64, no encryption, no data descriptors, stored (method 0)
 * entries only, no symlinks, every name valid UTF-8 and normalisable (1.2), no duplicate paths.
 * The archive must read the same way in every ZIP reader, so every byte belongs to exactly one
 * structure: local records tile the bytes before the central directory without gaps or overlap,
 * the central directory ends where the end record starts, the end record (with its declared
 * comment) ends the file, and its entry count is exactly the number of central headers. Each
 * local header agrees with its central header on name, flags, method, CRC-32 and sizes.
 * Deliberate differences from Yoi (which accepted all of the above): explicit directory entries
 * (`name/`, size 0) are skipped instead of rejected; a non-zero CRC-32 is verified, a CRC of 0
 * means "not recorded" (Yoi's writer stores 0) and is accepted, since the sha256 digest pin
 * carries integrity.
 *
 * Every check happens before any allocation sized by the archive, every loop is bounded by the
 * archive length or the entry bound, and no input makes this function throw.
 */

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EXTRA_ID = 0x0001;

const EOCD_SIZE = 22;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;
const EXTRA_HEADER_SIZE = 4;
/** EOCD record plus the largest possible archive comment. */
const EOCD_SEARCH_WINDOW = EOCD_SIZE + 0xffff;

const FLAG_ENCRYPTED = 0x0001;
const FLAG_DATA_DESCRIPTOR = 0x0008;
const METHOD_STORED = 0;
/** A stored CRC-32 of 0 means the writer did not record one (Yoi's writer). */
const CRC_NOT_RECORDED = 0;

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

const U16_MARKER = 0xffff;
const U32_MARKER = 0xffffffff;

const MESSAGES = {
  zip64: 'zip64 packages are unsupported',
  localMismatch: 'zip local header disagrees with central directory',
  notAtEnd: 'zip end record is not at the end of the package (trailing bytes after it)',
  afterCentral: 'zip package has unreferenced bytes between its central directory and end record',
  countMismatch: 'zip end record entry count does not match its central directory',
  overlap: 'zip entries overlap',
  unreferenced: 'zip package has bytes that belong to no entry',
  dataDescriptor: 'zip data descriptors are unsupported',
  badExtra: 'zip entry extra field is malformed',
} as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function problem(kind: DiagnosticKind, message: string): Outcome<never> {
  return fail(diagnostic(kind, 'discovery', message));
}

function malformed(message: string): Outcome<never> {
  return problem('malformed', message);
}

/** Little-endian u16 at `offset`; callers guarantee `offset + 2 <= bytes.length`. */
function u16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] ?? 0) | ((bytes[offset + 1] ?? 0) << 8);
}

/** Little-endian u32 at `offset`; callers guarantee `offset + 4 <= bytes.length`. */
function u32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] ?? 0) | ((bytes[offset + 1] ?? 0) << 8) | ((bytes[offset + 2] ?? 0) << 16) | ((bytes[offset + 3] ?? 0) << 24)) >>>
    0
  );
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

/**
 * The last end-record signature within the search window, as every common reader takes it; -1
 * when there is none. Whether it really ends the file is checked by the caller.
 */
function findEndOfCentralDirectory(bytes: Uint8Array): number {
  if (bytes.length < EOCD_SIZE) return -1;
  const lowest = Math.max(0, bytes.length - EOCD_SEARCH_WINDOW);
  for (let offset = bytes.length - EOCD_SIZE; offset >= lowest; offset--) {
    if (u32(bytes, offset) === EOCD_SIGNATURE) return offset;
  }
  return -1;
}

/** Extra fields must be a well-formed sequence of (id, size, data) records, none of them ZIP64. */
function extraFieldProblem(bytes: Uint8Array, start: number, length: number): string | null {
  const end = start + length;
  let at = start;
  while (at < end) {
    if (at + EXTRA_HEADER_SIZE > end) return MESSAGES.badExtra;
    const id = u16(bytes, at);
    const size = u16(bytes, at + 2);
    if (at + EXTRA_HEADER_SIZE + size > end) return MESSAGES.badExtra;
    if (id === ZIP64_EXTRA_ID) return MESSAGES.zip64;
    at += EXTRA_HEADER_SIZE + size;
  }
  return null;
}

/** The bytes one local record occupies: header, name, extra field and data. */
interface RecordSpan {
  readonly start: number;
  readonly end: number;
}

/** Local records must tile `[0, centralOffset)` exactly: no gap, no overlap, nothing in front. */
function tilingProblem(spans: RecordSpan[], centralOffset: number): string | null {
  spans.sort((a, b) => a.start - b.start);
  let expected = 0;
  for (const span of spans) {
    if (span.start < expected) return MESSAGES.overlap;
    if (span.start > expected) return MESSAGES.unreferenced;
    expected = span.end;
  }
  return expected === centralOffset ? null : MESSAGES.unreferenced;
}

export function readZipArchive(bytes: Uint8Array): Outcome<PackageFiles> {
  if (bytes.length > PACKAGE_LIMITS.maxArchiveBytes) {
    return problem('bounds', 'plugin package exceeds the configured package size bound');
  }

  // End of central directory: the last signature, and its record with the comment it declares ends the file.
  const eocd = findEndOfCentralDirectory(bytes);
  if (eocd < 0) return malformed('zip end-of-central-directory was not found');
  if (eocd + EOCD_SIZE + u16(bytes, eocd + 20) !== bytes.length) return malformed(MESSAGES.notAtEnd);
  const diskNumber = u16(bytes, eocd + 4);
  const centralDisk = u16(bytes, eocd + 6);
  const entriesOnDisk = u16(bytes, eocd + 8);
  const totalEntries = u16(bytes, eocd + 10);
  const centralSize = u32(bytes, eocd + 12);
  const centralOffset = u32(bytes, eocd + 16);
  if (diskNumber !== 0 || centralDisk !== 0) return malformed('multi-disk zip packages are unsupported');
  if (
    entriesOnDisk === U16_MARKER ||
    totalEntries === U16_MARKER ||
    centralSize === U32_MARKER ||
    centralOffset === U32_MARKER
  ) {
    return malformed(MESSAGES.zip64);
  }
  if (entriesOnDisk !== totalEntries) return malformed('zip end record entry counts disagree');
  if (totalEntries > PACKAGE_LIMITS.maxEntries) {
    return problem('bounds', 'plugin package contains more entries than the configured bound');
  }

  // The central directory ends exactly where the end record starts.
  const centralEnd = centralOffset + centralSize;
  if (centralEnd > eocd) return malformed('zip central directory points outside the package');
  if (centralEnd < eocd) {
    const locator = eocd - ZIP64_LOCATOR_SIZE;
    return malformed(locator >= centralEnd && u32(bytes, locator) === ZIP64_LOCATOR_SIGNATURE ? MESSAGES.zip64 : MESSAGES.afterCentral);
  }

  const files = new Map<string, Uint8Array>();
  const spans: RecordSpan[] = [];
  let expanded = 0;
  let cursor = centralOffset;

  for (let index = 0; index < totalEntries; index++) {
    // Central directory file header.
    if (cursor + CENTRAL_HEADER_SIZE > centralEnd) return malformed('zip central directory entry is truncated');
    if (u32(bytes, cursor) !== CENTRAL_SIGNATURE) return malformed('zip central directory entry is malformed');
    const flags = u16(bytes, cursor + 8);
    const method = u16(bytes, cursor + 10);
    const expectedCrc = u32(bytes, cursor + 16);
    const compressedSize = u32(bytes, cursor + 20);
    const uncompressedSize = u32(bytes, cursor + 24);
    const nameLength = u16(bytes, cursor + 28);
    const extraLength = u16(bytes, cursor + 30);
    const entryCommentLength = u16(bytes, cursor + 32);
    const diskStart = u16(bytes, cursor + 34);
    const externalAttributes = u32(bytes, cursor + 38);
    const localOffset = u32(bytes, cursor + 42);
    const nameStart = cursor + CENTRAL_HEADER_SIZE;
    const next = nameStart + nameLength + extraLength + entryCommentLength;
    if (next > centralEnd) return malformed('zip central directory entry is truncated');
    if (compressedSize === U32_MARKER || uncompressedSize === U32_MARKER || localOffset === U32_MARKER || diskStart === U16_MARKER) {
      return malformed(MESSAGES.zip64);
    }
    if (diskStart !== 0) return malformed('multi-disk zip packages are unsupported');
    cursor = next;

    const nameBytes = bytes.subarray(nameStart, nameStart + nameLength);
    let name: string;
    try {
      name = utf8.decode(nameBytes);
    } catch {
      return malformed('zip entry name is not UTF-8');
    }

    if ((flags & FLAG_ENCRYPTED) !== 0) return malformed('encrypted zip packages are unsupported');
    if (((externalAttributes >>> 16) & S_IFMT) === S_IFLNK) {
      return problem('traversal', 'plugin package contains a symlink entry');
    }
    if ((flags & FLAG_DATA_DESCRIPTOR) !== 0) return malformed(MESSAGES.dataDescriptor);
    const centralExtra = extraFieldProblem(bytes, nameStart + nameLength, extraLength);
    if (centralExtra) return malformed(centralExtra);

    // Directory entries carry no content: their name must still be safe, then they are skipped.
    const isDirectory = name.endsWith('/');
    let path = '';
    if (isDirectory) {
      if (compressedSize !== 0 || uncompressedSize !== 0) return malformed('zip directory entry has nonzero size');
      if (normalizePackagePath(name.slice(0, -1)) === null) {
        return problem('traversal', 'plugin package entry path escapes the archive root');
      }
    } else {
      const normalized = normalizePackagePath(name);
      if (normalized === null) return problem('traversal', 'plugin package entry path escapes the archive root');
      path = normalized;
      if (method !== METHOD_STORED) return problem('api', 'plugin package uses an unsupported zip compression method');
      if (uncompressedSize > PACKAGE_LIMITS.maxFileBytes) {
        return problem('bounds', 'plugin package entry exceeds the configured per-file bound');
      }
      expanded += uncompressedSize;
      if (expanded > PACKAGE_LIMITS.maxExpandedBytes) {
        return problem('bounds', 'plugin package expanded size exceeds the configured bound');
      }
    }

    // Local file header: precedes the central directory and agrees with the central entry.
    if (localOffset + LOCAL_HEADER_SIZE > centralOffset) return malformed('zip local file header is truncated');
    if (u32(bytes, localOffset) !== LOCAL_SIGNATURE) return malformed('zip local file header is malformed');
    const localNameLength = u16(bytes, localOffset + 26);
    const localExtraLength = u16(bytes, localOffset + 28);
    const localNameStart = localOffset + LOCAL_HEADER_SIZE;
    if (localNameStart + localNameLength + localExtraLength > centralOffset) return malformed('zip local file header is truncated');
    if (
      u16(bytes, localOffset + 6) !== flags ||
      u16(bytes, localOffset + 8) !== method ||
      u32(bytes, localOffset + 14) !== expectedCrc ||
      u32(bytes, localOffset + 18) !== compressedSize ||
      u32(bytes, localOffset + 22) !== uncompressedSize ||
      !bytesEqual(bytes.subarray(localNameStart, localNameStart + localNameLength), nameBytes)
    ) {
      return malformed(MESSAGES.localMismatch);
    }
    const localExtra = extraFieldProblem(bytes, localNameStart + localNameLength, localExtraLength);
    if (localExtra) return malformed(localExtra);
    const dataStart = localNameStart + localNameLength + localExtraLength;
    const dataEnd = dataStart + compressedSize;
    if (dataEnd > centralOffset) return malformed('zip entry data points outside the package');
    spans.push({ start: localOffset, end: dataEnd });
    if (isDirectory) continue;
    if (compressedSize !== uncompressedSize) return malformed('zip stored entry size does not match central directory');

    const data = bytes.subarray(dataStart, dataEnd);
    if (expectedCrc !== CRC_NOT_RECORDED && crc32(data) !== expectedCrc) return malformed('zip entry CRC-32 does not match its content');
    if (files.has(path)) return problem('duplicate', 'plugin package contains duplicate normalized entry paths');
    // A copy, so the result neither aliases nor retains the archive buffer (and is never a Buffer).
    files.set(path, new Uint8Array(data));
  }

  if (cursor !== centralEnd) return malformed(MESSAGES.countMismatch);
  const tiling = tilingProblem(spans, centralOffset);
  if (tiling) return malformed(tiling);
  return ok(files);
}

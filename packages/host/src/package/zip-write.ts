import { diagnostic, fail, ok, type DiagnosticKind, type Outcome } from '../diagnostics.js';
import { crc32 } from './crc32.js';
import { sortedPaths } from './digest.js';
import { PACKAGE_LIMITS, type PackageFiles } from './limits.js';
import { normalizePackagePath } from './paths.js';

/**
 * The deterministic `.yoi-plugin` writer (spec 6.3, with a real CRC-32 instead of Yoi's 0):
 * entries in ascending UTF-8 byte order of their paths, all stored, version needed/made by 20
 * (host 0), flags 0x0800 (UTF-8 names), DOS time 0 and date 1980-01-01, no extra fields, no
 * comments, external attributes 0, then the central directory and the end record. Identical
 * input yields identical bytes whatever the map's insertion order.
 */

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

const EOCD_SIZE = 22;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;

const VERSION = 20;
const FLAG_UTF8 = 0x0800;
const METHOD_STORED = 0;
const DOS_TIME = 0;
/** 1980-01-01: day 1, month 1, year 0 — the smallest valid DOS date. */
const DOS_DATE = 0x0021;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

function problem(kind: DiagnosticKind, message: string): Outcome<never> {
  return fail(diagnostic(kind, 'discovery', message));
}

interface PlannedEntry {
  readonly name: Uint8Array;
  readonly data: Uint8Array;
  readonly crc: number;
  readonly offset: number;
}

export function writeZipArchive(files: PackageFiles): Outcome<Uint8Array> {
  if (files.size > PACKAGE_LIMITS.maxEntries) {
    return problem('bounds', 'plugin package contains more entries than the configured bound');
  }

  // Plan every entry and the total size before allocating the output.
  const planned: PlannedEntry[] = [];
  let offset = 0;
  let centralSize = 0;
  for (const path of sortedPaths(files)) {
    if (normalizePackagePath(path) !== path) {
      return problem('traversal', 'plugin package entry path escapes the archive root');
    }
    const name = encoder.encode(path);
    // Lone surrogates would be replaced by U+FFFD and not read back as the same path.
    if (decoder.decode(name) !== path) return problem('malformed', 'zip entry name is not UTF-8');
    if (name.length > 0xffff) return problem('malformed', 'zip entry name is too large');
    const data = files.get(path)!;
    if (data.length > PACKAGE_LIMITS.maxFileBytes) {
      return problem('bounds', 'plugin package entry exceeds the configured per-file bound');
    }
    planned.push({ name, data, crc: crc32(data), offset });
    offset += LOCAL_HEADER_SIZE + name.length + data.length;
    centralSize += CENTRAL_HEADER_SIZE + name.length;
    if (offset + centralSize + EOCD_SIZE > PACKAGE_LIMITS.maxArchiveBytes) {
      return problem('bounds', 'plugin package exceeds the configured package size bound');
    }
  }

  const centralOffset = offset;
  const out = new Uint8Array(centralOffset + centralSize + EOCD_SIZE);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  const u16 = (value: number): void => {
    view.setUint16(at, value, true);
    at += 2;
  };
  const u32 = (value: number): void => {
    view.setUint32(at, value >>> 0, true);
    at += 4;
  };
  const raw = (value: Uint8Array): void => {
    out.set(value, at);
    at += value.length;
  };

  for (const entry of planned) {
    u32(LOCAL_SIGNATURE);
    u16(VERSION); // version needed to extract
    u16(FLAG_UTF8);
    u16(METHOD_STORED);
    u16(DOS_TIME);
    u16(DOS_DATE);
    u32(entry.crc);
    u32(entry.data.length); // compressed size
    u32(entry.data.length); // uncompressed size
    u16(entry.name.length);
    u16(0); // extra field length
    raw(entry.name);
    raw(entry.data);
  }

  for (const entry of planned) {
    u32(CENTRAL_SIGNATURE);
    u16(VERSION); // version made by (host 0)
    u16(VERSION); // version needed to extract
    u16(FLAG_UTF8);
    u16(METHOD_STORED);
    u16(DOS_TIME);
    u16(DOS_DATE);
    u32(entry.crc);
    u32(entry.data.length);
    u32(entry.data.length);
    u16(entry.name.length);
    u16(0); // extra field length
    u16(0); // comment length
    u16(0); // disk number start
    u16(0); // internal attributes
    u32(0); // external attributes
    u32(entry.offset);
    raw(entry.name);
  }

  u32(EOCD_SIGNATURE);
  u16(0); // this disk
  u16(0); // disk with the central directory
  u16(planned.length);
  u16(planned.length);
  u32(centralSize);
  u32(centralOffset);
  u16(0); // comment length

  return ok(out);
}

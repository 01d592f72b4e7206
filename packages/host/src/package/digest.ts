import { createHash } from 'node:crypto';
import type { PackageFiles } from './limits.js';

const DIGEST_PREFIX = Buffer.from('yoi-plugin-package-digest-v1\0', 'utf8');

/**
 * Yoi's deterministic package digest (1.3): SHA-256 over a fixed prefix and, for each file in
 * ascending byte order of its path, `path NUL u64be(length) sha256(content)`.
 */
export function computePackageDigest(files: PackageFiles): string {
  const hash = createHash('sha256');
  hash.update(DIGEST_PREFIX);
  for (const path of sortedPaths(files)) {
    const content = files.get(path)!;
    hash.update(Buffer.from(path, 'utf8'));
    hash.update(Buffer.of(0));
    const length = Buffer.alloc(8);
    length.writeBigUInt64BE(BigInt(content.byteLength));
    hash.update(length);
    hash.update(createHash('sha256').update(content).digest());
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Paths sorted by their UTF-8 bytes (not by UTF-16 code units, which differ above U+FFFF). */
export function sortedPaths(files: PackageFiles): string[] {
  return [...files.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** Yoi's `digest_matches`: the expected value must start with `sha256:` and equal byte for byte. */
export function digestMatches(expected: string, actual: string): boolean {
  return expected.startsWith('sha256:') && actual.startsWith('sha256:') && expected === actual;
}

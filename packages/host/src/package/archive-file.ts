import type { BigIntStats } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { diagnostic, fail, ioErrorKind, ok, type Outcome } from '../diagnostics.js';
import { computePackageDigest } from './digest.js';
import { fileIdentity, type IdentityCache } from './file-identity.js';
import { PACKAGE_LIMITS, type PackageFiles } from './limits.js';
import { readZipArchive } from './zip-read.js';

/** Reads a `.yoi-plugin` file: regular file, within the size bound, then the archive rules. */
export async function readPackageFile(path: string): Promise<Outcome<PackageFiles>> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    return fail(diagnostic('io', 'discovery', `plugin package metadata could not be read: ${ioErrorKind(error)}`));
  }
  if (!info.isFile()) return fail(diagnostic('malformed', 'discovery', 'plugin package candidate is not a regular file'));
  if (info.size > PACKAGE_LIMITS.maxArchiveBytes) {
    return fail(diagnostic('bounds', 'discovery', 'plugin package exceeds the configured package size bound'));
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    return fail(diagnostic('io', 'discovery', `plugin package content could not be read: ${ioErrorKind(error)}`));
  }
  return readZipArchive(bytes);
}

export interface DigestedPackage {
  readonly files: PackageFiles;
  readonly digest: string;
  /** True when the digest was taken from `identities` instead of hashing the files. */
  readonly digestFromIdentity: boolean;
}

/**
 * Reads a `.yoi-plugin` file like `readPackageFile` (every archive rule and CRC is checked
 * each time) and gives its package digest. The digest comes from `identities` when the file
 * has the identity it had when its digest was last computed (see file-identity.ts for what
 * that trusts); otherwise it is computed and, once the file has settled, recorded.
 */
export async function readDigestedPackageFile(path: string, identities: IdentityCache): Promise<Outcome<DigestedPackage>> {
  let before: BigIntStats;
  try {
    before = await stat(path, { bigint: true });
  } catch (error) {
    return fail(diagnostic('io', 'discovery', `plugin package metadata could not be read: ${ioErrorKind(error)}`));
  }
  // Checked before opening: opening a FIFO would wait for a writer.
  if (!before.isFile()) return fail(diagnostic('malformed', 'discovery', 'plugin package candidate is not a regular file'));
  if (before.size > BigInt(PACKAGE_LIMITS.maxArchiveBytes)) {
    return fail(diagnostic('bounds', 'discovery', 'plugin package exceeds the configured package size bound'));
  }
  const readAt = identities.now();
  let bytes: Uint8Array;
  let after: BigIntStats;
  try {
    const handle = await open(path, 'r');
    try {
      bytes = await handle.readFile();
      after = await handle.stat({ bigint: true });
    } finally {
      await handle.close();
    }
  } catch (error) {
    return fail(diagnostic('io', 'discovery', `plugin package content could not be read: ${ioErrorKind(error)}`));
  }
  const files = readZipArchive(bytes);
  if (!files.ok) return files;
  const identity = fileIdentity(before);
  // Changed while being read: neither trust nor record an identity.
  const stable = identity === fileIdentity(after);
  const known = stable ? identities.lookup(path, identity) : undefined;
  if (known !== undefined) return ok({ files: files.value, digest: known, digestFromIdentity: true });
  const digest = computePackageDigest(files.value);
  if (stable) identities.record(path, after, digest, readAt);
  else identities.forget(path);
  return ok({ files: files.value, digest, digestFromIdentity: false });
}

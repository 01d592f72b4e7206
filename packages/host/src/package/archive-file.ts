import { readFile, stat } from 'node:fs/promises';
import { diagnostic, fail, ioErrorKind, type Outcome } from '../diagnostics.js';
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

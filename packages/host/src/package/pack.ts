import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-write.js';
import { basename, dirname, join, resolve } from 'node:path';
import { diagnostic, fail, ioErrorKind, ok, type Outcome } from '../diagnostics.js';
import { readPackageFile } from './archive-file.js';
import { readPluginDirectory } from './directory.js';
import { loadPluginPackage, type PluginPackage } from './plugin-package.js';
import { writeZipArchive } from './zip-write.js';

export interface PackResult {
  readonly outputPath: string;
  readonly package: PluginPackage;
  readonly bytes: number;
}

/**
 * Default output: a sibling `<dir-name>.yoi-plugin` (`plugin.yoi-plugin` for a nameless dir).
 * @public
 */
export function defaultPackOutput(dir: string): string {
  const absolute = resolve(dir);
  const name = basename(absolute) || 'plugin';
  return join(dirname(absolute), `${name}.yoi-plugin`);
}

/**
 * Packs a plugin directory into a deterministic `.yoi-plugin` archive. The manifest must be
 * valid. The archive is written to a temporary file, fsynced and renamed into place, then
 * re-read and re-validated; its digest must equal the directory's.
 */
export async function packPluginDirectory(dir: string, output: string = defaultPackOutput(dir)): Promise<Outcome<PackResult>> {
  const files = await readPluginDirectory(dir);
  if (!files.ok) return files;
  const loaded = loadPluginPackage(files.value);
  if (!loaded.ok) return loaded;
  const archive = writeZipArchive(files.value);
  if (!archive.ok) return archive;

  const outputPath = resolve(output);
  try {
    await mkdir(dirname(outputPath), { recursive: true });
  } catch (error) {
    return fail(diagnostic('io', 'discovery', `plugin package output directory could not be created: ${ioErrorKind(error)}`));
  }
  try {
    await writeFileAtomic(outputPath, archive.value);
  } catch (error) {
    return fail(diagnostic('io', 'discovery', `plugin package output could not be written: ${ioErrorKind(error)}`));
  }

  const reread = await readPackageFile(outputPath);
  if (!reread.ok) return reread;
  const verified = loadPluginPackage(reread.value);
  if (!verified.ok) return verified;
  if (verified.value.digest !== loaded.value.digest) {
    return fail(diagnostic('digest', 'discovery', 'packed archive digest does not match the plugin directory digest'));
  }
  return ok({ outputPath, package: verified.value, bytes: archive.value.byteLength });
}

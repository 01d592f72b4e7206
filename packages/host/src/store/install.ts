import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { diagnostic, fail, ioErrorKind, ok, type Outcome } from '../diagnostics.js';
import { readPackageFile } from '../package/archive-file.js';
import { readPluginDirectory } from '../package/directory.js';
import { loadPluginPackage, type PluginPackage } from '../package/plugin-package.js';
import { writeZipArchive } from '../package/zip-write.js';
import { PACKAGE_EXTENSION } from './discover.js';
import { projectStoreDir } from './locations.js';

export interface Installed {
  readonly identity: string;
  readonly path: string;
  readonly package: PluginPackage;
  /** False when an identical package was already in place. */
  readonly changed: boolean;
}

/**
 * Installs a plugin directory or `.yoi-plugin` file into the project store as `<id>.yoi-plugin`.
 * The archive is always re-written by our deterministic writer from the validated files, so
 * what lands in the store is exactly what was checked.
 */
export async function installIntoProjectStore(inputPath: string, workspace: string): Promise<Outcome<Installed>> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(inputPath)).isDirectory();
  } catch (error) {
    return fail(diagnostic('io', 'discovery', `plugin input could not be read: ${ioErrorKind(error)}`));
  }
  const files = isDirectory ? await readPluginDirectory(inputPath) : await readPackageFile(inputPath);
  if (!files.ok) return files;
  const loaded = loadPluginPackage(files.value);
  if (!loaded.ok) return loaded;
  const archive = writeZipArchive(files.value);
  if (!archive.ok) return archive;

  const identity = `project:${loaded.value.manifest.id}`;
  const target = join(projectStoreDir(workspace), `${loaded.value.manifest.id}${PACKAGE_EXTENSION}`);
  try {
    const existing = await readFile(target);
    if (Buffer.compare(existing, archive.value) === 0) return ok({ identity, path: target, package: loaded.value, changed: false });
  } catch {
    // not installed yet
  }
  try {
    await writeFileAtomic(target, archive.value);
  } catch (error) {
    return fail(diagnostic('io', 'discovery', `plugin package could not be installed into the project store: ${ioErrorKind(error)}`));
  }
  return ok({ identity, path: target, package: loaded.value, changed: true });
}

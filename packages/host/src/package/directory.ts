import { lstat, readdir, readFile, realpath } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { diagnostic, fail, ioErrorKind, ok, type Outcome } from '../diagnostics.js';
import { PACKAGE_LIMITS, type PackageFiles } from './limits.js';
import { normalizePackagePath } from './paths.js';

/**
 * Names skipped when an authoring command (`check`, `pack`, `build`) reads a plugin
 * directory, at any depth. Yoi includes every file; we leave out version-control folders,
 * dependency and build-output folders and OS clutter, so that the package (and its digest)
 * holds what the plugin ships rather than what the author's machine happens to have.
 * Skipped folders are not descended into, so symlinks inside them (common in
 * node_modules) do not matter. Everything else is included, hidden files too.
 * @public
 */
export const AUTHORING_IGNORED_DIRECTORIES: ReadonlySet<string> = new Set([
  '.git',
  '.hg',
  '.svn',
  '.jj',
  'node_modules',
  'target',
  '.yoi-build',
]);
/** @public */
export const AUTHORING_IGNORED_FILES: ReadonlySet<string> = new Set(['.DS_Store', 'Thumbs.db']);
/** Packed archives inside the directory are outputs, never inputs. */
const AUTHORING_IGNORED_SUFFIXES: readonly string[] = ['.yoi-plugin'];

function isIgnoredFile(name: string): boolean {
  return AUTHORING_IGNORED_FILES.has(name) || AUTHORING_IGNORED_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

/** Reads a plugin source directory into package files, with the package bounds and no symlinks. */
export async function readPluginDirectory(dir: string): Promise<Outcome<PackageFiles>> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch (error) {
    return fail(diagnostic('io', 'discovery', `plugin directory could not be read: ${ioErrorKind(error)}`));
  }
  try {
    if (!(await lstat(root)).isDirectory()) return fail(diagnostic('malformed', 'discovery', 'plugin directory input is not a directory'));
  } catch (error) {
    return fail(diagnostic('io', 'discovery', `plugin directory metadata could not be read: ${ioErrorKind(error)}`));
  }

  const files = new Map<string, Uint8Array>();
  let total = 0;
  const pending: string[] = [root];
  while (pending.length > 0) {
    const current = pending.pop()!;
    let names: string[];
    try {
      names = (await readdir(current)).sort();
    } catch (error) {
      return fail(diagnostic('io', 'discovery', `plugin directory could not be listed: ${ioErrorKind(error)}`));
    }
    const subdirectories: string[] = [];
    for (const name of names) {
      const full = join(current, name);
      let info;
      try {
        info = await lstat(full);
      } catch (error) {
        return fail(diagnostic('io', 'discovery', `plugin directory entry metadata could not be read: ${ioErrorKind(error)}`));
      }
      if (info.isDirectory()) {
        if (!AUTHORING_IGNORED_DIRECTORIES.has(name)) subdirectories.push(full);
        continue;
      }
      if (isIgnoredFile(name)) continue;
      if (info.isSymbolicLink()) return fail(diagnostic('traversal', 'discovery', 'plugin directory contains a symlink entry'));
      if (!info.isFile()) continue;
      const rel = relative(root, full);
      if (rel.startsWith('..') || rel.split(sep).includes('..')) {
        return fail(diagnostic('traversal', 'discovery', 'plugin directory file escapes the package root'));
      }
      const normalized = normalizePackagePath(rel.split(sep).join('/'));
      if (normalized === null) return fail(diagnostic('traversal', 'discovery', 'plugin directory contains an unsafe relative path'));
      if (info.size > PACKAGE_LIMITS.maxFileBytes) {
        return fail(diagnostic('bounds', 'discovery', 'plugin directory file exceeds the configured per-file bound'));
      }
      if (files.size + 1 > PACKAGE_LIMITS.maxEntries) {
        return fail(diagnostic('bounds', 'discovery', 'plugin directory contains more files than the configured bound'));
      }
      total += info.size;
      if (total > PACKAGE_LIMITS.maxExpandedBytes) {
        return fail(diagnostic('bounds', 'discovery', 'plugin directory expanded size exceeds the configured bound'));
      }
      let content: Uint8Array;
      try {
        content = await readFile(full);
      } catch (error) {
        return fail(diagnostic('io', 'discovery', `plugin directory file could not be read: ${ioErrorKind(error)}`));
      }
      if (content.byteLength > PACKAGE_LIMITS.maxFileBytes) {
        return fail(diagnostic('bounds', 'discovery', 'plugin directory file exceeds the configured per-file bound'));
      }
      files.set(normalized, content);
    }
    pending.push(...subdirectories.reverse());
  }
  return ok(files);
}

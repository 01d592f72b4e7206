import { readdir, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { diagnostic, ioErrorKind, withContext, type Diagnostic, type SourceKind } from '../diagnostics.js';
import { isSafeId } from '../manifest/ids.js';
import { MANIFEST_FILE_NAME, parseManifest } from '../manifest/parse.js';
import type { Manifest } from '../manifest/types.js';
import type { ComponentFormat } from '../package/component-format.js';
import { readDigestedPackageFile } from '../package/archive-file.js';
import { IdentityCache } from '../package/file-identity.js';
import { PACKAGE_LIMITS, type PackageFiles } from '../package/limits.js';
import { loadPluginPackage } from '../package/plugin-package.js';
import type { StoreLocation } from './locations.js';

export const PACKAGE_EXTENSION = '.yoi-plugin';

/** A readable plugin package found in a store, with its digest and manifest. */
export interface DiscoveredPackage {
  readonly identity: string;
  readonly source: SourceKind;
  /** Canonical path of the archive. */
  readonly packagePath: string;
  /** File name of the archive. */
  readonly packageLabel: string;
  readonly digest: string;
  readonly manifest: Manifest;
  readonly entries: readonly string[];
  readonly componentFormat?: ComponentFormat;
}

/** Every package found in the stores, and the diagnostics of those that could not be read. */
export interface Discovery {
  readonly packages: readonly DiscoveredPackage[];
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Inventory of the stores: reads and validates every `.yoi-plugin` archive, computes digests
 * (or takes them from `digests`, by file identity). Never executes or registers anything. A
 * broken package yields a diagnostic and does not affect the others.
 */
export async function discoverPlugins(stores: readonly StoreLocation[], digests: IdentityCache = IdentityCache.inMemory()): Promise<Discovery> {
  const packages: DiscoveredPackage[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const store of stores) await discoverStore(store, packages, diagnostics, digests);

  const counts = new Map<string, number>();
  for (const p of packages) counts.set(p.identity, (counts.get(p.identity) ?? 0) + 1);
  for (const [identity, count] of counts) {
    if (count > 1) {
      const source = packages.find((p) => p.identity === identity)!.source;
      diagnostics.push(diagnostic('duplicate', 'discovery', 'duplicate plugin package identity in one source store', { source, identity }));
    }
  }
  packages.sort((a, b) => compare(a.identity, b.identity) || compare(a.digest, b.digest) || compare(a.packageLabel, b.packageLabel));
  return { packages, diagnostics };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function discoverStore(store: StoreLocation, packages: DiscoveredPackage[], diagnostics: Diagnostic[], digests: IdentityCache): Promise<void> {
  const { source } = store;
  let root: string;
  try {
    root = await realpath(store.dir);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') {
      diagnostics.push(diagnostic('io', 'discovery', `plugin store could not be read: ${ioErrorKind(error)}`, { source }));
    }
    return;
  }
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => n.endsWith(PACKAGE_EXTENSION)).sort();
  } catch (error) {
    diagnostics.push(diagnostic('io', 'discovery', `plugin store could not be listed: ${ioErrorKind(error)}`, { source }));
    return;
  }
  if (names.length > PACKAGE_LIMITS.maxPackagesPerStore) {
    diagnostics.push(diagnostic('bounds', 'discovery', 'plugin store contains more packages than the configured discovery bound', { source }));
    names = names.slice(0, PACKAGE_LIMITS.maxPackagesPerStore);
  }
  for (const label of names) {
    const context = { source, package: label };
    let canonical: string;
    try {
      canonical = await realpath(join(root, label));
    } catch (error) {
      diagnostics.push(diagnostic('io', 'discovery', `plugin package could not be read: ${ioErrorKind(error)}`, context));
      continue;
    }
    if (!canonical.startsWith(root + sep)) {
      diagnostics.push(diagnostic('traversal', 'discovery', 'plugin package path escapes its source store', context));
      continue;
    }
    const read = await readDigestedPackageFile(canonical, digests);
    if (!read.ok) {
      diagnostics.push(withContext(read.diagnostic, context));
      continue;
    }
    const loaded = loadPluginPackage(read.value.files, read.value.digest);
    if (!loaded.ok) {
      const identity = identityHint(read.value.files, source);
      diagnostics.push(withContext(loaded.diagnostic, { ...context, ...(identity ? { identity } : {}) }));
      continue;
    }
    const { manifest, digest, entries, componentFormat } = loaded.value;
    packages.push({
      identity: `${source}:${manifest.id}`,
      source,
      packagePath: canonical,
      packageLabel: label,
      digest,
      manifest,
      entries,
      ...(componentFormat !== undefined ? { componentFormat } : {}),
    });
  }
}

/** The identity a rejected package would have had, when its manifest parses with a safe id. */
function identityHint(files: PackageFiles, source: SourceKind): string | undefined {
  const bytes = files.get(MANIFEST_FILE_NAME);
  if (!bytes) return undefined;
  const parsed = parseManifest(bytes);
  return parsed.ok && isSafeId(parsed.value.id) ? `${source}:${parsed.value.id}` : undefined;
}


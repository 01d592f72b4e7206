import { diagnostic, fail, ok, withContext, type Outcome } from '../diagnostics.js';
import { MANIFEST_FILE_NAME, parseManifest } from '../manifest/parse.js';
import type { Manifest } from '../manifest/types.js';
import { validateManifest } from '../manifest/validate.js';
import { detectComponentFormat, type ComponentFormat } from './component-format.js';
import { computePackageDigest, sortedPaths } from './digest.js';
import type { PackageFiles } from './limits.js';

/** A package whose archive structure, manifest and referenced paths are valid. */
export interface PluginPackage {
  readonly manifest: Manifest;
  readonly digest: string;
  /** Normalised entry paths in digest order. */
  readonly entries: readonly string[];
  readonly files: PackageFiles;
  /** Format of the runtime component artifact, when the manifest declares one. */
  readonly componentFormat?: ComponentFormat;
}

/**
 * Turns a package's files into a validated package: root `plugin.toml` present, parsed and
 * valid against the entry set. Diagnostics carry the digest, which is computed first (or given,
 * by a reader that already has it, see `readDigestedPackageFile`).
 */
export function loadPluginPackage(files: PackageFiles, digest: string = computePackageDigest(files)): Outcome<PluginPackage> {
  const manifestBytes = files.get(MANIFEST_FILE_NAME);
  if (manifestBytes === undefined) {
    return fail(diagnostic('missing', 'manifest', 'plugin package is missing root plugin.toml', { digest }));
  }
  const parsed = parseManifest(manifestBytes);
  if (!parsed.ok) return fail(withContext(parsed.diagnostic, { digest }));
  const entries = sortedPaths(files);
  const problem = validateManifest(parsed.value, new Set(entries));
  if (problem) return fail(withContext(problem, { digest }));
  const component = parsed.value.runtime?.component;
  const componentBytes = component !== undefined ? files.get(component) : undefined;
  return ok({
    manifest: parsed.value,
    digest,
    entries,
    files,
    ...(componentBytes !== undefined ? { componentFormat: detectComponentFormat(componentBytes) } : {}),
  });
}

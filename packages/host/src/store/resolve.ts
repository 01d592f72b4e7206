import { diagnostic, type Diagnostic, type SourceKind } from '../diagnostics.js';
import { parsePluginRef } from '../manifest/ids.js';
import { declaredSurfaces, SURFACES, type JsonValue, type Manifest, type Surface } from '../manifest/types.js';
import { digestMatches } from '../package/digest.js';
import type { LimitOverrides } from '../sandbox/limits.js';
import type { ConnectionPolicy } from '../websocket/policy.js';
import type { ComponentFormat } from '../package/component-format.js';
import type { ControlLocation } from './control-paths.js';
import type { DiscoveredPackage, Discovery } from './discover.js';
import { grantsHaveContent, UNQUALIFIED_ID_MESSAGE, type EnablementConfig, type EnablementEntry, type Grants } from './enablement.js';

/** The unit the runtime consumes: one enabled package, pinned, with its grants and config. */
export interface ResolvedPlugin {
  readonly identity: string;
  readonly source: SourceKind;
  readonly packagePath: string;
  readonly packageLabel: string;
  readonly digest: string;
  readonly version: string;
  readonly manifest: Manifest;
  readonly enabledSurfaces: readonly Surface[];
  readonly grants: Grants;
  readonly config?: JsonValue;
  readonly componentFormat?: ComponentFormat;
  readonly limits?: LimitOverrides;
  readonly websocketPolicy?: Partial<ConnectionPolicy>;
  /** Yoi's own files and folders that the fs host API keeps out of reach of this plugin's grants. */
  readonly controlLocations?: readonly ControlLocation[];
}

/** The enabled plugins that resolved, and a diagnostic for each that did not. */
export interface Resolution {
  readonly resolved: readonly ResolvedPlugin[];
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Resolves enablement entries against discovered packages, fail-closed per entry, in Yoi's
 * order. Entries that could not be read (`config.rejected`) yield their diagnostic in their
 * place in the file.
 */
export function resolveEnabledPlugins(config: EnablementConfig, discovery: Discovery): Resolution {
  const resolved: ResolvedPlugin[] = [];
  const diagnostics: Diagnostic[] = [];
  const rejected = [...(config.rejected ?? [])].sort((a, b) => a.index - b.index);
  const total = config.enabled.length + rejected.length;
  let next = 0;
  for (let index = 0; index < total; index++) {
    if (rejected[0]?.index === index || next >= config.enabled.length) {
      const entry = rejected.shift();
      if (entry) diagnostics.push(entry.diagnostic);
      continue;
    }
    const outcome = resolveEntry(config.enabled[next++]!, discovery.packages);
    if ('diagnostic' in outcome) diagnostics.push(outcome.diagnostic);
    else resolved.push(outcome.plugin);
  }
  return { resolved, diagnostics };
}

function resolveEntry(entry: EnablementEntry, packages: readonly DiscoveredPackage[]): { plugin: ResolvedPlugin } | { diagnostic: Diagnostic } {
  const ref = parsePluginRef(entry.id);
  if (!ref.ok) {
    return ref.reason === 'unqualified'
      ? { diagnostic: diagnostic('ambiguous', 'resolution', UNQUALIFIED_ID_MESSAGE, { identity: entry.id }) }
      : { diagnostic: diagnostic('malformed', 'resolution', 'plugin enablement id is not a valid source-qualified plugin id', { identity: entry.id }) };
  }
  const identity = entry.id;
  const context = { source: ref.ref.source, identity };
  const matches = packages.filter((p) => p.identity === identity);
  if (matches.length === 0) return { diagnostic: diagnostic('missing', 'resolution', 'enabled plugin package was not discovered', context) };
  if (matches.length > 1) {
    return { diagnostic: diagnostic('duplicate', 'resolution', 'enabled plugin package identity resolved to multiple discovered packages', context) };
  }
  const pkg = matches[0]!;
  const pkgContext = { ...context, package: pkg.packageLabel, digest: pkg.digest };
  const fail = (kind: Diagnostic['kind'], message: string) => ({ diagnostic: diagnostic(kind, 'resolution', message, pkgContext) });

  if (entry.digest !== undefined && !digestMatches(entry.digest, pkg.digest)) {
    return fail('digest', 'enabled plugin digest pin does not match discovered package digest');
  }
  if (entry.version !== undefined && entry.version !== pkg.manifest.version) {
    return fail('version', 'enabled plugin exact version requirement does not match discovered package version');
  }
  const bindingProblem = grantBindingProblem(entry.grants, pkg.identity, pkg.manifest.version, pkg.digest);
  if (bindingProblem) return fail('grant', bindingProblem);

  const declared = declaredSurfaces(pkg.manifest);
  const selected = entry.surfaces.length > 0 ? new Set(entry.surfaces) : declared;
  for (const surface of selected) {
    if (!declared.has(surface)) return fail('surface', `enabled plugin requested undeclared surface \`${surface}\``);
  }
  return {
    plugin: {
      identity,
      source: pkg.source,
      packagePath: pkg.packagePath,
      packageLabel: pkg.packageLabel,
      digest: pkg.digest,
      version: pkg.manifest.version,
      manifest: pkg.manifest,
      enabledSurfaces: SURFACES.filter((s) => selected.has(s)),
      grants: entry.grants,
      ...(entry.config !== undefined ? { config: entry.config } : {}),
      ...(pkg.componentFormat !== undefined ? { componentFormat: pkg.componentFormat } : {}),
      ...(entry.limits !== undefined ? { limits: entry.limits } : {}),
      ...(entry.websocket !== undefined ? { websocketPolicy: entry.websocket } : {}),
    },
  };
}

/**
 * Grants bind to exactly one package: id, version and digest must all be present and match
 * whenever the grants block has any content. Returns the failure message or null.
 */
export function grantBindingProblem(grants: Grants, identity: string, version: string, digest: string): string | null {
  if (!grantsHaveContent(grants)) return null;
  if (grants.id === undefined) return 'plugin grant is missing a source-qualified package id binding';
  if (!parsePluginRef(grants.id).ok) return 'plugin grant package id binding is not a valid source-qualified plugin id';
  if (grants.id !== identity) return 'plugin grant package id binding does not match enabled package';
  if (grants.digest === undefined) return 'plugin grant is missing a deterministic digest binding';
  if (!digestMatches(grants.digest, digest)) return 'plugin grant digest binding does not match enabled package digest';
  if (grants.version === undefined) return 'plugin grant is missing an exact package version binding';
  if (grants.version !== version) return 'plugin grant version binding does not match enabled package version';
  return null;
}

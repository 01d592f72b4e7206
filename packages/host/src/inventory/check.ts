import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { boundText, type Diagnostic, type DiagnosticKind } from '../diagnostics.js';
import { inspectStatic, type StaticInspection } from '../authority/inspect.js';
import { permissionLabel, sortedUniqueLabels } from '../authority/permissions.js';
import { requestTargetLabel, websocketTargetLabel } from '../authority/targets.js';
import { declaredSurfaces, SURFACES } from '../manifest/types.js';
import { CORE_MODULE_MESSAGE } from '../package/component-format.js';
import { readPackageFile } from '../package/archive-file.js';
import { readPluginDirectory } from '../package/directory.js';
import { loadPluginPackage, type PluginPackage } from '../package/plugin-package.js';
import { INSPECTION_SAFETY } from './safety.js';

/**
 * The verdict of a check: `active` (every surface usable), `partial` (some), `rejected` (none).
 * @public
 */
export type CheckStatus = 'active' | 'partial' | 'rejected';

/**
 * A diagnostic as `check` reports it; `placeholder` and `note` are check-only kinds.
 * @public
 */
export interface CheckDiagnostic {
  readonly kind: DiagnosticKind | 'placeholder' | 'note';
  readonly phase: Diagnostic['phase'] | 'runtime' | 'inspection';
  readonly message: string;
}

/** What a check read from a package: identity, digest, files and the manifest's declarations. */
export interface PackageReport {
  readonly reference: string;
  readonly package: string;
  readonly source: 'project';
  readonly version: string;
  readonly schema_version: number;
  readonly digest: string;
  readonly package_path: string;
  readonly entries: readonly string[];
  readonly surfaces: readonly string[];
  readonly tools: readonly string[];
  readonly permissions: readonly string[];
}

/**
 * What an operator must grant (beyond the requested permissions) before the plugin can run.
 * @public
 */
export interface OperatorGrants {
  readonly permissions: readonly string[];
  readonly request: readonly string[];
  readonly websocket: readonly string[];
  readonly fs: boolean;
}

/** What `yoi plugin check` reports for one plugin directory or archive (the `--json` document). */
export interface CheckReport {
  readonly command: 'check';
  readonly status: CheckStatus;
  readonly input_path: string;
  readonly input_kind: 'directory' | 'package';
  readonly package: PackageReport | null;
  readonly diagnostics: readonly CheckDiagnostic[];
  readonly static_inspection: { readonly status: 'active' | 'rejected'; readonly diagnostics: number } | null;
  readonly operator_grants: OperatorGrants | null;
  readonly safety: typeof INSPECTION_SAFETY;
  readonly next_steps: readonly string[];
}

export function packageReport(pkg: PluginPackage, packagePath: string): PackageReport {
  const m = pkg.manifest;
  return {
    reference: `project:${m.id}`,
    package: m.id,
    source: 'project',
    version: m.version,
    schema_version: m.schema_version,
    digest: pkg.digest,
    package_path: packagePath,
    entries: pkg.entries,
    surfaces: SURFACES.filter((s) => declaredSurfaces(m).has(s)),
    tools: m.tools.map((t) => t.name),
    permissions: sortedUniqueLabels(m.permissions),
  };
}

const FS_GRANT_MISSING = 'granted host_api.fs scope allowlist is missing';

/**
 * `yoi plugin check`: validates a directory or archive and inspects it as if an operator had
 * granted exactly what it requests. Unlike Yoi, requesting host APIs is not a rejection: the
 * report lists what an operator would have to grant. Never executes plugin code.
 */
export async function checkPlugin(inputPath: string): Promise<CheckReport> {
  const input_path = resolve(inputPath);
  let input_kind: 'directory' | 'package' = 'package';
  try {
    if ((await stat(input_path)).isDirectory()) input_kind = 'directory';
  } catch {
    // reported by the reader below
  }
  const files = input_kind === 'directory' ? await readPluginDirectory(input_path) : await readPackageFile(input_path);
  const loaded = files.ok ? loadPluginPackage(files.value) : files;
  if (!loaded.ok) {
    const d = loaded.diagnostic;
    return {
      command: 'check',
      status: 'rejected',
      input_path,
      input_kind,
      package: null,
      diagnostics: [{ kind: d.kind, phase: d.phase, message: d.message }],
      static_inspection: null,
      operator_grants: null,
      safety: INSPECTION_SAFETY,
      next_steps: ['Fix the reported package diagnostic and run `yoi plugin check` again.'],
    };
  }

  const pkg = loaded.value;
  const m = pkg.manifest;
  const identity = `project:${m.id}`;
  const inspection = inspectStatic({
    identity,
    version: m.version,
    digest: pkg.digest,
    manifest: m,
    enabledSurfaces: SURFACES.filter((s) => declaredSurfaces(m).has(s)),
    grants: { id: identity, version: m.version, digest: pkg.digest, permissions: m.permissions, request: m.request, websocket: m.websocket, fs: [] },
    ...(pkg.componentFormat !== undefined ? { componentFormat: pkg.componentFormat } : {}),
  });
  const { diagnostics, placeholder } = checkDiagnostics(inspection, m.tools.length + m.services.length + m.ingresses.length > 0);
  const rejected = diagnostics.some((d) => d.kind !== 'placeholder' && d.kind !== 'note');
  const status: CheckStatus = rejected ? 'rejected' : placeholder || diagnostics.length > 0 ? 'partial' : 'active';
  const requestsFs = m.permissions.some((p) => p.kind === 'host_api' && p.api === 'fs');
  return {
    command: 'check',
    status,
    input_path,
    input_kind,
    package: packageReport(pkg, input_path),
    diagnostics,
    static_inspection: { status: rejected ? 'rejected' : 'active', diagnostics: diagnostics.length },
    operator_grants: {
      permissions: m.permissions.map(permissionLabel),
      request: m.request.map(requestTargetLabel),
      websocket: m.websocket.map(websocketTargetLabel),
      fs: requestsFs,
    },
    safety: INSPECTION_SAFETY,
    next_steps: nextSteps(status, identity, pkg.digest, input_kind),
  };
}

function checkDiagnostics(inspection: StaticInspection, hasExecutableSurfaces: boolean): { diagnostics: CheckDiagnostic[]; placeholder: boolean } {
  const out: CheckDiagnostic[] = [];
  let placeholder = false;
  const add = (kind: CheckDiagnostic['kind'], phase: CheckDiagnostic['phase'], message: string): void => {
    out.push({ kind, phase, message: boundText(message) });
  };
  const runtime = inspection.runtime;
  if (runtime.diagnostic) {
    if (runtime.eligible) {
      placeholder = true;
      add('placeholder', 'runtime', runtime.diagnostic);
    } else if (runtime.status === 'none' && !hasExecutableSurfaces) {
      add('note', 'inspection', 'plugin declares no runtime; its hooks are inventory only and are not loaded by this host');
    } else {
      add(runtime.diagnostic === CORE_MODULE_MESSAGE ? 'api' : 'malformed', 'resolution', runtime.diagnostic);
    }
  }
  for (const api of inspection.host_apis) {
    if (api.diagnostic === FS_GRANT_MISSING) continue; // fs is grant-only: listed under operator_grants
    if (api.diagnostic && !api.eligible) add('grant', 'resolution', `${api.permission}: ${api.diagnostic}`);
  }
  for (const tool of inspection.tools) if (tool.diagnostic) add('malformed', 'resolution', tool.diagnostic);
  for (const s of inspection.services) if (s.diagnostic) add('grant', 'resolution', `service \`${s.name}\`: ${s.diagnostic}`);
  for (const i of inspection.ingresses) if (i.diagnostic) add('grant', 'resolution', `ingress \`${i.name}\`: ${i.diagnostic}`);
  return { diagnostics: out, placeholder };
}

function nextSteps(status: CheckStatus, identity: string, digest: string, kind: 'directory' | 'package'): string[] {
  switch (status) {
    case 'active':
      return [
        'Package metadata is valid without executing Plugin code.',
        `To enable after review, run \`yoi plugin enable <path>\`; it pins \`${identity}\` to digest \`${digest}\` and asks before granting anything.`,
        ...(kind === 'directory' ? ['Run `yoi plugin pack <path>` to create a deterministic .yoi-plugin archive.'] : []),
      ];
    case 'partial':
      return [
        'Build a real component (or resolve the notes above) and run `yoi plugin check <path>` again.',
        'Do not enable this Plugin for execution while check status is partial.',
      ];
    case 'rejected':
      return ['Fix the reported diagnostics before enabling or packing this Plugin.'];
  }
}


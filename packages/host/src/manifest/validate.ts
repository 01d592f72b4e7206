import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { normalizePackagePath } from '../package/paths.js';
import { isSafeId } from './ids.js';
import { ingressSourcesProblem } from './sources.js';
import { COMPONENT_WORLDS, INSTANCE_WORLD, type Manifest } from './types.js';

export const LEGACY_RUNTIME_KIND = 'wasm';
const LEGACY_ABI = 'yoi-plugin-wasm-1';
export const COMPONENT_RUNTIME_KIND = 'wasm-component';

/**
 * Semantic validation of a parsed manifest, in Yoi's order; the first failure is returned.
 * `entries` is the package's file set, used to check manifest-referenced paths.
 */
export function validateManifest(manifest: Manifest, entries: ReadonlySet<string>): Diagnostic | null {
  const d = (kind: Diagnostic['kind'], message: string): Diagnostic => diagnostic(kind, 'manifest', message);
  if (manifest.schema_version !== 1) return d('api', 'plugin schema/API version is unsupported');
  if (!isSafeId(manifest.id)) return d('malformed', 'plugin manifest id is not a safe local id');
  if (manifest.name.trim() === '' || manifest.version.trim() === '') return d('malformed', 'plugin manifest name and version are required');

  const runtime = manifest.runtime;
  if (runtime !== undefined) {
    // Yoi's classification: only kind `wasm` is the retired runtime; ABI metadata on a
    // component runtime is malformed; any other kind is unsupported.
    if (runtime.kind === LEGACY_RUNTIME_KIND) return d('api', legacyRuntimeMessage(runtime.abi));
    if (runtime.kind !== COMPONENT_RUNTIME_KIND) return d('api', 'plugin runtime kind is unsupported');
    if (runtime.abi !== undefined || runtime.entry !== undefined) {
      return d('malformed', 'plugin component runtime must not declare raw WASM ABI metadata');
    }
    if (runtime.world === undefined || !(COMPONENT_WORLDS as readonly string[]).includes(runtime.world)) {
      return d('api', 'plugin component world is unsupported');
    }
    if (runtime.component === undefined) return d('missing', 'plugin component runtime artifact is required');
    const problem = referencedPathProblem(runtime.component, entries);
    if (problem) return problem;
  }

  if ((manifest.services.length > 0 || manifest.ingresses.length > 0) && runtime?.world !== INSTANCE_WORLD) {
    return d('surface', 'plugin service/ingress declarations require the yoi:plugin/instance@1.0.0 component world');
  }
  if (manifest.services.some((s) => !isSafeId(s.name))) return d('malformed', 'plugin service name is not safe');
  if (manifest.ingresses.some((i) => !isSafeId(i.name))) return d('malformed', 'plugin ingress name is not safe');
  // Our addition: Yoi ignores a source it cannot run; a typo there would leave a service that never gets an event.
  for (const ingress of manifest.ingresses) {
    const problem = ingressSourcesProblem(ingress);
    if (problem) return d('malformed', problem);
  }
  for (const hook of manifest.hooks) {
    if (!isSafeId(hook.id)) return d('malformed', 'plugin hook id is not safe');
    const problem = referencedPathProblem(hook.file, entries);
    if (problem) return problem;
  }
  return null;
}

/** Names the retired runtime and its ABI (Yoi's text); an ABI value that is not a plain name is not echoed. */
function legacyRuntimeMessage(abi: string | undefined): string {
  const shown = abi === undefined ? LEGACY_ABI : /^[A-Za-z0-9_.:-]{1,64}$/.test(abi) ? abi : '(abi not shown)';
  return `legacy raw wasm plugin runtime \`${LEGACY_RUNTIME_KIND}\` / \`${shown}\` is retired; use \`${COMPONENT_RUNTIME_KIND}\``;
}

function referencedPathProblem(raw: string, entries: ReadonlySet<string>): Diagnostic | null {
  const normalized = normalizePackagePath(raw);
  if (normalized === null) return diagnostic('traversal', 'manifest', 'plugin manifest references a path outside the package root');
  if (!entries.has(normalized)) return diagnostic('missing', 'manifest', 'plugin manifest references a path not present in the package');
  return null;
}

import type { ResolvedPlugin } from '../store/resolve.js';
import type { WorkspaceState } from '../store/workspace.js';

/** What the enablement asks a running host to run now. */
export interface DesiredPlugins {
  /** Resolved plugins, in enablement order. */
  readonly resolved: readonly ResolvedPlugin[];
  /**
   * Every identity the enablement names, resolved or not, in file order. A running plugin whose
   * entry is still there but no longer resolves (a rebuilt package not pinned yet, a grant it
   * cannot have) keeps running: only removing the entry disables it.
   */
  readonly configured: readonly string[];
  /** Why a named entry does not resolve, by identity. */
  readonly problems: ReadonlyMap<string, string>;
}

/**
 * The desired set from a fresh read of the workspace, or the reason nothing may change: an
 * enablement file that cannot be read or parsed as a whole (half-written, not TOML) would
 * otherwise read as "nothing enabled" and stop every plugin.
 */
export function desiredFromWorkspace(state: WorkspaceState): { desired: DesiredPlugins } | { refused: string } {
  if (state.configDiagnostics.length > 0) return { refused: `the enablement file cannot be used: ${state.configDiagnostics.map((d) => d.message).join('; ')}` };
  const problems = new Map<string, string>();
  for (const d of state.resolution.diagnostics) {
    if (d.identity !== undefined && !problems.has(d.identity)) problems.set(d.identity, d.message);
  }
  const configured = [...new Set([...state.config.enabled.map((e) => e.id), ...(state.config.rejected ?? []).map((r) => r.diagnostic.identity).filter((id): id is string => id !== undefined)])];
  return { desired: { resolved: state.resolution.resolved, configured, problems } };
}

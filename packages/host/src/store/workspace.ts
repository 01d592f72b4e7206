import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { diagnostic, ioErrorKind, type Diagnostic } from '../diagnostics.js';
import { fsGrantRootProblem } from '../fs/control-guard.js';
import { controlLocations, type ControlLocation } from './control-paths.js';
import { discoverPlugins, type Discovery } from './discover.js';
import { packageDigestCache } from './digest-cache.js';
import { parseEnablementConfig, type EnablementConfig } from './enablement.js';
import { enablementFile, storeLocations, type StoreLocation, type StoreOptions } from './locations.js';
import { resolveEnabledPlugins, type Resolution, type ResolvedPlugin } from './resolve.js';

/** Upper bound on `plugins.toml`; enablement is operator-written text, not data. */
const MAX_ENABLEMENT_BYTES = 1024 * 1024;

/** What a workspace holds: its stores' packages, its enablement and the resolution of both. */
export interface WorkspaceState {
  readonly workspace: string;
  readonly stores: readonly StoreLocation[];
  readonly enablementPath: string;
  readonly config: EnablementConfig;
  readonly discovery: Discovery;
  readonly resolution: Resolution;
  /** Problems reading the enablement file itself. */
  readonly configDiagnostics: readonly Diagnostic[];
}

/** Reads `<workspace>/.yoi/plugins.toml`; a missing file is an empty configuration. */
async function readEnablementConfig(path: string): Promise<{ config: EnablementConfig; diagnostics: Diagnostic[] }> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.byteLength > MAX_ENABLEMENT_BYTES) {
      return { config: { enabled: [] }, diagnostics: [diagnostic('bounds', 'resolution', 'plugin enablement config exceeds its size bound')] };
    }
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { config: { enabled: [] }, diagnostics: [] };
    const reason = error instanceof TypeError ? 'not valid UTF-8' : ioErrorKind(error);
    return { config: { enabled: [] }, diagnostics: [diagnostic('io', 'resolution', `plugin enablement config could not be read: ${reason}`)] };
  }
  const parsed = parseEnablementConfig(text);
  return parsed.ok ? { config: parsed.value, diagnostics: [] } : { config: { enabled: [] }, diagnostics: [parsed.diagnostic] };
}

/** Discovery + enablement + resolution for one workspace, fresh every time (never cached). */
export async function loadWorkspace(options: StoreOptions): Promise<WorkspaceState> {
  const workspace = resolve(options.workspace);
  const stores = storeLocations({ ...options, workspace });
  const enablementPath = enablementFile(workspace);
  const { config, diagnostics } = await readEnablementConfig(enablementPath);
  const digests = await packageDigestCache(options.env ?? process.env);
  const discovery = await discoverPlugins(stores, digests);
  await digests.save();
  const resolution = await guardControlLocations(resolveEnabledPlugins(config, discovery), controlLocations({ ...options, workspace }));
  return { workspace, stores, enablementPath, config, discovery, resolution, configDiagnostics: diagnostics };
}

/**
 * Gives every resolved plugin the control locations of this workspace (the fs host API keeps
 * them out of reach), and refuses an entry whose fs grant root is one of them or lies inside
 * one: such a grant can only come from a hand-edited or tampered enablement file.
 */
async function guardControlLocations(resolution: Resolution, locations: readonly ControlLocation[]): Promise<Resolution> {
  const resolved: ResolvedPlugin[] = [];
  const diagnostics = [...resolution.diagnostics];
  for (const plugin of resolution.resolved) {
    let refused: string | null = null;
    for (const grant of plugin.grants.fs) {
      const problem = await fsGrantRootProblem(grant.root, locations);
      if (problem) {
        refused = `fs grant root \`${grant.root}\` ${problem}; no fs grant can reach Yoi's own files`;
        break;
      }
    }
    if (refused) diagnostics.push(diagnostic('grant', 'resolution', refused, { source: plugin.source, identity: plugin.identity, package: plugin.packageLabel, digest: plugin.digest }));
    else resolved.push({ ...plugin, controlLocations: locations });
  }
  return { resolved, diagnostics };
}

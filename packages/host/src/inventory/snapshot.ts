import { basename, join } from 'node:path';
import type { Diagnostic } from '../diagnostics.js';
import { fsGrantLabel } from '../authority/authorize.js';
import { inspectStatic, type StaticInspection, type ToolInspection } from '../authority/inspect.js';
import { sortedUniqueLabels } from '../authority/permissions.js';
import { requestTargetLabel, websocketTargetLabel } from '../authority/targets.js';
import { parsePluginRef } from '../manifest/ids.js';
import { declaredSurfaces, SURFACES } from '../manifest/types.js';
import { PACKAGE_EXTENSION } from '../store/discover.js';
import { missingConfig, missingConfigMessage } from '../store/config-requirements.js';
import { storeDirFor, type StoreOptions } from '../store/locations.js';
import { loadWorkspace, type WorkspaceState } from '../store/workspace.js';

/** @public */
export type ItemStatus = 'active' | 'partial' | 'disabled' | 'missing' | 'rejected';

export interface InventoryItem {
  reference: string;
  local_ref: string | null;
  status: ItemStatus;
  source: string | null;
  package: string | null;
  package_path: string | null;
  version: string | null;
  schema_version: number | null;
  api_version: number | null;
  digest: string | null;
  /** The digest the enablement pins (our addition), null when unpinned or not configured. */
  pinned_digest: string | null;
  configured: boolean;
  discovered: boolean;
  resolved: boolean;
  static_eligible: boolean;
  declared_surfaces: string[];
  enabled_surfaces: string[];
  requested_permissions: string[];
  configured_grants: string[];
  configured_request_grants: string[];
  configured_websocket_grants: string[];
  configured_fs_grants: string[];
  tools: ToolInspection[];
  static_runtime: StaticInspection | null;
  diagnostics: { kind: string; message: string }[];
}

export interface InventorySnapshot {
  readonly workspace: string;
  readonly enablement_path: string;
  /** Yoi's recorded plan in plugins.toml (`[plugins] resolved` / `diagnostics`): read, counted, not used. */
  readonly recorded_plan_ignored: { readonly resolved: number; readonly diagnostics: number } | null;
  readonly items: InventoryItem[];
  /** Items beyond the bound that were left out. */
  readonly omitted: number;
}

const MAX_INVENTORY_ITEMS = 128;
const GLOBAL_KEY = '<global>';

function emptyItem(reference: string): InventoryItem {
  const parsed = parsePluginRef(reference);
  return {
    reference,
    local_ref: parsed.ok ? parsed.ref.id : null,
    status: 'rejected',
    source: parsed.ok ? parsed.ref.source : null,
    package: null,
    package_path: null,
    version: null,
    schema_version: null,
    api_version: null,
    digest: null,
    pinned_digest: null,
    configured: false,
    discovered: false,
    resolved: false,
    static_eligible: false,
    declared_surfaces: [],
    enabled_surfaces: [],
    requested_permissions: [],
    configured_grants: [],
    configured_request_grants: [],
    configured_websocket_grants: [],
    configured_fs_grants: [],
    tools: [],
    static_runtime: null,
    diagnostics: [],
  };
}

/** `list`/`show` data: every discovered, configured or diagnosed package of a workspace. */
export async function inventoryWorkspace(options: StoreOptions): Promise<InventorySnapshot> {
  const state = await loadWorkspace(options);
  return buildSnapshot(state, options);
}

function buildSnapshot(state: WorkspaceState, options: StoreOptions): InventorySnapshot {
  const items = new Map<string, InventoryItem>();
  const packagePresent = new Set<string>();
  const item = (key: string): InventoryItem => {
    let existing = items.get(key);
    if (!existing) items.set(key, (existing = emptyItem(key)));
    return existing;
  };

  for (const pkg of state.discovery.packages) {
    const it = item(pkg.identity);
    it.discovered = true;
    it.source = pkg.source;
    it.package = pkg.manifest.id;
    it.package_path = pkg.packagePath;
    it.version = pkg.manifest.version;
    it.schema_version = it.api_version = pkg.manifest.schema_version;
    it.digest = pkg.digest;
    it.declared_surfaces = SURFACES.filter((s) => declaredSurfaces(pkg.manifest).has(s));
    it.requested_permissions = sortedUniqueLabels(pkg.manifest.permissions);
    it.tools = pkg.manifest.tools.map((t) => ({
      name: t.name,
      permission: `tool.${t.name}`,
      requested: false,
      granted: false,
      eligible: false,
      external_write: t.external_write,
      diagnostic: 'plugin is discovered but not enabled',
    }));
  }

  for (const entry of state.config.enabled) {
    const it = item(entry.id);
    it.configured = true;
    it.pinned_digest = entry.digest ?? null;
    it.enabled_surfaces = [...new Set(entry.surfaces)].sort();
    it.configured_grants = sortedUniqueLabels(entry.grants.permissions);
    it.configured_request_grants = [...new Set(entry.grants.request.map(requestTargetLabel))].sort();
    it.configured_websocket_grants = [...new Set(entry.grants.websocket.map(websocketTargetLabel))].sort();
    it.configured_fs_grants = [...new Set(entry.grants.fs.map(fsGrantLabel))].sort();
    const parsed = parsePluginRef(entry.id);
    const store = parsed.ok ? storeDirFor(parsed.ref.source, { ...options, workspace: state.workspace }) : undefined;
    if (parsed.ok && store !== undefined && it.package_path === null) it.package_path = join(store, `${parsed.ref.id}${PACKAGE_EXTENSION}`);
  }

  // An entry that could not be read is still configured: its diagnostic lands on its row.
  for (const entry of state.config.rejected ?? []) {
    if (entry.id !== undefined) item(entry.id).configured = true;
  }

  for (const record of state.resolution.resolved) {
    const it = item(record.identity);
    it.resolved = it.configured = it.discovered = true;
    it.enabled_surfaces = [...record.enabledSurfaces];
    const inspection = inspectStatic(record);
    it.static_runtime = inspection;
    it.static_eligible = inspection.statically_eligible;
    it.tools = [...inspection.tools];
    for (const message of inspectionMessages(inspection)) it.diagnostics.push({ kind: 'static_eligibility', message });
    for (const missing of missingConfig(record.manifest, record.enabledSurfaces, record.config)) it.diagnostics.push({ kind: 'config', message: missingConfigMessage(missing) });
  }

  const allDiagnostics: Diagnostic[] = [...state.configDiagnostics, ...state.discovery.diagnostics, ...state.resolution.diagnostics];
  for (const d of allDiagnostics) {
    let key = GLOBAL_KEY;
    if (d.identity !== undefined) key = d.identity;
    else if (d.source !== undefined && d.package !== undefined) key = `${d.source}:${basename(d.package, PACKAGE_EXTENSION)}`;
    const it = item(key);
    if (d.package !== undefined && d.source !== undefined) {
      packagePresent.add(key);
      const store = storeDirFor(d.source, { ...options, workspace: state.workspace });
      if (store !== undefined) it.package_path ??= join(store, d.package);
    }
    if (d.digest !== undefined) it.digest ??= d.digest;
    it.diagnostics.push({ kind: d.kind, message: d.message });
  }

  const all = [...items.values()].sort((a, b) => (a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0));
  for (const it of all) {
    it.diagnostics.sort((a, b) => a.kind.localeCompare(b.kind) || a.message.localeCompare(b.message));
    it.status = itemStatus(it, packagePresent.has(it.reference));
  }
  return {
    workspace: state.workspace,
    enablement_path: state.enablementPath,
    recorded_plan_ignored: state.config.recordedPlan ?? null,
    items: all.slice(0, MAX_INVENTORY_ITEMS),
    omitted: Math.max(0, all.length - MAX_INVENTORY_ITEMS),
  };
}

/** Every finding of a static inspection, as `permission: message` lines. */
function inspectionMessages(inspection: StaticInspection): string[] {
  const out: string[] = [];
  if (inspection.runtime.diagnostic) out.push(`runtime ${inspection.runtime.status}: ${inspection.runtime.diagnostic}`);
  for (const a of inspection.host_apis) if (a.diagnostic) out.push(`${a.permission}: ${a.diagnostic}`);
  for (const t of inspection.tools) if (t.diagnostic) out.push(`tool ${t.name}: ${t.diagnostic}`);
  for (const s of inspection.services) if (s.diagnostic) out.push(`service ${s.name}: ${s.diagnostic}`);
  for (const i of inspection.ingresses) if (i.diagnostic) out.push(`ingress ${i.name}: ${i.diagnostic}`);
  return out;
}

function itemStatus(it: InventoryItem, packagePresent: boolean): ItemStatus {
  if (it.resolved && it.static_runtime) {
    const inspection = it.static_runtime;
    const usable = [...inspection.tools, ...inspection.services, ...inspection.ingresses].filter((e) => e.eligible);
    const hasProblems = it.diagnostics.length > 0 || !inspection.statically_eligible;
    if (!inspection.runtime.eligible) {
      // A runtime-less (hook-only) package has nothing to execute: inventory, not a failure.
      const inventoryOnly = inspection.runtime.status === 'none' && inspection.tools.length + inspection.services.length + inspection.ingresses.length === 0;
      return inventoryOnly ? 'partial' : 'rejected';
    }
    if (!hasProblems && it.enabled_surfaces.length > 0) return 'active';
    return usable.length > 0 ? 'partial' : 'rejected';
  }
  if (it.discovered && !it.configured) return 'disabled';
  if (it.configured && !it.discovered) {
    return packagePresent || it.diagnostics.some((d) => d.kind !== 'missing') ? 'rejected' : 'missing';
  }
  return 'rejected';
}

/** `show`: exact reference, else a unique bare-id match. */
export function selectItem(snapshot: InventorySnapshot, ref: string): { item: InventoryItem } | { error: string } {
  const exact = snapshot.items.find((i) => i.reference === ref);
  if (exact) return { item: exact };
  const matches = snapshot.items.filter((i) => i.local_ref === ref);
  const shown = ref.length > 240 ? ref.slice(0, 240) + '…' : ref;
  if (matches.length === 1) return { item: matches[0]! };
  if (matches.length === 0) return { error: `plugin package \`${shown}\` was not found` };
  return { error: `plugin package reference \`${shown}\` is ambiguous; use a source-qualified ref` };
}

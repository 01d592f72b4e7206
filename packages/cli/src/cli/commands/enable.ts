import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { writeFileAtomic } from '@yoi-plugins/host/internal/atomic-write.js';
import { fsGrantLabel } from '@yoi-plugins/host/internal/authority/authorize.js';
import { permissionLabel } from '@yoi-plugins/host/internal/authority/permissions.js';
import { requestTargetLabel, websocketTargetLabel } from '@yoi-plugins/host/internal/authority/targets.js';
import { ioErrorKind } from '@yoi-plugins/host/internal/diagnostics.js';
import { inventoryWorkspace, selectItem } from '@yoi-plugins/host/internal/inventory/snapshot.js';
import { parsePluginRef } from '@yoi-plugins/host/internal/manifest/ids.js';
import { SURFACES, type JsonValue, type Surface } from '@yoi-plugins/host/internal/manifest/types.js';
import { LIMIT_KEY_NAMES, limitProblem, type LimitKey, type LimitOverrides } from '@yoi-plugins/host/internal/sandbox/limits.js';
import type { DiscoveredPackage } from '@yoi-plugins/host/internal/store/discover.js';
import { FS_OPERATIONS, parseEnablementConfig, type EnablementEntry, type FsGrant, type FsOperation, type Grants } from '@yoi-plugins/host/internal/store/enablement.js';
import { removeEnablement, upsertEnablement } from '@yoi-plugins/host/internal/store/enablement-edit.js';
import { updateEnablement } from '@yoi-plugins/host/internal/store/enablement-update.js';
import { installIntoProjectStore } from '@yoi-plugins/host/internal/store/install.js';
import { diffRequests, type RequestDiff, type Requests } from '@yoi-plugins/host/internal/store/request-diff.js';
import { readPackageFile } from '@yoi-plugins/host/internal/package/archive-file.js';
import { readPluginDirectory } from '@yoi-plugins/host/internal/package/directory.js';
import { loadPluginPackage } from '@yoi-plugins/host/internal/package/plugin-package.js';
import { enablementFile, type StoreOptions } from '@yoi-plugins/host/internal/store/locations.js';
import { controlLocations } from '@yoi-plugins/host/internal/store/control-paths.js';
import { fsGrantRootProblem } from '@yoi-plugins/host/internal/fs/control-guard.js';
import { loadWorkspace } from '@yoi-plugins/host/internal/store/workspace.js';
import { discoverServe, serveRequest, type Via } from '../serve-client.js';
import { CommandFailure, printJson, UsageError, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { displayRequestTarget, displayTargetLabel, displayWebSocketTarget } from '../target-display.js';
import { escapeTerminal, term } from '../terminal.js';
import { planGrants, yesNo } from './enable-grants.js';

export interface EnableOptions extends CommonOptions {
  readonly grantAllRequested?: boolean;
  readonly grant?: readonly string[];
  readonly revoke?: readonly string[];
  readonly fs?: readonly string[];
  readonly limit?: readonly string[];
  readonly surfaces?: string;
  readonly configJson?: string;
  readonly yes?: boolean;
}

/** Parses `ROOT:OPS` (e.g. `./notes:read,list`); a relative root is resolved against the workspace. */
export function parseFsGrant(value: string, workspace: string): FsGrant {
  const colon = value.lastIndexOf(':');
  if (colon <= 0) throw new UsageError(`--fs expects ROOT:OPERATIONS (for example ./notes:read,list)`);
  const root = value.slice(0, colon);
  const operations = value.slice(colon + 1).split(',').map((o) => o.trim()).filter((o) => o.length > 0);
  const unknown = operations.find((o) => !(FS_OPERATIONS as readonly string[]).includes(o));
  if (operations.length === 0 || unknown !== undefined) throw new UsageError(`--fs operations must be a list of ${FS_OPERATIONS.join(', ')}`);
  return { root: isAbsolute(root) ? resolve(root) : resolve(workspace, root), operations: [...new Set(operations)] as FsOperation[] };
}

/** A granted folder must exist (a typo would otherwise grant nothing, silently). */
async function fsRootProblem(grant: FsGrant, workspace: string): Promise<string | null> {
  const info = await stat(grant.root).catch(() => null);
  const relativeNote = ` (a relative root is resolved against the workspace ${workspace})`;
  if (!info) return `--fs root ${grant.root} does not exist${relativeNote}`;
  if (!info.isDirectory()) return `--fs root ${grant.root} is not a folder${relativeNote}`;
  return null;
}

function parseSurfaces(value: string | undefined): Surface[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const unknown = list.find((s) => !(SURFACES as readonly string[]).includes(s));
  if (unknown !== undefined) throw new UsageError(`--surfaces accepts ${SURFACES.join(', ')}`);
  return [...new Set(list)] as Surface[];
}

function parseConfig(value: string | undefined): JsonValue | undefined {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as JsonValue;
  } catch {
    throw new UsageError('--config-json is not valid JSON');
  }
}

/** `--limit KEY=VALUE` (repeatable): the enablement's `[plugins.enabled.limits]`, refused above the host maxima. */
export function parseLimits(values: readonly string[] | undefined): LimitOverrides {
  const out: Record<string, number> = {};
  for (const value of values ?? []) {
    const match = /^([a-z_]+)=(\d{1,10})$/.exec(value.trim());
    const key = match?.[1] as LimitKey | undefined;
    if (!match || key === undefined || !LIMIT_KEY_NAMES.includes(key)) {
      throw new UsageError(`--limit expects KEY=VALUE with KEY one of ${LIMIT_KEY_NAMES.join(', ')} (for example tool_timeout_ms=30000)`);
    }
    const problem = limitProblem(key, Number(match[2]));
    if (problem) throw new UsageError(`--limit ${key} ${problem}`);
    out[key] = Number(match[2]);
  }
  return out;
}

/** Rewrites the enablement file atomically, keeping its mode. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const mode = await stat(path).then((info) => info.mode & 0o777, () => 0o644);
  await writeFileAtomic(path, text, mode);
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return '';
    throw new CommandFailure(`plugin enablement config could not be read: ${ioErrorKind(error)}`, 'io');
  }
}

interface Candidate {
  readonly identity: string;
  readonly manifest: DiscoveredPackage['manifest'];
  readonly digest: string;
  /** Installs a path into the project store (only when enabling a path). */
  readonly install: (() => Promise<{ path: string; changed: boolean }>) | null;
  /** The packages of this identity in the store now (before installing). */
  readonly stored: readonly DiscoveredPackage[];
}

/** What is being enabled, without writing anything yet. */
async function findCandidate(io: CliIo, target: string, stores: StoreOptions): Promise<Candidate> {
  const asPath = resolve(io.cwd, target);
  const isPath = await stat(asPath).then(() => true, () => false);
  const state = await loadWorkspace(stores);
  if (isPath) {
    const files = (await stat(asPath)).isDirectory() ? await readPluginDirectory(asPath) : await readPackageFile(asPath);
    const loaded = files.ok ? loadPluginPackage(files.value) : files;
    if (!loaded.ok) throw new CommandFailure(`plugin enable failed: ${loaded.diagnostic.message}`, 'plugin_rejected');
    const identity = `project:${loaded.value.manifest.id}`;
    const stored = state.discovery.packages.filter((p) => p.identity === identity);
    const others = stored.filter((p) => p.packageLabel !== `${loaded.value.manifest.id}.yoi-plugin`);
    if (others.length > 0) throw new CommandFailure(`the project store already holds \`${identity}\` as ${others[0]!.packageLabel}; remove it first`, 'failed');
    const install = async () => {
      const result = await installIntoProjectStore(asPath, stores.workspace);
      if (!result.ok) throw new CommandFailure(`plugin enable failed: ${result.diagnostic.message}`, 'io');
      if (result.value.package.digest !== loaded.value.digest) throw new CommandFailure('plugin enable failed: the package changed while it was being enabled', 'failed');
      return { path: result.value.path, changed: result.value.changed };
    };
    return { identity, manifest: loaded.value.manifest, digest: loaded.value.digest, install, stored };
  }
  let identity: string;
  if (parsePluginRef(target).ok) identity = target;
  else {
    const selected = selectItem(await inventoryWorkspace(stores), target);
    if ('error' in selected) throw new CommandFailure(selected.error, 'not_found');
    identity = selected.item.reference;
  }
  const matches = state.discovery.packages.filter((p) => p.identity === identity);
  if (matches.length === 0) {
    const why = state.discovery.diagnostics.find((d) => d.identity === identity);
    throw new CommandFailure(`plugin package \`${identity}\` was not discovered${why ? `: ${why.message}` : ''}`, 'not_found');
  }
  if (matches.length > 1) throw new CommandFailure(`plugin package \`${identity}\` is present more than once in its store; remove the duplicate first`, 'failed');
  return { identity, manifest: matches[0]!.manifest, digest: matches[0]!.digest, install: null, stored: matches };
}

function requestsOf(manifest: DiscoveredPackage['manifest']): Requests {
  return { permissions: manifest.permissions, request: manifest.request, websocket: manifest.websocket };
}

/** The upgrade's diff of requests, in human lines (labels escaped; targets with non-ASCII escaped too). */
function diffLines(diff: RequestDiff): string[] {
  const shown = (which: 'added' | 'removed') => [
    ...diff.permissions[which].map((l) => escapeTerminal(l)),
    ...diff.request[which].map((l) => `request target ${displayTargetLabel(l)}`),
    ...diff.websocket[which].map((l) => `websocket target ${displayTargetLabel(l)}`),
  ];
  const added = shown('added');
  const removed = shown('removed');
  const unchanged = diff.permissions.unchanged.length + diff.request.unchanged.length + diff.websocket.unchanged.length;
  return [
    `  added requests: ${added.length > 0 ? added.join(', ') : '(none)'}`,
    ...(removed.length > 0 ? [`  removed requests (their grants are removed): ${removed.join(', ')}`] : []),
    `  unchanged requests: ${unchanged} (their grants are kept)${diff.compared_with === 'previous_grants' ? '; compared with the grants, the previous package is no longer in its store' : ''}`,
  ];
}

export async function runEnable(io: CliIo, target: string, options: EnableOptions): Promise<void> {
  const stores = storeOptions(io, options);
  const surfaces = parseSurfaces(options.surfaces);
  const config = parseConfig(options.configJson);
  const limits = parseLimits(options.limit);
  const fsGrants = (options.fs ?? []).map((f) => parseFsGrant(f, stores.workspace));

  const candidate = await findCandidate(io, target, stores);
  const { identity, manifest, digest } = candidate;
  const path = enablementFile(stores.workspace);
  const text = await readText(path);
  const parsedConfig = text.length > 0 ? parseEnablementConfig(text) : null;
  if (parsedConfig && !parsedConfig.ok) throw new CommandFailure('plugin enablement config is not valid; fix it before editing', 'enablement_invalid');
  const existing = parsedConfig?.ok ? (parsedConfig.value.enabled.find((e) => e.id === identity) ?? null) : null;
  // The package the entry was pinned to, if it is still in its store (before an install replaces it).
  const previous = existing ? (candidate.stored.find((p) => p.digest === existing.digest) ?? null) : null;
  const diff = diffRequests(previous ? requestsOf(previous.manifest) : null, existing?.grants ?? null, requestsOf(manifest));

  if (!options.json) {
    io.stdout(term`plugin ${identity} version=${manifest.version} digest=${digest}` + '\n');
    if (existing) {
      io.stdout(term`  enabled now: version=${existing.version ?? '-'} digest=${existing.digest ?? '-'}${existing.digest === digest ? ' (same package)' : ''}` + '\n');
      for (const line of diffLines(diff)) io.stdout(line + '\n');
    } else {
      io.stdout((manifest.permissions.length > 0 ? term`  requests: ${manifest.permissions.map(permissionLabel)}` : '  requests: (nothing)') + '\n');
      for (const t of manifest.request) io.stdout(`  request target: ${displayRequestTarget(t)}\n`);
      for (const t of manifest.websocket) io.stdout(`  websocket target: ${displayWebSocketTarget(t)}\n`);
    }
  }
  if (!io.interactive && !options.yes) {
    throw new UsageError('enabling needs confirmation: run in a terminal, or pass --yes together with --grant-all-requested or --grant LABEL');
  }
  const plan = await planGrants(io, identity, requestsOf(manifest), existing?.grants ?? null, diff, options);
  const holdsFs = plan.permissions.some((p) => p.kind === 'host_api' && p.api === 'fs');
  const flagged = options.grantAllRequested || (options.grant?.length ?? 0) > 0;
  for (const grant of fsGrants) {
    const at = plan.fs.findIndex((f) => f.root === grant.root);
    if (at >= 0) plan.fs[at] = grant;
    else plan.fs.push(grant);
  }
  if (holdsFs && plan.fs.length === 0 && !flagged && io.interactive && !options.yes) {
    const answer = (await io.prompt('fs root folder and operations to grant (ROOT:read,list,write; a relative root is in the workspace; empty for none): ')).trim();
    if (answer) plan.fs.push(parseFsGrant(answer, stores.workspace));
  }
  if (fsGrants.length > 0 && !holdsFs) throw new UsageError('--fs given but host_api.fs is not granted (add --grant host_api.fs)');
  if (holdsFs && plan.fs.length === 0) throw new UsageError('host_api.fs is granted but no folder is: add --fs ROOT:OPERATIONS');
  for (const grant of fsGrants) {
    const problem = await fsGrantRootProblem(grant.root, controlLocations(stores));
    if (problem) throw new UsageError(`--fs root ${grant.root} ${problem}: Yoi's own files (grants, secrets, control token, plugin stores, transpile cache) are out of reach of every fs grant`);
    const missing = await fsRootProblem(grant, stores.workspace);
    if (missing) throw new UsageError(missing);
  }

  const mergedLimits = { ...(existing?.limits ?? {}), ...limits };
  const grants: Grants = { id: identity, version: manifest.version, digest, ...plan };
  const entry: EnablementEntry = existing
    ? {
        ...existing,
        version: manifest.version,
        digest,
        surfaces: surfaces ?? existing.surfaces,
        ...(config !== undefined ? { config } : {}),
        ...(Object.keys(mergedLimits).length > 0 ? { limits: mergedLimits } : {}),
        grants,
      }
    : {
        id: identity,
        version: manifest.version,
        digest,
        surfaces: surfaces ?? [],
        ...(config !== undefined ? { config } : {}),
        ...(Object.keys(limits).length > 0 ? { limits } : {}),
        grants,
      };
  const notGranted = manifest.permissions.filter((p) => !plan.permissions.some((g) => permissionLabel(g) === permissionLabel(p))).map(permissionLabel);

  if (!options.yes) {
    io.stdout((plan.permissions.length > 0 ? term`  will grant: ${plan.permissions.map(permissionLabel)}` : '  will grant: (nothing)') + '\n');
    if (!(await yesNo(io, term`write this enablement to ${path}?`))) throw new CommandFailure('plugin enable cancelled; nothing was written', 'cancelled');
  }

  const edit = existing ? updateEnablement(text, existing, entry) : { ...upsertEnablement(text, entry), comments_kept: true };
  if (!edit.ok) throw new CommandFailure(edit.message, 'enablement_invalid');
  const installed = candidate.install ? await candidate.install() : null;
  try {
    await writeAtomically(path, edit.text);
  } catch (error) {
    throw new CommandFailure(`plugin enablement config could not be written: ${ioErrorKind(error)}`, 'io');
  }

  // A running serve (found and checked as call/status/logs find it) re-enables the service if
  // its circuit had opened (Disabled); it picks the new entry up by its own hot reload.
  const discovery = await discoverServe(stores.workspace);
  const via: Via = discovery.serve ? 'serve' : 'in-process';
  const live = discovery.serve ? await serveRequest(discovery.serve, 'POST', `/v1/plugins/${encodeURIComponent(identity)}/enable`, undefined, 30_000) : null;
  const serviceState = live?.status === 200 ? ((live.json as { state?: string }).state ?? null) : null;

  const after = selectItem(await inventoryWorkspace(stores), identity);
  const item = 'item' in after ? after.item : null;
  const report = {
    command: 'enable',
    status: 'enabled',
    reference: identity,
    version: manifest.version,
    digest,
    installed,
    enablement_path: path,
    replaced: edit.replaced,
    upgrade: existing ? { from: { version: existing.version ?? null, digest: existing.digest ?? null }, comments_kept: edit.comments_kept, diff } : null,
    granted: {
      permissions: plan.permissions.map(permissionLabel),
      request: plan.request.map(requestTargetLabel),
      websocket: plan.websocket.map(websocketTargetLabel),
      fs: plan.fs.map(fsGrantLabel),
    },
    not_granted: notGranted,
    limits: entry.limits ?? {},
    plugin_status: item?.status ?? null,
    running_service_state: serviceState,
    diagnostics: item?.diagnostics ?? [],
    via,
  };
  if (options.json) {
    printJson(io, report);
    return;
  }
  const lines = [
    term`${existing ? 'updated' : 'enabled'} ${identity} in ${path} (pinned to ${digest})`,
    ...(installed ? [term`  installed: ${installed.path}${installed.changed ? '' : ' (unchanged)'}`] : []),
    ...(existing && !edit.comments_kept ? ['  note: the entry was rewritten whole (its shape is not one edited in place); comments inside it were not kept'] : []),
    report.granted.permissions.length > 0 ? term`  granted: ${report.granted.permissions}` : '  granted: (nothing)',
    ...plan.request.map((t) => `  granted request target: ${displayRequestTarget(t)}`),
    ...plan.websocket.map((t) => `  granted websocket target: ${displayWebSocketTarget(t)}`),
    ...report.granted.fs.map((t) => term`  granted fs: ${t}`),
    ...(notGranted.length > 0 ? [term`  not granted: ${notGranted}`] : []),
    ...(Object.keys(report.limits).length > 0 ? [term`  limits: ${Object.entries(report.limits).map(([k, v]) => `${k}=${v}`)}`] : []),
    term`  status: ${report.plugin_status ?? 'unknown'}`,
    ...(discovery.serve ? [term`  running serve (pid ${String(discovery.serve.pid)}): ${serviceState ? `service is ${serviceState}` : 'reloads the entry by itself'}`] : []),
    ...report.diagnostics.slice(0, 5).map((d) => term`    ${d.kind}: ${d.message}`),
  ];
  io.stdout(lines.join('\n') + '\n');
}

export async function runDisable(io: CliIo, ref: string, options: CommonOptions): Promise<void> {
  const stores = storeOptions(io, options);
  const path = enablementFile(stores.workspace);
  const text = await readText(path);
  let id = ref;
  if (!parsePluginRef(ref).ok) {
    const state = await loadWorkspace(stores);
    const candidates = state.config.enabled.filter((e) => {
      const parsed = parsePluginRef(e.id);
      return e.id === ref || (parsed.ok && parsed.ref.id === ref);
    });
    if (candidates.length > 1) throw new CommandFailure(`plugin reference \`${ref}\` is ambiguous; use a source-qualified ref`, 'not_found');
    if (candidates.length === 1) id = candidates[0]!.id;
  }
  const edit = removeEnablement(text, id);
  if (!edit.ok) throw new CommandFailure(edit.message, 'enablement_invalid');
  if (!edit.removed) throw new CommandFailure(`plugin \`${id}\` is not enabled in ${path}`, 'not_enabled');
  try {
    await writeAtomically(path, edit.text);
  } catch (error) {
    throw new CommandFailure(`plugin enablement config could not be written: ${ioErrorKind(error)}`, 'io');
  }
  if (options.json) printJson(io, { command: 'disable', status: 'disabled', reference: id, enablement_path: path });
  else io.stdout(term`disabled ${id} in ${path} (the package stays in its store)` + '\n');
}

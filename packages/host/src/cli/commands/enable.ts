import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { writeFileAtomic } from '../../atomic-write.js';
import { fsGrantLabel } from '../../authority/authorize.js';
import { permissionLabel } from '../../authority/permissions.js';
import { requestTargetLabel, websocketTargetLabel } from '../../authority/targets.js';
import { ioErrorKind } from '../../diagnostics.js';
import { inventoryWorkspace, selectItem } from '../../inventory/snapshot.js';
import { parsePluginRef } from '../../manifest/ids.js';
import { SURFACES, type JsonValue, type Permission, type Surface } from '../../manifest/types.js';
import type { DiscoveredPackage } from '../../store/discover.js';
import { FS_OPERATIONS, type EnablementEntry, type FsGrant, type FsOperation } from '../../store/enablement.js';
import { removeEnablement, upsertEnablement } from '../../store/enablement-edit.js';
import { installIntoProjectStore } from '../../store/install.js';
import { readPackageFile } from '../../package/archive-file.js';
import { readPluginDirectory } from '../../package/directory.js';
import { loadPluginPackage } from '../../package/plugin-package.js';
import { enablementFile } from '../../store/locations.js';
import { controlLocations } from '../../store/control-paths.js';
import { fsGrantRootProblem } from '../../fs/control-guard.js';
import { loadWorkspace } from '../../store/workspace.js';
import { callControl } from '../../serve/control-file.js';
import { CommandFailure, printJson, UsageError, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { displayRequestTarget, displayWebSocketTarget } from '../target-display.js';
import { term } from '../terminal.js';

export interface EnableOptions extends CommonOptions {
  readonly grantAllRequested?: boolean;
  readonly grant?: readonly string[];
  readonly fs?: readonly string[];
  readonly surfaces?: string;
  readonly configJson?: string;
  readonly yes?: boolean;
}

/** Parses `ROOT:OPS` (e.g. `/srv/notes:read,list`); relative roots resolve against the cwd. */
export function parseFsGrant(value: string, cwd: string): FsGrant {
  const colon = value.lastIndexOf(':');
  if (colon <= 0) throw new UsageError(`--fs expects ROOT:OPERATIONS (for example /srv/notes:read,list)`);
  const root = value.slice(0, colon);
  const operations = value.slice(colon + 1).split(',').map((o) => o.trim()).filter((o) => o.length > 0);
  const unknown = operations.find((o) => !(FS_OPERATIONS as readonly string[]).includes(o));
  if (operations.length === 0 || unknown !== undefined) throw new UsageError(`--fs operations must be a list of ${FS_OPERATIONS.join(', ')}`);
  return { root: isAbsolute(root) ? root : resolve(cwd, root), operations: [...new Set(operations)] as FsOperation[] };
}

function parseSurfaces(value: string | undefined): Surface[] {
  if (value === undefined) return [];
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

async function yesNo(io: CliIo, question: string): Promise<boolean> {
  const answer = (await io.prompt(`${question} [y/N] `)).trim().toLowerCase();
  return answer === 'y' || answer === 'yes';
}

interface GrantChoice {
  permissions: Permission[];
  request: DiscoveredPackage['manifest']['request'][number][];
  websocket: DiscoveredPackage['manifest']['websocket'][number][];
  fs: FsGrant[];
}

async function chooseGrants(io: CliIo, pkg: Pick<DiscoveredPackage, 'identity' | 'manifest'>, options: EnableOptions, fsGrants: FsGrant[]): Promise<GrantChoice> {
  const m = pkg.manifest;
  const flagged = options.grantAllRequested || (options.grant?.length ?? 0) > 0;
  let permissions: Permission[];
  if (options.grantAllRequested) permissions = [...m.permissions];
  else if (flagged) {
    const wanted = new Set(options.grant);
    for (const label of wanted) {
      if (!m.permissions.some((p) => permissionLabel(p) === label)) {
        throw new UsageError(`\`${label}\` is not a permission requested by ${pkg.identity}; requested: ${m.permissions.map(permissionLabel).join(', ') || '(none)'}`);
      }
    }
    permissions = m.permissions.filter((p) => wanted.has(permissionLabel(p)));
  } else if (io.interactive && !options.yes) {
    permissions = [];
    for (const p of m.permissions) if (await yesNo(io, term`grant ${permissionLabel(p)}?`)) permissions.push(p);
  } else permissions = [];

  const granted = (api: 'request' | 'websocket' | 'fs') => permissions.some((p) => p.kind === 'host_api' && p.api === api);
  let request = granted('request') ? [...m.request] : [];
  let websocket = granted('websocket') ? [...m.websocket] : [];
  if (!flagged && io.interactive && !options.yes) {
    const keptRequest = [];
    for (const t of request) if (await yesNo(io, `grant request target ${displayRequestTarget(t)}?`)) keptRequest.push(t);
    const keptWebSocket = [];
    for (const t of websocket) if (await yesNo(io, `grant websocket target ${displayWebSocketTarget(t)}?`)) keptWebSocket.push(t);
    request = keptRequest;
    websocket = keptWebSocket;
    if (granted('fs') && fsGrants.length === 0) {
      const answer = (await io.prompt('fs root folder and operations to grant (ROOT:read,list,write; empty for none): ')).trim();
      if (answer) fsGrants.push(parseFsGrant(answer, io.cwd));
    }
  }
  if (fsGrants.length > 0 && !granted('fs')) throw new UsageError('--fs given but host_api.fs is not granted (add --grant host_api.fs)');
  if (granted('fs') && fsGrants.length === 0) throw new UsageError('host_api.fs is granted but no folder is: add --fs ROOT:OPERATIONS');
  return { permissions, request, websocket, fs: fsGrants };
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
    throw new CommandFailure(`plugin enablement config could not be read: ${ioErrorKind(error)}`);
  }
}

export async function runEnable(io: CliIo, target: string, options: EnableOptions): Promise<void> {
  const stores = storeOptions(io, options);
  const surfaces = parseSurfaces(options.surfaces);
  const config = parseConfig(options.configJson);
  const fsGrants = (options.fs ?? []).map((f) => parseFsGrant(f, io.cwd));

  // Resolve what is being enabled without writing anything yet.
  let identity: string;
  let pkg: { manifest: DiscoveredPackage['manifest']; digest: string };
  let install: (() => Promise<{ path: string; changed: boolean }>) | null = null;
  const asPath = resolve(io.cwd, target);
  const isPath = await stat(asPath).then(() => true, () => false);
  if (isPath) {
    const files = (await stat(asPath)).isDirectory() ? await readPluginDirectory(asPath) : await readPackageFile(asPath);
    const loaded = files.ok ? loadPluginPackage(files.value) : files;
    if (!loaded.ok) throw new CommandFailure(`plugin enable failed: ${loaded.diagnostic.message}`);
    identity = `project:${loaded.value.manifest.id}`;
    pkg = loaded.value;
    const state = await loadWorkspace(stores);
    const others = state.discovery.packages.filter((p) => p.identity === identity && p.packageLabel !== `${loaded.value.manifest.id}.yoi-plugin`);
    if (others.length > 0) throw new CommandFailure(`the project store already holds \`${identity}\` as ${others[0]!.packageLabel}; remove it first`);
    install = async () => {
      const result = await installIntoProjectStore(asPath, stores.workspace);
      if (!result.ok) throw new CommandFailure(`plugin enable failed: ${result.diagnostic.message}`);
      if (result.value.package.digest !== loaded.value.digest) throw new CommandFailure('plugin enable failed: the package changed while it was being enabled');
      return { path: result.value.path, changed: result.value.changed };
    };
  } else {
    if (parsePluginRef(target).ok) identity = target;
    else {
      const selected = selectItem(await inventoryWorkspace(stores), target);
      if ('error' in selected) throw new CommandFailure(selected.error);
      identity = selected.item.reference;
    }
    const state = await loadWorkspace(stores);
    const matches = state.discovery.packages.filter((p) => p.identity === identity);
    if (matches.length === 0) {
      const why = state.discovery.diagnostics.find((d) => d.identity === identity);
      throw new CommandFailure(`plugin package \`${identity}\` was not discovered${why ? `: ${why.message}` : ''}`);
    }
    if (matches.length > 1) throw new CommandFailure(`plugin package \`${identity}\` is present more than once in its store; remove the duplicate first`);
    pkg = matches[0]!;
  }

  if (!options.json) {
    io.stdout(term`plugin ${identity} version=${pkg.manifest.version} digest=${pkg.digest}` + '\n');
    io.stdout((pkg.manifest.permissions.length > 0 ? term`  requests: ${pkg.manifest.permissions.map(permissionLabel)}` : '  requests: (nothing)') + '\n');
    for (const t of pkg.manifest.request) io.stdout(`  request target: ${displayRequestTarget(t)}\n`);
    for (const t of pkg.manifest.websocket) io.stdout(`  websocket target: ${displayWebSocketTarget(t)}\n`);
  }
  const flagged = options.grantAllRequested || (options.grant?.length ?? 0) > 0;
  if (!io.interactive && !options.yes) {
    throw new UsageError('enabling needs confirmation: run in a terminal, or pass --yes together with --grant-all-requested or --grant LABEL');
  }
  const grants = await chooseGrants(io, { identity, manifest: pkg.manifest }, options, fsGrants);
  for (const grant of grants.fs) {
    const problem = await fsGrantRootProblem(grant.root, controlLocations(stores));
    if (problem) throw new UsageError(`--fs root ${grant.root} ${problem}: Yoi's own files (grants, secrets, control token, plugin stores, transpile cache) are out of reach of every fs grant`);
  }
  const entry: EnablementEntry = {
    id: identity,
    version: pkg.manifest.version,
    digest: pkg.digest,
    surfaces,
    ...(config !== undefined ? { config } : {}),
    grants: { id: identity, version: pkg.manifest.version, digest: pkg.digest, ...grants },
  };
  const notGranted = pkg.manifest.permissions.filter((p) => !grants.permissions.includes(p)).map(permissionLabel);

  if (!options.yes) {
    io.stdout((grants.permissions.length > 0 ? term`  will grant: ${grants.permissions.map(permissionLabel)}` : '  will grant: (nothing)') + '\n');
    if (!(await yesNo(io, term`write this enablement to ${enablementFile(stores.workspace)}?`))) throw new CommandFailure('plugin enable cancelled; nothing was written');
  }

  const path = enablementFile(stores.workspace);
  const edit = upsertEnablement(await readText(path), entry);
  if (!edit.ok) throw new CommandFailure(edit.message);
  const installed = install ? await install() : null;
  try {
    await writeAtomically(path, edit.text);
  } catch (error) {
    throw new CommandFailure(`plugin enablement config could not be written: ${ioErrorKind(error)}`);
  }

  // A running serve re-enables the service if its circuit had opened (Disabled).
  const live = await callControl(stores.workspace, 'POST', `/v1/plugins/${encodeURIComponent(identity)}/enable`);
  const serviceState = live?.status === 200 ? ((live.json as { state?: string }).state ?? null) : null;

  const after = selectItem(await inventoryWorkspace(stores), identity);
  const item = 'item' in after ? after.item : null;
  const report = {
    command: 'enable',
    status: 'enabled',
    reference: identity,
    version: pkg.manifest.version,
    digest: pkg.digest,
    installed,
    enablement_path: path,
    replaced: edit.replaced,
    granted: {
      permissions: grants.permissions.map(permissionLabel),
      request: grants.request.map(requestTargetLabel),
      websocket: grants.websocket.map(websocketTargetLabel),
      fs: grants.fs.map(fsGrantLabel),
    },
    not_granted: notGranted,
    plugin_status: item?.status ?? null,
    running_service_state: serviceState,
    diagnostics: item?.diagnostics ?? [],
  };
  if (options.json) {
    printJson(io, report);
    return;
  }
  const lines = [
    term`${edit.replaced ? 'updated' : 'enabled'} ${identity} in ${path} (pinned to ${pkg.digest})`,
    ...(installed ? [term`  installed: ${installed.path}${installed.changed ? '' : ' (unchanged)'}`] : []),
    report.granted.permissions.length > 0 ? term`  granted: ${report.granted.permissions}` : '  granted: (nothing)',
    ...grants.request.map((t) => `  granted request target: ${displayRequestTarget(t)}`),
    ...grants.websocket.map((t) => `  granted websocket target: ${displayWebSocketTarget(t)}`),
    ...report.granted.fs.map((t) => term`  granted fs: ${t}`),
    ...(notGranted.length > 0 ? [term`  not granted: ${notGranted}`] : []),
    term`  status: ${report.plugin_status ?? 'unknown'}`,
    ...(serviceState ? [term`  running serve: service is ${serviceState}`] : []),
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
    if (candidates.length > 1) throw new CommandFailure(`plugin reference \`${ref}\` is ambiguous; use a source-qualified ref`);
    if (candidates.length === 1) id = candidates[0]!.id;
  }
  const edit = removeEnablement(text, id);
  if (!edit.ok) throw new CommandFailure(edit.message);
  if (!edit.removed) throw new CommandFailure(`plugin \`${id}\` is not enabled in ${path}`);
  try {
    await writeAtomically(path, edit.text);
  } catch (error) {
    throw new CommandFailure(`plugin enablement config could not be written: ${ioErrorKind(error)}`);
  }
  if (options.json) printJson(io, { command: 'disable', status: 'disabled', reference: id, enablement_path: path });
  else io.stdout(term`disabled ${id} in ${path} (the package stays in its store)` + '\n');
}

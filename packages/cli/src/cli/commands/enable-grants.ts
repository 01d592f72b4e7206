import { isDeepStrictEqual } from 'node:util';
import { permissionLabel } from '@yoi-plugins/host/internal/authority/permissions.js';
import { requestTargetLabel, websocketTargetLabel } from '@yoi-plugins/host/internal/authority/targets.js';
import type { HostApi, Permission, RequestTarget, WebSocketTarget } from '@yoi-plugins/host/internal/manifest/types.js';
import type { FsGrant, Grants } from '@yoi-plugins/host/internal/store/enablement.js';
import type { RequestDiff, Requests } from '@yoi-plugins/host/internal/store/request-diff.js';
import { UsageError, type CliIo } from '../io.js';
import { displayRequestTarget, displayWebSocketTarget } from '../target-display.js';
import { term } from '../terminal.js';

/** Requests an operator decides on together: one question per group instead of one per permission. */
interface GrantGroup {
  readonly key: string;
  readonly permissions: Permission[];
  readonly request: RequestTarget[];
  readonly websocket: WebSocketTarget[];
}

const GROUP_OF: Readonly<Record<Permission['kind'], string>> = {
  surface: 'surfaces',
  tool: 'tools',
  tool_namespace: 'tools',
  service: 'services and ingress',
  ingress: 'services and ingress',
  external_write: 'external_write',
  domain_event: 'domain events',
  host_api: 'host_api',
};

/** Groups requests in a fixed order; a host API's targets travel with it (or alone, when the API is granted already). */
function groupRequests(items: Requests): GrantGroup[] {
  const groups = new Map<string, GrantGroup>();
  const group = (key: string) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, permissions: [], request: [], websocket: [] }));
    return g;
  };
  for (const p of items.permissions) group(p.kind === 'host_api' ? `host_api.${p.api}` : GROUP_OF[p.kind]).permissions.push(p);
  for (const t of items.request) group('host_api.request').request.push(t);
  for (const t of items.websocket) group('host_api.websocket').websocket.push(t);
  const order = ['surfaces', 'tools', 'services and ingress', 'host_api.request', 'host_api.websocket', 'host_api.fs', 'external_write', 'domain events'];
  return [...groups.values()].sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
}

/** One human line per group (labels escaped; targets shown with every non-ASCII character escaped). */
function describeGroup(g: GrantGroup): string {
  const parts: string[] = [];
  if (g.permissions.length > 0) parts.push(term`${g.permissions.map(permissionLabel)}`);
  const targets = [...g.request.map(displayRequestTarget), ...g.websocket.map(displayWebSocketTarget)];
  if (targets.length > 0) parts.push(`target${targets.length > 1 ? 's' : ''} ${targets.join(', ')}`);
  return `${g.key}: ${parts.join('; ')}`;
}

export interface GrantOptions {
  readonly grantAllRequested?: boolean;
  readonly grant?: readonly string[];
  readonly revoke?: readonly string[];
  readonly yes?: boolean;
}

export interface GrantPlan {
  readonly permissions: Permission[];
  readonly request: RequestTarget[];
  readonly websocket: WebSocketTarget[];
  readonly fs: FsGrant[];
}

async function ask(io: CliIo, question: string, answers: readonly string[]): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const answer = (await io.prompt(question)).trim().toLowerCase();
    const match = answers.find((a) => answer === a || answer === a[0]);
    if (match) return match;
    if (answer === '') return answers.includes('no') ? 'no' : answers[answers.length - 1]!;
  }
  return 'no';
}

export async function yesNo(io: CliIo, question: string): Promise<boolean> {
  return (await ask(io, `${question} [y/N] `, ['yes', 'no'])) === 'yes';
}

/** Asks about `groups` (all new): one summary question, and one per group if the operator wants to select. */
async function askGroups(io: CliIo, groups: readonly GrantGroup[], upgrade: boolean): Promise<GrantGroup[]> {
  if (groups.length === 0) return [];
  io.stdout(`${upgrade ? 'new in this package' : 'the plugin requests'}:\n${groups.map((g) => `  ${describeGroup(g)}`).join('\n')}\n`);
  const answer = await ask(io, `grant ${upgrade ? 'these new requests' : 'all of this'}? [y]es, [n]o, [s]elect per group: `, ['yes', 'no', 'select']);
  if (answer === 'yes') return [...groups];
  if (answer === 'no') return [];
  const chosen: GrantGroup[] = [];
  for (const g of groups) if (await yesNo(io, `grant ${describeGroup(g)}?`)) chosen.push(g);
  return chosen;
}

function byLabel<T>(items: readonly T[], labels: ReadonlySet<string>, label: (t: T) => string): T[] {
  return items.filter((t) => labels.has(label(t)));
}

function pushNew<T>(list: T[], items: readonly T[]): void {
  for (const item of items) if (!list.some((x) => isDeepStrictEqual(x, item))) list.push(item);
}

/**
 * What the entry will grant (fs folders aside: the caller adds `--fs` and asks for a folder).
 * First enable: exactly what the flags or answers grant. On an enabled plugin (an upgrade or a
 * rebuild): what was granted stays, except grants of requests the new package no longer
 * makes; only what is new is asked about (or granted by `--grant`/`--grant-all-requested`);
 * `--revoke` takes grants away. `--yes` alone grants nothing new.
 */
export async function planGrants(io: CliIo, identity: string, manifest: Requests, existing: Grants | null, diff: RequestDiff, options: GrantOptions): Promise<GrantPlan> {
  const requestedLabels = manifest.permissions.map(permissionLabel);
  for (const label of options.grant ?? []) {
    if (!requestedLabels.includes(label)) throw new UsageError(`\`${label}\` is not a permission requested by ${identity}; requested: ${requestedLabels.join(', ') || '(none)'}`);
  }
  const known = new Set([...(existing?.permissions ?? []).map(permissionLabel), ...requestedLabels]);
  for (const label of options.revoke ?? []) {
    if (!known.has(label)) throw new UsageError(`\`${label}\` is neither requested by nor granted to ${identity}`);
  }

  // What stays from the entry: everything but grants of requests that are gone.
  const removed = { permissions: new Set(diff.permissions.removed), request: new Set(diff.request.removed), websocket: new Set(diff.websocket.removed) };
  const permissions = (existing?.permissions ?? []).filter((p) => !removed.permissions.has(permissionLabel(p)));
  const request = (existing?.request ?? []).filter((t) => !removed.request.has(requestTargetLabel(t)));
  const websocket = (existing?.websocket ?? []).filter((t) => !removed.websocket.has(websocketTargetLabel(t)));
  const added = {
    permissions: byLabel(manifest.permissions, new Set(diff.permissions.added), permissionLabel),
    request: byLabel(manifest.request, new Set(diff.request.added), requestTargetLabel),
    websocket: byLabel(manifest.websocket, new Set(diff.websocket.added), websocketTargetLabel),
  };

  if (options.grantAllRequested) {
    pushNew(permissions, manifest.permissions);
    pushNew(request, manifest.request);
    pushNew(websocket, manifest.websocket);
  } else if ((options.grant?.length ?? 0) > 0) {
    const wanted = new Set(options.grant);
    pushNew(permissions, manifest.permissions.filter((p) => wanted.has(permissionLabel(p))));
    // Granting a host API by flag grants the targets the manifest declares for it.
    if (wanted.has('host_api.request')) pushNew(request, manifest.request);
    if (wanted.has('host_api.websocket')) pushNew(websocket, manifest.websocket);
  } else if (io.interactive && !options.yes) {
    for (const g of await askGroups(io, groupRequests(added), existing !== null)) {
      pushNew(permissions, g.permissions);
      pushNew(request, g.request);
      pushNew(websocket, g.websocket);
    }
  }

  const revoked = new Set(options.revoke ?? []);
  const kept = permissions.filter((p) => !revoked.has(permissionLabel(p)));
  const holds = (api: HostApi) => kept.some((p) => p.kind === 'host_api' && p.api === api);
  // A target is usable only with its API: new targets of an API that is not granted are left
  // out, and revoking an API removes its targets.
  return {
    permissions: kept,
    request: revoked.has('host_api.request') ? [] : request.filter((t) => holds('request') || !added.request.includes(t)),
    websocket: revoked.has('host_api.websocket') ? [] : websocket.filter((t) => holds('websocket') || !added.websocket.includes(t)),
    fs: revoked.has('host_api.fs') ? [] : [...(existing?.fs ?? [])],
  };
}

import type { HostApi, Manifest, Permission } from '../manifest/types.js';
import type { FsGrant, FsOperation, Grants } from '../store/enablement.js';
import { grantBindingProblem } from '../store/resolve.js';
import { coversTool, hasPermission } from './permissions.js';
import {
  isUsableRequestTarget,
  isUsableWebSocketTarget,
  parseTargetUrl,
  requestTargetAllows,
  websocketTargetAllows,
  type TargetUrl,
} from './targets.js';

/**
 * The authority predicates: pure functions over a resolved record, the single source of truth
 * for inspection (static), registration and every run-time check. Each returns `null` when
 * allowed, or the reason it is denied (a fixed sentence, safe to show).
 */
export interface AuthoritySubject {
  readonly identity: string;
  readonly version: string;
  readonly digest: string;
  readonly manifest: Manifest;
  readonly grants: Grants;
}

export type Denial = string | null;

function binding(subject: AuthoritySubject): Denial {
  return grantBindingProblem(subject.grants, subject.identity, subject.version, subject.digest);
}

function requestedAndGranted(subject: AuthoritySubject, permission: Permission, label: string): Denial {
  if (!hasPermission(subject.manifest.permissions, permission)) return `requested ${label} permission is missing`;
  if (!hasPermission(subject.grants.permissions, permission)) return `granted ${label} permission is missing`;
  return null;
}

export function authorizeTool(subject: AuthoritySubject, toolName: string): Denial {
  const tool = subject.manifest.tools.find((t) => t.name === toolName);
  return (
    binding(subject) ??
    requestedAndGranted(subject, { kind: 'surface', surface: 'tool' }, 'surfaces.tool') ??
    (coversTool(subject.manifest.permissions, toolName) ? null : `requested tool permission for \`${toolName}\` is missing`) ??
    (coversTool(subject.grants.permissions, toolName) ? null : `granted tool permission for \`${toolName}\` is missing`) ??
    (tool?.external_write ? requestedAndGranted(subject, { kind: 'external_write' }, 'external_write') : null)
  );
}

export function authorizeService(subject: AuthoritySubject, name: string): Denial {
  return (
    binding(subject) ??
    requestedAndGranted(subject, { kind: 'surface', surface: 'service' }, 'surfaces.service') ??
    requestedAndGranted(subject, { kind: 'service', name }, `service permission for \`${name}\``)
  );
}

export function authorizeIngress(subject: AuthoritySubject, name: string): Denial {
  return (
    binding(subject) ??
    requestedAndGranted(subject, { kind: 'surface', surface: 'ingress' }, 'surfaces.ingress') ??
    requestedAndGranted(subject, { kind: 'ingress', name }, `ingress permission for \`${name}\``)
  );
}

export function authorizeHostApi(subject: AuthoritySubject, api: HostApi): Denial {
  const base = binding(subject) ?? requestedAndGranted(subject, { kind: 'host_api', api }, `host_api.${api}`);
  if (base) return base;
  switch (api) {
    case 'request':
      if (!subject.manifest.request.some(isUsableRequestTarget)) return 'manifest host_api.request target declaration is missing';
      if (!subject.grants.request.some(isUsableRequestTarget)) return 'enabled host_api.request grants are missing';
      return null;
    case 'websocket':
      if (!subject.manifest.websocket.some(isUsableWebSocketTarget)) return 'manifest host_api.websocket target declaration is missing';
      if (!subject.grants.websocket.some(isUsableWebSocketTarget)) return 'enabled host_api.websocket grants are missing';
      return null;
    case 'fs':
      if (!subject.grants.fs.some(isUsableFsGrant)) return 'granted host_api.fs scope allowlist is missing';
      return null;
  }
}

function isUsableFsGrant(grant: FsGrant): boolean {
  return grant.root.trim() !== '' && grant.root.startsWith('/') && grant.operations.length > 0;
}

/** A URL reduced to scheme, host, port and path (no userinfo, no query) for messages. */
export function safeUrlLabel(url: TargetUrl): string {
  return `${url.scheme}://${url.host.includes(':') ? `[${url.host}]` : url.host}${url.port !== undefined ? `:${url.port}` : ''}${url.path}`;
}

/** A concrete request must match some manifest target AND some grant target (independently). */
export function authorizeRequestTarget(subject: AuthoritySubject, method: string, rawUrl: string): Denial {
  const denied = authorizeHostApi(subject, 'request');
  if (denied) return denied;
  const url = parseTargetUrl(rawUrl);
  if ('error' in url) return `host_api.request ${url.error}`;
  const m = method.trim().toUpperCase();
  const label = `${m} ${safeUrlLabel(url)}`;
  if (!subject.manifest.request.some((t) => requestTargetAllows(t, m, url))) {
    return `host_api.request target ${label} is not declared by the plugin manifest`;
  }
  if (!subject.grants.request.some((t) => requestTargetAllows(t, m, url))) {
    return `host_api.request target ${label} is not covered by enabled request grants`;
  }
  return null;
}

export function authorizeWebSocketTarget(subject: AuthoritySubject, rawUrl: string): Denial {
  const denied = authorizeHostApi(subject, 'websocket');
  if (denied) return denied;
  const url = parseTargetUrl(rawUrl);
  if ('error' in url) return `host_api.websocket ${url.error}`;
  if (url.scheme !== 'ws' && url.scheme !== 'wss') return 'host_api.websocket URL scheme must be ws or wss';
  const label = safeUrlLabel(url);
  if (!subject.manifest.websocket.some((t) => websocketTargetAllows(t, url))) {
    return `host_api.websocket target ${label} is not declared by the plugin manifest`;
  }
  if (!subject.grants.websocket.some((t) => websocketTargetAllows(t, url))) {
    return `host_api.websocket target ${label} is not covered by enabled WebSocket grants`;
  }
  return null;
}

/** The fs grants that allow `operation`; an empty list means the operation is denied. */
export function fsGrantsFor(subject: AuthoritySubject, operation: FsOperation): FsGrant[] {
  if (authorizeHostApi(subject, 'fs')) return [];
  return subject.grants.fs.filter((g) => isUsableFsGrant(g) && g.operations.includes(operation));
}

export function fsGrantLabel(grant: FsGrant): string {
  return `${grant.root} ${grant.operations.length > 0 ? grant.operations.join(',') : '<no-operations>'}${grant.allow_hard_link_reads ? ' allow_hard_link_reads' : ''}`;
}

import type { Permission } from '../manifest/types.js';

/** The label used in CLI output: `surfaces.tool`, `tool.<name>`, `host_api.request`, … */
export function permissionLabel(p: Permission): string {
  switch (p.kind) {
    case 'surface':
      return `surfaces.${p.surface}`;
    case 'tool':
      return `tool.${p.name}`;
    case 'tool_namespace':
      return `tool_namespace.${p.namespace}`;
    case 'service':
      return `service.${p.name}`;
    case 'ingress':
      return `ingress.${p.name}`;
    case 'external_write':
      return 'external_write';
    case 'host_api':
      return `host_api.${p.api}`;
    case 'domain_event':
      return `domain_event.${p.name}`;
  }
}

/** Exact structural membership. */
export function hasPermission(list: readonly Permission[], wanted: Permission): boolean {
  return list.some((p) => permissionLabel(p) === permissionLabel(wanted) && p.kind === wanted.kind);
}

/**
 * Characters that end a segment of a tool name. A `tool_namespace` covers a tool whose name is
 * the namespace itself or continues it after one of these (Yoi matched a plain string prefix,
 * so `git` covered `github_admin`).
 */
export const TOOL_NAMESPACE_SEPARATORS = ['_', '-', '.', '/'] as const;

function isSeparator(char: string | undefined): boolean {
  return char !== undefined && (TOOL_NAMESPACE_SEPARATORS as readonly string[]).includes(char);
}

/** Whether `namespace` covers `name` on a segment boundary; a namespace ending in a separator covers everything below it. */
function namespaceCovers(namespace: string, name: string): boolean {
  if (namespace.length === 0 || !name.startsWith(namespace)) return false;
  if (name.length === namespace.length || isSeparator(namespace[namespace.length - 1])) return true;
  return isSeparator(name[namespace.length]);
}

/** `tool.<name>`, or a `tool_namespace` that covers the name on a segment boundary. */
export function coversTool(list: readonly Permission[], name: string): boolean {
  return list.some((p) => (p.kind === 'tool' && p.name === name) || (p.kind === 'tool_namespace' && namespaceCovers(p.namespace, name)));
}

export function sortedUniqueLabels(list: readonly Permission[]): string[] {
  return [...new Set(list.map(permissionLabel))].sort();
}

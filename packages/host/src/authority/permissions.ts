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

/** `tool.<name>`, or a non-empty `tool_namespace` that is a prefix of the name. */
export function coversTool(list: readonly Permission[], name: string): boolean {
  return list.some(
    (p) => (p.kind === 'tool' && p.name === name) || (p.kind === 'tool_namespace' && p.namespace.length > 0 && name.startsWith(p.namespace)),
  );
}

export function sortedUniqueLabels(list: readonly Permission[]): string[] {
  return [...new Set(list.map(permissionLabel))].sort();
}

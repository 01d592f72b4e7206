import type { TableReader } from './toml-reader.js';
import { SchemaError } from './toml-reader.js';
import { HOST_APIS, SURFACES, type Permission, type RequestTarget, type WebSocketTarget } from './types.js';

/** Reads one `kind`-tagged permission table (manifest `permissions` and `grants.permissions`). */
export function readPermission(r: TableReader): Permission {
  const kind = r.enumValue('kind', ['surface', 'tool', 'tool_namespace', 'service', 'ingress', 'external_write', 'host_api', 'domain_event'] as const);
  switch (kind) {
    case 'surface':
      return { kind, surface: r.enumValue('surface', SURFACES) };
    case 'tool':
    case 'service':
    case 'ingress':
    case 'domain_event':
      return { kind, name: r.string('name') };
    case 'tool_namespace':
      return { kind, namespace: r.string('namespace') };
    case 'external_write':
      return { kind };
    case 'host_api':
      return { kind, api: r.enumValue('api', HOST_APIS) };
  }
}

export function readPermissions(r: TableReader, key: string): Permission[] {
  return r.tableArray(key, readPermission);
}

export function readRequestTarget(r: TableReader): RequestTarget {
  const port = r.integer('port', 0, 65535);
  return {
    scheme: r.optionalString('scheme') ?? '',
    host: r.optionalString('host') ?? '',
    ...(port !== undefined ? { port } : {}),
    methods: r.stringArray('methods'),
    path_prefixes: r.stringArray('path_prefixes'),
  };
}

export function readWebSocketTarget(r: TableReader): WebSocketTarget {
  const port = r.integer('port', 0, 65535);
  return {
    scheme: r.optionalString('scheme') ?? '',
    host: r.optionalString('host') ?? '',
    ...(port !== undefined ? { port } : {}),
    path_prefixes: r.stringArray('path_prefixes'),
  };
}

export function requireNoSchemaError(condition: boolean, message: string): void {
  if (!condition) throw new SchemaError(message);
}

import type { TableReader } from './toml-reader.js';
import { SchemaError } from './toml-reader.js';
import { HOST_APIS, SURFACES, type Permission, type RequestTarget, type SecretHeader, type WebSocketTarget } from './types.js';
import { isSafeId } from './ids.js';

/** Reads one `kind`-tagged permission table (manifest `permissions` and `grants.permissions`). */
function readPermission(r: TableReader): Permission {
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

function readSecretHeaders(r: TableReader): SecretHeader[] {
  return r.tableArray('headers', (h) => {
    const prefix = h.optionalString('prefix');
    const name = h.string('name');
    const secret = h.string('secret');
    if (!/^[A-Za-z0-9-]{1,64}$/.test(name)) throw new SchemaError(`${h.keyPath('name')} is not a header name`);
    if (!isSafeId(secret)) throw new SchemaError(`${h.keyPath('secret')} is not a safe secret name`);
    return { name, secret, ...(prefix !== undefined ? { prefix } : {}) };
  });
}

/** A grant's request target: a manifest target plus secret headers. */
export function readRequestGrant(r: TableReader): RequestTarget {
  const headers = readSecretHeaders(r);
  return { ...readRequestTarget(r), ...(headers.length > 0 ? { headers } : {}) };
}

/** A grant's WebSocket target: a manifest target plus secret handshake headers and frame secrets. */
export function readWebSocketGrant(r: TableReader): WebSocketTarget {
  const headers = readSecretHeaders(r);
  const frameSecrets = r.stringArray('frame_secrets');
  for (const name of frameSecrets) if (!isSafeId(name)) throw new SchemaError(`${r.keyPath('frame_secrets')} holds a name that is not a safe secret name`);
  return { ...readWebSocketTarget(r), ...(headers.length > 0 ? { headers } : {}), ...(frameSecrets.length > 0 ? { frame_secrets: frameSecrets } : {}) };
}

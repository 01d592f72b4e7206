import { diagnostic, fail, ok, type Outcome } from '../diagnostics.js';
import { readPermissions, readRequestGrant, readWebSocketGrant } from '../manifest/read-shared.js';
import { describeKey, parseTomlText, SchemaError, TableReader } from '../manifest/toml-reader.js';
import { LIMIT_KEY_NAMES, limitProblem, type LimitOverrides } from '../sandbox/limits.js';
import type { ConnectionPolicy } from '../websocket/policy.js';
import { SURFACES, type JsonValue, type Permission, type RequestTarget, type Surface, type WebSocketTarget } from '../manifest/types.js';

export const FS_OPERATIONS = ['read', 'list', 'write'] as const;
export type FsOperation = (typeof FS_OPERATIONS)[number];

export interface FsGrant {
  readonly root: string;
  readonly operations: readonly FsOperation[];
}

/** The grant side of authority, bound to one package by id + version + digest. */
export interface Grants {
  readonly id?: string;
  readonly version?: string;
  readonly digest?: string;
  readonly permissions: readonly Permission[];
  readonly request: readonly RequestTarget[];
  readonly websocket: readonly WebSocketTarget[];
  readonly fs: readonly FsGrant[];
}

export interface EnablementEntry {
  /** Source-qualified ref as written (may be invalid; resolution reports it). */
  readonly id: string;
  readonly version?: string;
  readonly digest?: string;
  readonly surfaces: readonly Surface[];
  /** Opaque configuration passed to the instance's `start`. */
  readonly config?: JsonValue;
  readonly grants: Grants;
  /** Our addition: `[plugins.enabled.limits]` (deadlines in ms, memory in MiB). */
  readonly limits?: LimitOverrides;
  /** Our addition: `[plugins.enabled.websocket]`, the policy of host-owned connections. */
  readonly websocket?: Partial<ConnectionPolicy>;
}

export interface EnablementConfig {
  readonly enabled: readonly EnablementEntry[];
}

export const EMPTY_GRANTS: Grants = { permissions: [], request: [], websocket: [], fs: [] };

/** Whether a grants block has any content (and therefore needs a binding). */
export function grantsHaveContent(grants: Grants): boolean {
  return grants.permissions.length + grants.request.length + grants.websocket.length + grants.fs.length > 0;
}

/** Parses `<workspace>/.yoi/plugins.toml` (`[[plugins.enabled]]`, Yoi's shape; unknown keys rejected). */
export function parseEnablementConfig(text: string): Outcome<EnablementConfig> {
  const parsed = parseTomlText(text);
  if (!parsed.ok) {
    const where = parsed.line !== undefined ? ` near line ${parsed.line} column ${parsed.column ?? 0}` : '';
    return fail(diagnostic('malformed', 'resolution', `plugin enablement config could not be parsed${where}`));
  }
  try {
    const root = new TableReader(parsed.value, '');
    const plugins = root.table('plugins', (p) => ({ enabled: p.tableArray('enabled', readEntry) }));
    root.done();
    return ok(plugins ?? { enabled: [] });
  } catch (error) {
    const detail = error instanceof SchemaError ? `: ${error.message}` : '';
    return fail(diagnostic('malformed', 'resolution', `plugin enablement config could not be parsed${detail}`));
  }
}

function readEntry(r: TableReader): EnablementEntry {
  const version = r.optionalString('version');
  const digest = r.optionalString('digest');
  const config = r.json('config');
  const grants = r.table('grants', readGrants) ?? EMPTY_GRANTS;
  const limits = r.table('limits', readLimits);
  const websocket = r.table('websocket', readConnectionPolicy);
  return {
    id: r.string('id'),
    ...(version !== undefined ? { version } : {}),
    ...(digest !== undefined ? { digest } : {}),
    surfaces: r.enumArray('surfaces', SURFACES),
    ...(config !== undefined ? { config } : {}),
    grants,
    ...(limits !== undefined ? { limits } : {}),
    ...(websocket !== undefined ? { websocket } : {}),
  };
}

function readConnectionPolicy(r: TableReader): Partial<ConnectionPolicy> {
  const out: Record<string, number | number[]> = {};
  for (const key of ['connect_timeout_ms', 'ping_interval_ms', 'pong_timeout_ms', 'reconnect_base_ms', 'reconnect_max_ms', 'max_reconnects', 'stable_ms', 'send_limit', 'send_window_ms', 'send_headroom', 'max_message_bytes'] as const) {
    const value = r.integer(key, 0, 86_400_000);
    if (value !== undefined) out[key] = value;
  }
  for (const key of ['fatal_codes', 'resume_codes'] as const) {
    const value = r.raw(key);
    if (value === undefined) continue;
    if (!Array.isArray(value) || !value.every((c) => Number.isInteger(c) && c >= 1000 && c <= 4999)) throw new SchemaError(`\`websocket.${key}\` must be a list of close codes (1000–4999)`);
    out[key] = value as number[];
  }
  return out as Partial<ConnectionPolicy>;
}

/** `[plugins.enabled.limits]`: each value from 1 up to its host maximum; a value above it is refused, not clamped. */
function readLimits(r: TableReader): LimitOverrides {
  const out: Record<string, number> = {};
  for (const key of LIMIT_KEY_NAMES) {
    const value = r.raw(key);
    if (value === undefined) continue;
    const problem = limitProblem(key, value);
    if (problem) throw new SchemaError(`${describeKey(r.keyPath(key))} ${problem}`);
    out[key] = value as number;
  }
  return out;
}

export function readGrants(r: TableReader): Grants {
  const id = r.optionalString('id');
  const version = r.optionalString('version');
  const digest = r.optionalString('digest');
  return {
    ...(id !== undefined ? { id } : {}),
    ...(version !== undefined ? { version } : {}),
    ...(digest !== undefined ? { digest } : {}),
    permissions: readPermissions(r, 'permissions'),
    request: r.tableArray('request', readRequestGrant),
    websocket: r.tableArray('websocket', readWebSocketGrant),
    fs: r.tableArray('fs', (t) => ({ root: t.string('root'), operations: t.enumArray('operations', FS_OPERATIONS) })),
  };
}

import { diagnostic, fail, ok, type Diagnostic, type Outcome } from '../diagnostics.js';
import { readPermissions, readRequestGrant, readWebSocketGrant } from '../manifest/read-shared.js';
import { describeKey, isTable, parseTomlText, SchemaError, TableReader } from '../manifest/toml-reader.js';
import { LIMIT_KEY_NAMES, limitProblem, type LimitOverrides } from '../sandbox/limits.js';
import type { ConnectionPolicy } from '../websocket/policy.js';
import { SURFACES, type JsonValue, type Permission, type RequestTarget, type Surface, type WebSocketTarget } from '../manifest/types.js';

/** Every {@link FsOperation}. */
export const FS_OPERATIONS = ['read', 'list', 'write'] as const;
/** An operation an fs grant allows. */
export type FsOperation = (typeof FS_OPERATIONS)[number];

/** A filesystem grant: one root folder and the operations allowed beneath it. */
export interface FsGrant {
  readonly root: string;
  readonly operations: readonly FsOperation[];
  /**
   * Ours, optional: `read` may open files with more than one hard link (refused by default,
   * since a link can lead to a file outside the root). Writes never may.
   */
  readonly allow_hard_link_reads?: boolean;
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

/** One `[[plugins.enabled]]` entry: which plugin, which surfaces, the grants, config and limits. */
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

/**
 * An entry that failed closed while the rest of the file was read (Yoi's rule: a bad entry
 * costs that entry, not the file). Resolution reports its diagnostic in file order.
 * @public
 */
export interface RejectedEntry {
  /** Position among all `[[plugins.enabled]]` entries of the file. */
  readonly index: number;
  /** The entry's `id` when it is a string, as written. */
  readonly id?: string;
  readonly diagnostic: Diagnostic;
}

/** A parsed `.yoi/plugins.toml`: the enabled entries, and those rejected one by one. */
export interface EnablementConfig {
  readonly enabled: readonly EnablementEntry[];
  /** Entries that could not be read; each resolves to its diagnostic and nothing else. */
  readonly rejected?: readonly RejectedEntry[];
  /**
   * Yoi's recorded plan (`[plugins] resolved` and `diagnostics`): accepted so Yoi's files
   * read, counted, and not used — resolution always starts from `enabled` and its pins.
   */
  readonly recordedPlan?: { readonly resolved: number; readonly diagnostics: number };
}

const EMPTY_GRANTS: Grants = { permissions: [], request: [], websocket: [], fs: [] };

/** Whether a grants block has any content (and therefore needs a binding). */
export function grantsHaveContent(grants: Grants): boolean {
  return grants.permissions.length + grants.request.length + grants.websocket.length + grants.fs.length > 0;
}

export const UNQUALIFIED_ID_MESSAGE = 'plugin enablement id must be source-qualified as user:<id>, project:<id>, or builtin:<id>';

/**
 * Parses `<workspace>/.yoi/plugins.toml` (`[[plugins.enabled]]`, Yoi's shape; unknown keys
 * rejected). Only a file that is not TOML, or whose `plugins` table is not Yoi's shape, fails
 * as a whole; a bad entry fails that entry closed (`rejected`) and the others still count.
 */
export function parseEnablementConfig(text: string): Outcome<EnablementConfig> {
  const parsed = parseTomlText(text);
  if (!parsed.ok) {
    const where = parsed.line !== undefined ? ` near line ${parsed.line} column ${parsed.column ?? 0}` : '';
    return fail(diagnostic('malformed', 'resolution', `plugin enablement config could not be parsed${where}`));
  }
  try {
    const root = new TableReader(parsed.value, '');
    const config = root.table('plugins', readPlugins);
    root.done();
    return ok(config ?? { enabled: [] });
  } catch (error) {
    const detail = error instanceof SchemaError ? `: ${error.message}` : '';
    return fail(diagnostic('malformed', 'resolution', `plugin enablement config could not be parsed${detail}`));
  }
}

function readPlugins(p: TableReader): EnablementConfig {
  const raw = p.raw('enabled');
  if (raw !== undefined && !Array.isArray(raw)) throw new SchemaError('`plugins.enabled` must be an array of tables');
  const enabled: EnablementEntry[] = [];
  const rejected: RejectedEntry[] = [];
  (raw ?? []).forEach((item: unknown, index: number) => {
    const outcome = readEntryClosed(item, index);
    if ('entry' in outcome) enabled.push(outcome.entry);
    else rejected.push(outcome.rejected);
  });
  const recorded = { resolved: recordCount(p, 'resolved'), diagnostics: recordCount(p, 'diagnostics') };
  return {
    enabled,
    ...(rejected.length > 0 ? { rejected } : {}),
    ...(recorded.resolved + recorded.diagnostics > 0 ? { recordedPlan: recorded } : {}),
  };
}

/** `resolved` / `diagnostics`: Yoi's records, only checked to be lists of tables. */
function recordCount(p: TableReader, key: string): number {
  const value = p.raw(key);
  if (value === undefined) return 0;
  if (!Array.isArray(value) || !value.every(isTable)) throw new SchemaError(`\`plugins.${key}\` must be an array of tables`);
  return value.length;
}

function readEntryClosed(item: unknown, index: number): { entry: EnablementEntry } | { rejected: RejectedEntry } {
  const id = isTable(item) && typeof item['id'] === 'string' ? item['id'] : undefined;
  const context = id !== undefined ? { identity: id } : {};
  try {
    const reader = new TableReader(item, `plugins.enabled[${index}]`);
    const entry = readEntry(reader);
    reader.done();
    if (entry === null) return { rejected: { index, diagnostic: diagnostic('ambiguous', 'resolution', UNQUALIFIED_ID_MESSAGE) } };
    return { entry };
  } catch (error) {
    const detail = error instanceof SchemaError ? `: ${error.message}` : '';
    return {
      rejected: {
        index,
        ...(id !== undefined ? { id } : {}),
        diagnostic: diagnostic('malformed', 'resolution', `plugin enablement entry could not be parsed${detail}`, context),
      },
    };
  }
}

/** Reads one entry; null when it has no `id` (Yoi: optional, and then unresolvable). */
function readEntry(r: TableReader): EnablementEntry | null {
  const id = r.optionalString('id');
  const version = r.optionalString('version');
  const digest = r.optionalString('digest');
  const config = r.json('config');
  const grants = r.table('grants', readGrants) ?? EMPTY_GRANTS;
  const limits = r.table('limits', readLimits);
  const websocket = r.table('websocket', readConnectionPolicy);
  const surfaces = r.enumArray('surfaces', SURFACES);
  if (id === undefined) return null;
  return {
    id,
    ...(version !== undefined ? { version } : {}),
    ...(digest !== undefined ? { digest } : {}),
    surfaces,
    ...(config !== undefined ? { config } : {}),
    grants,
    ...(limits !== undefined ? { limits } : {}),
    ...(websocket !== undefined ? { websocket } : {}),
  };
}

function readConnectionPolicy(r: TableReader): Partial<ConnectionPolicy> {
  const out: Record<string, number | number[]> = {};
  for (const key of ['connect_timeout_ms', 'ping_interval_ms', 'pong_timeout_ms', 'reconnect_base_ms', 'reconnect_max_ms', 'max_reconnects', 'stable_ms', 'send_limit', 'send_window_ms', 'send_headroom', 'max_message_bytes', 'inbox_high_water', 'inbox_low_water', 'inbox_high_water_bytes', 'inbox_max_bytes'] as const) {
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

function readGrants(r: TableReader): Grants {
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
    fs: r.tableArray('fs', readFsGrant),
  };
}

function readFsGrant(t: TableReader): FsGrant {
  const root = t.optionalString('root') ?? '';
  const operations = t.enumArray('operations', FS_OPERATIONS);
  const hardLinkReads = t.has('allow_hard_link_reads') ? t.boolean('allow_hard_link_reads', false) : undefined;
  return { root, operations, ...(hardLinkReads !== undefined ? { allow_hard_link_reads: hardLinkReads } : {}) };
}

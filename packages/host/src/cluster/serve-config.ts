import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';

/**
 * Where `yoi plugin serve` keeps what its services accepted: the embedded LMDB journal (one
 * host, the default), or NATS JetStream shared by several hosts of one workspace.
 */
type ServeEngine = { readonly kind: 'lmdb' } | { readonly kind: 'jetstream'; readonly servers: readonly string[] };

/** How the hosts of one workspace share work on JetStream (`[cluster]` in `.yoi/serve.toml`). */
export interface ClusterSettings {
  /** Names the streams and buckets of this workspace on the server; the same on every host (default `yoi`). */
  readonly prefix: string;
  /** This host's name in leases and status (default: `<hostname>-<pid>`). */
  readonly hostId: string;
  /** A plugin whose owner stops renewing its lease moves to another host after this long (default 10 s). */
  readonly leaseTtlMs: number;
  /** How often leases are renewed and placement is checked (default a third of the lease time). */
  readonly renewMs: number;
  /** Replicas of the streams and buckets this host creates (1; 3 on a 3-node cluster). */
  readonly replicas: number;
}

export interface ServeConfig {
  readonly engine: ServeEngine;
  readonly cluster: ClusterSettings;
  /** The file read, or null when the workspace has none. */
  readonly file: string | null;
}

/** Overrides from the command line (`--engine`, `--host-id`). */
export interface ServeConfigOverrides {
  readonly engine?: string;
  readonly hostId?: string;
}

const SERVE_CONFIG_FILE = 'serve.toml';
const LEASE_TTL_MIN_MS = 500;
const LEASE_TTL_DEFAULT_MS = 10_000;

export class ServeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServeConfigError';
  }
}

function serveConfigPath(workspace: string): string {
  return join(resolve(workspace), '.yoi', SERVE_CONFIG_FILE);
}

/** `lmdb`, or one or more `nats://host:port` URLs separated by commas. */
function parseEngine(text: string, where: string): ServeEngine {
  const value = text.trim();
  if (value === '' || value === 'lmdb') return { kind: 'lmdb' };
  const servers = value.split(',').map((part) => part.trim());
  for (const server of servers) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new ServeConfigError(`${where}: ${JSON.stringify(server.slice(0, 80))} is neither \`lmdb\` nor a nats:// URL`);
    }
    if (!['nats:', 'tls:'].includes(url.protocol) || url.hostname === '') throw new ServeConfigError(`${where}: the engine must be \`lmdb\` or nats://HOST:PORT (got ${url.protocol}//…)`);
  }
  return { kind: 'jetstream', servers };
}

function integer(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw new ServeConfigError(`${where} must be an integer from ${min} to ${max}`);
  return value;
}

function cleanHostId(value: string): string {
  const id = value.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
  if (id === '') throw new ServeConfigError('the host id must hold letters, digits, `_` or `-`');
  return id;
}

/**
 * Reads `<workspace>/.yoi/serve.toml` (optional): `engine = "lmdb" | "nats://HOST:PORT"` and a
 * `[cluster]` table (`prefix`, `host_id`, `lease_ttl_ms`, `renew_ms`, `replicas`). Other
 * top-level keys and tables belong to other parts of serve and are left alone; unknown keys in
 * `[cluster]` are refused. Command-line overrides win.
 */
export async function readServeConfig(workspace: string, overrides: ServeConfigOverrides = {}): Promise<ServeConfig> {
  const path = serveConfigPath(workspace);
  let doc: Record<string, unknown> = {};
  let file: string | null = null;
  try {
    const text = await readFile(path, 'utf8');
    file = path;
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (error) {
      throw new ServeConfigError(`.yoi/${SERVE_CONFIG_FILE} is not valid TOML: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 200)}`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const where = `.yoi/${SERVE_CONFIG_FILE}`;
  const engineText = overrides.engine ?? doc['engine'];
  if (engineText !== undefined && typeof engineText !== 'string') throw new ServeConfigError(`${where}: engine must be a string`);
  const engine = parseEngine(engineText ?? 'lmdb', overrides.engine !== undefined ? '--engine' : `${where}: engine`);
  const table = (doc['cluster'] ?? {}) as Record<string, unknown>;
  if (typeof table !== 'object' || Array.isArray(table)) throw new ServeConfigError(`${where}: [cluster] must be a table`);
  const known = new Set(['prefix', 'host_id', 'lease_ttl_ms', 'renew_ms', 'replicas']);
  for (const key of Object.keys(table)) if (!known.has(key)) throw new ServeConfigError(`${where}: unknown key cluster.${key.slice(0, 40)}`);
  const prefix = table['prefix'] ?? 'yoi';
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw new ServeConfigError(`${where}: cluster.prefix must be 1 to 32 letters, digits, \`_\` or \`-\``);
  const hostIdText = overrides.hostId ?? table['host_id'] ?? `${hostname()}-${process.pid}`;
  if (typeof hostIdText !== 'string') throw new ServeConfigError(`${where}: cluster.host_id must be a string`);
  const leaseTtlMs = table['lease_ttl_ms'] === undefined ? LEASE_TTL_DEFAULT_MS : integer(table['lease_ttl_ms'], `${where}: cluster.lease_ttl_ms`, LEASE_TTL_MIN_MS, 600_000);
  const renewMs = table['renew_ms'] === undefined ? Math.max(100, Math.floor(leaseTtlMs / 3)) : integer(table['renew_ms'], `${where}: cluster.renew_ms`, 50, Math.floor(leaseTtlMs / 2));
  const replicas = table['replicas'] === undefined ? 1 : integer(table['replicas'], `${where}: cluster.replicas`, 1, 5);
  return { engine, cluster: { prefix, hostId: cleanHostId(hostIdText), leaseTtlMs, renewMs, replicas }, file };
}

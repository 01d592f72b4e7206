import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { readControlFile, type ControlInfo } from '@yoi-plugins/host/internal/serve/control-file.js';
import type { CliIo } from './io.js';

/** Which host answered a command: the workspace's running serve, or one started inside the command. */
export type Via = 'serve' | 'in-process';

/** A running serve of this workspace, checked to be alive and to run this workspace. */
export interface ServeConnection {
  readonly url: string;
  readonly token: string;
  readonly mcpUrl: string | null;
  readonly mcpToken: string | null;
  readonly pid: number;
}

export type Discovery = { readonly serve: ServeConnection; readonly stale: null } | { readonly serve: null; readonly stale: string | null };

const PROBE_MS = 3_000;

async function canonical(path: string): Promise<string> {
  return realpath(path).catch(() => resolve(path));
}

/** Whether the process `pid` runs (EPERM: it runs, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function baseUrl(info: ControlInfo): string {
  return info.url ?? `http://${info.host.includes(':') ? `[${info.host}]` : info.host}:${info.port}`;
}

/**
 * Finds the workspace's running serve through `.yoi/serve.json`: its process must be alive and
 * its control API must answer with this workspace. A file left by a serve that is gone (or a
 * copy from another workspace) is `stale`, with the reason; the caller falls back to an
 * in-process host.
 */
export async function discoverServe(workspace: string): Promise<Discovery> {
  const info = await readControlFile(workspace);
  if (!info) return { serve: null, stale: null };
  if (!isAlive(info.pid)) return { serve: null, stale: `.yoi/serve.json names process ${info.pid}, which is not running` };
  const serve: ServeConnection = { url: baseUrl(info), token: info.token, mcpUrl: info.mcp_url ?? null, mcpToken: info.mcp_token ?? null, pid: info.pid };
  const answer = await serveRequest(serve, 'GET', '/v1/serve', undefined, PROBE_MS);
  if (answer?.status !== 200) return { serve: null, stale: `the serve named in .yoi/serve.json does not answer at ${serve.url}` };
  const served = (answer.json as { workspace?: unknown }).workspace;
  if (typeof served !== 'string' || (await canonical(served)) !== (await canonical(workspace))) {
    return { serve: null, stale: `the serve at ${serve.url} runs another workspace` };
  }
  return { serve, stale: null };
}

/** One control API request; null when serve cannot be reached (or answers with something that is not JSON). */
export async function serveRequest(serve: ServeConnection, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 10 * 60_000): Promise<{ status: number; json: unknown } | null> {
  try {
    const response = await fetch(serve.url + path, {
      method,
      headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  } catch {
    return null;
  }
}

/** Says on stderr which host a human-readable command used (JSON output carries `via` instead). */
export function reportVia(io: CliIo, via: Via, discovery: Discovery, json: boolean | undefined): void {
  if (json) return;
  if (via === 'serve') io.stderr(`yoi: via the running serve (pid ${discovery.serve?.pid ?? '?'})\n`);
  else io.stderr(`yoi: in-process (${discovery.stale ? `${discovery.stale}; ` : ''}no serve is running for this workspace)\n`);
}

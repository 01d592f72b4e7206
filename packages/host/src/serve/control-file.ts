import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-write.js';
import { join, resolve } from 'node:path';

/** Where a running `serve` says how to reach it: `<workspace>/.yoi/serve.json`, mode 0600. */
export interface ControlInfo {
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly started_at: string;
  /** The workspace this serve runs (absolute); a client checks it is the one it means. */
  readonly workspace?: string;
  readonly url?: string;
  /** MCP over Streamable HTTP, and the token that reaches only it. */
  readonly mcp_url?: string;
  readonly mcp_token?: string;
}

export function controlFilePath(workspace: string): string {
  return join(resolve(workspace), '.yoi', 'serve.json');
}

export function stateDir(workspace: string): string {
  return join(resolve(workspace), '.yoi', 'state');
}

export function newToken(): string {
  return randomBytes(32).toString('hex');
}

export async function writeControlFile(workspace: string, info: ControlInfo): Promise<string> {
  const path = controlFilePath(workspace);
  await writeFileAtomic(path, JSON.stringify(info, null, 2) + '\n', 0o600);
  return path;
}

export async function readControlFile(workspace: string): Promise<ControlInfo | null> {
  try {
    const info = JSON.parse(await readFile(controlFilePath(workspace), 'utf8')) as ControlInfo;
    if (typeof info.port !== 'number' || typeof info.token !== 'string' || typeof info.host !== 'string') return null;
    return info;
  } catch {
    return null;
  }
}

export async function removeControlFile(workspace: string, token: string): Promise<void> {
  const current = await readControlFile(workspace);
  if (current?.token === token) await rm(controlFilePath(workspace), { force: true });
}

/** Calls a running serve's control API; null when none is reachable. */
export async function callControl(workspace: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown } | null> {
  const info = await readControlFile(workspace);
  if (!info) return null;
  try {
    const response = await fetch(`http://${info.host.includes(':') ? `[${info.host}]` : info.host}:${info.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  } catch {
    return null;
  }
}

import { constants } from 'node:fs';
import { lstat, open, opendir, realpath } from 'node:fs/promises';
import { join, relative, resolve, isAbsolute } from 'node:path';
import type { AuthoritySubject } from '../authority/authorize.js';
import { authorizeHostApi, fsGrantsFor } from '../authority/authorize.js';
import type { FsGrant, FsOperation } from '../store/enablement.js';
import { hostError, hostOk, parseDescriptor } from './reply.js';

/** Bounds of the fs host API (as in Yoi). */
export const FS_LIMITS = {
  descriptorBytes: 64 * 1024,
  pathBytes: 4096,
  readBytes: 64 * 1024,
  writeBytes: 64 * 1024,
  listEntries: 256,
} as const;

class FsDenied extends Error {
  constructor(
    readonly code: 'denied' | 'not_found' | 'not_a_file' | 'not_a_directory' | 'invalid_request',
    message: string,
  ) {
    super(message);
  }
}

/** Relative path → segments; rejects absolute paths, NUL, `..` and oversize paths. `.` segments are dropped. */
export function parseFsPath(raw: unknown): string[] {
  if (typeof raw !== 'string' || raw.length === 0) throw new FsDenied('invalid_request', 'FS path must be a non-empty string');
  if (Buffer.byteLength(raw) > FS_LIMITS.pathBytes) throw new FsDenied('invalid_request', `FS path exceeds ${FS_LIMITS.pathBytes} bytes`);
  if (raw.includes('\0')) throw new FsDenied('invalid_request', 'FS path contains NUL');
  if (raw.startsWith('/') || raw.startsWith('\\') || /^[A-Za-z]:/.test(raw) || raw.startsWith('~')) {
    throw new FsDenied('denied', 'FS request paths must be relative to a configured fs grant root');
  }
  const segments = raw.split(/[\\/]/).filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new FsDenied('denied', 'FS path traversal outside the grant root is denied');
  return segments;
}

/** A path for messages: segments that look like secrets are hidden. */
function safePath(segments: readonly string[]): string {
  return segments.map((s) => (/(secret|token|password|key|credential)/i.test(s) ? '<redacted>' : s)).join('/') || '.';
}

async function grantRoot(grant: FsGrant): Promise<string> {
  const trimmed = grant.root.trim();
  if (!trimmed.startsWith('/') || Buffer.byteLength(trimmed) > FS_LIMITS.pathBytes) throw new FsDenied('denied', 'configured fs grant root must be an absolute path');
  // Normalise first: `/x/link/` or `/x/link/.` must not slip a symlinked root past lstat.
  const root = resolve(trimmed);
  let info;
  try {
    info = await lstat(root);
  } catch {
    throw new FsDenied('denied', 'configured fs grant root is unavailable');
  }
  if (info.isSymbolicLink()) throw new FsDenied('denied', 'configured fs grant root must not be a symlink');
  if (!info.isDirectory()) throw new FsDenied('denied', 'configured fs grant root must be a directory');
  return realpath(root);
}

/**
 * Walks `segments` below `root`, refusing any symlink on the way (leaf included), and
 * returns the path. `allowMissingLeaf` is for writes that create the file.
 */
async function resolveUnder(root: string, segments: readonly string[], allowMissingLeaf: boolean): Promise<string> {
  let current = root;
  for (let i = 0; i < segments.length; i++) {
    current = join(current, segments[i]!);
    let info;
    try {
      info = await lstat(current);
    } catch {
      if (allowMissingLeaf && i === segments.length - 1) return current;
      throw new FsDenied('not_found', `FS path not found: ${safePath(segments)}`);
    }
    if (info.isSymbolicLink()) throw new FsDenied('denied', `FS path symlink escape is denied: ${safePath(segments)}`);
  }
  const canonical = await realpath(current);
  const inside = relative(root, canonical);
  if (inside.startsWith('..') || isAbsolute(inside)) throw new FsDenied('denied', 'FS path escapes the grant root');
  return canonical;
}

const writeLocks = new Map<string, Promise<unknown>>();

/** Serialises writes per canonical target, process-wide. */
async function withWriteLock<T>(target: string, work: () => Promise<T>): Promise<T> {
  const previous = writeLocks.get(target) ?? Promise.resolve();
  const run = previous.then(work, work);
  const settled = run.catch(() => undefined);
  writeLocks.set(target, settled);
  try {
    return await run;
  } finally {
    if (writeLocks.get(target) === settled) writeLocks.delete(target);
  }
}

async function tryGrants<T>(subject: AuthoritySubject, operation: FsOperation, attempt: (root: string) => Promise<T>): Promise<T> {
  const grants = fsGrantsFor(subject, operation);
  if (grants.length === 0) throw new FsDenied('denied', `host_api.fs ${operation} denied: no matching operation grant`);
  let last: unknown;
  for (const grant of grants) {
    try {
      return await attempt(await grantRoot(grant));
    } catch (error) {
      last = error;
    }
  }
  throw last;
}

async function readText(path: string): Promise<{ content: string; truncated: boolean }> {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (the check below then refuses it).
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) throw new FsDenied('not_a_file', 'FS path is not a regular file');
    const buffer = Buffer.alloc(FS_LIMITS.readBytes + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const truncated = bytesRead > FS_LIMITS.readBytes;
    return { content: buffer.subarray(0, Math.min(bytesRead, FS_LIMITS.readBytes)).toString('utf8'), truncated };
  } finally {
    await handle.close();
  }
}

export async function fsHostCall(subject: AuthoritySubject, fn: string, json: string): Promise<string> {
  const denied = authorizeHostApi(subject, 'fs');
  if (denied) return hostError('denied', `plugin host API dispatch denied: ${denied}`);
  const allowed = fn === 'write' ? ['path', 'content'] : ['path'];
  const descriptor = parseDescriptor(json, FS_LIMITS.descriptorBytes, allowed);
  if (!descriptor.ok) return descriptor.reply;
  try {
    const segments = parseFsPath(descriptor.value['path']);
    switch (fn) {
      case 'read':
        return await tryGrants(subject, 'read', async (root) => {
          const target = await resolveUnder(root, segments, false);
          return hostOk({ path: safePath(segments), ...(await readText(target)) });
        });
      case 'list':
        return await tryGrants(subject, 'list', async (root) => {
          const target = await resolveUnder(root, segments, false);
          if (!(await lstat(target)).isDirectory()) throw new FsDenied('not_a_directory', 'FS path is not a directory');
          const entries: { name: string; kind: string }[] = [];
          let truncated = false;
          const dir = await opendir(target);
          for await (const entry of dir) {
            if (entries.length === FS_LIMITS.listEntries) {
              truncated = true;
              break;
            }
            const kind = entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : entry.isSymbolicLink() ? 'symlink' : 'other';
            entries.push({ name: entry.name, kind });
          }
          if (truncated) await dir.close().catch(() => undefined);
          entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
          return hostOk({ path: safePath(segments), entries, truncated });
        });
      case 'write': {
        const content = descriptor.value['content'];
        if (typeof content !== 'string') return hostError('invalid_request', 'FS write content must be a string');
        const bytes = Buffer.from(content, 'utf8');
        if (bytes.byteLength > FS_LIMITS.writeBytes) return hostError('too_large', `FS write content exceeds ${FS_LIMITS.writeBytes} bytes`);
        if (segments.length === 0) return hostError('invalid_request', 'FS write path must name a file');
        return await tryGrants(subject, 'write', async (root) => {
          const parent = await resolveUnder(root, segments.slice(0, -1), false);
          if (!(await lstat(parent)).isDirectory()) throw new FsDenied('not_a_directory', 'FS write parent is not a directory');
          const target = join(parent, segments[segments.length - 1]!);
          return withWriteLock(target, async () => {
            const existing = await lstat(target).catch(() => null);
            if (existing?.isSymbolicLink()) throw new FsDenied('denied', `FS path symlink escape is denied: ${safePath(segments)}`);
            if (existing?.isDirectory()) throw new FsDenied('not_a_file', 'FS write target is a directory');
            if (existing && !existing.isFile()) throw new FsDenied('not_a_file', 'FS write target is not a regular file');
            const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
            try {
              await handle.writeFile(bytes);
              await handle.sync();
            } finally {
              await handle.close();
            }
            return hostOk({ path: safePath(segments), bytes_written: bytes.byteLength });
          });
        });
      }
      default:
        return hostError('unknown_function', 'unknown fs host function');
    }
  } catch (error) {
    if (error instanceof FsDenied) return hostError(error.code, error.message);
    const code = (error as { code?: string }).code;
    if (code === 'ELOOP') return hostError('denied', 'FS path symlink escape is denied');
    if (code === 'ENOENT' || code === 'ENOTDIR') return hostError('not_found', 'FS path not found');
    return hostError('failed', 'FS operation failed');
  }
}

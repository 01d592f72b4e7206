import { constants } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AuthoritySubject } from '../authority/authorize.js';
import { authorizeHostApi, fsGrantsFor } from '../authority/authorize.js';
import { beneathProblem, createExclusiveAt, HandleScope, identityOf, openPathAt, openPathNoFollow, procPathOf, reopen, type Opened } from '../fs/beneath.js';
import { ControlGuard, insideControlLocation, isControlDirName } from '../fs/control-guard.js';
import { hostControlLocations, type ControlLocation } from '../store/control-paths.js';
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

/** How often a write retries when the name it creates appears between its two opens. */
const CREATE_ATTEMPTS = 4;

type FsErrorCode = 'denied' | 'not_found' | 'not_a_file' | 'not_a_directory' | 'invalid_request' | 'failed';

class FsDenied extends Error {
  constructor(
    readonly code: FsErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The authority of an fs call: the plugin's grants, plus the control locations of the
 * workspace it was resolved in (set by resolution; see store/control-paths.ts). Locations
 * that do not depend on a workspace are always added.
 */
export interface FsSubject extends AuthoritySubject {
  readonly controlLocations?: readonly ControlLocation[];
}

/** Relative path → segments; rejects absolute paths, NUL, `..` and oversize paths. `.` segments are dropped. */
function parseFsPath(raw: unknown): string[] {
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

/** One attempt against one grant: the descriptors it opened and what it must not reach. */
interface Attempt {
  readonly grant: FsGrant;
  readonly guard: ControlGuard;
  readonly scope: HandleScope;
  readonly segments: readonly string[];
}

const symlinkDenied = (segments: readonly string[]) => new FsDenied('denied', `FS path symlink escape is denied: ${safePath(segments)}`);
const controlDenied = (label: string, segments: readonly string[]) =>
  new FsDenied('denied', `FS path reaches ${label}, which no fs grant can reach: ${safePath(segments)}`);

/**
 * Opens the grant root: its own last component must not be a symlink (the folders above it
 * are the operator's choice) and it must be a directory.
 */
async function openGrantRoot(grant: FsGrant, scope: HandleScope): Promise<Opened> {
  const trimmed = grant.root.trim();
  if (!trimmed.startsWith('/') || Buffer.byteLength(trimmed) > FS_LIMITS.pathBytes) throw new FsDenied('denied', 'configured fs grant root must be an absolute path');
  let root: Opened;
  try {
    // Normalise first: `/x/link/` or `/x/link/.` must not slip a symlinked root past O_NOFOLLOW.
    root = scope.keep(await openPathNoFollow(resolve(trimmed)));
  } catch {
    throw new FsDenied('denied', 'configured fs grant root is unavailable');
  }
  if (root.stats.isSymbolicLink()) throw new FsDenied('denied', 'configured fs grant root must not be a symlink');
  if (!root.stats.isDirectory()) throw new FsDenied('denied', 'configured fs grant root must be a directory');
  return root;
}

/** Opens one component below `dir` without following it; null when nothing has that name. */
async function openComponent(attempt: Attempt, dir: Opened, name: string): Promise<Opened | null> {
  if (isControlDirName(name)) throw controlDenied('a .yoi control directory', attempt.segments);
  try {
    return attempt.scope.keep(await openPathAt(dir.handle, name));
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Walks `names` down from `from`, one opened directory at a time, never following a link.
 * A non-directory as the last name fails with `atEnd`; anywhere else it is `not_found`.
 */
async function walkDirectories(attempt: Attempt, from: Opened, names: readonly string[], atEnd: FsDenied): Promise<Opened> {
  let dir = from;
  for (let i = 0; i < names.length; i++) {
    const next = await openComponent(attempt, dir, names[i]!);
    if (!next) throw new FsDenied('not_found', `FS path not found: ${safePath(attempt.segments)}`);
    if (next.stats.isSymbolicLink()) throw symlinkDenied(attempt.segments);
    if (!next.stats.isDirectory()) throw i === names.length - 1 ? atEnd : new FsDenied('not_found', `FS path not found: ${safePath(attempt.segments)}`);
    const label = attempt.guard.labelOf(next.stats);
    if (label) throw controlDenied(label, attempt.segments);
    if (dir !== from) attempt.scope.release(dir);
    dir = next;
  }
  return dir;
}

/** The checks on a file about to be read or written, made on the opened object. */
function checkFile(attempt: Attempt, file: Opened, operation: 'read' | 'write'): void {
  if (file.stats.isSymbolicLink()) throw symlinkDenied(attempt.segments);
  if (file.stats.isDirectory()) throw new FsDenied('not_a_file', operation === 'write' ? 'FS write target is a directory' : 'FS path is not a regular file');
  if (!file.stats.isFile()) throw new FsDenied('not_a_file', operation === 'write' ? 'FS write target is not a regular file' : 'FS path is not a regular file');
  const label = attempt.guard.labelOf(file.stats);
  if (label) throw controlDenied(label, attempt.segments);
  if (file.stats.nlink > 1n && (operation === 'write' || attempt.grant.allow_hard_link_reads !== true)) {
    throw new FsDenied('denied', `FS ${operation} of a file with more than one hard link is denied (a link may lead outside the grant root): ${safePath(attempt.segments)}`);
  }
}

async function readFile(attempt: Attempt, root: Opened): Promise<string> {
  const { segments } = attempt;
  if (segments.length === 0) throw new FsDenied('not_a_file', 'FS path is not a regular file');
  const notFound = new FsDenied('not_found', `FS path not found: ${safePath(segments)}`);
  const parent = await walkDirectories(attempt, root, segments.slice(0, -1), notFound);
  const leaf = await openComponent(attempt, parent, segments[segments.length - 1]!);
  if (!leaf) throw notFound;
  checkFile(attempt, leaf, 'read');
  const file = attempt.scope.keep(await reopen(leaf, constants.O_RDONLY));
  const buffer = Buffer.alloc(FS_LIMITS.readBytes + 1);
  let length = 0;
  while (length < buffer.length) {
    const { bytesRead } = await file.handle.read(buffer, length, buffer.length - length, length);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  const truncated = length > FS_LIMITS.readBytes;
  return hostOk({ path: safePath(segments), content: buffer.subarray(0, Math.min(length, FS_LIMITS.readBytes)).toString('utf8'), truncated });
}

async function listDirectory(attempt: Attempt, root: Opened): Promise<string> {
  const { segments } = attempt;
  const target = await walkDirectories(attempt, root, segments, new FsDenied('not_a_directory', 'FS path is not a directory'));
  const entries: { name: string; kind: string }[] = [];
  let truncated = false;
  // The proc link of the verified descriptor is that directory, whatever its name is now.
  const dir = await opendir(procPathOf(target.handle));
  try {
    for await (const entry of dir) {
      if (entries.length === FS_LIMITS.listEntries) {
        truncated = true;
        break;
      }
      const kind = entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : entry.isSymbolicLink() ? 'symlink' : 'other';
      entries.push({ name: entry.name, kind });
    }
  } finally {
    if (truncated) await dir.close().catch(() => undefined);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return hostOk({ path: safePath(segments), entries, truncated });
}

const writeLocks = new Map<string, Promise<unknown>>();

/** Serialises writes per target (parent directory object + name), process-wide. */
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

async function writeFile(attempt: Attempt, root: Opened, bytes: Buffer): Promise<string> {
  const { segments } = attempt;
  const parent = await walkDirectories(attempt, root, segments.slice(0, -1), new FsDenied('not_a_directory', 'FS write parent is not a directory'));
  const name = segments[segments.length - 1]!;
  return withWriteLock(`${identityOf(parent.stats)}/${name}`, async () => {
    for (let i = 0; i < CREATE_ATTEMPTS; i++) {
      const existing = await openComponent(attempt, parent, name);
      let file: Opened;
      if (existing) {
        checkFile(attempt, existing, 'write');
        // Truncate only after the checks: O_TRUNC at open would cut a linked file before its refusal.
        file = attempt.scope.keep(await reopen(existing, constants.O_WRONLY));
      } else {
        try {
          file = attempt.scope.keep(await createExclusiveAt(parent.handle, name, constants.O_WRONLY, 0o644));
        } catch (error) {
          if ((error as { code?: string }).code === 'EEXIST') continue;
          throw error;
        }
        checkFile(attempt, file, 'write');
      }
      await file.handle.truncate(0);
      await file.handle.writeFile(bytes);
      await file.handle.sync();
      return hostOk({ path: safePath(segments), bytes_written: bytes.byteLength });
    }
    throw new FsDenied('failed', 'FS write target kept changing while it was opened; nothing was written');
  });
}

async function tryGrants(subject: FsSubject, operation: FsOperation, segments: readonly string[], run: (attempt: Attempt, root: Opened) => Promise<string>): Promise<string> {
  const grants = fsGrantsFor(subject, operation);
  if (grants.length === 0) throw new FsDenied('denied', `host_api.fs ${operation} denied: no matching operation grant`);
  const unsupported = await beneathProblem();
  if (unsupported) throw new FsDenied('failed', unsupported);
  // Taken once per call, while the first root is being opened.
  const guarding = ControlGuard.load([...(subject.controlLocations ?? []), ...hostControlLocations()]);
  let last: unknown;
  for (const grant of grants) {
    const scope = new HandleScope();
    try {
      const root = await openGrantRoot(grant, scope);
      const inside = await insideControlLocation(root, guarding);
      if (inside) throw new FsDenied('denied', `configured fs grant root is inside ${inside}, which no fs grant can reach`);
      return await run({ grant, guard: await guarding, scope, segments }, root);
    } catch (error) {
      last = error;
    } finally {
      await scope.close();
    }
  }
  throw last;
}

export async function fsHostCall(subject: FsSubject, fn: string, json: string): Promise<string> {
  const denied = authorizeHostApi(subject, 'fs');
  if (denied) return hostError('denied', `plugin host API dispatch denied: ${denied}`);
  const allowed = fn === 'write' ? ['path', 'content'] : ['path'];
  const descriptor = parseDescriptor(json, FS_LIMITS.descriptorBytes, allowed);
  if (!descriptor.ok) return descriptor.reply;
  try {
    const segments = parseFsPath(descriptor.value['path']);
    switch (fn) {
      case 'read':
        return await tryGrants(subject, 'read', segments, readFile);
      case 'list':
        return await tryGrants(subject, 'list', segments, listDirectory);
      case 'write': {
        const content = descriptor.value['content'];
        if (typeof content !== 'string') return hostError('invalid_request', 'FS write content must be a string');
        const bytes = Buffer.from(content, 'utf8');
        if (bytes.byteLength > FS_LIMITS.writeBytes) return hostError('too_large', `FS write content exceeds ${FS_LIMITS.writeBytes} bytes`);
        if (segments.length === 0) return hostError('invalid_request', 'FS write path must name a file');
        return await tryGrants(subject, 'write', segments, (attempt, root) => writeFile(attempt, root, bytes));
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

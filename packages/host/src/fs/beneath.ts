import { constants, type BigIntStats } from 'node:fs';
import { open, stat, statfs, type FileHandle } from 'node:fs/promises';

/**
 * `openat(2)` for Node, on Linux. Node has no openat, but the kernel resolves
 * `/proc/self/fd/<fd>/<name>` by jumping to the object that <fd> refers to (a "magic link":
 * followed to the opened directory itself, never re-resolved by name) and then looking up
 * <name> in it. With O_NOFOLLOW that is exactly `openat(fd, name, O_NOFOLLOW)`. Every step
 * of a walk opens the next component this way with O_PATH (no side effects on FIFOs or
 * devices, no read permission needed) and fstat()s the descriptor, so each check sees the
 * object that was opened and the next step starts from it. A file is then reopened through
 * `/proc/self/fd/<fd>` (the same inode, not a name) with the access the operation needs.
 */

/** O_PATH on Linux (generic value; not exported by Node's fs.constants). */
export const O_PATH = 0o10000000;
const PROC_SUPER_MAGIC = 0x9fa0;

/** An opened object and what fstat() said about that very descriptor. */
export interface Opened {
  readonly handle: FileHandle;
  readonly stats: BigIntStats;
}

/** Device and inode: what an object is, whichever name reached it. */
export function identityOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}`;
}

export function procPathOf(handle: FileHandle): string {
  return `/proc/self/fd/${handle.fd}`;
}

/** Why race-free resolution is unavailable here (`null` when it is available). */
export async function procFdProblem(platform: string = process.platform, proc = '/proc'): Promise<string | null> {
  if (platform !== 'linux') return `host_api.fs needs Linux (it resolves paths through /proc/self/fd, which ${platform} does not have)`;
  try {
    if ((await statfs(`${proc}/self/fd`)).type !== PROC_SUPER_MAGIC) return `host_api.fs needs procfs mounted at ${proc}`;
    const probe = await open('/', O_PATH | constants.O_DIRECTORY);
    try {
      const [direct, viaProc] = await Promise.all([probe.stat({ bigint: true }), stat(`${proc}/self/fd/${probe.fd}`, { bigint: true })]);
      if (identityOf(direct) !== identityOf(viaProc)) return `host_api.fs needs ${proc}/self/fd to refer to opened descriptors`;
    } finally {
      await probe.close();
    }
  } catch {
    return `host_api.fs needs procfs mounted at ${proc}`;
  }
  return null;
}

let support: Promise<string | null> | undefined;

/** `procFdProblem()` for this process, checked once. */
export function beneathProblem(): Promise<string | null> {
  support ??= procFdProblem();
  return support;
}

/** Opens `name` relative to the directory `dir` refers to. `name` is one component, checked by the caller. */
function openAt(dir: FileHandle, name: string, flags: number, mode?: number): Promise<FileHandle> {
  return open(`${procPathOf(dir)}/${name}`, flags, mode);
}

/** Opens one component below `dir` without following it if it is a symlink, and fstat()s it. */
export async function openPathAt(dir: FileHandle, name: string): Promise<Opened> {
  return statOpened(await openAt(dir, name, O_PATH | constants.O_NOFOLLOW));
}

/** Opens an absolute path; its last component is not followed. */
export async function openPathNoFollow(path: string): Promise<Opened> {
  return statOpened(await open(path, O_PATH | constants.O_NOFOLLOW));
}

/** Creates `name` below `dir` as a new regular file; fails with EEXIST when anything (even a dangling symlink) has that name. */
export async function createExclusiveAt(dir: FileHandle, name: string, flags: number, mode: number): Promise<Opened> {
  return statOpened(await openAt(dir, name, flags | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode));
}

/** The parent directory of an opened directory (`..` of that object, not of a name). */
export async function openParent(dir: FileHandle): Promise<Opened> {
  return statOpened(await openAt(dir, '..', O_PATH | constants.O_DIRECTORY));
}

/**
 * Reopens an O_PATH descriptor with real access (`flags`), through the descriptor itself (the
 * proc link is the last component here, so it must be followed: no O_NOFOLLOW); refuses the
 * result unless it is the same object.
 */
export async function reopen(opened: Opened, flags: number): Promise<Opened> {
  const reopened = await statOpened(await open(procPathOf(opened.handle), flags));
  if (identityOf(reopened.stats) !== identityOf(opened.stats)) {
    await reopened.handle.close();
    throw new Error('reopened descriptor is not the verified object');
  }
  return reopened;
}

async function statOpened(handle: FileHandle): Promise<Opened> {
  try {
    return { handle, stats: await handle.stat({ bigint: true }) };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Closes every handle it was given, once, whatever happened. */
export class HandleScope {
  readonly #handles: FileHandle[] = [];

  keep<T extends Opened | FileHandle>(value: T): T {
    this.#handles.push('handle' in value ? value.handle : value);
    return value;
  }

  /** Closes one handle early, without waiting (a walk only needs the directory it stands in). */
  release(value: Opened): void {
    const at = this.#handles.indexOf(value.handle);
    if (at >= 0) this.#handles.splice(at, 1);
    void value.handle.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const handles = this.#handles.splice(0);
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
  }
}

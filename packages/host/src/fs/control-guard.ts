import { constants, type BigIntStats } from 'node:fs';
import { open, readlink, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { CONTROL_DIR_NAME, type ControlLocation } from '../store/control-paths.js';
import { beneathProblem, HandleScope, identityOf, O_PATH, openParent, procPathOf, type Opened } from './beneath.js';

/** Deeper than any real path (4096 bytes hold at most 2048 components). */
const MAX_ANCESTORS = 2048;

/**
 * The control locations as objects: device and inode of each one that exists, taken when a
 * call starts. Opened objects are compared with these, so no other name for them (a symlink
 * elsewhere, a bind mount, a hard-linked file, a renamed folder) reaches them.
 */
export class ControlGuard {
  readonly #labels: ReadonlyMap<string, string>;

  private constructor(labels: ReadonlyMap<string, string>) {
    this.#labels = labels;
  }

  static async load(locations: readonly ControlLocation[]): Promise<ControlGuard> {
    const labels = new Map<string, string>();
    const found = await Promise.all(locations.map((l) => stat(l.path, { bigint: true }).then((s) => ({ s, l }), () => null)));
    for (const entry of found) if (entry && !labels.has(identityOf(entry.s))) labels.set(identityOf(entry.s), entry.l.label);
    return new ControlGuard(labels);
  }

  /** The label of the control location `stats` is, or null. */
  labelOf(stats: BigIntStats): string | null {
    return this.#labels.get(identityOf(stats)) ?? null;
  }
}

/** A directory name that is never entered: every workspace's control directory. */
export function isControlDirName(name: string): boolean {
  return name === CONTROL_DIR_NAME;
}

function controlDirInPath(path: string): boolean {
  return path.split(sep).some(isControlDirName);
}

/**
 * Whether an opened directory is, or lies inside, a control location: its kernel path has no
 * `.yoi` component, and neither it nor any ancestor is a control location. Ancestors are
 * reached by `..` from the opened object (`/proc/self/fd/<fd>/../..`), never by name; all
 * levels are looked at in parallel, and the walk must end at `/` (its own parent), or it is
 * redone one level at a time. Returns the reason, or null.
 */
export async function insideControlLocation(dir: Opened, guarding: ControlGuard | Promise<ControlGuard>): Promise<string | null> {
  const path = await readlink(procPathOf(dir.handle));
  if (controlDirInPath(path)) return 'a .yoi control directory';
  const depth = path.split(sep).filter((s) => s !== '').length;
  if (depth >= MAX_ANCESTORS) return 'a folder nested too deeply to check';
  const base = procPathOf(dir.handle);
  const levels = await Promise.all(Array.from({ length: depth + 2 }, (_, k) => (k === 0 ? dir.stats : stat(`${base}/${'../'.repeat(k)}`, { bigint: true }))));
  const guard = await guarding;
  for (const level of levels) {
    const label = guard.labelOf(level);
    if (label) return label;
  }
  const [top, aboveTop] = levels.slice(-2) as [BigIntStats, BigIntStats];
  return identityOf(top) === identityOf(aboveTop) ? null : walkUp(dir, guard);
}

/** The one-level-at-a-time walk, for a directory that moved while it was being checked. */
async function walkUp(dir: Opened, guard: ControlGuard): Promise<string | null> {
  const scope = new HandleScope();
  try {
    let current = dir;
    for (let depth = 0; depth < MAX_ANCESTORS; depth++) {
      const label = guard.labelOf(current.stats);
      if (label) return label;
      const parent = scope.keep(await openParent(current.handle));
      if (identityOf(parent.stats) === identityOf(current.stats)) return null;
      if (current !== dir) scope.release(current);
      current = parent;
    }
    return 'a folder nested too deeply to check';
  } finally {
    await scope.close();
  }
}

/**
 * Whether an fs grant root is one of Yoi's control locations or inside one (for `enable --fs`
 * and for resolution of a hand-written grant). A root that only contains them is allowed;
 * the host API refuses them below it. Returns the reason, or null. A root that does not
 * exist yet is judged by its path; it is checked again on every call.
 */
export async function fsGrantRootProblem(root: string, locations: readonly ControlLocation[]): Promise<string | null> {
  const absolute = resolve(root);
  if (controlDirInPath(absolute)) return 'is inside a .yoi control directory';
  for (const location of locations) {
    const path = resolve(location.path);
    if (absolute === path || absolute.startsWith(path + sep)) return `is inside ${location.label} (${path})`;
  }
  // Elsewhere than Linux the host API refuses every call, so the path checks above are enough.
  if (await beneathProblem()) return null;
  let handle;
  try {
    handle = await open(absolute, O_PATH | constants.O_DIRECTORY);
  } catch {
    return null;
  }
  try {
    const opened = { handle, stats: await handle.stat({ bigint: true }) };
    const label = await insideControlLocation(opened, await ControlGuard.load(locations));
    return label ? `is inside ${label}` : null;
  } finally {
    await handle.close();
  }
}

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SourceKind } from '../diagnostics.js';

export interface StoreLocation {
  readonly source: SourceKind;
  readonly dir: string;
}

export interface StoreOptions {
  /** Workspace root; its project store is `<workspace>/.yoi/plugins`. */
  readonly workspace: string;
  /** Overrides `$XDG_DATA_HOME` (else `~/.local/share`) as the base of the user store. */
  readonly userDataHome?: string;
  /**
   * The directory of the `builtin:` store. Without it the builtin store is empty (`builtin:`
   * refs are not found): the host ships no packages; the `yoi` CLI passes the store it ships.
   */
  readonly builtinDir?: string;
  /** Environment to read `XDG_DATA_HOME` and `HOME` from (default: `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

/** `$XDG_DATA_HOME/yoi/plugins`, else `~/.local/share/yoi/plugins` (Yoi's documented path, without its CLI's doubled `yoi/`). */
export function userStoreDir(options: Pick<StoreOptions, 'userDataHome' | 'env'> = {}): string {
  const env = options.env ?? process.env;
  const base = options.userDataHome ?? (env['XDG_DATA_HOME'] || join(env['HOME'] || homedir(), '.local', 'share'));
  return join(base, 'yoi', 'plugins');
}

export function projectStoreDir(workspace: string): string {
  return join(resolve(workspace), '.yoi', 'plugins');
}

export function enablementFile(workspace: string): string {
  return join(resolve(workspace), '.yoi', 'plugins.toml');
}

/** Stores in scan order: user, project, builtin (the last only when `builtinDir` is given). */
export function storeLocations(options: StoreOptions): StoreLocation[] {
  return [
    { source: 'user', dir: userStoreDir(options) },
    { source: 'project', dir: projectStoreDir(options.workspace) },
    ...(options.builtinDir === undefined ? [] : [{ source: 'builtin' as const, dir: options.builtinDir }]),
  ];
}

/** The directory of a store, or undefined for the builtin store when there is none. */
export function storeDirFor(source: SourceKind, options: StoreOptions): string | undefined {
  return storeLocations(options).find((s) => s.source === source)?.dir;
}

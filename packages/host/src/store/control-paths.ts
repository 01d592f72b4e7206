import { join, resolve } from 'node:path';
import { defaultCacheDir } from '../sandbox/transpile-cache.js';
import { userStoreDir, type StoreOptions } from './locations.js';

/**
 * Yoi's own files: what decides grants, holds secrets and tokens, or is loaded as code. No fs
 * grant may reach any of them (issue 15, B2): a plugin that could rewrite `plugins.toml`
 * could grant itself `/`.
 */
export interface ControlLocation {
  readonly path: string;
  /** Shown in refusals: says what it is, never where (a guest does not learn host paths). */
  readonly label: string;
}

/** The workspace control directory's name; a directory of this name is never reachable. */
export const CONTROL_DIR_NAME = '.yoi';

/** The workspace's control directory and the files and folders in it, each by its own path (any may be a link elsewhere). */
function workspaceControlLocations(workspace: string): ControlLocation[] {
  const dir = join(resolve(workspace), CONTROL_DIR_NAME);
  return [
    { path: dir, label: "the workspace's .yoi control directory" },
    { path: join(dir, 'plugins.toml'), label: 'the enablement file (plugins.toml)' },
    { path: join(dir, 'secrets.toml'), label: 'the secrets file' },
    { path: join(dir, 'serve.json'), label: "serve's control file" },
    { path: join(dir, 'state'), label: "serve's state directory" },
    { path: join(dir, 'plugins'), label: 'the project plugin store' },
  ];
}

/**
 * Locations that do not depend on a workspace: the user and builtin stores, the transpile
 * cache (its JS is run by the host), and /proc, whose `environ` files hold the host's
 * environment (and with it any `YOI_SECRET_*` value).
 */
export function hostControlLocations(options: Pick<StoreOptions, 'userDataHome' | 'env' | 'builtinDir'> = {}): ControlLocation[] {
  return [
    { path: '/proc', label: "the host's process information (/proc)" },
    { path: userStoreDir(options), label: 'the user plugin store' },
    ...(options.builtinDir === undefined ? [] : [{ path: options.builtinDir, label: 'the builtin plugin store' }]),
    { path: defaultCacheDir(options.env ?? process.env), label: 'the transpile cache' },
  ];
}

export function controlLocations(options: StoreOptions): ControlLocation[] {
  return [...workspaceControlLocations(options.workspace), ...hostControlLocations(options)];
}

/** Directories given to a host at run time (transpile cache, dead letters). */
export function runtimeControlLocations(options: { readonly cacheDir?: string; readonly stateDir?: string }): ControlLocation[] {
  return [
    ...(options.cacheDir ? [{ path: resolve(options.cacheDir), label: 'the transpile cache' }] : []),
    ...(options.stateDir ? [{ path: resolve(options.stateDir), label: "the host's state directory" }] : []),
  ];
}

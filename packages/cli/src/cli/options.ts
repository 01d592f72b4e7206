import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { StoreOptions } from '@yoi-plugins/host/internal/store/locations.js';
import { shippedBuiltinDir } from './builtin-store.js';
import { UsageError, type CliIo } from './io.js';

export interface CommonOptions {
  readonly json?: boolean;
  readonly workspace?: string;
  readonly builtinDir?: string;
}

/** Store options from `--workspace` (default: the current directory) and the environment. */
export function storeOptions(io: CliIo, options: CommonOptions): StoreOptions {
  const workspace = resolve(io.cwd, options.workspace ?? '.');
  let isDirectory: boolean;
  try {
    isDirectory = statSync(workspace).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) throw new UsageError(`workspace \`${options.workspace ?? '.'}\` is not a directory`);
  const builtinDir = options.builtinDir ?? (io.env['YOI_BUILTIN_DIR'] || shippedBuiltinDir());
  return { workspace, env: io.env, builtinDir };
}

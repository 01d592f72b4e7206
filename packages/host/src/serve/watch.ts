import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { enablementFile, projectStoreDir, userStoreDir, type StoreOptions } from '../store/locations.js';

interface Watched {
  readonly path: string;
  readonly recursive: boolean;
  /** Only these names count (a non-recursive watch of a folder). */
  readonly names?: readonly string[];
}

/**
 * Watches what decides which plugins a workspace runs: `.yoi/plugins.toml` (and
 * `secrets.toml`) and the project and user stores (recursively: a directory package's files
 * count). A folder that does not exist yet is picked up by `rearm` (serve calls it after each
 * reload; the project store's creation inside `.yoi` triggers a reload by itself).
 */
export class WorkspaceWatcher {
  readonly #targets: readonly Watched[];
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #onChange: (path: string) => void;
  readonly #onError: (path: string, message: string) => void;
  #closed = false;

  constructor(stores: StoreOptions, onChange: (path: string) => void, onError: (path: string, message: string) => void) {
    const control = dirname(enablementFile(stores.workspace));
    this.#targets = [
      { path: control, recursive: false, names: [basename(enablementFile(stores.workspace)), 'secrets.toml', basename(projectStoreDir(stores.workspace))] },
      { path: projectStoreDir(stores.workspace), recursive: true },
      { path: userStoreDir(stores), recursive: true },
    ];
    this.#onChange = onChange;
    this.#onError = onError;
    this.rearm();
  }

  /** Folders watched now. */
  get watching(): string[] {
    return [...this.#watchers.keys()];
  }

  /** Starts watching every target folder that exists and is not watched yet. */
  rearm(): void {
    if (this.#closed) return;
    for (const target of this.#targets) {
      if (this.#watchers.has(target.path)) continue;
      let watcher: FSWatcher;
      try {
        watcher = watch(target.path, { recursive: target.recursive, persistent: false });
      } catch {
        continue; // missing for now
      }
      watcher.on('change', (_event, name) => {
        const file = typeof name === 'string' ? name : (name?.toString('utf8') ?? '');
        if (target.names && !target.names.includes(file)) return;
        this.#onChange(file ? join(target.path, file) : target.path);
      });
      watcher.on('error', (error) => {
        watcher.close();
        this.#watchers.delete(target.path);
        this.#onError(target.path, error.message);
        // A removed store folder: whatever it held is gone, which is a change too.
        this.#onChange(target.path);
      });
      this.#watchers.set(target.path, watcher);
    }
  }

  close(): void {
    this.#closed = true;
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { derivedModuleCached, transpileCached, type TranspiledComponent } from '@yoi-plugins/host/internal/sandbox/transpile-cache.js';
import { interruptibleRecipe } from '@yoi-plugins/host/internal/sandbox/component-loader.js';
import { instrumentInterruptsOffThread } from '@yoi-plugins/host/internal/sandbox/interrupt/instrument.js';
import { fillDevSlot, hasDevSlot } from './dev-component.js';

/**
 * After a dev build, the host that loads the new component (serve's hot reload) would transpile
 * it with jco and rewrite its engine module for interruption (binaryen, seconds of CPU) — on
 * every edit. A slot-filled component differs from its loader template only in data segment
 * bytes, which jco and the rewrite copy verbatim: so the template is transpiled and rewritten
 * once, and each dev build writes the new component's entries into the host's caches by filling
 * the same slot in those outputs. A test checks the filled entry equals what jco makes.
 */
export class DevHostCache {
  readonly #cacheDir: string;
  readonly #rewrite: boolean;
  #template: { readonly bytes: Uint8Array; readonly entry: Promise<TranspiledComponent> } | null = null;
  /** The template's interruptible core modules by file name, once rewritten. */
  #derived = new Map<string, Uint8Array>();
  #deriving: Promise<void> | null = null;

  /** `rewrite`: also rewrite the template for interruption (a watching loop; a single turn would only wait for it). */
  constructor(cacheDir: string, options: { rewrite: boolean }) {
    this.#cacheDir = cacheDir;
    this.#rewrite = options.rewrite;
  }

  /** Puts the entries for `filled` (the template with `code` in its slot) into the host's caches; best effort. */
  async prime(template: Uint8Array, filled: Uint8Array, code: string, slotLength: number): Promise<void> {
    if (this.#template?.bytes !== template) {
      this.#template = { bytes: template, entry: transpileCached(template, this.#cacheDir) };
      this.#derived = new Map();
      this.#deriving = null;
    }
    const templateEntry = await this.#template.entry;
    const templateFiles = new Map<string, Uint8Array>();
    for (const name of [...templateEntry.coreFiles, 'component.js']) templateFiles.set(name, new Uint8Array(await readFile(join(templateEntry.dir, name))));
    const filledFiles = new Map<string, Uint8Array>();
    for (const [name, bytes] of templateFiles) filledFiles.set(name, name.endsWith('.wasm') && hasDevSlot(bytes) ? fillDevSlot(bytes, code, slotLength) : bytes);
    await transpileCached(filled, this.#cacheDir, { produce: async () => ({ files: Object.fromEntries(filledFiles), interface: templateEntry.interface }) });

    if (!this.#rewrite) return;
    const recipe = await interruptibleRecipe();
    // Once per template (and then cached on disk for every later session): the first turn waits
    // for the rewrite, so that no edit after it waits for binaryen in serve.
    this.#deriving ??= this.#deriveTemplate(templateEntry, templateFiles, recipe);
    await this.#deriving;
    if (this.#derived.size === 0) return;
    for (const name of templateEntry.coreFiles) {
      const derived = this.#derived.get(name);
      const input = filledFiles.get(name)!;
      if (!derived || input === templateFiles.get(name)) continue;
      await derivedModuleCached(input, recipe, async () => fillDevSlot(derived, code, slotLength), this.#cacheDir);
    }
  }

  async #deriveTemplate(entry: TranspiledComponent, files: Map<string, Uint8Array>, recipe: string): Promise<void> {
    const derived = new Map<string, Uint8Array>();
    try {
      for (const name of entry.coreFiles) {
        const bytes = files.get(name)!;
        if (!hasDevSlot(bytes)) continue;
        derived.set(name, (await derivedModuleCached(bytes, recipe, instrumentInterruptsOffThread, this.#cacheDir)).bytes);
      }
      this.#derived = derived;
    } catch {
      // The host rewrites the module itself then (in the background, as for any component).
    }
  }
}

import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Manifest } from '@yoi-plugins/host/internal/manifest/types.js';
import { RANDOM_INTERFACE, writeBuildWit } from './wit-world.js';

/**
 * Runs before the plugin's code. QuickJS seeds `Math.random` when the component is built (so
 * every instance of a build would repeat the same sequence) and has no `crypto` or
 * `console`: take randomness from the host, and give `console` a home that drops output
 * rather than failing (the runtime has no stdout binding).
 */
export const GUEST_PRELUDE = `import { getRandomBytes as __yoiRandomBytes } from '${RANDOM_INTERFACE}';
Math.random = () => { const b = __yoiRandomBytes(7); let x = b[0] & 0x1f; for (let i = 1; i < 7; i++) x = x * 256 + b[i]; return x / 9007199254740992; };
if (typeof globalThis.crypto === 'undefined') globalThis.crypto = { getRandomValues(view) { const bytes = __yoiRandomBytes(view.byteLength); new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(bytes); return view; } };
if (typeof globalThis.console === 'undefined') { const drop = () => undefined; globalThis.console = { log: drop, info: drop, warn: drop, error: drop, debug: drop }; }
`;

export interface ComponentizeInput {
  /** A single ES module (already bundled) exporting the world's functions. */
  readonly jsSource: string;
  readonly manifest: Manifest;
}

/**
 * Turns bundled JavaScript into a component with jco's QuickJS backend (componentize-qjs),
 * synchronous ABI (no JSPI needed), against the plugin's own world. ~1.6 MB and ~1 s.
 */
export async function componentizeQuickJs(input: ComponentizeInput): Promise<Uint8Array> {
  const { componentize } = await import('componentize-qjs');
  const dir = await mkdtemp(join(tmpdir(), 'yoi-wit-'));
  try {
    await writeBuildWit(input.manifest, dir);
    const { component } = await componentize({ witPath: dir, world: 'plugin', jsSource: GUEST_PRELUDE + input.jsSource, sync: true });
    return new Uint8Array(component);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The version of the componentizer that builds components (part of any cache key of built output). */
export function componentizerVersion(): string {
  const entry = fileURLToPath(import.meta.resolve('componentize-qjs'));
  return (JSON.parse(readFileSync(join(dirname(entry), 'package.json'), 'utf8')) as { version: string }).version;
}

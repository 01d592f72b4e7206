import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Manifest } from '@yoi-plugins/host/internal/manifest/types.js';
import { RANDOM_INTERFACE, STDERR_INTERFACE, STDOUT_INTERFACE, writeBuildWit } from './wit-world.js';

/**
 * Runs before the plugin's code. QuickJS seeds `Math.random` when the component is built (so
 * every instance of a build would repeat the same sequence) and has no `crypto`, no
 * `console` and no `TextEncoder`: take randomness from the host, and bind `console` to the
 * guest's stdout (`log`, `info`, `debug`) and stderr (`warn`, `error`), which the host
 * captures into the plugin's bounded log. A write that fails is dropped, never an error in
 * the plugin (for instance at build time, when the module is first evaluated).
 */
export const GUEST_PRELUDE = `import { getRandomBytes as __yoiRandomBytes } from '${RANDOM_INTERFACE}';
import { getStdout as __yoiStdout } from '${STDOUT_INTERFACE}';
import { getStderr as __yoiStderr } from '${STDERR_INTERFACE}';
Math.random = () => { const b = __yoiRandomBytes(7); let x = b[0] & 0x1f; for (let i = 1; i < 7; i++) x = x * 256 + b[i]; return x / 9007199254740992; };
if (typeof globalThis.crypto === 'undefined') globalThis.crypto = { getRandomValues(view) { const bytes = __yoiRandomBytes(view.byteLength); new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(bytes); return view; } };
{
  const utf8 = (text) => { const out = []; for (const ch of text) { let c = ch.codePointAt(0); if (c < 0x80) out.push(c); else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63)); else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)); else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)); } return new Uint8Array(out); };
  const show = (value) => { if (typeof value === 'string') return value; if (value instanceof Error) return value.stack ? value.name + ': ' + value.message + '\\n' + value.stack : value.name + ': ' + value.message; try { const json = JSON.stringify(value); return json === undefined ? String(value) : json; } catch { return String(value); } };
  const writer = (open) => (...args) => { try { const stream = open(); try { stream.blockingWriteAndFlush(utf8(args.map(show).join(' ') + '\\n')); } finally { stream[Symbol.dispose]?.(); } } catch {} };
  const out = writer(__yoiStdout), err = writer(__yoiStderr);
  globalThis.console = { log: out, info: out, debug: out, warn: err, error: err, trace: err };
}
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
    await writeBuildWit(input.manifest, input.jsSource, dir);
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

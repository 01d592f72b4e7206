import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@yoi-plugins/host/internal/atomic-write.js';
import type { Manifest } from '@yoi-plugins/host/internal/manifest/types.js';
import { INSTANCE_WORLD } from '@yoi-plugins/host/internal/manifest/types.js';
import { componentizeQuickJs } from './componentize.js';
import { pluginWorldWit } from './wit-world.js';

/**
 * Dev builds (`yoi plugin dev`): componentizing with QuickJS costs seconds on every build, almost
 * all of it independent of the plugin's code (linking the engine, compiling it in wasmtime to
 * pre-initialise it, snapshotting). A dev build therefore componentizes once per world a small
 * loader whose module holds a string literal of spaces (the slot), and then writes each new
 * bundle (CommonJS, ASCII) into that literal's bytes in the snapshot's data segments. The loader
 * evaluates the slot on its first export call (not at build time), with the world's host
 * interfaces as `require`able modules. Same world, same imports, same prelude; only the
 * evaluation moves from build time to the first call of each instance.
 */

const MARK = 'YOI-DEV-SLOT-v1:';
const MIN_SLOT = 128 * 1024;
/** Bump when the loader changes (part of the template's key). */
const LOADER_VERSION = 1;

const EXPORTS: Readonly<Record<string, readonly (readonly [string, number])[]>> = {
  tool: [['call', 2]],
  instance: [
    ['start', 1],
    ['handleTool', 2],
    ['handleIngress', 2],
    ['status', 0],
    ['stop', 0],
  ],
};

function hostApis(manifest: Manifest): string[] {
  const apis = new Set(manifest.permissions.flatMap((p) => (p.kind === 'host_api' ? [p.api] : [])));
  return (['request', 'websocket', 'fs'] as const).filter((a) => apis.has(a));
}

/** The loader's source: the world's exports, each evaluating the slot once and delegating to its exports. */
function loaderSource(manifest: Manifest, slotLength: number): string {
  const apis = hostApis(manifest);
  const exportsOf = EXPORTS[manifest.runtime?.world === INSTANCE_WORLD ? 'instance' : 'tool']!;
  const args = (n: number) => Array.from({ length: n }, (_, i) => `a${i}`).join(', ');
  return [
    ...apis.map((a) => `import * as __yoiHost_${a} from 'yoi:host/${a}@1.0.0';`),
    `const __yoiSlot = '${MARK}${' '.repeat(slotLength - MARK.length)}';`,
    `const __yoiModules = { ${apis.map((a) => `'yoi:host/${a}@1.0.0': __yoiHost_${a}`).join(', ')} };`,
    'let __yoiExports = null;',
    'function __yoiLoad() {',
    '  if (__yoiExports !== null) return __yoiExports;',
    `  const body = __yoiSlot.slice(${MARK.length});`,
    "  if (body.trim() === '') throw new Error('this dev component holds no plugin code (its slot was not filled): rebuild with `yoi plugin build`');",
    '  const module = { exports: {} };',
    "  const require = (id) => { if (Object.prototype.hasOwnProperty.call(__yoiModules, id)) return __yoiModules[id]; throw new Error('the plugin imports ' + id + ', which its world does not import'); };",
    "  (0, eval)('(function (module, exports, require) {' + body + '\\n})')(module, module.exports, require);",
    '  return (__yoiExports = module.exports);',
    '}',
    ...exportsOf.map(([name, n]) => `export function ${name}(${args(n)}) { return __yoiLoad().${name}(${args(n)}); }`),
    '',
  ].join('\n');
}

/** Slot sizes are powers of two (at least 128 KiB) with room for the bundle to grow. */
export function devSlotLength(bundleLength: number): number {
  let slot = MIN_SLOT;
  while (slot < (bundleLength + MARK.length) * 2) slot *= 2;
  return slot;
}

/** Where the loader component for this world and slot size is kept, keyed by everything it depends on. */
function templateKey(manifest: Manifest, slotLength: number, builder: string): string {
  return createHash('sha256').update(JSON.stringify([LOADER_VERSION, pluginWorldWit(manifest), builder, slotLength])).digest('hex').slice(0, 32);
}

/**
 * The loader component for `manifest`'s world with a slot of `slotLength` bytes, componentized
 * on the first use and kept in `cacheDir` (other templates there are removed).
 */
export async function devTemplate(manifest: Manifest, slotLength: number, builder: string, cacheDir: string, progress: (m: string) => void): Promise<{ bytes: Uint8Array; built: boolean }> {
  const name = `dev-template-${templateKey(manifest, slotLength, builder)}.wasm`;
  const path = join(cacheDir, name);
  const cached = await readFile(path).catch(() => null);
  if (cached) return { bytes: cached, built: false };
  progress('componentizing the dev loader with QuickJS (once per world; later edits only swap the code)');
  const bytes = await componentizeQuickJs({ jsSource: loaderSource(manifest, slotLength), manifest });
  await mkdir(cacheDir, { recursive: true });
  for (const old of await readdir(cacheDir)) if (old.startsWith('dev-template-') && old !== name) await rm(join(cacheDir, old), { force: true });
  await writeFileAtomic(path, bytes);
  return { bytes, built: true };
}

/** Why a bundle cannot go into a slot (then the dev build componentizes it the usual way), or null. */
export function slotProblem(code: string, slotLength: number): string | null {
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(code)) return 'the bundle is not ASCII';
  if (code.length + MARK.length > slotLength) return 'the bundle is larger than the slot';
  return null;
}

/**
 * Writes `code` into every intact copy of the slot in the template (the live string and copies in
 * memory the snapshot kept, e.g. the loader's source text); copies that freed memory reused in
 * part are left alone. Throws when no intact copy exists.
 */
export function fillDevSlot(template: Uint8Array, code: string, slotLength: number): Uint8Array {
  const source = Buffer.from(template.buffer, template.byteOffset, template.byteLength);
  const out = Buffer.from(source);
  const mark = Buffer.from(MARK, 'latin1');
  const body = Buffer.from(code, 'latin1');
  let filled = 0;
  for (let at = source.indexOf(mark); at >= 0; at = source.indexOf(mark, at + 1)) {
    const start = at + mark.length;
    const end = at + slotLength;
    if (end > source.length || !isSpaces(source, start, end)) continue;
    body.copy(out, start);
    filled++;
  }
  if (filled === 0) throw new Error('the dev loader component has no intact code slot');
  return out;
}

/** Whether `bytes` (a component or one of its core modules) holds a dev loader's slot. */
export function hasDevSlot(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(MARK);
}

function isSpaces(buffer: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buffer[i] !== 0x20) return false;
  return true;
}

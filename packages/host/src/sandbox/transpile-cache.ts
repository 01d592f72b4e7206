import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseComponentWit, type ComponentInterface } from './component-world.js';
import { patchGlue } from './glue-patch.js';
import { fileIdentity, IdentityCache } from '../package/file-identity.js';

/**
 * jco transpilation, once per component: the output (glue JS + core modules) is cached on
 * disk under a key made of the component's sha256, the transpiler version and the options.
 * Every file's sha256 is recorded, so a corrupted or half-written entry is detected and
 * rebuilt; entries are written to a private temporary directory and renamed into place, so
 * concurrent hosts never see a partial entry. No host removes or replaces an entry: one whose
 * rename finds the place taken reads what is there (the loser of a race discards its copy),
 * and a corrupt entry is passed over for the next place (`<key>-1`, …), so an entry another
 * host installed or is reading is never deleted under it.
 *
 * A file is re-hashed only when its identity (device, inode, size, mtime, ctime) is not the
 * one it had when it last matched its recorded sha256 (`.file-hashes.json` in the cache
 * directory; see package/file-identity.ts for what that trusts): any write to an entry is
 * still detected, without reading ~2 MB on every start.
 */
const TRANSPILE_OPTIONS = { name: 'component', instantiation: { tag: 'async' }, emitTypescriptDeclarations: false } as const;
// 2: the glue's JSPI probes are guarded (glue-patch.ts); 3: its debug-log check is read once.
const ENTRY_FORMAT = 3;

export interface TranspiledComponent {
  readonly key: string;
  readonly dir: string;
  readonly gluePath: string;
  /** Core module file names, as the glue asks for them. */
  readonly coreFiles: readonly string[];
  /** Each core module's sha256 (hex), as the entry records it and as checked when the entry was read. */
  readonly coreSha256: Readonly<Record<string, string>>;
  readonly interface: ComponentInterface;
  readonly fromCache: boolean;
}

interface EntryManifest {
  readonly format: number;
  readonly key: string;
  readonly files: Record<string, string>;
  readonly interface: ComponentInterface;
}

function transpilerVersion(): string {
  const entry = fileURLToPath(import.meta.resolve('@bytecodealliance/jco-transpile'));
  const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

let cachedVersion: string | undefined;

/**
 * The transpile cache folder: `$YOI_CACHE_DIR/transpile`, else `$XDG_CACHE_HOME/yoi/transpile`,
 * else `~/.cache/yoi/transpile`.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['YOI_CACHE_DIR']) return join(env['YOI_CACHE_DIR'], 'transpile');
  return join(env['XDG_CACHE_HOME'] || join(env['HOME'] || homedir(), '.cache'), 'yoi', 'transpile');
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function cacheKey(componentSha256: string): string {
  cachedVersion ??= transpilerVersion();
  return sha256Hex(Buffer.from(JSON.stringify([componentSha256, 'jco-transpile', cachedVersion, TRANSPILE_OPTIONS, ENTRY_FORMAT])));
}

/** File name of the per-file hash cache inside a cache directory. */
const FILE_HASHES_FILE = '.file-hashes.json';

async function readEntry(dir: string, key: string, hashes: IdentityCache): Promise<TranspiledComponent | null> {
  let manifest: EntryManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as EntryManifest;
  } catch {
    return null;
  }
  if (manifest.format !== ENTRY_FORMAT || manifest.key !== key || typeof manifest.files !== 'object' || !manifest.files['component.js']) return null;
  const readAt = hashes.now();
  for (const [name, expected] of Object.entries(manifest.files)) {
    if (!/^[\w.-]+$/.test(name)) return null;
    const path = join(dir, name);
    try {
      const stats = await stat(path, { bigint: true });
      if (hashes.lookup(path, fileIdentity(stats)) === expected) continue;
      if (sha256Hex(await readFile(path)) !== expected) {
        hashes.forget(path);
        return null;
      }
      hashes.record(path, stats, expected, readAt);
    } catch {
      return null;
    }
  }
  await hashes.save();
  return {
    key,
    dir,
    gluePath: await sharedGluePath(manifest.files['component.js'], join(dir, 'component.js')),
    coreFiles: Object.keys(manifest.files).filter((f) => f.endsWith('.wasm')),
    coreSha256: Object.fromEntries(Object.entries(manifest.files).filter(([f]) => f.endsWith('.wasm'))),
    interface: manifest.interface,
    fromCache: true,
  };
}

/**
 * Entries whose glue is the same file (by sha256: components of one world whose core modules
 * differ, as `yoi plugin dev` makes on every edit) share the first one's glue path, so this
 * process's module loader compiles the glue once, not once per entry.
 */
const gluePaths = new Map<string, string>();

async function sharedGluePath(sha256: string, path: string): Promise<string> {
  const first = gluePaths.get(sha256);
  if (first !== undefined && (await stat(first).then(() => true, () => false))) return first;
  gluePaths.set(sha256, path);
  return path;
}

/** How many places an entry may take (its key, then `<key>-1`…): each corrupt one found costs one. */
const ENTRY_PLACES = 4;

interface TranspileCacheOptions {
  readonly hashes?: IdentityCache;
  /** Called after a place was found empty or corrupt, before this host installs there (tests hold it to interleave hosts). */
  readonly beforeInstall?: (place: string) => Promise<void>;
  /**
   * Makes the entry's files (the glue already patched) and interface instead of jco, for a caller
   * that knows them without transpiling: `yoi plugin dev`, whose components differ from an
   * already transpiled one only in data segment bytes that jco copies verbatim into a core module.
   */
  readonly produce?: (component: Uint8Array) => Promise<TranspiledFiles>;
}

/** What a transpile cache entry holds: jco's output files (the glue patched) and the component's interface. */
interface TranspiledFiles {
  readonly files: Readonly<Record<string, Uint8Array>>;
  readonly interface: ComponentInterface;
}

async function transpileWithJco(component: Uint8Array): Promise<TranspiledFiles> {
  const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
  const { componentWit } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  // The transpiler may keep the buffer it is given: hand it a copy…
  // …and a copy of the options, which it fills in place (that would change our cache key).
  const result = await transpileBytes(new Uint8Array(component), structuredClone(TRANSPILE_OPTIONS) as never);
  const iface = parseComponentWit(await componentWit(new Uint8Array(component)));
  const output: Record<string, Uint8Array> = { ...result.files };
  const glue = output['component.js'];
  if (glue) output['component.js'] = new TextEncoder().encode(patchGlue(new TextDecoder().decode(glue)));
  return { files: output, interface: iface };
}

/**
 * Transpiles `component` (or reuses the cached output). Throws on transpiler failure, and when
 * every place for the entry holds a corrupt one.
 */
export async function transpileCached(component: Uint8Array, cacheDir: string = defaultCacheDir(), options: TranspileCacheOptions = {}): Promise<TranspiledComponent> {
  const key = cacheKey(sha256Hex(component));
  const hashes = options.hashes ?? (await IdentityCache.shared(join(cacheDir, FILE_HASHES_FILE)));
  for (const place of entryPlaces(cacheDir, key)) {
    const hit = await readEntry(place, key, hashes);
    if (hit) return hit;
  }

  const { files: output, interface: iface } = await (options.produce ?? transpileWithJco)(component);
  const files: Record<string, string> = { 'package.json': sha256Hex(Buffer.from('{"type":"module"}\n')) };
  for (const [name, bytes] of Object.entries(output)) files[name] = sha256Hex(bytes);

  await mkdir(cacheDir, { recursive: true });
  const temporary = join(cacheDir, `.${key}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(temporary);
  try {
    for (const [name, bytes] of Object.entries(output)) await writeFile(join(temporary, name), bytes);
    // The glue is an ES module; say so, whatever package.json sits above the cache directory.
    await writeFile(join(temporary, 'package.json'), '{"type":"module"}\n');
    const manifest: EntryManifest = { format: ENTRY_FORMAT, key, files, interface: iface };
    await writeFile(join(temporary, 'manifest.json'), JSON.stringify(manifest));
    // An entry is never removed or replaced in place: another host may be reading it, or may
    // have installed it a moment after this one found the place empty or corrupt. A corrupt
    // entry is passed over and the next place tried; the first valid one wins.
    for (const place of entryPlaces(cacheDir, key)) {
      const present = await readEntry(place, key, hashes);
      if (present) return present;
      await options.beforeInstall?.(place);
      try {
        await rename(temporary, place);
      } catch {
        // the place is taken (by another host's entry, valid or not): look again
      }
      const installed = await readEntry(place, key, hashes);
      if (installed) return { ...installed, fromCache: false };
    }
  } finally {
    await rm(temporary, { recursive: true, force: true });
  }
  throw new Error(`transpile cache entry could not be installed: every place for it in ${cacheDir} holds a corrupt entry (remove the cache directory)`);
}

/** Where the entry for `key` may be: its own name, then a few alternatives for when that one holds a corrupt entry. */
function entryPlaces(cacheDir: string, key: string): string[] {
  return Array.from({ length: ENTRY_PLACES }, (_, i) => join(cacheDir, i === 0 ? key : `${key}-${i}`));
}

export interface DerivedModule {
  readonly bytes: Uint8Array;
  readonly fromCache: boolean;
}

/**
 * A module derived from another by a deterministic rewrite (`recipe` names the rewrite and
 * every version it depends on), cached beside the transpiled entries with the same rules:
 * keyed by the input's sha256 and the recipe, its own sha256 recorded and checked (a corrupt
 * file is rebuilt), written privately and renamed into place (the record last, so a reader
 * never takes a half-written module).
 */
export async function derivedModuleCached(
  input: DerivationInput,
  recipe: string,
  produce: (input: Uint8Array) => Promise<Uint8Array>,
  cacheDir: string = defaultCacheDir(),
  options: { hashes?: IdentityCache } = {},
): Promise<DerivedModule> {
  const { key, dir, modulePath, recordPath } = placeOf(input instanceof Uint8Array ? sha256Hex(input) : input.sha256, recipe, cacheDir);
  const hashes = options.hashes ?? (await IdentityCache.shared(join(cacheDir, FILE_HASHES_FILE)));
  const cached = await readDerived(modulePath, recordPath, key, hashes);
  if (cached) return { bytes: cached, fromCache: true };
  const bytes = await produce(input instanceof Uint8Array ? input : await input.read());
  await mkdir(dir, { recursive: true });
  const suffix = `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(modulePath + suffix, bytes);
    await writeFile(recordPath + suffix, JSON.stringify({ format: ENTRY_FORMAT, key, recipe, sha256: sha256Hex(bytes) }));
    await rename(modulePath + suffix, modulePath);
    await rename(recordPath + suffix, recordPath);
  } finally {
    await rm(modulePath + suffix, { force: true });
    await rm(recordPath + suffix, { force: true });
  }
  return { bytes, fromCache: false };
}

/**
 * What a module is derived from: its bytes, or (a core module of a transpiled entry, whose
 * sha256 the entry records) its sha256 and how to read it, read only when the derived module
 * is not cached yet — a cold start neither reads nor hashes a QuickJS engine twice.
 */
export type DerivationInput = Uint8Array | { readonly sha256: string; read(): Promise<Uint8Array> };

/** Where the module derived from `input` by `recipe` is cached (its key, the module and its record). */
export function derivedModulePlace(input: Uint8Array, recipe: string, cacheDir: string): { key: string; dir: string; modulePath: string; recordPath: string } {
  return placeOf(sha256Hex(input), recipe, cacheDir);
}

function placeOf(inputSha256: string, recipe: string, cacheDir: string): { key: string; dir: string; modulePath: string; recordPath: string } {
  const key = sha256Hex(Buffer.from(JSON.stringify([inputSha256, recipe])));
  const dir = join(cacheDir, 'derived');
  return { key, dir, modulePath: join(dir, `${key}.wasm`), recordPath: join(dir, `${key}.json`) };
}

async function readDerived(modulePath: string, recordPath: string, key: string, hashes: IdentityCache): Promise<Uint8Array | null> {
  try {
    const record = JSON.parse(await readFile(recordPath, 'utf8')) as { format?: unknown; key?: unknown; sha256?: unknown };
    if (record.format !== ENTRY_FORMAT || record.key !== key || typeof record.sha256 !== 'string') return null;
    const readAt = hashes.now();
    const stats = await stat(modulePath, { bigint: true });
    const bytes = new Uint8Array(await readFile(modulePath));
    if (hashes.lookup(modulePath, fileIdentity(stats)) === record.sha256) return bytes;
    if (sha256Hex(bytes) !== record.sha256) {
      hashes.forget(modulePath);
      return null;
    }
    hashes.record(modulePath, stats, record.sha256, readAt);
    await hashes.save();
    return bytes;
  } catch {
    return null;
  }
}

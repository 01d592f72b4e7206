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
 * concurrent hosts never see a partial entry (the loser of a race discards its copy).
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
    gluePath: join(dir, 'component.js'),
    coreFiles: Object.keys(manifest.files).filter((f) => f.endsWith('.wasm')),
    interface: manifest.interface,
    fromCache: true,
  };
}

/** Transpiles `component` (or reuses the cached output). Throws only on transpiler failure. */
export async function transpileCached(component: Uint8Array, cacheDir: string = defaultCacheDir(), options: { hashes?: IdentityCache } = {}): Promise<TranspiledComponent> {
  const key = cacheKey(sha256Hex(component));
  const dir = join(cacheDir, key);
  const hashes = options.hashes ?? (await IdentityCache.shared(join(cacheDir, FILE_HASHES_FILE)));
  const hit = await readEntry(dir, key, hashes);
  if (hit) return hit;

  const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
  const { componentWit } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  // The transpiler may keep the buffer it is given: hand it a copy…
  // …and a copy of the options, which it fills in place (that would change our cache key).
  const result = await transpileBytes(new Uint8Array(component), structuredClone(TRANSPILE_OPTIONS) as never);
  const iface = parseComponentWit(await componentWit(new Uint8Array(component)));
  const output: Record<string, Uint8Array> = { ...result.files };
  const glue = output['component.js'];
  if (glue) output['component.js'] = new TextEncoder().encode(patchGlue(new TextDecoder().decode(glue)));
  const files: Record<string, string> = { 'package.json': sha256Hex(Buffer.from('{"type":"module"}\n')) };
  for (const [name, bytes] of Object.entries(output)) files[name] = sha256Hex(bytes);

  await mkdir(cacheDir, { recursive: true });
  // Other hosts may install or replace the same entry meanwhile: never remove a valid entry,
  // and try again (bounded) if the one just installed was replaced before it could be read.
  for (let attempt = 0; attempt < 3; attempt++) {
    const temporary = join(cacheDir, `.${key}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(temporary);
    try {
      for (const [name, bytes] of Object.entries(output)) await writeFile(join(temporary, name), bytes);
      // The glue is an ES module; say so, whatever package.json sits above the cache directory.
      await writeFile(join(temporary, 'package.json'), '{"type":"module"}\n');
      const manifest: EntryManifest = { format: ENTRY_FORMAT, key, files, interface: iface };
      await writeFile(join(temporary, 'manifest.json'), JSON.stringify(manifest));
      if (!(await readEntry(dir, key, hashes))) await rm(dir, { recursive: true, force: true }); // a corrupt entry, if any
      try {
        await rename(temporary, dir);
      } catch {
        // another host installed the same entry first
      }
    } finally {
      await rm(temporary, { recursive: true, force: true });
    }
    const installed = await readEntry(dir, key, hashes);
    if (installed) return { ...installed, fromCache: false };
  }
  throw new Error('transpile cache entry could not be installed');
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
  input: Uint8Array,
  recipe: string,
  produce: (input: Uint8Array) => Promise<Uint8Array>,
  cacheDir: string = defaultCacheDir(),
  options: { hashes?: IdentityCache } = {},
): Promise<DerivedModule> {
  const key = sha256Hex(Buffer.from(JSON.stringify([sha256Hex(input), recipe])));
  const dir = join(cacheDir, 'derived');
  const modulePath = join(dir, `${key}.wasm`);
  const recordPath = join(dir, `${key}.json`);
  const hashes = options.hashes ?? (await IdentityCache.shared(join(cacheDir, FILE_HASHES_FILE)));
  const cached = await readDerived(modulePath, recordPath, key, hashes);
  if (cached) return { bytes: cached, fromCache: true };
  const bytes = await produce(input);
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

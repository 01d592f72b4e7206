import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseComponentWit, type ComponentInterface } from './component-world.js';

/**
 * jco transpilation, once per component: the output (glue JS + core modules) is cached on
 * disk under a key made of the component's sha256, the transpiler version and the options.
 * Every file's sha256 is recorded, so a corrupted or half-written entry is detected and
 * rebuilt; entries are written to a private temporary directory and renamed into place, so
 * concurrent hosts never see a partial entry (the loser of a race discards its copy).
 */
const TRANSPILE_OPTIONS = { name: 'component', instantiation: { tag: 'async' }, emitTypescriptDeclarations: false } as const;
const ENTRY_FORMAT = 1;

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

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function cacheKey(componentSha256: string): string {
  cachedVersion ??= transpilerVersion();
  return sha256Hex(Buffer.from(JSON.stringify([componentSha256, 'jco-transpile', cachedVersion, TRANSPILE_OPTIONS, ENTRY_FORMAT])));
}

async function readEntry(dir: string, key: string): Promise<TranspiledComponent | null> {
  let manifest: EntryManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as EntryManifest;
  } catch {
    return null;
  }
  if (manifest.format !== ENTRY_FORMAT || manifest.key !== key || typeof manifest.files !== 'object' || !manifest.files['component.js']) return null;
  for (const [name, expected] of Object.entries(manifest.files)) {
    if (!/^[\w.-]+$/.test(name)) return null;
    try {
      if (sha256Hex(await readFile(join(dir, name))) !== expected) return null;
    } catch {
      return null;
    }
  }
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
export async function transpileCached(component: Uint8Array, cacheDir: string = defaultCacheDir()): Promise<TranspiledComponent> {
  const key = cacheKey(sha256Hex(component));
  const dir = join(cacheDir, key);
  const hit = await readEntry(dir, key);
  if (hit) return hit;

  const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
  const { componentWit } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  // The transpiler may keep the buffer it is given: hand it a copy…
  // …and a copy of the options, which it fills in place (that would change our cache key).
  const result = await transpileBytes(new Uint8Array(component), structuredClone(TRANSPILE_OPTIONS) as never);
  const iface = parseComponentWit(await componentWit(new Uint8Array(component)));
  const files: Record<string, string> = { 'package.json': sha256Hex(Buffer.from('{"type":"module"}\n')) };
  for (const [name, bytes] of Object.entries(result.files)) files[name] = sha256Hex(bytes);

  await mkdir(cacheDir, { recursive: true });
  // Other hosts may install or replace the same entry meanwhile: never remove a valid entry,
  // and try again (bounded) if the one just installed was replaced before it could be read.
  for (let attempt = 0; attempt < 3; attempt++) {
    const temporary = join(cacheDir, `.${key}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(temporary);
    try {
      for (const [name, bytes] of Object.entries(result.files)) await writeFile(join(temporary, name), bytes);
      // The glue is an ES module; say so, whatever package.json sits above the cache directory.
      await writeFile(join(temporary, 'package.json'), '{"type":"module"}\n');
      const manifest: EntryManifest = { format: ENTRY_FORMAT, key, files, interface: iface };
      await writeFile(join(temporary, 'manifest.json'), JSON.stringify(manifest));
      if (!(await readEntry(dir, key))) await rm(dir, { recursive: true, force: true }); // a corrupt entry, if any
      try {
        await rename(temporary, dir);
      } catch {
        // another host installed the same entry first
      }
    } finally {
      await rm(temporary, { recursive: true, force: true });
    }
    const installed = await readEntry(dir, key);
    if (installed) return { ...installed, fromCache: false };
  }
  throw new Error('transpile cache entry could not be installed');
}

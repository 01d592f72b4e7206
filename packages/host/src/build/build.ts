import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-write.js';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boundText } from '../diagnostics.js';
import { parseManifest } from '../manifest/parse.js';
import type { Manifest } from '../manifest/types.js';
import { normalizePackagePath } from '../package/paths.js';
import { componentizeQuickJs } from './componentize.js';
import { pluginWorldWit } from './wit-world.js';

export const ENTRY_CANDIDATES = ['src/plugin.ts', 'src/plugin.js', 'src/index.ts', 'src/index.js'] as const;

export interface BuildResult {
  readonly outputPath: string;
  readonly bytes: number;
  readonly skipped: boolean;
  readonly durationMs: number;
  readonly entry: string;
}

export class BuildError extends Error {
  override readonly name = 'BuildError';
}

function pdkDir(): string {
  // packages/pdk/dist/src/index.js → packages/pdk/dist/src
  return dirname(fileURLToPath(import.meta.resolve('@yoi-plugins/pdk')));
}

function builderVersion(): string {
  return JSON.stringify([process.version.split('.')[0], 'componentize-qjs', import.meta.resolve('componentize-qjs')]);
}

/** Bundles the plugin's TypeScript/JavaScript into one ES module; host interfaces stay imports. */
export async function bundlePlugin(dir: string, entry: string, manifest: Manifest): Promise<string> {
  const { build } = await import('esbuild');
  const pdk = pdkDir();
  const result = await build({
    entryPoints: [join(dir, entry)],
    absWorkingDir: dir,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    logLevel: 'silent',
    metafile: true,
    external: ['yoi:*', 'wasi:*'],
    alias: { '@yoi-plugins/pdk/request': join(pdk, 'request.js'), '@yoi-plugins/pdk/fs': join(pdk, 'fs.js'), '@yoi-plugins/pdk': join(pdk, 'index.js') },
  }).catch((error: { errors?: { text: string; location?: { file: string; line: number; column: number; lineText: string } | null }[] }) => {
    const lines = (error.errors ?? []).slice(0, 10).map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}\n    ${e.location.lineText}` : e.text));
    throw new BuildError(`the plugin source does not compile:\n${lines.join('\n') || 'unknown error'}`);
  });
  const imports = new Set(Object.values(result.metafile!.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)));
  const requested = new Set(manifest.permissions.flatMap((p) => (p.kind === 'host_api' ? [p.api] : [])));
  for (const specifier of imports) {
    const match = /^yoi:host\/(request|fs|websocket)@1\.0\.0$/.exec(specifier);
    if (!match) throw new BuildError(`the plugin imports \`${boundText(specifier, 80)}\`; only yoi:host/request and yoi:host/fs (when requested in plugin.toml) are available`);
    if (!requested.has(match[1] as 'request')) throw new BuildError(`the plugin imports ${specifier}, but plugin.toml does not request { kind = "host_api", api = "${match[1]}" }`);
  }
  return result.outputFiles![0]!.text;
}

/**
 * `yoi plugin build`: bundles `src/plugin.ts` (esbuild) and turns it into the component the
 * manifest names, against a world with only the host interfaces the manifest requests.
 * Skipped when the bundle, manifest and builder are unchanged and the output is in place.
 */
export async function buildPlugin(dirInput: string, options: { force?: boolean; onProgress?: (message: string) => void } = {}): Promise<BuildResult> {
  const dir = resolve(dirInput);
  const started = performance.now();
  const progress = options.onProgress ?? (() => undefined);
  let manifestText: Uint8Array;
  try {
    manifestText = await readFile(join(dir, 'plugin.toml'));
  } catch {
    throw new BuildError(`${dir} has no plugin.toml`);
  }
  const parsed = parseManifest(manifestText);
  if (!parsed.ok) throw new BuildError(`plugin.toml: ${parsed.diagnostic.message}`);
  const manifest = parsed.value;
  const component = manifest.runtime?.kind === 'wasm-component' ? manifest.runtime.component : undefined;
  const target = component !== undefined ? normalizePackagePath(component) : null;
  if (!target) throw new BuildError('plugin.toml must declare [runtime] kind = "wasm-component" with a component path inside the package');
  const entry = ENTRY_CANDIDATES.find((candidate) => existsSync(join(dir, candidate)));
  if (!entry) throw new BuildError(`no entry point: create one of ${ENTRY_CANDIDATES.join(', ')}`);

  progress(`bundling ${entry}`);
  const bundle = await bundlePlugin(dir, entry, manifest);
  const outputPath = join(dir, target);
  const stampPath = join(dir, '.yoi-build', 'stamp.json');
  const key = createHash('sha256').update(JSON.stringify([bundle, pluginWorldWit(manifest), builderVersion()])).digest('hex');
  if (!options.force && existsSync(outputPath)) {
    try {
      const stamp = JSON.parse(await readFile(stampPath, 'utf8')) as { key: string; output: string };
      const output = createHash('sha256').update(await readFile(outputPath)).digest('hex');
      if (stamp.key === key && stamp.output === output) {
        progress('up to date');
        return { outputPath, bytes: (await readFile(outputPath)).length, skipped: true, durationMs: performance.now() - started, entry };
      }
    } catch {
      // no or bad stamp: build
    }
  }
  progress('componentizing with QuickJS (about a second)');
  let bytes: Uint8Array;
  try {
    bytes = await componentizeQuickJs({ jsSource: bundle, manifest });
  } catch (error) {
    throw new BuildError(`componentize failed: ${boundText(error instanceof Error ? error.message : String(error), 400)}`);
  }
  await writeFileAtomic(outputPath, bytes);
  await mkdir(dirname(stampPath), { recursive: true });
  await writeFile(stampPath, JSON.stringify({ key, output: createHash('sha256').update(bytes).digest('hex') }) + '\n');
  progress(`wrote ${relative(process.cwd(), outputPath) || outputPath} (${bytes.length} bytes)`);
  return { outputPath, bytes: bytes.length, skipped: false, durationMs: performance.now() - started, entry };
}

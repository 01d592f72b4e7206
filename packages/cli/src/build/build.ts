import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { writeFileAtomic } from '@yoi-plugins/host/internal/atomic-write.js';
import { dirname, join, relative, resolve } from 'node:path';
import { boundText } from '@yoi-plugins/host/internal/diagnostics.js';
import { parseManifest } from '@yoi-plugins/host/internal/manifest/parse.js';
import { INSTANCE_WORLD, TOOL_WORLD, type Manifest } from '@yoi-plugins/host/internal/manifest/types.js';
import { normalizePackagePath } from '@yoi-plugins/host/internal/package/paths.js';
import { componentizeQuickJs } from './componentize.js';
import { pluginWorldWit } from './wit-world.js';
import { ensureEditorTypes, pdkDistDir, type EditorTypesOutcome } from './editor-types.js';
import { createTypeCheckSession, typeCheckPlugin, type TypeCheckSession } from './type-check.js';
import { devSlotLength, devTemplate, fillDevSlot, slotProblem } from './dev-component.js';
import type { DevHostCache } from './dev-host-cache.js';

const ENTRY_CANDIDATES = ['src/plugin.ts', 'src/plugin.js', 'src/index.ts', 'src/index.js'] as const;

interface TypeCheckReport {
  /** `passed`; `unchanged` (the sources and the PDK are those of the last passing check); `skipped` for a JavaScript entry. */
  readonly status: 'passed' | 'unchanged' | 'skipped';
  readonly durationMs: number;
  /** Source files the compiler checked (the plugin's own, not the PDK's or the libraries'). */
  readonly files: number;
}

export interface BuildResult {
  readonly outputPath: string;
  readonly bytes: number;
  readonly skipped: boolean;
  readonly durationMs: number;
  readonly entry: string;
  readonly typeCheck: TypeCheckReport;
  /** What happened to the PDK's types for editors (`<plugin>/node_modules/@yoi-plugins/pdk`); null without a tsconfig.json. */
  readonly editorTypes: EditorTypesOutcome | null;
  /**
   * A dev build's component: `slot` (the bundle written into the cached loader), `template`
   * (the loader was componentized first), `full` (componentized the usual way: `reason`); null
   * for a release build.
   */
  readonly dev: { readonly component: 'slot' | 'template' | 'full'; readonly reason: string | null } | null;
  /** Where the build's time went (ms): type check, bundle, componentize or slot fill, write. */
  readonly phases: { readonly typeCheckMs: number; readonly bundleMs: number; readonly componentMs: number };
}

/**
 * What `yoi plugin dev` keeps between its builds (see dev-component.ts): the type checker's
 * session and the esbuild module, so an edit costs an incremental check and a slot fill.
 */
export interface DevBuildSession {
  readonly typeCheck: TypeCheckSession;
  /** The host's caches to prime with each new component (dev-host-cache.ts); null to leave them. */
  readonly hostCache: DevHostCache | null;
}

export function createDevBuildSession(hostCache: DevHostCache | null = null): DevBuildSession {
  return { typeCheck: createTypeCheckSession(), hostCache };
}

export class BuildError extends Error {
  override readonly name = 'BuildError';
  /**
   * `kind` is `type` when the TypeScript compiler reported errors, `build` for anything else;
   * `lines` are the located errors (`src/plugin.ts:3:14: …`), one per line.
   */
  constructor(
    message: string,
    readonly kind: 'type' | 'build' = 'build',
    readonly lines: readonly string[] = [],
  ) {
    super(message);
  }
}

const pdkDir = pdkDistDir;

/** The exports each world needs from the bundle, and the PDK helper that makes them. */
const WORLD_EXPORTS: Readonly<Record<string, { readonly names: readonly string[]; readonly helper: string; readonly example: string }>> = {
  [TOOL_WORLD]: { names: ['call'], helper: 'defineTools', example: 'export const { call } = defineTools({ … })' },
  [INSTANCE_WORLD]: {
    names: ['start', 'handleTool', 'handleIngress', 'status', 'stop'],
    helper: 'definePlugin',
    example: 'export const { start, handleTool, handleIngress, status, stop } = definePlugin({ … })',
  },
};

/**
 * A bundle built for the other world (`defineTools` with the instance world, `definePlugin`
 * with the tool world) would build, check and then trap on its first call: refused here,
 * naming both ways out.
 */
function worldExportsProblem(manifest: Manifest, entry: string, exports: readonly string[]): string | null {
  const world = manifest.runtime?.world;
  const wanted = world !== undefined ? WORLD_EXPORTS[world] : undefined;
  if (!wanted) return null;
  const missing = wanted.names.filter((n) => !exports.includes(n));
  if (missing.length === 0) return null;
  const [otherWorld, other] = Object.entries(WORLD_EXPORTS).find(([w]) => w !== world)!;
  const shortWorld = (w: string) => (w === TOOL_WORLD ? 'tool' : 'instance');
  if (other.names.every((n) => exports.includes(n))) {
    return (
      `plugin.toml declares world = "${world}", but ${entry} exports the ${shortWorld(otherWorld)} world (${other.helper}). ` +
      `Use ${wanted.helper} (${wanted.example}), or set world = "${otherWorld}" in plugin.toml${otherWorld === TOOL_WORLD ? ' (a tool plugin has no services or ingress)' : ''}`
    );
  }
  return `${entry} does not export ${missing.map((n) => `\`${n}\``).join(', ')}, which world "${world}" needs: ${wanted.example}`;
}

function builderVersion(): string {
  return JSON.stringify([process.version.split('.')[0], 'componentize-qjs', import.meta.resolve('componentize-qjs')]);
}

/** Bundles the plugin's TypeScript/JavaScript into one ES module; host interfaces stay imports. */
async function bundlePlugin(dir: string, entry: string, manifest: Manifest): Promise<string> {
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
    const lines = (error.errors ?? []).slice(0, 10).map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text));
    throw new BuildError('the plugin source does not compile', 'build', lines.length > 0 ? lines : ['unknown error']);
  });
  const outputs = Object.values(result.metafile!.outputs);
  const worldProblem = worldExportsProblem(manifest, entry, outputs.flatMap((o) => o.exports));
  if (worldProblem) throw new BuildError(worldProblem);
  const imports = new Set(outputs.flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)));
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
export async function buildPlugin(dirInput: string, options: { force?: boolean; onProgress?: (message: string) => void; dev?: DevBuildSession } = {}): Promise<BuildResult> {
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

  const stampPath = join(dir, '.yoi-build', 'stamp.json');
  const stamp = await readStamp(stampPath);
  const editorTypes = existsSync(join(dir, 'tsconfig.json')) ? await ensureEditorTypes(dir) : null;
  // `dev` overlaps the type check with bundling and componentizing (a native task off the main
  // thread); a type error still fails the build before anything is written.
  const dev = options.dev ?? null;
  const typeChecking = dev ? checkTypes(dir, entry, stamp, stampPath, options.force === true, progress, dev.typeCheck) : null;
  typeChecking?.catch(() => undefined);
  const typeChecked = dev ? null : await checkTypes(dir, entry, stamp, stampPath, options.force === true, progress);

  progress(`bundling ${entry}`);
  const bundleStarted = performance.now();
  let bundle: string;
  try {
    bundle = await bundlePlugin(dir, entry, manifest);
  } catch (error) {
    await typeChecking?.catch(() => undefined);
    throw error;
  }
  // A dev build evaluates the bundle on the first call instead of at build time (dev-component.ts): CommonJS, host interfaces through `require`.
  const devCode = dev ? await toCommonJs(bundle) : null;
  const bundleMs = performance.now() - bundleStarted;
  const outputPath = join(dir, target);
  const key = createHash('sha256').update(JSON.stringify([dev ? ['dev', devCode] : bundle, pluginWorldWit(manifest), builderVersion()])).digest('hex');
  const componentStarted = performance.now();
  let componentizing: Promise<{ bytes: Uint8Array; dev: BuildResult['dev'] }> | null = null;
  const componentize = () => (componentizing ??= dev && devCode !== null ? devComponent(dir, manifest, bundle, devCode, dev.hostCache, progress) : componentizeQuickJs({ jsSource: bundle, manifest }).then((bytes) => ({ bytes, dev: null })));
  const outputIsCurrent = !options.force && (await currentOutput(outputPath, stamp, key));
  if (dev && !outputIsCurrent) componentize().catch(() => undefined);
  const typeCheck = typeChecked ?? (await typeChecking!.catch(async (error: unknown) => {
    await componentizing?.catch(() => undefined);
    throw error;
  }));
  const phases = { typeCheckMs: Math.round(typeCheck.durationMs), bundleMs: Math.round(bundleMs), componentMs: 0 };
  if (outputIsCurrent) {
    progress('up to date');
    return { outputPath, bytes: (await readFile(outputPath)).length, skipped: true, durationMs: performance.now() - started, entry, typeCheck, editorTypes, dev: dev ? { component: 'slot', reason: null } : null, phases };
  }
  if (!dev) progress('componentizing with QuickJS (about a second)');
  let bytes: Uint8Array;
  let devReport: BuildResult['dev'];
  try {
    ({ bytes, dev: devReport } = await componentize());
  } catch (error) {
    throw new BuildError(`componentize failed: ${boundText(error instanceof Error ? error.message : String(error), 400)}`);
  }
  phases.componentMs = Math.round(performance.now() - componentStarted);
  await writeFileAtomic(outputPath, bytes);
  await mkdir(dirname(stampPath), { recursive: true });
  await writeStamp(stampPath, { key, output: createHash('sha256').update(bytes).digest('hex') });
  progress(`wrote ${relative(process.cwd(), outputPath) || outputPath} (${bytes.length} bytes)`);
  return { outputPath, bytes: bytes.length, skipped: false, durationMs: performance.now() - started, entry, typeCheck, editorTypes, dev: devReport, phases };
}

async function toCommonJs(bundle: string): Promise<string> {
  const { transform } = await import('esbuild');
  return (await transform(bundle, { format: 'cjs', target: 'es2022', charset: 'ascii', logLevel: 'silent' })).code;
}

/** A dev build's component: the bundle in the cached loader's slot, or a full componentize when it cannot go there. */
async function devComponent(dir: string, manifest: Manifest, bundle: string, code: string, hostCache: DevHostCache | null, progress: (m: string) => void): Promise<{ bytes: Uint8Array; dev: NonNullable<BuildResult['dev']> }> {
  const slot = devSlotLength(code.length);
  const problem = slotProblem(code, slot);
  if (problem) {
    progress(`componentizing with QuickJS (${problem})`);
    return { bytes: await componentizeQuickJs({ jsSource: bundle, manifest }), dev: { component: 'full', reason: problem } };
  }
  const template = await devTemplate(manifest, slot, builderVersion(), join(dir, '.yoi-build'), progress);
  const bytes = fillDevSlot(template.bytes, code, slot);
  // Best effort: without it the host transpiles the component itself.
  await hostCache?.prime(template.bytes, bytes, code, slot).catch((error: unknown) => progress(`the host's transpile cache was not primed: ${error instanceof Error ? error.message : String(error)}`));
  return { bytes, dev: { component: template.built ? 'template' : 'slot', reason: null } };
}

/** Whether the output in place is what the stamp says this bundle builds. */
async function currentOutput(outputPath: string, stamp: Stamp, key: string): Promise<boolean> {
  if (stamp.key !== key || !existsSync(outputPath)) return false;
  try {
    return stamp.output === createHash('sha256').update(await readFile(outputPath)).digest('hex');
  } catch {
    return false;
  }
}

interface Stamp {
  readonly key?: string;
  readonly output?: string;
  /** Key of the sources, compiler and PDK of the last type check that passed. */
  readonly types?: string;
}

async function readStamp(path: string): Promise<Stamp> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Stamp) : {};
  } catch {
    return {};
  }
}

async function writeStamp(path: string, change: Stamp): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify({ ...(await readStamp(path)), ...change }) + '\n');
}

const SOURCE_EXTENSIONS = /\.(?:[cm]?ts|tsx|[cm]?js|jsx|json)$/;
const NOT_SOURCES = new Set(['node_modules', '.yoi-build', '.git', '.hg', '.svn', '.jj', 'target']);
const MAX_SOURCE_FILES = 2000;

/** A key over everything the type check reads in the plugin folder, the compiler and the PDK; null when there are too many files to key. */
async function typeCheckKey(dir: string): Promise<string | null> {
  const hash = createHash('sha256');
  let count = 0;
  const walk = async (folder: string): Promise<boolean> => {
    for (const entry of (await readdir(folder, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (NOT_SOURCES.has(entry.name)) continue;
      const full = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!(await walk(full))) return false;
      } else if (entry.isFile() && SOURCE_EXTENSIONS.test(entry.name)) {
        if (++count > MAX_SOURCE_FILES) return false;
        hash.update(relative(dir, full)).update('\0').update(await readFile(full)).update('\0');
      }
    }
    return true;
  };
  if (!(await walk(dir))) return null;
  const pdk = pdkDir();
  for (const name of (await readdir(pdk)).sort()) if (name.endsWith('.d.ts')) hash.update(name).update(await readFile(join(pdk, name)));
  const ts = (await import('typescript')).default;
  return hash.update(ts.version).digest('hex');
}

async function checkTypes(dir: string, entry: string, stamp: Stamp, stampPath: string, force: boolean, progress: (m: string) => void, session?: TypeCheckSession): Promise<TypeCheckReport> {
  const started = performance.now();
  if (!/\.[cm]?tsx?$/.test(entry)) return { status: 'skipped', durationMs: 0, files: 0 };
  const key = await typeCheckKey(dir);
  // A dev session checks its first build too: that parse is what makes the next edits' checks incremental.
  const unchanged = !force && key !== null && stamp.types === key;
  if (unchanged && (session === undefined || session.builder !== undefined)) return { status: 'unchanged', durationMs: performance.now() - started, files: 0 };
  progress(`type-checking ${entry} (tsc)`);
  const result = await typeCheckPlugin(dir, entry, pdkDir(), session);
  if (result.count > 0) {
    const more = result.count > result.errors.length ? [`… ${result.count - result.errors.length} more`] : [];
    throw new BuildError(`${result.count} type error${result.count === 1 ? '' : 's'} (tsc), nothing was bundled`, 'type', [...result.errors, ...more]);
  }
  if (key !== null) await writeStamp(stampPath, { types: key });
  return { status: 'passed', durationMs: performance.now() - started, files: result.files };
}

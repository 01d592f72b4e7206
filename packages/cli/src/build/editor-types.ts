import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The PDK's type declarations for a plugin folder, so an editor resolves
 * `@yoi-plugins/pdk` inside and outside this repository without `npm install` (the PDK is
 * not fetched from a registry: a name there could be anyone's). `yoi plugin new` and
 * `yoi plugin build` copy the `.d.ts` files of the PDK this host builds with into
 * `<plugin>/node_modules/@yoi-plugins/pdk` — a folder that is never part of the package or its
 * digest. The copy is refreshed when the host's PDK changes, and never written over a real
 * install (or when the PDK already resolves from a parent folder, as inside this repository).
 */

export type EditorTypesOutcome = 'written' | 'current' | 'resolved' | 'kept';

const COPY_MARK = 'yoi-plugin-types-copy';

/** The folder of the PDK this host bundles with (its `.js` and `.d.ts` files). */
export function pdkDistDir(): string {
  return dirname(fileURLToPath(import.meta.resolve('@yoi-plugins/pdk')));
}

async function declarationFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) if (name.endsWith('.d.ts')) out.set(name, await readFile(join(dir, name), 'utf8'));
  return out;
}

async function pdkVersion(dir: string): Promise<string> {
  // dist/src → the package root
  const json = JSON.parse(await readFile(join(dir, '..', '..', 'package.json'), 'utf8')) as { version?: string };
  return json.version ?? '0.0.0';
}

/** Whether `@yoi-plugins/pdk` resolves from a parent of `dir` by Node's rules (a workspace, a monorepo). */
function resolvesFromParent(dir: string): boolean {
  for (let current = dirname(dir); ; current = dirname(current)) {
    if (existsSync(join(current, 'node_modules', '@yoi-plugins', 'pdk', 'package.json'))) return true;
    if (dirname(current) === current) return false;
  }
}

export async function ensureEditorTypes(pluginDir: string): Promise<EditorTypesOutcome> {
  const source = pdkDistDir();
  const files = await declarationFiles(source);
  const version = await pdkVersion(source);
  const stamp = createHash('sha256').update(JSON.stringify([version, [...files]])).digest('hex').slice(0, 16);
  const target = join(pluginDir, 'node_modules', '@yoi-plugins', 'pdk');
  let existing: Record<string, unknown> | null;
  try {
    existing = JSON.parse(await readFile(join(target, 'package.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    existing = null;
  }
  if (existing !== null) {
    if (existing[COPY_MARK] === undefined) return 'kept';
    if (existing[COPY_MARK] === stamp) return 'current';
  } else if (resolvesFromParent(pluginDir)) return 'resolved';

  await rm(target, { recursive: true, force: true });
  await mkdir(target, { recursive: true });
  for (const [name, text] of files) await writeFile(join(target, name), text);
  const manifest = {
    name: '@yoi-plugins/pdk',
    version,
    private: true,
    description: 'Type declarations of the Yoi Plugins PDK for your editor, copied by `yoi plugin new`/`build`. The build itself uses the PDK of the yoi that builds.',
    type: 'module',
    types: './index.d.ts',
    exports: { '.': { types: './index.d.ts' }, './request': { types: './request.d.ts' }, './fs': { types: './fs.d.ts' } },
    [COPY_MARK]: stamp,
  };
  await writeFile(join(target, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  return 'written';
}

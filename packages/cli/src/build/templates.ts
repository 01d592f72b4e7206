import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureEditorTypes, type EditorTypesOutcome } from './editor-types.js';

export const TEMPLATES = ['ts-tool', 'ts-service'] as const;

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

function templatesDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'templates');
}

/** A safe plugin id from a directory name: lowercase letters, digits, `-`, `_`, `.`. */
function idFromName(name: string): string {
  const id = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[.-]+|[.-]+$/g, '').slice(0, 64);
  return id || 'my-plugin';
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

/**
 * `yoi plugin new`: writes a template into `destination` (created if missing). Refuses a
 * destination that is a symlink, a file, or a non-empty directory. Nothing else is touched.
 */
export async function newPlugin(template: string, destination: string): Promise<{ destination: string; id: string; files: string[]; editorTypes: EditorTypesOutcome }> {
  if (!(TEMPLATES as readonly string[]).includes(template)) throw new TemplateError(`unknown template \`${template.slice(0, 40)}\` (available: ${TEMPLATES.join(', ')})`);
  const dest = resolve(destination);
  const info = await lstat(dest).catch(() => null);
  if (info?.isSymbolicLink()) throw new TemplateError(`destination ${dest} is a symlink; refusing to follow it`);
  if (info && !info.isDirectory()) throw new TemplateError(`destination ${dest} exists and is not a directory`);
  if (info && (await readdir(dest)).length > 0) throw new TemplateError(`destination ${dest} is not empty`);
  const id = idFromName(basename(dest));
  const name = id.split(/[-_.]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ') || 'My Plugin';
  const source = join(templatesDir(), template);
  const files: string[] = [];
  await mkdir(dest, { recursive: true });
  for (const file of await listFiles(source)) {
    const rel = relative(source, file);
    const text = (await readFile(file, 'utf8')).replaceAll('{{id}}', id).replaceAll('{{name}}', name);
    await mkdir(dirname(join(dest, rel)), { recursive: true });
    await writeFile(join(dest, rel), text, { flag: 'wx' });
    files.push(rel.split('\\').join('/'));
  }
  // The PDK's types for editors, in node_modules (outside the package and its digest).
  const editorTypes = await ensureEditorTypes(dest);
  return { destination: dest, id, files, editorTypes };
}

import { cp, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Manifest } from '@yoi-plugins/host/internal/manifest/types.js';
import { INSTANCE_WORLD } from '@yoi-plugins/host/internal/manifest/types.js';

/** The host's WIT (it ships `wit/`): `yoi:plugin@1.0.0` worlds and `yoi:host@1.0.0` interfaces. */
function witDir(): string {
  return join(dirname(fileURLToPath(import.meta.resolve('@yoi-plugins/host/package.json'))), 'wit');
}

/** Real randomness for the guest runtime (see componentize.ts); part of the inert set. */
export const RANDOM_INTERFACE = 'wasi:random/random@0.2.12';
/** Where `console` writes (see componentize.ts); the host captures both into the plugin's log. */
export const STDOUT_INTERFACE = 'wasi:cli/stdout@0.2.12';
export const STDERR_INTERFACE = 'wasi:cli/stderr@0.2.12';

const TOOL_EXPORTS = `  export call: func(tool-name: string, input-json: string) -> string;`;
const INSTANCE_EXPORTS = `  export start: func(config-json: string) -> string;
  export handle-tool: func(name: string, input-json: string) -> string;
  export handle-ingress: func(name: string, event-json: string) -> string;
  export status: func() -> string;
  export stop: func() -> string;`;

/** The host APIs whose interface `jsSource` imports (`yoi:host/NAME@1.0.0` as a module specifier). */
export function hostApisImported(jsSource: string): ReadonlySet<string> {
  const found = new Set<string>();
  for (const match of jsSource.matchAll(/["']yoi:host\/(request|websocket|fs)@1\.0\.0["']/g)) found.add(match[1]!);
  return found;
}

/**
 * The world a plugin is built against: the exports of its declared world and only the host
 * interfaces its manifest requests and its code imports. (Building against the full
 * `yoi:plugin` world would import every host interface, and importing an interface needs its
 * grant. An interface requested but not imported stays out: every host API blocks, so a
 * component importing one runs in a worker thread — a host-owned WebSocket needs the
 * `websocket` grant, not the pull API's import.)
 */
export function pluginWorldWit(manifest: Manifest, jsSource: string): string {
  const apis = new Set(manifest.permissions.flatMap((p) => (p.kind === 'host_api' ? [p.api] : [])));
  const used = hostApisImported(jsSource);
  const imports = (['request', 'websocket', 'fs'] as const).filter((a) => apis.has(a) && used.has(a)).map((a) => `  import yoi:host/${a}@1.0.0;`);
  const exports = manifest.runtime?.world === INSTANCE_WORLD ? INSTANCE_EXPORTS : TOOL_EXPORTS;
  return `package local:plugin;\n\nworld plugin {\n  import ${RANDOM_INTERFACE};\n  import ${STDOUT_INTERFACE};\n  import ${STDERR_INTERFACE};\n${imports.join('\n')}\n${exports}\n}\n`;
}

/** Writes a WIT directory (the world plus the yoi:host dependency) for building `manifest`. */
export async function writeBuildWit(manifest: Manifest, jsSource: string, dir: string): Promise<string> {
  await mkdir(join(dir, 'deps'), { recursive: true });
  await cp(join(witDir(), 'deps', 'yoi-host'), join(dir, 'deps', 'yoi-host'), { recursive: true });
  for (const dep of ['wasi-random', 'wasi-io', 'wasi-cli']) await cp(join(witDir(), 'deps', dep), join(dir, 'deps', dep), { recursive: true });
  await writeFile(join(dir, 'plugin.wit'), pluginWorldWit(manifest, jsSource));
  return dir;
}

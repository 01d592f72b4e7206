/** Inputs for the conformance rows: packages, stores, workspaces and archives as Yoi writes them. */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { TestContext } from 'node:test';
import type { Diagnostic } from '../../src/diagnostics.js';
import { loadPluginPackage, type PluginPackage } from '../../src/package/plugin-package.js';
import { writeZipArchive } from '../../src/package/zip-write.js';
import { crc32 } from '../../src/package/crc32.js';
import { discoverPlugins } from '../../src/store/discover.js';
import { parseEnablementConfig } from '../../src/store/enablement.js';
import { storeLocations } from '../../src/store/locations.js';
import { resolveEnabledPlugins } from '../../src/store/resolve.js';
import { cli, COMPONENT_PREAMBLE, tempDir, YOI_MANIFESTS } from '../helpers.js';

export const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

export type FileSpec = Readonly<Record<string, string | Uint8Array>>;

export function fileMap(files: FileSpec): Map<string, Uint8Array> {
  return new Map(Object.entries(files).map(([path, content]) => [path, typeof content === 'string' ? enc(content) : content]));
}

/** A package of `plugin.toml` + a component-looking artifact (+ extra files). */
export function packageFiles(manifest: string, extra: FileSpec = {}): Map<string, Uint8Array> {
  return fileMap({ 'plugin.toml': manifest, 'plugin.component.wasm': COMPONENT_PREAMBLE, ...extra });
}

export function loadManifestPackage(manifest: string, extra: FileSpec = {}): PluginPackage {
  const loaded = loadPluginPackage(packageFiles(manifest, extra));
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.diagnostic));
  return loaded.value;
}

/** The diagnostic a package with this manifest gets, or null when it is valid. */
export function manifestDiagnostic(manifest: string, extra: FileSpec = {}): Diagnostic | null {
  const loaded = loadPluginPackage(packageFiles(manifest, extra));
  return loaded.ok ? null : loaded.diagnostic;
}

/** The files of one of Yoi's own packages (test/fixtures/yoi-manifests/<name>). */
export function yoiFixture(name: string): Map<string, Uint8Array> {
  const root = join(YOI_MANIFESTS, name);
  const out = new Map<string, Uint8Array>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const full = join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else out.set(relative(root, full).split('\\').join('/'), readFileSync(full));
    }
  };
  walk(root);
  return out;
}

export function yoiFixtureManifest(name: string): string {
  return readFileSync(join(YOI_MANIFESTS, name, 'plugin.toml'), 'utf8');
}

/** An archive from our writer. */
export function archive(files: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const written = writeZipArchive(files);
  assert.ok(written.ok);
  return written.value;
}

/**
 * An archive byte for byte as Yoi's `yoi plugin pack` writes it (reference §6.3): entries in
 * sorted path order, stored, version needed/made by 20, flag 0x0800, DOS time and date 0,
 * CRC-32 written as 0 unless `crc` says otherwise, no extra fields or comments, external
 * attributes 0, then the central directory and the end record.
 */
export function yoiArchive(files: ReadonlyMap<string, Uint8Array>, options: { crc?: 'zero' | 'real' } = {}): Uint8Array {
  const paths = [...files.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const path of paths) {
    const name = Buffer.from(path, 'utf8');
    const data = Buffer.from(files.get(path)!);
    const crc = options.crc === 'real' ? crc32(data) : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10); // DOS time
    local.writeUInt16LE(0, 12); // DOS date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // made by
    central.writeUInt16LE(20, 6); // needed
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE(0, 38); // external attributes
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const centralBytes = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(paths.length, 8);
  end.writeUInt16LE(paths.length, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, centralBytes, end]));
}

export interface Stores {
  readonly root: string;
  readonly workspace: string;
  readonly project: string;
  readonly user: string;
  readonly env: NodeJS.ProcessEnv;
  /** Writes `<store>/<label>` (an archive of `files`, ours unless given bytes). */
  put(store: 'project' | 'user', label: string, files: ReadonlyMap<string, Uint8Array> | Uint8Array): void;
  discover(): ReturnType<typeof discoverPlugins>;
  resolve(enablement: string): Promise<ReturnType<typeof resolveEnabledPlugins>>;
  enablement(text: string): void;
  run(args: string[]): ReturnType<typeof cli>;
}

/** A workspace with project and user stores, for discovery, resolution and the CLI. */
export function stores(t: TestContext): Stores {
  const root = tempDir(t, 'yoi-conf-');
  const workspace = join(root, 'ws');
  const project = join(workspace, '.yoi', 'plugins');
  const dataHome = join(root, 'data');
  const user = join(dataHome, 'yoi', 'plugins');
  mkdirSync(project, { recursive: true });
  mkdirSync(user, { recursive: true });
  const locations = storeLocations({ workspace, userDataHome: dataHome, builtinDir: join(root, 'builtin') });
  const env = { HOME: root, XDG_DATA_HOME: dataHome, YOI_BUILTIN_DIR: join(root, 'builtin') };
  return {
    root,
    workspace,
    project,
    user,
    env,
    put(store, label, files) {
      writeFileSync(join(store === 'project' ? project : user, label), files instanceof Uint8Array ? files : archive(files));
    },
    discover: () => discoverPlugins(locations),
    async resolve(enablement) {
      const parsed = parseEnablementConfig(enablement);
      assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.diagnostic));
      return resolveEnabledPlugins(parsed.value, await discoverPlugins(locations));
    },
    enablement(text) {
      writeFileSync(join(workspace, '.yoi', 'plugins.toml'), text);
    },
    run: (args) => cli([...args, '--workspace', workspace], { env, cwd: root }),
  };
}

/** `[[plugins.enabled]]` text granting everything the package requests, bound to it. */
export function grantAll(ref: string, pkg: PluginPackage, extra = ''): string {
  const permissions = pkg.manifest.permissions.map((p) => `{ ${Object.entries(p).map(([k, v]) => `${k} = "${String(v)}"`).join(', ')} }`).join(', ');
  return `[[plugins.enabled]]
id = "${ref}"
version = "${pkg.manifest.version}"
digest = "${pkg.digest}"
[plugins.enabled.grants]
id = "${ref}"
version = "${pkg.manifest.version}"
digest = "${pkg.digest}"
permissions = [${permissions}]
${extra}
`;
}

#!/usr/bin/env node
// Runs after `tsc -b`: packs examples/plugins/* into the example workspace's project store,
// deterministically.
// The legacy example cannot be packed (pack validates the manifest and the legacy runtime is
// rejected), so its archive is written with the same deterministic writer directly.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packPluginDirectory, writeZipArchive } from '../packages/host/dist/src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = join(root, 'examples', 'plugins');
const store = join(root, 'examples', 'workspace', '.yoi', 'plugins');
mkdirSync(store, { recursive: true });

for (const name of readdirSync(sources).sort()) {
  const dir = join(sources, name);
  const manifest = readFileSync(join(dir, 'plugin.toml'), 'utf8');
  const id = /^id = "([^"]+)"/m.exec(manifest)?.[1];
  const output = join(store, `${id}.yoi-plugin`);
  if (/^kind = "wasm"$/m.test(manifest)) {
    const archive = writeZipArchive(new Map([['plugin.toml', new TextEncoder().encode(manifest)]]));
    if (!archive.ok) throw new Error(archive.diagnostic.message);
    writeFileSync(output, archive.value);
    continue;
  }
  const packed = await packPluginDirectory(dir, output);
  if (!packed.ok) throw new Error(`${name}: ${packed.diagnostic.message}`);
}
console.log(`example workspace store ready: ${store}`);

#!/usr/bin/env node
// Runs after `tsc -b`: removes compiled files whose TypeScript source no longer exists (a moved
// or deleted module), so a stale test or module in dist/ never runs or ships. `tsc -b` itself
// only ever adds and overwrites.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packages = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages');
const OUTPUT = /(\.d)?\.js(\.map)?$|\.d\.ts(\.map)?$/;

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

let removed = 0;
for (const name of readdirSync(packages)) {
  const dist = join(packages, name, 'dist');
  if (!existsSync(dist)) continue;
  for (const top of ['src', 'test']) {
    const root = join(dist, top);
    if (!existsSync(root)) continue;
    for (const file of files(root)) {
      if (!OUTPUT.test(file)) continue;
      const source = join(packages, name, file.slice(dist.length + 1)).replace(/(\.d)?\.(js|ts)(\.map)?$/, '.ts');
      if (existsSync(source)) continue;
      rmSync(file);
      removed++;
    }
  }
}
if (removed > 0) process.stderr.write(`removed ${removed} stale compiled file(s) from dist/\n`);

#!/usr/bin/env node
// Prints line and branch coverage per package from c8's json-summary (coverage/coverage-summary.json,
// written by `npm run coverage`), over each package's source files (c8 maps the built JS back
// to src/*.ts through the source maps).
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const summary = JSON.parse(readFileSync(join(root, 'coverage', 'coverage-summary.json'), 'utf8'));
const totals = new Map();
for (const [file, metrics] of Object.entries(summary)) {
  if (file === 'total') continue;
  const parts = relative(root, file).split(sep);
  if (parts[0] !== 'packages' || parts[2] !== 'src') continue;
  const name = parts[1];
  const t = totals.get(name) ?? { lines: [0, 0], branches: [0, 0], files: 0 };
  t.lines[0] += metrics.lines.covered;
  t.lines[1] += metrics.lines.total;
  t.branches[0] += metrics.branches.covered;
  t.branches[1] += metrics.branches.total;
  t.files++;
  totals.set(name, t);
}
const pct = ([covered, total]) => (total === 0 ? 'n/a' : `${((100 * covered) / total).toFixed(1)} %`);
for (const [name, t] of [...totals].sort()) {
  process.stdout.write(`${name}: lines ${pct(t.lines)} (${t.lines[0]}/${t.lines[1]}), branches ${pct(t.branches)} (${t.branches[0]}/${t.branches[1]}), ${t.files} files\n`);
}

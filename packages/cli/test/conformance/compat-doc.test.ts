/**
 * docs/yoi-compat.md is the one list of divergences from Yoi: every divergence a conformance
 * row names must be a row there, every row must be marked additive / fix / gap, and every test
 * the table cites must exist (file, and the test or row it quotes).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CLI_CASES } from './cli-cases.js';
import { INTEROP_CASES } from '@yoi-plugins/host/test/conformance/interop-cases.js';
import { MANIFEST_CASES } from '@yoi-plugins/host/test/conformance/manifest-cases.js';
import { WORKER_CASES } from '@yoi-plugins/host/test/conformance/worker-cases.js';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..', '..', '..', '..');
// A citation names a test file relative to its package's test/ folder (host's or cli's).
const TEST_DIRS = [join(ROOT, 'packages', 'host', 'test'), join(ROOT, 'packages', 'cli', 'test')];
const DOC = readFileSync(join(ROOT, 'docs', 'yoi-compat.md'), 'utf8');

interface Row {
  readonly id: string;
  readonly kind: string;
  readonly here: string;
  readonly pinnedBy: string;
}

function rows(): Row[] {
  const out: Row[] = [];
  for (const line of DOC.split('\n')) {
    const id = /^\| <a id="([\w-]+)"><\/a>/.exec(line)?.[1];
    if (!id) continue;
    const cells = line.split(/ \| /);
    out.push({ id, here: cells[3]!, kind: cells[4]!.trim(), pinnedBy: cells[5]!.replace(/ \|$/, '') });
  }
  return out;
}

const ALL = [...MANIFEST_CASES, ...WORKER_CASES, ...CLI_CASES, ...INTEROP_CASES];

describe('docs/yoi-compat.md', () => {
  it('has a row for every divergence a conformance row names, each marked additive, fix or gap', () => {
    const table = rows();
    const ids = new Set(table.map((r) => r.id));
    assert.equal(ids.size, table.length, 'ids are unique');
    for (const c of ALL) if (c.divergence) assert.ok(ids.has(c.divergence), `${c.upstream}: yoi-compat#${c.divergence} is not in the table`);
    for (const r of table) assert.ok(['additive', 'fix', 'gap'].includes(r.kind), `${r.id}: kind ${r.kind}`);
  });

  it('cites only tests that exist', () => {
    for (const r of rows()) {
      for (const segment of r.pinnedBy.split(/;\s*(?=`)/)) {
        const path = /`([\w/.-]+\.ts)`/.exec(segment)?.[1];
        assert.ok(path, `${r.id}: a citation without a file: ${segment}`);
        const file = TEST_DIRS.map((dir) => join(dir, path)).find((candidate) => existsSync(candidate));
        assert.ok(file, `${r.id}: ${path} does not exist`);
        const text = readFileSync(file, 'utf8').replace(/\\'/g, "'");
        const rest = segment.slice(segment.indexOf(path) + path.length + 1);
        const quoted = [...rest.matchAll(/"((?:[^"\\]|\\.)+)"/g)].map((m) => m[1]!.replace(/\\"/g, '"').replace(/…$/, ''));
        for (const name of quoted) assert.ok(text.includes(name.replace(/…/g, '')), `${r.id}: ${path} has no test "${name}"`);
        if (quoted.length === 0 && path.startsWith('conformance/')) {
          for (const name of rest.replace(/\(.*?\)/g, '').split(',').map((n) => n.trim()).filter(Boolean)) {
            assert.ok(text.includes(name), `${r.id}: ${path} has no row ${name}`);
          }
        }
      }
    }
  });

  it('marks the rows other areas finish in this release, and their conformance rows are todo', () => {
    const pending = rows().filter((r) => r.here.includes('<!-- test: pending -->'));
    assert.deepEqual(pending.map((r) => r.id).sort(), []);
    for (const r of pending) assert.match(r.here, /Fixed in this release by (g-surface|f-service|f-ws)/);
  });

  it("counts Yoi's tests as the page says: 26 manifest, 83 worker, 20 CLI", () => {
    assert.deepEqual([MANIFEST_CASES.length, WORKER_CASES.length, CLI_CASES.length], [26, 83, 20]);
    assert.match(DOC, /26 with the three helpers/);
    assert.match(DOC, /plugin\.rs`, 83\)/);
    assert.match(DOC, /plugin_cli\.rs`,\s+20\)/);
    assert.match(DOC, /129 in all/);
    const names = ALL.map((c) => c.upstream);
    assert.equal(new Set(names).size, names.length, 'each upstream test appears once');
  });
});

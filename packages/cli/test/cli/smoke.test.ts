import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@yoi-plugins/host/test/helpers.js';

// Compiled to packages/cli/dist/test/cli/smoke.test.js: the repository root is five folders up.
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..');
const BIN = join('packages', 'cli', 'bin', 'yoi.js');
const EXAMPLE_STORE = join(REPO_ROOT, 'examples', 'workspace', '.yoi', 'plugins');

function yoi(args: string[], home: string) {
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    // No real user store: the user: store is looked up under this empty home.
    env: { PATH: process.env['PATH'] ?? '', HOME: home, XDG_DATA_HOME: join(home, 'data') },
    timeout: 30_000,
  });
}

describe('the yoi bin', () => {
  it('lists the example workspace with one plugin in each status', (t) => {
    assert.ok(existsSync(join(REPO_ROOT, BIN)), `no bin at ${join(REPO_ROOT, BIN)}`);
    assert.ok(existsSync(EXAMPLE_STORE), `${EXAMPLE_STORE} is missing: run \`npm run build\` (it packs the example plugins)`);
    const result = yoi(['plugin', 'list', '--workspace', 'examples/workspace', '--json'], tempDir(t));
    assert.equal(result.status, 0, result.stderr);
    const snapshot = JSON.parse(result.stdout) as { workspace: string; items: { reference: string; status: string }[] };
    assert.equal(snapshot.workspace, join(REPO_ROOT, 'examples', 'workspace'));
    const statuses = Object.fromEntries(snapshot.items.map((i) => [i.reference, i.status]));
    assert.deepEqual(
      {
        'builtin:example.echo': statuses['builtin:example.echo'],
        'builtin:example.weather': statuses['builtin:example.weather'],
        'builtin:example.notes': statuses['builtin:example.notes'],
        'project:example.legacy': statuses['project:example.legacy'],
        'project:example.gone': statuses['project:example.gone'],
      },
      {
        'builtin:example.echo': 'active',
        'builtin:example.weather': 'partial',
        'builtin:example.notes': 'disabled',
        'project:example.legacy': 'rejected',
        'project:example.gone': 'missing',
      },
    );
  });

  it('prints help and exits 0 for --help', (t) => {
    const home = tempDir(t);
    const result = yoi(['plugin', 'list', '--help'], home);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /Usage: yoi plugin list/);
  });

  it('exits 2 on a usage error and 1 on a failed check', (t) => {
    const home = tempDir(t);
    const usage = yoi(['plugin', 'check'], home);
    assert.equal(usage.status, 2);
    const failed = yoi(['plugin', 'check', join(home, 'nothing-here')], home);
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /^yoi plugin: plugin check failed/m);
  });
});

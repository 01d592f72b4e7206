import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CLI_FAILURE_CODES, CLI_FAILURE_DESCRIPTIONS } from '../../src/cli/io.js';
import { ERROR_CODE_DESCRIPTIONS } from '@yoi-plugins/host/internal/errors.js';
import { JOURNAL_ERROR_CODES } from '@yoi-plugins/host/internal/journal/error-codes.js';
import { tempDir } from '@yoi-plugins/host/test/helpers.js';

// dist/test/structure → the repository root.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..');
const DOC = join(ROOT, 'docs', 'errors.md');
const SCRIPT = join(ROOT, 'scripts', 'errors-doc.mjs');

async function check(file: string): Promise<{ code: number; stderr: string }> {
  try {
    await promisify(execFile)(process.execPath, [SCRIPT, '--check', file], { cwd: ROOT });
    return { code: 0, stderr: '' };
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    return { code: failed.code ?? -1, stderr: failed.stderr ?? '' };
  }
}

describe('docs/errors.md is the error catalogue of the source', () => {
  it('is exactly what scripts/errors-doc.mjs renders from the source', async () => {
    const result = await check(DOC);
    assert.equal(result.code, 0, result.stderr);
  });

  it('has one row per PluginError, CLI failure and journal code, with its description', () => {
    const doc = readFileSync(DOC, 'utf8');
    const tables = [ERROR_CODE_DESCRIPTIONS, CLI_FAILURE_DESCRIPTIONS, JOURNAL_ERROR_CODES];
    for (const table of tables) {
      for (const [code, text] of Object.entries(table)) assert.ok(doc.includes(`| \`${code}\` | ${text} |`), `docs/errors.md lacks ${code}`);
    }
    assert.deepEqual(Object.keys(CLI_FAILURE_DESCRIPTIONS).sort(), [...CLI_FAILURE_CODES].sort());
    for (const code of Object.keys(JOURNAL_ERROR_CODES)) assert.match(code, /^YOI_JOURNAL_[A-Z_]+$/);
  });

  it('fails the check, naming the line, when the doc and the source disagree', async (t) => {
    const stale = join(tempDir(t), 'errors.md');
    writeFileSync(stale, readFileSync(DOC, 'utf8').replace(/^\| `SANDBOX_TRAP` .*\n/m, ''));
    const result = await check(stale);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /disagrees with the source .*SANDBOX_TRAP/);
  });
});

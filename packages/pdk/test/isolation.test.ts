import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const sourceDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const packageJson = JSON.parse(readFileSync(join(sourceDir, '..', 'package.json'), 'utf8')) as Record<string, unknown>;

describe('pdk isolation', () => {
  it('has no runtime dependencies at all', () => {
    assert.equal(packageJson['dependencies'], undefined);
  });

  it('imports no node:* module and no host code from any source file', () => {
    const files = readdirSync(sourceDir, { recursive: true }).map(String).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 0);
    for (const file of files) {
      const text = readFileSync(join(sourceDir, file), 'utf8');
      const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
      for (const specifier of specifiers) {
        const hostInterface = /^yoi:host\/(request|fs)@1\.0\.0$/.test(specifier);
        assert.ok(specifier.startsWith('./') || hostInterface, `${file} imports ${specifier}`);
        assert.ok(!specifier.startsWith('..'), `${file} reaches outside the PDK: ${specifier}`);
      }
    }
  });
});

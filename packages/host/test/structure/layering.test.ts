import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

// dist/test/structure → the repository root, where eslint.config.js lives.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..');

/**
 * Lints one scratch source as if it were the file at `path` (never written to disk, so a failed
 * run leaves nothing in src/), with the repository's own eslint.config.js, and returns the
 * layering findings.
 */
async function layeringFindings(eslint: ESLint, path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: join(ROOT, path) });
  assert.ok(result, 'ESLint returned no result');
  const fatal = result.messages.filter((m) => m.fatal === true);
  assert.deepEqual(fatal, [], 'the scratch file must parse');
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the layering is enforced by eslint.config.js', () => {
  // The scratch files exist only in memory, so no TypeScript project holds them: the
  // type-aware rules are switched off for them alone. The import restrictions need no types
  // and come unchanged from the repository's config.
  const eslint = new ESLint({ cwd: ROOT, overrideConfig: [{ files: ['**/layering-scratch.ts'], ...tseslint.configs.disableTypeChecked }] });

  it('rejects manifest/ importing service/, and allows it a sibling layer', async () => {
    const violation = await layeringFindings(eslint, 'packages/host/src/manifest/layering-scratch.ts', "import { uuidv7 } from '../service/ids.js';\nexport const probe = uuidv7;\n");
    assert.equal(violation.length, 1, 'a manifest → service import must be reported');
    assert.match(violation[0]!, /never import runtime\/, service\/, serve\/ or cli\//);

    const allowed = await layeringFindings(eslint, 'packages/host/src/manifest/layering-scratch.ts', "import { boundText } from '../diagnostics.js';\nexport const probe = boundText;\n");
    assert.deepEqual(allowed, []);
  });

  it('rejects package/ and authority/ importing runtime/, serve/ or cli/, types included', async () => {
    const fromPackage = await layeringFindings(eslint, 'packages/host/src/package/layering-scratch.ts', "import type { CliIo } from '../cli/io.js';\nexport type Probe = CliIo;\n");
    assert.equal(fromPackage.length, 1);
    const fromAuthority = await layeringFindings(eslint, 'packages/host/src/authority/layering-scratch.ts', "export { PluginRuntime } from '../runtime/plugin-runtime.js';\n");
    assert.equal(fromAuthority.length, 1);
  });

  it('lets sandbox/worker/ load only its siblings and node:*', async () => {
    const findings = await layeringFindings(
      eslint,
      'packages/host/src/sandbox/worker/layering-scratch.ts',
      "import { PluginError } from '../../errors.js';\nimport { parentPort } from 'node:worker_threads';\nimport { inertImports } from './inert.js';\nexport const probe = [PluginError, parentPort, inertImports];\n",
    );
    assert.equal(findings.length, 1, findings.join('\n'));
    assert.match(findings[0]!, /sandbox\/worker\/ imports only its siblings/);
  });

  it('keeps the PDK free of the host package', async () => {
    const findings = await layeringFindings(eslint, 'packages/pdk/src/layering-scratch.ts', "import { PluginError } from '@yoi-plugins/host';\nexport const probe = PluginError;\n");
    assert.equal(findings.length, 1);
    assert.match(findings[0]!, /the PDK imports only its own modules/);
  });
});

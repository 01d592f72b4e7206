import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

// dist/test/structure → the repository root, where eslint.config.js lives.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..');
const HOST = join(ROOT, 'packages', 'host');
const AUTHORING = ['@yoi-plugins/cli', '@yoi-plugins/pdk', 'esbuild', 'componentize-qjs', 'typescript', 'commander'];

/** Lints one in-memory source as if it were the file at `path`; returns the boundary findings. */
async function boundaryFindings(eslint: ESLint, path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: join(ROOT, path) });
  assert.ok(result, 'ESLint returned no result');
  assert.deepEqual(result.messages.filter((m) => m.fatal === true), [], 'the scratch file must parse');
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith(suffix)).map((name) => join(dir, name));
}

/** Every module specifier a built file imports, statically or with `import()`. */
function specifiers(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

const authoring = (specifier: string): boolean => AUTHORING.some((name) => specifier === name || specifier.startsWith(`${name}/`));

describe('the host package ships no authoring tools', () => {
  const eslint = new ESLint({ cwd: ROOT, overrideConfig: [{ files: ['**/boundary-scratch.ts'], ...tseslint.configs.disableTypeChecked }] });

  it('eslint rejects a host module importing the cli package or an authoring tool, statically or with import()', async () => {
    const fromServe = await boundaryFindings(eslint, 'packages/host/src/serve/boundary-scratch.ts', "import { runCli } from '@yoi-plugins/cli';\nexport const probe = runCli;\n");
    assert.equal(fromServe.length, 1, fromServe.join('\n'));
    assert.match(fromServe[0]!, /never imports the cli package/);
    const dynamic = await boundaryFindings(eslint, 'packages/host/src/runtime/boundary-scratch.ts', "export const probe = () => import('esbuild');\n");
    assert.equal(dynamic.length, 1, dynamic.join('\n'));
    // The pure layers have their own restrictions; the boundary holds there too.
    const fromManifest = await boundaryFindings(eslint, 'packages/host/src/manifest/boundary-scratch.ts', "import type ts from 'typescript';\nexport type Probe = typeof ts;\n");
    assert.equal(fromManifest.length, 1, fromManifest.join('\n'));
    const fromWorker = await boundaryFindings(eslint, 'packages/host/src/sandbox/worker/boundary-scratch.ts', "import type { Command } from 'commander';\nexport type Probe = Command;\n");
    assert.ok(fromWorker.some((m) => /never imports the cli package/.test(m)), fromWorker.join('\n'));
    const allowed = await boundaryFindings(eslint, 'packages/host/src/serve/boundary-scratch.ts', "import { WebSocket } from 'ws';\nexport const probe = WebSocket;\n");
    assert.deepEqual(allowed, []);
  });

  it("the host's package.json depends on none of them", () => {
    const pkg = JSON.parse(readFileSync(join(HOST, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      const listed = Object.keys(pkg[field] ?? {}).filter(authoring);
      assert.deepEqual(listed, [], `${field} of packages/host/package.json`);
    }
    // The tests build fixture components with the cli package; nothing else is a dev dependency.
    assert.deepEqual(Object.keys(pkg['devDependencies'] ?? {}).filter(authoring), ['@yoi-plugins/cli']);
  });

  it('no built host module imports one of them', () => {
    const offenders = filesUnder(join(HOST, 'dist', 'src'), '.js').flatMap((file) => specifiers(readFileSync(file, 'utf8')).filter(authoring).map((s) => `${file}: ${s}`));
    assert.deepEqual(offenders, []);
    // The scan sees imports at all (a regex that matched nothing would pass vacuously).
    assert.ok(specifiers(readFileSync(join(HOST, 'dist', 'src', 'host.js'), 'utf8')).length > 3);
  });
});

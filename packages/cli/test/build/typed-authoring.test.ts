/**
 * Typed authoring: templates ship package.json and tsconfig.json, the PDK's types resolve in
 * an editor inside and outside this repository, and `yoi plugin build` type-checks before it
 * bundles, refusing a plugin built for the other world.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ensureEditorTypes } from '../../src/build/editor-types.js';
import { newPlugin } from '../../src/build/templates.js';
import { readPluginDirectory } from '@yoi-plugins/host/internal/package/directory.js';
import { TEST_TRANSPILE_CACHE } from '@yoi-plugins/host/test/fixtures/workspace.js';
import { cli, tempDir } from '@yoi-plugins/host/test/helpers.js';

// Compiled to packages/cli/dist/test/build/…: packages/cli is three folders up.
const CLI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const REPO_ROOT = resolve(CLI_DIR, '..', '..');

/** What an editor does: the TypeScript language service over the folder's own tsconfig.json, with Node's module resolution. */
function editorView(dir: string): { errors: string[]; pdk: string | undefined } {
  const config = ts.readConfigFile(join(dir, 'tsconfig.json'), (p) => ts.sys.readFile(p));
  assert.equal(config.error, undefined);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, dir);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const errors = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
  const resolved = ts.resolveModuleName('@yoi-plugins/pdk', join(dir, 'src', 'plugin.ts'), parsed.options, ts.sys).resolvedModule?.resolvedFileName;
  return { errors, pdk: resolved === undefined ? undefined : realpathSync(resolved) };
}

function env(root: string): NodeJS.ProcessEnv {
  return { HOME: root, YOI_BUILTIN_DIR: join(root, 'none'), YOI_CACHE_DIR: join(TEST_TRANSPILE_CACHE, '..') };
}

function newTemplate(t: TestContext) {
  const root = realpathSync(tempDir(t));
  const run = (...args: string[]) => cli(['plugin', ...args], { cwd: root, env: env(root) });
  return { root, run, dir: (name: string) => join(root, name) };
}

describe('templates and editor types', () => {
  it('ship package.json and tsconfig.json, and the PDK types resolve outside the repository without npm install', async (t) => {
    const { run, dir } = newTemplate(t);
    for (const template of ['ts-tool', 'ts-service'] as const) {
      const created = await run('new', template, template, '--json');
      assert.equal(created.code, 0, created.stderr);
      const report = created.json<{ files: string[]; editor_types: string }>();
      assert.deepEqual(report.files, ['README.md', 'package.json', 'plugin.toml', 'src/plugin.ts', 'tsconfig.json']);
      assert.equal(report.editor_types, 'written');
      const pkg = JSON.parse(readFileSync(join(dir(template), 'package.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(pkg['name'], template);
      assert.equal(pkg['private'], true);
      assert.equal(pkg['dependencies'], undefined, 'nothing is fetched from a registry');
      const view = editorView(dir(template));
      assert.deepEqual(view.errors, []);
      assert.equal(view.pdk, join(dir(template), 'node_modules', '@yoi-plugins', 'pdk', 'index.d.ts'));
    }
    // The copy is outside the package: not part of what check and pack read, nor of the digest.
    const files = await readPluginDirectory(dir('ts-tool'));
    assert.ok(files.ok);
    assert.deepEqual([...files.value.keys()].sort(), ['README.md', 'package.json', 'plugin.toml', 'src/plugin.ts', 'tsconfig.json']);
  });

  it('refreshes a stale copy, keeps a real install, and resolves from a parent inside the repository', async (t) => {
    const root = realpathSync(tempDir(t));
    const plugin = join(root, 'p');
    await newPlugin('ts-tool', plugin);
    const copy = join(plugin, 'node_modules', '@yoi-plugins', 'pdk');
    const manifest = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(copy, 'package.json'), JSON.stringify({ ...manifest, 'yoi-plugin-types-copy': 'old' }));
    writeFileSync(join(copy, 'index.d.ts'), 'export {};');
    assert.equal(await ensureEditorTypes(plugin), 'written');
    assert.match(readFileSync(join(copy, 'index.d.ts'), 'utf8'), /defineTools/);
    assert.equal(await ensureEditorTypes(plugin), 'current');
    writeFileSync(join(copy, 'package.json'), JSON.stringify({ name: '@yoi-plugins/pdk', version: '9.9.9' }));
    assert.equal(await ensureEditorTypes(plugin), 'kept', 'never written over a real install');

    // Inside the repository the workspace's own PDK resolves from the root node_modules.
    const inside = join(CLI_DIR, '.yoi-test-cache', `typed-${process.pid}`);
    rmSync(inside, { recursive: true, force: true });
    mkdirSync(dirname(inside), { recursive: true });
    t.after(() => rmSync(inside, { recursive: true, force: true }));
    const created = await newPlugin('ts-tool', inside);
    assert.equal(created.editorTypes, 'resolved');
    assert.ok(!existsSync(join(inside, 'node_modules')));
    const view = editorView(inside);
    assert.deepEqual(view.errors, []);
    assert.ok(view.pdk?.startsWith(join(REPO_ROOT, 'packages', 'pdk')) || view.pdk?.startsWith(join(REPO_ROOT, 'node_modules', '@yoi-plugins', 'pdk')), view.pdk);
  });
});

describe('yoi plugin build type-checks before bundling', () => {
  it('fails on a type error with its location (exit 1), bundles nothing, and reports the errors in JSON', async (t) => {
    const { run, dir } = newTemplate(t);
    assert.equal((await run('new', 'ts-tool', 'hello')).code, 0);
    const source = join(dir('hello'), 'src', 'plugin.ts');
    writeFileSync(source, readFileSync(source, 'utf8').replace('input.name.trim()', 'input.name.toUpperCas()'));
    const human = await run('build', 'hello');
    assert.equal(human.code, 1);
    assert.match(human.stderr, /^yoi plugin: build failed: 1 type error \(tsc\), nothing was bundled\n {2}src\/plugin\.ts:6:29: error TS2551: Property 'toUpperCas' does not exist on type 'string'\. Did you mean 'toUpperCase'\?\n$/m);
    assert.ok(!existsSync(join(dir('hello'), 'plugin.component.wasm')), 'nothing was built');
    const json = await run('build', 'hello', '--json');
    assert.equal(json.code, 1);
    const doc = json.json<{ status: string; errors: string[]; error: { code: string } }>();
    assert.equal(doc.status, 'error');
    assert.equal(doc.error.code, 'type_error');
    assert.deepEqual(doc.errors, ["src/plugin.ts:6:29: error TS2551: Property 'toUpperCas' does not exist on type 'string'. Did you mean 'toUpperCase'?"]);
  });

  it('makes tool content that is not a string a type error at build time', async (t) => {
    const { run, dir } = newTemplate(t);
    assert.equal((await run('new', 'ts-tool', 'data')).code, 0);
    writeFileSync(
      join(dir('data'), 'src', 'plugin.ts'),
      "import { defineTools } from '@yoi-plugins/pdk';\n\nexport const { call } = defineTools({\n  greet: (input: { name: string }) => ({ summary: 'hi', content: { name: input.name } }),\n});\n",
    );
    const result = await run('build', 'data', '--json');
    assert.equal(result.code, 1);
    const errors = result.json<{ errors: string[] }>().errors;
    assert.ok(errors.length > 0 && errors.every((e) => e.startsWith('src/plugin.ts:')), JSON.stringify(errors));
    assert.match(errors.join('\n'), /error TS2322: .*content/s);
  });

  it('refuses defineTools for the instance world and definePlugin for the tool world, naming the fix', async (t) => {
    const { run, dir } = newTemplate(t);
    assert.equal((await run('new', 'ts-tool', 'tool')).code, 0);
    const toolToml = join(dir('tool'), 'plugin.toml');
    writeFileSync(toolToml, readFileSync(toolToml, 'utf8').replace('yoi:plugin/tool@1.0.0', 'yoi:plugin/instance@1.0.0'));
    const wrongTool = await run('build', 'tool');
    assert.equal(wrongTool.code, 1);
    assert.match(wrongTool.stderr, /plugin\.toml declares world = "yoi:plugin\/instance@1\.0\.0", but src\/plugin\.ts exports the tool world \(defineTools\)\. Use definePlugin \(export const \{ start, handleTool, handleIngress, status, stop \} = definePlugin\(\{ … \}\)\), or set world = "yoi:plugin\/tool@1\.0\.0" in plugin\.toml/);

    assert.equal((await run('new', 'ts-service', 'svc')).code, 0);
    const svcToml = join(dir('svc'), 'plugin.toml');
    writeFileSync(svcToml, readFileSync(svcToml, 'utf8').replace('yoi:plugin/instance@1.0.0', 'yoi:plugin/tool@1.0.0'));
    const wrongService = await run('build', 'svc', '--json');
    assert.equal(wrongService.code, 1);
    assert.match(wrongService.json<{ error: { message: string } }>().error.message, /exports the instance world \(definePlugin\)\. Use defineTools \(export const \{ call \} = defineTools\(\{ … \}\)\), or set world = "yoi:plugin\/instance@1\.0\.0"/);
    assert.ok(!existsSync(join(dir('svc'), 'plugin.component.wasm')));
  });

  it('builds a template with the check (timed), skips an unchanged check, and cuts 200,000 characters of content instead of failing', async (t) => {
    const { root, run, dir } = newTemplate(t);
    assert.equal((await run('new', 'ts-tool', 'big')).code, 0);
    writeFileSync(
      join(dir('big'), 'src', 'plugin.ts'),
      "import { defineTools } from '@yoi-plugins/pdk';\n\nexport const { call } = defineTools({\n  greet: (input: { name: string }) => ({ summary: `Hello, ${input.name}!`, content: 'x'.repeat(200_000) }),\n});\n",
    );
    const built = await run('build', 'big', '--json');
    assert.equal(built.code, 0, built.stderr);
    const report = built.json<{ duration_ms: number; type_check: { status: string; duration_ms: number; files: number } }>();
    assert.equal(report.type_check.status, 'passed');
    assert.equal(report.type_check.files, 1);
    console.log(`type check of a template: ${report.type_check.duration_ms} ms of a ${report.duration_ms} ms build`);
    const again = await run('build', 'big', '--force', '--json');
    assert.equal(again.json<{ type_check: { status: string } }>().type_check.status, 'passed', '--force checks again');
    const unchanged = await run('build', 'big', '--json');
    assert.equal(unchanged.json<{ type_check: { status: string } }>().type_check.status, 'unchanged');

    mkdirSync(join(root, 'ws'));
    assert.equal((await run('enable', 'big', '--workspace', 'ws', '--grant-all-requested', '--yes')).code, 0);
    const called = await run('call', 'project:big', 'greet', '--input', '{"name":"Ada"}', '--workspace', 'ws', '--json');
    assert.equal(called.code, 0, called.stderr);
    const content = called.json<{ output: { content: string } }>().output.content;
    assert.equal(Buffer.byteLength(content), 60_416);
    assert.ok(content.endsWith('…'));
  });
});

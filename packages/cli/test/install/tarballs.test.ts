/**
 * The packages as a user gets them: `npm pack` of host, pdk and cli (once per run, shared),
 * then (a) an embedder's project with only the host's tarball installed, running the embedding
 * example of docs/runtime.md, and (b) the three tarballs installed with `npm install -g` into a
 * temporary prefix, where `yoi` creates, builds and calls a plugin outside the repository.
 *
 * Dependencies come from the npm cache `npm ci` filled (`--prefer-offline`); what the cache
 * lacks (a fresh CI machine has tarballs but no registry metadata to resolve ranges with) is
 * fetched from the npm registry. Each npm run has a deadline, so a dead network fails the
 * test instead of hanging it. Never skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// Compiled to packages/cli/dist/test/install/: the repository root is five folders up.
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..');
const PACKAGES = ['host', 'pdk', 'cli'] as const;
const AUTHORING = ['esbuild', 'componentize-qjs', 'typescript', 'commander', '@yoi-plugins/cli', '@yoi-plugins/pdk'];
const NPM_DEADLINE_MS = 5 * 60_000;

/**
 * The environment npm runs in: this process's (the user's npm config, CA certificates, proxy),
 * without the `npm_*` variables an enclosing `npm test` sets (they name the repository as the
 * project), except the cache and config locations.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_registry']);
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_') || keep.has(name.toLowerCase())));
}

function run(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeout?: number }): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd: options.cwd, env: options.env, encoding: 'utf8', timeout: options.timeout ?? NPM_DEADLINE_MS, killSignal: 'SIGKILL' });
  assert.equal(result.error, undefined, `${command} ${args.join(' ')}: ${String(result.error)}`);
  assert.equal(result.status, 0, `${command} ${args.join(' ')} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
  return result;
}

const NPM_INSTALL_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--fetch-retries=1', '--fetch-timeout=60000', '--loglevel=error'];

/** Every folder named `name` (a package) anywhere under `nodeModules`, nested ones included. */
function installedCopies(nodeModules: string, name: string): string[] {
  const found: string[] = [];
  const visit = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const names = entry.name.startsWith('@') ? readdirSync(join(dir, entry.name)).map((n) => `${entry.name}/${n}`) : [entry.name];
      for (const pkg of names) {
        if (pkg === name) found.push(join(dir, pkg));
        visit(join(dir, pkg, 'node_modules'));
      }
    }
  };
  visit(nodeModules);
  return found;
}

/** The block of docs/runtime.md marked as the embedding example: the code the test runs is the code the doc shows. */
function embeddingExample(): string {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'runtime.md'), 'utf8');
  const marker = doc.indexOf('<!-- embedding-example');
  assert.ok(marker >= 0, 'docs/runtime.md has no embedding-example marker');
  const block = /```js\n([\s\S]*?)```/.exec(doc.slice(marker));
  assert.ok(block, 'no js block after the embedding-example marker');
  return block[1]!;
}

describe('the packages installed from their tarballs', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'yoi-tarballs-'));
  const home = join(scratch, 'home');
  const tarballs = new Map<string, string>();
  after(() => rmSync(scratch, { recursive: true, force: true }));

  before(() => {
    mkdirSync(home);
    const packed = join(scratch, 'packed');
    mkdirSync(packed);
    const args = ['pack', '--json', '--pack-destination', packed, ...PACKAGES.flatMap((p) => ['--workspace', `packages/${p}`])];
    const result = run('npm', args, { cwd: REPO_ROOT, env: npmEnv(), timeout: 120_000 });
    const entries = JSON.parse(result.stdout) as { name: string; filename: string }[];
    for (const entry of entries) tarballs.set(entry.name.replace('@yoi-plugins/', ''), join(packed, entry.filename.replace(/^@/, '').replace('/', '-')));
    for (const p of PACKAGES) assert.ok(existsSync(tarballs.get(p) ?? ''), `no tarball for ${p}: ${result.stdout}`);
  });

  it('host alone: no authoring tool installed, and the embedding example of docs/runtime.md runs', () => {
    const project = join(scratch, 'embedder');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'embedder', private: true, type: 'module' }));
    run('npm', ['install', ...NPM_INSTALL_FLAGS, tarballs.get('host')!], { cwd: project, env: npmEnv() });
    const nodeModules = join(project, 'node_modules');
    assert.ok(existsSync(join(nodeModules, '@yoi-plugins', 'host', 'dist', 'src', 'index.js')));
    for (const name of AUTHORING) assert.deepEqual(installedCopies(nodeModules, name), [], `${name} was installed with the host`);
    assert.equal(existsSync(join(nodeModules, '@yoi-plugins', 'host', 'dist', 'src', 'cli')), false, 'the host ships the CLI');

    // The operator's step of the doc, with this repository's CLI: the echo example, enabled.
    const workspace = join(project, 'workspace');
    mkdirSync(join(workspace, '.yoi', 'plugins'), { recursive: true });
    copyFileSync(join(REPO_ROOT, 'packages', 'cli', 'builtin', 'example.echo.yoi-plugin'), join(workspace, '.yoi', 'plugins', 'example.echo.yoi-plugin'));
    const env = { PATH: process.env['PATH'] ?? '', HOME: home, XDG_DATA_HOME: join(home, 'data') };
    run(process.execPath, [join(REPO_ROOT, 'packages', 'cli', 'bin', 'yoi.js'), 'plugin', 'enable', 'project:example.echo', '--grant-all-requested', '--yes', '--workspace', workspace], { cwd: project, env, timeout: 60_000 });

    writeFileSync(join(project, 'embed.mjs'), embeddingExample());
    const embedded = run(process.execPath, ['embed.mjs', 'workspace'], { cwd: project, env, timeout: 120_000 });
    assert.match(embedded.stdout, /^tools: echo$/m);
    assert.match(embedded.stdout, /^echo: .*hi/m);
    assert.equal(embedded.stderr, '');
  });

  it('the CLI installed globally: yoi plugin new, build and call outside the repository', () => {
    const prefix = join(scratch, 'prefix');
    run('npm', ['install', '--global', '--prefix', prefix, ...NPM_INSTALL_FLAGS, ...PACKAGES.map((p) => tarballs.get(p)!)], { cwd: scratch, env: npmEnv() });
    const yoi = join(prefix, 'bin', 'yoi');
    assert.ok(existsSync(yoi), `no yoi in ${join(prefix, 'bin')}`);
    // The CLI runs on the host and PDK installed beside it, not on copies from elsewhere.
    const cliModules = join(prefix, 'lib', 'node_modules', '@yoi-plugins', 'cli', 'node_modules');
    assert.deepEqual([...installedCopies(cliModules, '@yoi-plugins/host'), ...installedCopies(cliModules, '@yoi-plugins/pdk')], []);

    const work = join(scratch, 'work');
    mkdirSync(work);
    const env = { PATH: `${join(prefix, 'bin')}:${process.env['PATH'] ?? ''}`, HOME: home, XDG_DATA_HOME: join(home, 'data') };
    const version = run(yoi, ['--version'], { cwd: work, env, timeout: 60_000 });
    assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(REPO_ROOT, 'packages', 'cli', 'package.json'), 'utf8')) as { version: string }).version);
    run(yoi, ['plugin', 'new', 'ts-tool', 'hello'], { cwd: work, env, timeout: 60_000 });
    run(yoi, ['plugin', 'build', 'hello'], { cwd: work, env, timeout: 180_000 });
    mkdirSync(join(work, 'workspace'));
    run(yoi, ['plugin', 'enable', './hello', '--grant-all-requested', '--yes', '--workspace', 'workspace'], { cwd: work, env, timeout: 60_000 });
    const listed = JSON.parse(run(yoi, ['plugin', 'list', '--json', '--workspace', 'workspace'], { cwd: work, env, timeout: 60_000 }).stdout) as { items: { ref?: string; id?: string; status: string }[] };
    const called = run(yoi, ['plugin', 'call', `project:${idOf(join(work, 'hello'))}`, 'greet', '--input', '{"name":"tarball"}', '--workspace', 'workspace'], { cwd: work, env, timeout: 120_000 });
    assert.match(called.stdout, /Hello, tarball!/, JSON.stringify(listed));
    // The builtin store the CLI ships is there too.
    const builtin = run(yoi, ['plugin', 'show', 'builtin:example.echo', '--json', '--workspace', 'workspace'], { cwd: work, env, timeout: 60_000 });
    assert.match(builtin.stdout, /example\.echo/);
  });
});

function idOf(pluginDir: string): string {
  const id = /^id = "([^"]+)"/m.exec(readFileSync(join(pluginDir, 'plugin.toml'), 'utf8'))?.[1];
  assert.ok(id, 'the template has no id');
  return id;
}
